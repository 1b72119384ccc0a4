import Glibc
import BockerCore

/// The summary cache, `<root>/cache/containers` (beside the other caches there, anything in
/// which may be removed at any time): the `ContainerSummary` of each container record, with
/// the stamp (inode, size, mtime, ctime) of the record file it was read from, and the names in
/// containers/ with that folder's stamp. `ps` of a thousand containers then costs one `stat`
/// per record (and none of the folder listing while it is unchanged) instead of reading and
/// decoding each record.
///
/// It is only an accelerator, never the truth: an entry is used only while its record's stamp
/// is unchanged, the names only while the folder's is; a record changed, added or removed
/// behind its back is read again; a file that is damaged (bad magic, version or checksum,
/// truncated, trailing bytes) is ignored whole and written anew. It is written without the
/// store lock, atomically (a temporary file renamed over it), so readers see a whole old or a
/// whole new file; a writer killed mid-way leaves only its temporary file, which the next
/// writer removes. Records (and the folder) changed within the last second are not cached: a
/// later change in the same timestamp tick, to a file of the same size and a reused inode,
/// could otherwise look unchanged. They are read every time until they settle.
///
/// The records token, `<root>/cache/records-token` (16 random bytes), spares even the `stat`s:
/// `Runtime.save` and `destroy` write a new one before they touch a record, holding a shared
/// flock on the token file while they do. A cache written with the token it saw is trusted
/// whole, without a stat per record, while the token is still that one. The token goes into
/// the cache only when no writer held the lock as the listing began and the token was the same
/// when it ended: any writer that began later wrote a new token first, so a writer killed
/// half-way leaves a token that no cache holds.
enum SummaryCache {
    static let magic: [UInt8] = Array("BKPSSUM3".utf8)
    /// Records (and the containers folder) whose ctime is at least this much older than the
    /// read are cached.
    static let settledAfter: Double = 1

    /// What identifies one version of a file (or of a folder's list of names): its inode, size,
    /// mtime and ctime (nanoseconds since the epoch; wrapping in the year 2262 only costs a miss).
    struct Stamp: Equatable {
        var inode, size: UInt64
        var mtime, ctime: Int64

        /// Matches no real file (no inode is 0).
        static let none = Stamp(inode: 0, size: 0, mtime: 0, ctime: 0)

        init(inode: UInt64, size: UInt64, mtime: Int64, ctime: Int64) {
            self.inode = inode
            self.size = size
            self.mtime = mtime
            self.ctime = ctime
        }

        init(_ st: stat) {
            self.init(inode: UInt64(st.st_ino), size: UInt64(st.st_size),
                      mtime: Int64(st.st_mtim.tv_sec) &* 1_000_000_000 &+ Int64(st.st_mtim.tv_nsec),
                      ctime: Int64(st.st_ctim.tv_sec) &* 1_000_000_000 &+ Int64(st.st_ctim.tv_nsec))
        }

        init?(_ r: inout SummaryCoder.Reader) {
            guard let i = r.u64(), let s = r.u64(), let m = r.u64(), let c = r.u64() else { return nil }
            self.init(inode: i, size: s, mtime: Int64(bitPattern: m), ctime: Int64(bitPattern: c))
        }

        func encode(to w: inout SummaryCoder.Writer) {
            w.u64(inode)
            w.u64(size)
            w.u64(UInt64(bitPattern: mtime))
            w.u64(UInt64(bitPattern: ctime))
        }

        /// Changed long enough before `now` (wall-clock seconds) to be cached: any later change
        /// gets a later ctime, even on a file system with coarse timestamps.
        func settled(before now: Double) -> Bool {
            inode != 0 && Double(ctime) / 1e9 < now - SummaryCache.settledAfter
        }
    }

    struct Entry {
        /// The container's folder name under containers/.
        var name: String
        var stamp: Stamp
        var summary: ContainerSummary
    }

    /// What the file holds: the containers folder's names as listed when its stamp was `folder`
    /// (`.none` when it had changed too recently to be trusted), and the settled records.
    struct Contents {
        var folder: Stamp
        var names: [String]
        var entries: [Entry]
        /// The records token the entries are good for as a whole (see above); empty: none.
        var token: [UInt8] = []
    }

