#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc

/// Small, throwing wrappers over the file calls the store needs, with errors that name the path.
public enum FS {
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// The first executable regular file called `name` in the host's $PATH directories.
    public static func searchPath(_ name: String) -> String? {
        guard let p = getenv("PATH") else { return nil }
        for dir in String(cString: p).split(separator: ":") where dir.hasPrefix("/") {
            let candidate = dir + "/" + name
            var st = stat()
            if stat(candidate, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// mkdir -p with the given mode for the directories it creates (one mkdir when the parent
    /// exists, which is the usual case).
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws {
        if mkdir(path, mode) == 0 { return }
        switch errno {
        case EEXIST:
            if isDirectory(path) { return }
            throw BockerError(.io, "cannot create directory '\(path)': a file is in the way")
        case ENOENT where path.contains("/") && parent(path) != path:
            try makeDirectories(parent(path), mode: mode)
            if mkdir(path, mode) != 0 && errno != EEXIST {
                throw BockerError.errno("cannot create directory '\(path)'", code: .io)
            }
        default:
            throw BockerError.errno("cannot create directory '\(path)'", code: .io)
        }
    }

    /// The complete, non-empty lines ("\n" left off) of a file from byte `offset` on, and the
    /// offset just past the last complete one: a line still being written is left for the
    /// next read. An append-only log is read this way without reading it again from the
    /// start. A missing file has no lines. Symlinks are not followed.
    /// `what` names the file in the error ("log" → "cannot read log '…'").
    public static func completeLines(_ path: String, from offset: Int, what: String = "") throws -> ([ArraySlice<UInt8>], Int) {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        if fd < 0 {
            if errno == ENOENT { return ([], offset) }
            throw BockerError.errno("cannot read \(what.isEmpty ? "" : what + " ")'\(path)'", code: .io)
        }
        defer { close(fd) }
        return completeLines(fd: fd, from: offset)
    }

    /// `completeLines` of an open file (the caller checked which file it is).
    public static func completeLines(fd: Int32, from offset: Int) -> ([ArraySlice<UInt8>], Int) {
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        var pos = off_t(offset)
        while true {
            let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, pos) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes += buf[0..<n]
            pos += off_t(n)
        }
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        for (i, b) in bytes.enumerated() where b == 0x0a {
            if i > start { lines.append(bytes[start..<i]) }
            start = i + 1
        }
        return (lines, offset + start)
    }

    public static func read(_ path: String) throws -> [UInt8] {
        try read(path, relativeTo: AT_FDCWD)
    }

    /// `read`, with a relative `path` resolved from the directory `dirfd` (a listing reads
    /// a thousand records without walking the same absolute prefix a thousand times).
    public static func read(_ path: String, relativeTo dirfd: Int32) throws -> [UInt8] {
        var st = stat()
        return try read(path, relativeTo: dirfd, stat: &st)
    }

    /// `read`, also giving the `fstat` of the very file read (a cache keyed by it can never
    /// pair the content of one version with the stamp of another).
    public static func read(_ path: String, relativeTo dirfd: Int32, stat st: inout stat) throws -> [UInt8] {
        let fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw BockerError.errno("cannot read '\(path)'", code: errno == ENOENT ? .notFound : .io)
        }
        defer { close(fd) }
        guard fstat(fd, &st) == 0 else { throw BockerError.errno("cannot read '\(path)'", code: .io) }
        // Regular files: one read of exactly their size (no scratch buffer to clear).
        if (st.st_mode & S_IFMT) == S_IFREG, st.st_size > 0, st.st_size < 1 << 26 {
            let size = Int(st.st_size)
            var got = 0
            let bytes = [UInt8](unsafeUninitializedCapacity: size) { buf, count in
                while got < size {
                    let n = Glibc.read(fd, buf.baseAddress! + got, size - got)
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { break }
                    got += n
                }
                count = got
            }
            if got == size { return bytes }
        }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw BockerError.errno("cannot read '\(path)'", code: .io)
            }
            if n == 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }

