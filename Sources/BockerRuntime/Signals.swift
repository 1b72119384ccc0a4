import Glibc
import BockerCore

/// Signal names and numbers as `kill -s` takes them: "KILL", "SIGTERM", "15".
public enum Signals {
    static let names: [(String, Int32)] = [
        ("HUP", SIGHUP), ("INT", SIGINT), ("QUIT", SIGQUIT), ("KILL", SIGKILL), ("USR1", SIGUSR1),
        ("USR2", SIGUSR2), ("TERM", SIGTERM), ("STOP", SIGSTOP), ("CONT", SIGCONT), ("ALRM", SIGALRM),
        ("WINCH", SIGWINCH), ("PIPE", SIGPIPE), ("CHLD", SIGCHLD),
        ("TRAP", SIGTRAP), ("ABRT", SIGABRT), ("IOT", SIGABRT), ("BUS", SIGBUS), ("FPE", SIGFPE), ("SEGV", SIGSEGV),
        ("URG", SIGURG), ("XCPU", SIGXCPU), ("XFSZ", SIGXFSZ), ("VTALRM", SIGVTALRM), ("PROF", SIGPROF),
        ("IO", SIGIO), ("POLL", SIGIO), ("PWR", SIGPWR), ("SYS", SIGSYS), ("TSTP", SIGTSTP), ("TTIN", SIGTTIN),
        ("TTOU", SIGTTOU), ("STKFLT", SIGSTKFLT),
    ]

    public static func parse(_ s: String) throws -> Int32 {
        if let n = Int32(s), n > 0, n < 65 { return n }
        let up = s.uppercased()
        let name = up.hasPrefix("SIG") ? String(up.dropFirst(3)) : up
        if let hit = names.first(where: { $0.0 == name }) { return hit.1 }
        // Real-time signals as images name them (systemd's STOPSIGNAL SIGRTMIN+3): glibc's
        // SIGRTMIN is 34, SIGRTMAX 64.
        for (base, sign) in [("RTMIN", 1), ("RTMAX", -1)] where name.hasPrefix(base) {
            let rest = name.dropFirst(base.count)
            let n = rest.isEmpty ? 0 : (rest.first == (sign > 0 ? "+" : "-") ? Int32(rest.dropFirst()) : nil)
            if let n, n >= 0, n <= 30 { return (sign > 0 ? 34 : 64) + Int32(sign) * n }
        }
        throw BockerError(.invalidArgument, "invalid signal: \(s)")
    }
}