    /// The cache file at path; nil when it is missing or damaged in any way.
    static func read(_ path: String) -> Contents? {
        guard let bytes = try? FS.read(path) else { return nil }
        return bytes.withUnsafeBytes { all -> Contents? in
            let header = magic.count + 8
            guard all.count >= header, memcmp(all.baseAddress!, magic, magic.count) == 0 else { return nil }
            var r = SummaryCoder.Reader(all, offset: magic.count)
            guard let sum = r.u64(), SummaryCoder.checksum(UnsafeRawBufferPointer(rebasing: all[header...])) == sum,
                  let folder = Stamp(&r), let token = r.token(), r.readTable(), let nameCount = r.count() else { return nil }
            var names: [String] = []
            names.reserveCapacity(nameCount)
            for _ in 0..<nameCount {
                guard let n = r.string() else { return nil }
                names.append(n)
            }
            guard let count = r.count() else { return nil }
            var entries: [Entry] = []
            entries.reserveCapacity(count)
            for _ in 0..<count {
                guard let name = r.string(), let stamp = Stamp(&r), let s = ContainerSummary.decode(&r) else { return nil }
                entries.append(Entry(name: name, stamp: stamp, summary: s))
            }
            return r.atEnd ? Contents(folder: folder, names: names, entries: entries, token: token) : nil
        }
    }

    /// The cache file's bytes.
    static func encode(_ c: Contents) -> [UInt8] {
        var w = SummaryCoder.Writer()
        w.bytes.reserveCapacity(c.names.count * 8 + c.entries.count * 160)
        w.count(c.names.count)
        for n in c.names { w.string(n) }
        w.count(c.entries.count)
        for e in c.entries {
            w.string(e.name)
            e.stamp.encode(to: &w)
            e.summary.encode(to: &w)
        }
        var body = SummaryCoder.Writer()
        c.folder.encode(to: &body)
        body.u64(UInt64(c.token.count))
        body.bytes += c.token
        body.count(w.table.count)
        for s in w.table { body.rawString(s) }
        body.bytes += w.bytes
        var head = SummaryCoder.Writer()
        head.bytes = magic
        head.u64(body.bytes.withUnsafeBytes(SummaryCoder.checksum))
        return head.bytes + body.bytes
    }

    /// Replaces the cache file (not durable: losing it costs one slower `ps`). Temporary files
    /// of writers that were killed are removed first.
    static func write(_ c: Contents, to path: String) {
        let dir = FS.parent(path), prefix = ".tmp-" + FS.basename(path) + "-"
        for f in FS.list(dir) where f.hasPrefix(prefix) {
            // .tmp-<name>-<pid>-<random> (FS.writeAtomically's name): a dead writer's.
            let pid = f.dropFirst(prefix.count).split(separator: "-").first.flatMap { Int32($0) }
            if let pid, pid != getpid(), kill(pid, 0) != 0, errno == ESRCH { unlink(dir + "/" + f) }
        }
        try? FS.makeDirectories(dir, mode: 0o700)
        try? FS.writeAtomically(path, encode(c), mode: 0o600, durable: false)
    }
}

extension Runtime {
    /// Where the summary cache lives (see `SummaryCache`).
    public var summaryCachePath: String { root.path + "/cache/containers" }
    /// The records token (see `SummaryCache`).
    var recordsTokenPath: String { root.path + "/cache/records-token" }

    /// Runs `body`, which changes a container record, after writing a new records token, with
    /// a shared lock on the token file held throughout. When the token cannot be written it is
    /// removed, so no cache is trusted without its stats.
    func changingRecords<T>(_ body: () throws -> T) rethrows -> T {
        let path = recordsTokenPath
        var fd = Glibc.open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        if fd < 0 && errno == ENOENT {
            // cache/ alone, never the state root: a state root removed meanwhile (a container's
            // monitor finishing after its root went) is not made again.
            mkdir(FS.parent(path), 0o700)
            fd = Glibc.open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        }
        var rng = SystemRandomNumberGenerator()
        var token = (0..<2).map { _ in rng.next() as UInt64 }
        if fd < 0 || flock(fd, LOCK_SH) != 0 || pwrite(fd, &token, 16, 0) != 16 {
            unlink(path)
        }
        defer { if fd >= 0 { close(fd) } }
        return try body()
    }

    /// The records token now (nil when there is none); `fd` open on the token file.
    static func readRecordsToken(_ fd: Int32) -> [UInt8]? {
        guard fd >= 0 else { return nil }
        var buf = [UInt8](repeating: 0, count: 16)
        return pread(fd, &buf, 16, 0) == 16 ? buf : nil
    }

