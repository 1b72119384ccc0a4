import Glibc

/// Reads process facts from /proc.
public enum ProcessTable {
    /// This process's own start time (read once).
    public static let selfStartTime: UInt64? = startTime(of: getpid())

    /// Whether pid is the very process that started at `start` (not a later one reusing the pid).
    public static func isAlive(_ pid: Int32, startedAt start: UInt64?) -> Bool {
        guard let start = start else { return false }
        return startTime(of: pid) == start
    }

    /// Field 22 of /proc/PID/stat (start time in clock ticks since boot), which tells a
    /// process from a later one that reused its pid. nil when there is no such process.
    public static func startTime(of pid: Int32) -> UInt64? {
        guard pid > 0 else { return nil }
        // The usual case without building strings (ps asks once per running container): one
        // read into a stack buffer, fields split by hand; the rare overlong line goes below.
        let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        let fast = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 2048) { buf -> UInt64?? in
            defer { close(fd) }
            var n = 0
            while n < buf.count {
                let r = read(fd, buf.baseAddress! + n, buf.count - n)
                if r < 0 && errno == EINTR { continue }
                if r < 0 { return .some(nil) }
                if r == 0 { break }
                n += r
            }
            guard n < buf.count else { return nil }
            return .some(startTime(statLine: UnsafeBufferPointer(rebasing: buf[0..<n])))
        }
        if let fast { return fast }
        guard let text = try? FS.readString("/proc/\(pid)/stat") else { return nil }
        return startTime(statText: text)
    }

    static func startTime(statText text: String) -> UInt64? {
        // The command name (field 2) may hold spaces and parens: split after the last ')'.
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state); a zombie (Z) or dead (X) process no longer runs.
        // Start time is field 22 → index 19.
        guard fields.count > 19, fields[0] != "Z", fields[0] != "X" else { return nil }
        return UInt64(fields[19])
    }

    /// `startTime`'s reading of a /proc/PID/stat line: the same fields, split on spaces after
    /// the last ')'.
    static func startTime(statLine b: UnsafeBufferPointer<UInt8>) -> UInt64? {
        guard var i = b.lastIndex(of: 0x29) else { return nil }
        i += 1
        var field = 0
        while i < b.count {
            if b[i] == 0x20 { i += 1; continue }
            var end = i
            while end < b.count && b[end] != 0x20 { end += 1 }
            if field == 0, end - i == 1, b[i] == 0x5a || b[i] == 0x58 { return nil }   // Z or X
            if field == 19 {
                guard end > i else { return nil }
                var v: UInt64 = 0
                for k in i..<end {
                    guard b[k] >= 0x30 && b[k] <= 0x39 else { return nil }
                    let (m, o1) = v.multipliedReportingOverflow(by: 10)
                    let (a, o2) = m.addingReportingOverflow(UInt64(b[k] - 0x30))
                    guard !o1 && !o2 else { return nil }
                    v = a
                }
                return v
            }
            field += 1
            i = end
        }
        return nil
    }
}
