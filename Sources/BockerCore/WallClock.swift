import Glibc

/// Wall-clock time as the store records it (seconds since the epoch) and as Docker prints it
/// (RFC 3339, UTC, nanoseconds).
public enum WallClock {
    /// Now, as seconds since the epoch with sub-second precision.
    public static func now() -> Double {
        let ts = realtime()
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Now as RFC 3339 with exact nanoseconds (Docker's log timestamps).
    public static func rfc3339Now() -> String {
        let ts = realtime()
        return rfc3339(seconds: Int(ts.tv_sec), nanoseconds: ts.tv_nsec)
    }

    /// Seconds since the epoch as RFC 3339.
    public static func rfc3339(seconds: Double) -> String {
        let whole = seconds.rounded(.down)
        return rfc3339(seconds: Int(whole), nanoseconds: max(0, Int((seconds - whole) * 1e9)))
    }

    /// An instant (whole seconds since the epoch and nanoseconds past them) as RFC 3339.
    public static func rfc3339(seconds: Int, nanoseconds: Int) -> String {
        var t = time_t(seconds)
        var tm = tm()
        gmtime_r(&t, &tm)
        func pad(_ v: Int, _ w: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return "\(pad(Int(tm.tm_year) + 1900, 4))-\(pad(Int(tm.tm_mon) + 1, 2))-\(pad(Int(tm.tm_mday), 2))T"
            + "\(pad(Int(tm.tm_hour), 2)):\(pad(Int(tm.tm_min), 2)):\(pad(Int(tm.tm_sec), 2)).\(pad(nanoseconds, 9))Z"
    }

    private static func realtime() -> timespec {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return ts
    }
}