    /// What `ps` lists of every container, oldest first, in the order and with the live states
    /// `listContainers` gives; read through the summary cache, which it brings up to date.
    public func containerSummaries() -> [ContainerSummary] {
        let dir = Glibc.open(root.containersDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dir >= 0 else { return [] }
        defer { close(dir) }
        let cachePath = summaryCachePath
        let cached = SummaryCache.read(cachePath)
        // The token: trusted whole while it is the cached one; taken for the cache written
        // below only when no writer is under way now (the lock is free) and it is unchanged
        // once the listing is done.
        let tokenFD = Glibc.open(recordsTokenPath, O_RDONLY | O_CLOEXEC)
        defer { if tokenFD >= 0 { close(tokenFD) } }
        let tokenNow = Runtime.readRecordsToken(tokenFD)
        let trusted = tokenNow != nil && cached?.token == tokenNow!
        var tokenForCache: [UInt8]?
        if !trusted, tokenFD >= 0, flock(tokenFD, LOCK_EX | LOCK_NB) == 0 {
            tokenForCache = Runtime.readRecordsToken(tokenFD)
            flock(tokenFD, LOCK_UN)
        } else if trusted {
            tokenForCache = tokenNow
        }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let readAt = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9

        // The names: as cached while the folder is unchanged (its stamp, taken before listing),
        // else listed again.
        var st = stat()
        var folder = fstat(dir, &st) == 0 ? SummaryCache.Stamp(st) : .none
        if !folder.settled(before: readAt) { folder = .none }
        let names: [String]
        if let c = cached, folder != .none, c.folder == folder {
            names = c.names
        } else {
            names = FS.list(root.containersDir).filter { !$0.hasPrefix(".") }
        }

        // Each record: its cached summary while its stamp is unchanged, else read. The cache
        // holds them in the order of `names`, so a cursor finds them; a dictionary otherwise.
        let old = cached?.entries ?? []
        var next = 0
        var byName: [String: Int]?
        func cachedEntry(_ name: String) -> SummaryCache.Entry? {
            if next < old.count, old[next].name == name { next += 1; return old[next - 1] }
            if byName == nil {
                byName = Dictionary(old.indices.map { (old[$0].name, $0) }, uniquingKeysWith: { a, _ in a })
            }
            return byName?[name].map { old[$0] }
        }
        var list: [ContainerSummary] = []
        list.reserveCapacity(names.count)
        var keep: [SummaryCache.Entry] = []
        keep.reserveCapacity(names.count)
        var hits = 0, added = 0
        for name in names {
            if trusted, let e = cachedEntry(name) {
                list.append(e.summary)
                keep.append(e)
                hits += 1
                continue
            }
            let path = name + "/container.json"
            guard fstatat(dir, path, &st, 0) == 0 else { continue }
            if let e = cachedEntry(name), e.stamp == SummaryCache.Stamp(st) {
                list.append(e.summary)
                keep.append(e)
                hits += 1
                continue
            }
            // Changed, new or never cached: the record itself, stamped by the file really read.
            guard let rec = try? ContainerRecord.load(path, relativeTo: dir, stat: &st) else { continue }
            let s = ContainerSummary(rec)
            list.append(s)
            let stamp = SummaryCache.Stamp(st)
            if stamp.settled(before: readAt) {
                keep.append(SummaryCache.Entry(name: name, stamp: stamp, summary: s))
                added += 1
            }
        }
        if let t = tokenForCache, Runtime.readRecordsToken(tokenFD) != t { tokenForCache = nil }
        let token = tokenForCache ?? []
        if added > 0 || hits != old.count || cached?.folder != folder || cached?.names != names || cached?.token != token {
            SummaryCache.write(SummaryCache.Contents(folder: folder, names: names, entries: keep, token: token), to: cachePath)
        }

        // Live states (ProcessTable.isAlive's rule): one look at /proc per pid, however many
        // records name it.
        var starts: [Int32: UInt64?] = [:]
        func alive(_ pid: Int32, _ start: UInt64?) -> Bool {
            guard let start else { return false }
            if let known = starts[pid] { return known == start }
            let actual = ProcessTable.startTime(of: pid)
            starts[pid] = actual
            return actual == start
        }
        for i in list.indices where list[i].state == .running {
            list[i].live = list[i].liveState(alive: alive)
        }
        // Oldest first, ties in listing order (a stable sort on a plain array of keys).
        let created = list.map(\.created)
        if zip(created, created.dropFirst()).allSatisfy({ $0 <= $1 }) { return list }
        return created.indices.sorted { created[$0] < created[$1] || (created[$0] == created[$1] && $0 < $1) }.map { list[$0] }
    }
}

extension SummaryCoder.Reader {
    /// The records token of a cache file: empty, or 16 bytes.
    mutating func token() -> [UInt8]? {
        guard let n = count(), n == 0 || n == 16 else { return nil }
        var t: [UInt8] = []
        for _ in 0..<n {
            guard let b = byte() else { return nil }
            t.append(b)
        }
        return t
    }
}
