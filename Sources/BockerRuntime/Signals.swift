import Glibc
import BockerCore

/// Signal names and numbers as `kill -s` takes them: "KILL", "SIGTERM", "15".
public enum Signals {
    static let names: [(String, Int32)] = [
        ("HUP", SIGHUP), ("INT", SIGINT), ("QUIT", SIGQUIT), ("KILL", SIGKILL), ("USR1", SIGUSR1),
        ("USR2", SIGUSR2), ("TERM", SIGTERM), ("STOP", SIGSTOP), ("CONT", SIGCONT), ("ALRM", SIGALRM),
        ("WINCH", SIGWINCH), ("PIPE", SIGPIPE), ("CHLD", SIGCHLD),
    ]

    public static func parse(_ s: String) throws -> Int32 {
        if let n = Int32(s), n > 0, n < 65 { return n }
        let up = s.uppercased()
        let name = up.hasPrefix("SIG") ? String(up.dropFirst(3)) : up
        if let hit = names.first(where: { $0.0 == name }) { return hit.1 }
        throw BockerError(.invalidArgument, "invalid signal: \(s)")
    }
}
