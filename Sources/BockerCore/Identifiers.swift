import Glibc

/// Ids in the original's look (`img_…`, `ps_…`) with enough randomness never to collide:
/// 12 hex digits from the system RNG (getrandom) (48 bits), and creation is exclusive (mkdir/O_EXCL) anyway.
public enum Identifier {
    public static func random(prefix: String) -> String {
        prefix + randomHex(bytes: 6)
    }

    public static func randomHex(bytes: Int) -> String {
        // SystemRandomNumberGenerator reads getrandom(2).
        var rng = SystemRandomNumberGenerator()
        let buf = (0..<bytes).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in buf {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xf)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// True when s is a safe single path component: letters, digits, `_ . -`, not starting with
    /// `.` or `-`, at most 128 characters. Every id and name passes this before a path is built.
    public static func isSafeComponent(_ s: String) -> Bool {
        guard !s.isEmpty, s.utf8.count <= 128 else { return false }
        for (i, c) in s.utf8.enumerated() {
            let ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)
                || c == 0x5f || c == 0x2e || c == 0x2d
            if !ok { return false }
            if i == 0 && (c == 0x2e || c == 0x2d) { return false }
        }
        return true
    }
}
