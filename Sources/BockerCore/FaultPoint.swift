import Glibc

/// Deterministic crash points for tests: when `BOCKER_FAULT` names a point, the process kills
/// itself (SIGKILL) there, as a `kill -9` at that instant would. Unset, it costs one getenv.
public enum FaultPoint {
    static let armed: String? = getenv("BOCKER_FAULT").flatMap { String(validatingCString: $0) }

    public static func hit(_ name: StaticString) {
        guard let armed = armed, armed == name.description else { return }
        kill(getpid(), SIGKILL)
    }
}