    public static func readString(_ path: String) throws -> String {
        String(decoding: try read(path), as: UTF8.self)
    }

    /// Writes all bytes to fd, retrying short writes and EINTR.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, what: String) throws {
        var off = 0
        while off < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + off, bytes.count - off)
            if n < 0 {
                if errno == EINTR { continue }
                throw BockerError.errno("cannot write \(what)", code: .io)
            }
            off += n
        }
    }

    /// Writes a file atomically: a temporary file in the same directory, fsync, rename, then an
    /// fsync of the directory. A reader sees the old content or the new, never a torn file.
    /// `durable: false` skips the fsyncs (still atomic for readers) for state that repair can
    /// rebuild after a crash, such as a container's running/exited status.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644, durable: Bool = true) throws {
        let dir = parent(path)
        let tmp = "\(dir)/.tmp-\(basename(path))-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw BockerError.errno("cannot write '\(path)'", code: .io) }
        do {
            try bytes.withUnsafeBytes { try writeAll(fd, $0, what: "'\(path)'") }
            if durable, fsync(fd) != 0 { throw BockerError.errno("cannot sync '\(path)'", code: .io) }
            close(fd)
            guard rename(tmp, path) == 0 else { throw BockerError.errno("cannot write '\(path)'", code: .io) }
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
        if durable { syncDirectory(dir) }
    }

    public static func writeString(_ path: String, _ s: String) throws {
        try writeAtomically(path, Array(s.utf8))
    }

    /// Writes a short value into an existing kernel file (cgroupfs, procfs); no temp file.
    public static func writeInPlace(_ path: String, _ s: String) throws {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BockerError.errno("cannot open '\(path)'") }
        defer { close(fd) }
        let bytes = Array(s.utf8)
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        if n != bytes.count { throw BockerError.errno("cannot write '\(s)' to '\(path)'") }
    }

    public static func syncDirectory(_ dir: String) {
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
    }

    /// Names in a directory, without "." and "..". A missing directory lists as empty.
    public static func list(_ dir: String) -> [String] {
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let ent = readdir(d) {
            let name = withUnsafePointer(to: ent.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// rm -rf that never follows symlinks and never crosses into another mount.
    public static func removeTree(_ path: String) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            if errno == ENOENT { return }
            throw BockerError.errno("cannot remove '\(path)'", code: .io)
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            let dev = st.st_dev
            for name in list(path) {
                let child = path + "/" + name
                var cst = stat()
                if lstat(child, &cst) == 0 && (cst.st_mode & S_IFMT) == S_IFDIR && cst.st_dev != dev {
                    throw BockerError(.io, "cannot remove '\(path)': '\(child)' is a mount point")
                }
                try removeTree(child)
            }
            if rmdir(path) != 0 && errno != ENOENT {
                throw BockerError.errno("cannot remove '\(path)'", code: .io)
            }
        } else if unlink(path) != 0 && errno != ENOENT {
            throw BockerError.errno("cannot remove '\(path)'", code: .io)
        }
    }

    public static func parent(_ path: String) -> String {
        guard let i = path.lastIndex(of: "/") else { return "." }
        return i == path.startIndex ? "/" : String(path[..<i])
    }

    public static func basename(_ path: String) -> String {
        guard let i = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: i)...])
    }

    /// Absolute form of a path relative to the current directory.
    public static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX))
        guard getcwd(&buf, buf.count) != nil else { return path }
        return String(cString: buf) + "/" + path
    }
}

extension FS {
    /// Bytes a tree takes on disk (st_blocks), not following links or crossing mounts.
    public static func diskUsage(_ path: String) -> Int {
        var st = stat()
        guard lstat(path, &st) == 0 else { return 0 }
        var total = Int(st.st_blocks) * 512
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for name in list(path) {
                var cst = stat()
                let child = path + "/" + name
                if lstat(child, &cst) == 0 && cst.st_dev != st.st_dev { continue }
                total += diskUsage(child)
            }
        }
        return total
    }
}
