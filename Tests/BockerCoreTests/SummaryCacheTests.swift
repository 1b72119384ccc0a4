import Testing
import Glibc
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
@testable import BockerCore
@testable import BockerRuntime
import BockerStore
import BockerCgroups

/// The summary cache's file: what it writes it reads back exactly, and any damage to it reads
/// as an empty cache (never as wrong summaries).
@Suite("Summary cache file")
struct SummaryCacheTests {
    static func summary(_ i: Int) -> ContainerSummary {
        let r = ContainerSummary(ContainerRecord.sample(id: "ps_00000000000\(i)"))
        let even = i % 2 == 0
        return ContainerSummary(
            id: r.id, name: even ? nil : "n\u{e9}\t\n\(i)", image: r.image, imageSource: r.imageSource,
            command: i % 3 == 0 ? [] : ["sh", "-c", "echo ''"], created: r.created,
            state: even ? .running : .exited, paused: r.paused, pid: even ? Int32(-i) : r.pid,
            pidStartTime: even ? UInt64.max : r.pidStartTime, monitorPid: even ? 77 : r.monitorPid,
            monitorStartTime: r.monitorStartTime, startedAt: even ? 1.5 : r.startedAt,
            finishedAt: even ? r.finishedAt : 99.25, exitCode: even ? nil : 137, networkMode: r.networkMode,
            ports: even ? r.ports : ["0.0.0.0:80->80/tcp"],
            labels: even ? r.labels : [.init(key: "a", value: ""), .init(key: "k=v", value: "x y")],
            mounts: even ? r.mounts : [.init(type: "volume", source: "v", destination: "/d", readOnly: true)])
    }

    static func entries() -> [SummaryCache.Entry] {
        (0..<4).map { i in
            var st = stat()
            st.st_ino = ino_t(1000 + i)
            st.st_size = off_t(200 + i)
            st.st_mtim.tv_sec = 1_700_000_000
            st.st_mtim.tv_nsec = i
            st.st_ctim.tv_sec = 1_700_000_001
            st.st_ctim.tv_nsec = 999_999_999
            return SummaryCache.Entry(name: "ps_00000000000\(i)", stamp: SummaryCache.Stamp(st), summary: summary(i))
        }
    }

    static func contents() -> SummaryCache.Contents {
        var st = stat()
        st.st_ino = 7
        st.st_mtim.tv_sec = 1_600_000_000
        st.st_ctim.tv_sec = 1_600_000_000
        let e = entries()
        return SummaryCache.Contents(folder: SummaryCache.Stamp(st), names: e.map(\.name) + ["ps_norecord"], entries: e)
    }

    static func tempFile() throws -> String {
        var template = Array("/tmp/bocker-summary-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw BockerError(.io, "mkdtemp") }
        return String(cString: p) + "/containers"
    }

    @Test("entries written are read back field for field")
    func roundTrip() throws {
        let path = try Self.tempFile()
        defer { _ = try? FS.removeTree(FS.parent(path)) }
        let written = Self.contents()
        SummaryCache.write(written, to: path)
        let read = try #require(SummaryCache.read(path))
        #expect(read.folder == written.folder && read.names == written.names)
        #expect(read.entries.count == written.entries.count)
        for (r, e) in zip(read.entries, written.entries) {
            #expect(r.name == e.name)
            #expect(r.stamp == e.stamp)
            #expect(r.summary == e.summary)
        }
    }

    @Test("a truncated, extended or changed file reads as empty, at every byte")
    func damageIsIgnored() throws {
        let path = try Self.tempFile()
        defer { _ = try? FS.removeTree(FS.parent(path)) }
        let good = SummaryCache.encode(Self.contents())
        try FS.writeAtomically(path, good, durable: false)
        #expect(SummaryCache.read(path)?.entries.count == 4)
        for n in 0..<good.count {
            try FS.writeAtomically(path, Array(good.prefix(n)), durable: false)
            #expect(SummaryCache.read(path) == nil, "truncated to \(n) bytes")
        }
        for i in 0..<good.count {
            var bad = good
            bad[i] ^= 0x01
            try FS.writeAtomically(path, bad, durable: false)
            #expect(SummaryCache.read(path) == nil, "byte \(i) changed")
        }
        try FS.writeAtomically(path, good + [0], durable: false)
        #expect(SummaryCache.read(path) == nil, "a byte added")
    }

    @Test("a record is cached only once it is settled; one changed in place is read again")
    func listing() throws {
        let path = try Self.tempFile()
        let rootPath = FS.parent(path)
        defer { _ = try? FS.removeTree(rootPath) }
        let rt = Runtime(store: try Store(root: StateRoot(path: rootPath), requestedDriver: "copy"))
        for i in 0..<3 {
            let rec = ContainerRecord.sample(id: "ps_aaaaaaaaaaa\(i)", created: Double(100 + i))
            try FS.makeDirectories(rt.root.containerDir(rec.id))
            try rt.save(rec)
        }
        let expected = rt.listContainers().map(ContainerSummary.init)
        #expect(rt.containerSummaries() == expected)
        // Just written: not settled, so not cached (a change in the same clock tick could hide).
        #expect(SummaryCache.read(rt.summaryCachePath)?.entries.isEmpty ?? true)
        // The record changed in place, same size: read again, never the old summary.
        let p = rt.root.containerDir("ps_aaaaaaaaaaa1") + "/container.json"
        let text = try FS.readString(p).replacing("\"imageSource\":\"src\"", with: "\"imageSource\":\"SRC\"")
        let fd = open(p, O_WRONLY | O_TRUNC)
        _ = Array(text.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        #expect(rt.containerSummaries().map(\.imageSource) == ["src", "SRC", "src"])
    }
}

@Suite("Process start times")
struct ProcessStartTests {
    @Test("the byte reader of /proc/PID/stat agrees with the string reader")
    func statLines() throws {
        let own = try FS.readString("/proc/self/stat")
        var lines = [own]
        let rest = " S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 123456789 20 21\n"
        for comm in ["(sh)", "(a) b) (c)", "( )", "(x y z)", "())"] {
            lines.append("42 " + comm + rest)
        }
        lines += ["42 (z) Z 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 99 20", "42 (x) X" + rest.dropFirst(2),
                  "42 (short) S 1 2", "no paren at all", "42 (big) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 99999999999999999999999 1",
                  "42 (bad) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 12a 1", "42 (two  spaces) S  1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 7 1"]
        for line in lines {
            let bytes = Array(line.utf8)
            let fast = bytes.withUnsafeBufferPointer { ProcessTable.startTime(statLine: $0) }
            #expect(fast == ProcessTable.startTime(statText: line), "\(line)")
        }
        #expect(ProcessTable.startTime(of: getpid()) == ProcessTable.startTime(statText: own))
        #expect(ProcessTable.startTime(of: getpid()) != nil)
    }
}

extension ContainerRecord {
    static func sample(id: String, created: Double = 1) -> ContainerRecord {
        ContainerRecord(id: id, name: "name-" + id, image: "img_000000000001", imageSource: "src", layers: ["l"],
                        command: ["true"], argv: ["true"], env: [], workdir: "/", hostname: id, user: nil,
                        resources: CgroupResources(), networkMode: nil, ports: nil, networkState: nil, mounts: nil,
                        restartPolicy: nil, restartCount: nil, stopRequested: nil, oomKilled: nil, autoRemove: nil,
                        useInit: nil, tty: nil, created: created, state: .created)
    }
}
