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

    /// The id prefix `ref` stands for, with `kind` ("ps_", "img_") put in front when left
    /// out: `90c6`, `ps_90c6` → `ps_90c6`. nil when ref is not one (not hex, or nothing after
    /// the kind), so names never turn into prefixes.
    public static func idPrefix(_ ref: String, kind: String) -> String? {
        let hex = ref.hasPrefix(kind) ? ref.dropFirst(kind.count) : Substring(ref)
        guard !hex.isEmpty, hex.utf8.count <= 12,
              hex.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else { return nil }
        return kind + hex
    }

    /// Picks what a reference means among `candidates` (id, name) as Docker does: the full id,
    /// then an exact name, then a unique id prefix (with or without `kind`). A prefix that fits
    /// several is an error listing them; nothing fitting returns nil.
    public static func resolve<T>(_ ref: String, kind: String, what: String, in candidates: [T],
                                  id: (T) -> String, names: (T) -> [String]) throws -> T? {
        guard !ref.isEmpty else { return nil }
        if let exact = candidates.first(where: { id($0) == ref }) { return exact }
        if let named = candidates.last(where: { names($0).contains(ref) }) { return named }
        guard let prefix = idPrefix(ref, kind: kind) else { return nil }
        let matches = candidates.filter { id($0).hasPrefix(prefix) }
        if matches.count > 1 {
            throw BockerError(.invalidArgument, "Ambiguous \(what) reference '\(ref)': multiple IDs found with provided prefix: \(matches.map(id).joined(separator: ", "))")
        }
        return matches.first
    }
}
