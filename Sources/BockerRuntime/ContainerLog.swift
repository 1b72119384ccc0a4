#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import BockerCore

/// One line of a container's output, as kept in containers/<id>/container.log (Docker's
/// json-file format: {"log":"text\n","stream":"stdout","time":"RFC 3339"}).
public struct LogEntry: Codable, Sendable {
    public var log: String
    public var stream: String
    public var time: String
}

/// Appends a container's stdout and stderr to its log, a line per record, streams kept apart.
final class LogWriter {
    private let fd: Int32
    private var partial: [String: [UInt8]] = ["stdout": [], "stderr": []]

    init(path: String) throws {
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o640)
        guard fd >= 0 else { throw BockerError.errno("cannot open log '\(path)'", code: .io) }
    }

    deinit { close(fd) }

    /// Adds output from one stream; complete lines are written at once. With partialToo, an
    /// unterminated tail is written too (a record per read, as the bytes arrived), so nothing
    /// shown to the user is held back in memory.
    func append(_ bytes: UnsafeRawBufferPointer, stream: String, partialToo: Bool = false) {
        var buf = partial[stream] ?? []
        for b in bytes {
            buf.append(b)
            if b == 0x0a || buf.count >= 16384 {
                writeRecord(buf, stream: stream)
                buf.removeAll(keepingCapacity: true)
            }
        }
        if partialToo && !buf.isEmpty {
            writeRecord(buf, stream: stream)
            buf.removeAll(keepingCapacity: true)
        }
        partial[stream] = buf
    }

    /// Writes what is left of unterminated lines.
    func flush() {
        for (stream, buf) in partial where !buf.isEmpty { writeRecord(buf, stream: stream) }
        partial = ["stdout": [], "stderr": []]
    }

    private func writeRecord(_ text: [UInt8], stream: String) {
        var out: [UInt8] = Array(#"{"log":""#.utf8)
        jsonEscape(text, into: &out)
        out += Array(#"","stream":""#.utf8) + Array(stream.utf8)
        out += Array(#"","time":""#.utf8) + Array(WallClock.rfc3339Now().utf8) + Array("\"}\n".utf8)
        _ = try? out.withUnsafeBytes { try FS.writeAll(fd, $0, what: "log") }
    }
}

func jsonEscape(_ bytes: [UInt8], into out: inout [UInt8]) {
    let hex = Array("0123456789abcdef".utf8)
    // Invalid UTF-8 is replaced so every record stays valid JSON.
    let valid = Array(String(decoding: bytes, as: UTF8.self).utf8)
    for b in valid {
        switch b {
        case 0x22: out += [0x5c, 0x22]
        case 0x5c: out += [0x5c, 0x5c]
        case 0x0a: out += [0x5c, 0x6e]
        case 0x0d: out += [0x5c, 0x72]
        case 0x09: out += [0x5c, 0x74]
        case 0..<0x20: out += [0x5c, 0x75, 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xf)]]
        default: out.append(b)
        }
    }
}

/// Reads a container log back.
enum LogReader {
    /// Entries from byte `offset` on (whole lines only) and the offset after them.
    static func read(path: String, from offset: Int) throws -> ([LogEntry], Int) {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        if fd < 0 {
            if errno == ENOENT { return ([], offset) }
            throw BockerError.errno("cannot read log '\(path)'", code: .io)
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        var pos = off_t(offset)
        while true {
            let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, pos) }
            if n <= 0 { break }
            bytes += buf[0..<n]
            pos += off_t(n)
        }
        let decoder = JSONDecoder()
        var entries: [LogEntry] = []
        var start = 0
        for (i, b) in bytes.enumerated() where b == 0x0a {
            if i > start, let e = try? decoder.decode(LogEntry.self, from: Data(bytes[start..<i])) {
                entries.append(e)
            }
            start = i + 1
        }
        return (entries, offset + start)
    }

    static func read(path: String) throws -> [LogEntry] {
        try read(path: path, from: 0).0
    }
}
