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
        guard pid > 0, let text = try? FS.readString("/proc/\(pid)/stat") else { return nil }
        // The command name (field 2) may hold spaces and parens: split after the last ')'.
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state); a zombie (Z) or dead (X) process no longer runs.
        // Start time is field 22 → index 19.
        guard fields.count > 19, fields[0] != "Z", fields[0] != "X" else { return nil }
        return UInt64(fields[19])
    }
}
