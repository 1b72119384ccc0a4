/// Docker's size notation for byte counts: `512`, `512b`, `64k`, `10m`, `2g` (binary units,
/// upper or lower case, an optional trailing `b`), as `--memory`, `--log-opt max-size` and
/// `BOCKER_MAX_LAYER_SIZE` take it.
public enum ByteSize {
    /// The byte count, or nil when `text` is not such a size (or is over 2^62).
    public static func parse(_ text: String) -> UInt64? {
        var s = Array(text.trimmed().lowercased().utf8)
        if s.count > 1, s.last == UInt8(ascii: "b"), let prev = s.dropLast().last, !(prev >= 0x30 && prev <= 0x39) {
            s.removeLast()   // "10mb" -> "10m" (but "512b" keeps its b as the unit)
        }
        var mult: UInt64 = 1
        if let u = s.last, !(u >= 0x30 && u <= 0x39) {
            switch u {
            case UInt8(ascii: "b"): mult = 1
            case UInt8(ascii: "k"): mult = 1 << 10
            case UInt8(ascii: "m"): mult = 1 << 20
            case UInt8(ascii: "g"): mult = 1 << 30
            case UInt8(ascii: "t"): mult = 1 << 40
            default: return nil
            }
            s.removeLast()
        }
        guard !s.isEmpty, s.count <= 19, s.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        guard let n = UInt64(String(decoding: s, as: UTF8.self)) else { return nil }
        let (v, overflow) = n.multipliedReportingOverflow(by: mult)
        guard !overflow, v <= 1 << 62 else { return nil }
        return v
    }

    /// The shortest exact form: "10g", "512m", "3k", "1000" (bytes).
    public static func format(_ bytes: UInt64) -> String {
        for (unit, shift) in [("t", 40), ("g", 30), ("m", 20), ("k", 10)] as [(String, UInt64)] {
            if bytes >= 1 << shift && bytes % (1 << shift) == 0 { return "\(bytes >> shift)\(unit)" }
        }
        return "\(bytes)"
    }
}
