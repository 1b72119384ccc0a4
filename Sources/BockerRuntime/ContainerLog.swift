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

/// `--log-opt` of the json-file log, Docker's semantics: past `maxSize` bytes the log is
/// rotated (container.log → container.log.1 → … → container.log.<maxFiles-1>, the oldest
/// dropped); with one file it is emptied. Owns only the settings and their validation.
public struct LogOptions: Codable, Equatable, Sendable {
    /// nil: the log grows without bound (Docker's default).
    public var maxSize: UInt64?
    /// Files kept, the live one included (1 or more).
    public var maxFiles: Int = 1

    public init(maxSize: UInt64? = nil, maxFiles: Int = 1) {
        self.maxSize = maxSize
        self.maxFiles = maxFiles
    }

    public var isDefault: Bool { maxSize == nil && maxFiles == 1 }

    /// From `--log-opt KEY=VALUE` strings: max-size (a size such as 10m) and max-file (a count).
    public static func parse(_ opts: [String]) throws -> LogOptions {
        var o = LogOptions()
        var fileSet = false
        for opt in opts {
            let kv = opt.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard kv.count == 2 else { throw BockerError(.invalidArgument, "invalid log opt '\(opt)': use KEY=VALUE") }
            switch kv[0] {
            case "max-size":
                guard let n = ByteSize.parse(kv[1]), n > 0 else {
                    throw BockerError(.invalidArgument, "invalid max-size '\(kv[1])': expected a size such as 10m")
                }
                o.maxSize = n
            case "max-file":
                guard let n = Int(kv[1]), n >= 1, n <= 100 else {
                    throw BockerError(.invalidArgument, "invalid max-file '\(kv[1])': expected a whole number from 1 to 100")
                }
                o.maxFiles = n
                fileSet = true
            default:
                throw BockerError(.invalidArgument, "unknown log opt '\(kv[0])' for json-file log driver")
            }
        }
        if fileSet && o.maxFiles > 1 && o.maxSize == nil {
            throw BockerError(.invalidArgument, "max-file cannot be set without max-size")
        }
        return o
    }

    var json: JSONValue {
        var f: [(String, JSONValue)] = [("maxFiles", .int(maxFiles))]
        if let m = maxSize { f.append(("maxSize", .int(Int(m)))) }
        return .object(f)
    }

    init(json j: JSONValue) {
        maxSize = j["maxSize"]?.int.map { UInt64($0) }
        maxFiles = max(1, j["maxFiles"]?.int ?? 1)
    }

    /// `--log-opt` strings for inspect (Docker's LogConfig.Config).
    public var dockerConfig: [String: String] {
        var d: [String: String] = [:]
        if let m = maxSize { d["max-size"] = ByteSize.format(m) }
        if maxFiles > 1 { d["max-file"] = String(maxFiles) }
        return d
    }
}

/// Appends a container's stdout and stderr to its log, a line per record, streams kept apart,
/// rotating it as its `LogOptions` say.
final class LogWriter {
    private var fd: Int32
    private let path: String
    private let options: LogOptions
    private var size: UInt64 = 0
    private var partial: [String: [UInt8]] = ["stdout": [], "stderr": []]

    init(path: String, options: LogOptions = LogOptions()) throws {
        self.path = path
        self.options = options
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o640)
        guard fd >= 0 else { throw BockerError.errno("cannot open log '\(path)'", code: .io) }
        var st = stat()
        if fstat(fd, &st) == 0 { size = UInt64(st.st_size) }
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
        if let max = options.maxSize, size > 0, size + UInt64(out.count) > max { rotate() }
        if (try? out.withUnsafeBytes({ try FS.writeAll(fd, $0, what: "log") })) != nil { size += UInt64(out.count) }
    }

    /// Shifts container.log.N to .N+1 (the last one falls off), the live log to .1, and starts
    /// an empty live log; with a single file, empties it. A failure keeps the current file.
    private func rotate() {
        if options.maxFiles <= 1 {
            if ftruncate(fd, 0) == 0 { size = 0 }
            return
        }
        for n in stride(from: options.maxFiles - 2, through: 1, by: -1) {
            rename("\(path).\(n)", "\(path).\(n + 1)")
        }
        guard rename(path, path + ".1") == 0 else { return }
        let nfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o640)
        guard nfd >= 0 else { return }   // keep writing to the renamed file rather than lose output
        close(fd)
        fd = nfd
        size = 0
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
        let (lines, next) = try FS.completeLines(path, from: offset, what: "log")
        let decoder = JSONDecoder()
        let entries = lines.compactMap { try? decoder.decode(LogEntry.self, from: Data($0)) }
        return (entries, next)
    }

    static func read(path: String) throws -> [LogEntry] {
        try follow(path: path, from: 0).0
    }

    /// N of every container.log.N beside the log, ascending (1 is the newest rotated file).
    static func rotatedNumbers(_ path: String) -> [Int] {
        let dir = FS.parent(path), base = String(path.dropFirst(dir.count + 1)) + "."
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var ns: [Int] = []
        while let e = readdir(d) {
            let name = withUnsafePointer(to: e.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
            if name.hasPrefix(base), let n = Int(name.dropFirst(base.count)), n > 0 { ns.append(n) }
        }
        return ns.sorted()
    }

    /// For `logs` and `logs --follow`: from offset 0, every rotated file (oldest first) and the
    /// live log; after that, entries after `offset` in the live log. When the live log is
    /// shorter than `offset`, it was rotated since: the rest of container.log.1 comes first.
    static func follow(path: String, from offset: Int) throws -> ([LogEntry], Int) {
        if offset == 0 {
            var old: [LogEntry] = []
            for n in rotatedNumbers(path).reversed() { old += try read(path: "\(path).\(n)", from: 0).0 }
            let (live, next) = try read(path: path, from: 0)
            return (old + live, next)
        }
        var st = stat()
        if offset > 0, lstat(path, &st) == 0, Int(st.st_size) < offset {
            let (old, _) = try read(path: path + ".1", from: offset)
            let (new, next) = try read(path: path, from: 0)
            return (old + new, next)
        }
        return try read(path: path, from: offset)
    }
}
