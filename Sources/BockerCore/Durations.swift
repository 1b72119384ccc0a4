/// Durations as users write them: seconds as a number, or Go's form ("1m30s", "500ms", "2h",
/// "1.5s") as Docker's flags take it. Owns parsing and the short form errors print.
public enum Durations {
    /// Seconds for `text`; nil when it is not a duration.
    public static func parse(_ text: String) -> Double? {
        if let n = Double(text), n.isFinite, n >= 0 { return n }
        var total = 0.0
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        let units: [(String, Double)] = [("ms", 0.001), ("us", 0.000001), ("µs", 0.000001), ("ns", 1e-9), ("h", 3600), ("m", 60), ("s", 1)]
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let v = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            guard let (unit, scale) = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            rest = rest.dropFirst(unit.count)
            total += v * scale
        }
        return total
    }

    /// "1m30s", "2s", "250ms": the shortest exact-enough form for messages.
    public static func format(_ seconds: Double) -> String {
        if seconds < 1 && seconds > 0 { return "\(Int((seconds * 1000).rounded()))ms" }
        let whole = Int(seconds.rounded())
        let h = whole / 3600, m = (whole % 3600) / 60, s = whole % 60
        var out = ""
        if h > 0 { out += "\(h)h" }
        if m > 0 { out += "\(m)m" }
        if s > 0 || out.isEmpty { out += "\(s)s" }
        return out
    }
}
