/// String helpers FoundationEssentials does not carry (bocker avoids full Foundation for startup).
extension StringProtocol {
    /// Without leading and trailing spaces, tabs, CR and LF.
    public func trimmed() -> String {
        let b = Array(self.utf8)
        func ws(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d }
        var lo = 0, hi = b.count
        while lo < hi && ws(b[lo]) { lo += 1 }
        while hi > lo && ws(b[hi - 1]) { hi -= 1 }
        return String(decoding: b[lo..<hi], as: UTF8.self)
    }

    /// Splits at every byte equal to `separator` (an ASCII character), dropping empty parts.
    public func split(byte separator: UInt8) -> [String] {
        var parts: [String] = []
        var cur: [UInt8] = []
        for c in self.utf8 {
            if c == separator {
                if !cur.isEmpty { parts.append(String(decoding: cur, as: UTF8.self)); cur.removeAll(keepingCapacity: true) }
            } else {
                cur.append(c)
            }
        }
        if !cur.isEmpty { parts.append(String(decoding: cur, as: UTF8.self)) }
        return parts
    }

    /// Splits at every occurrence of separator (which must be non-empty).
    public func split(separatorString sep: String) -> [String] {
        let s = Array(self.utf8), p = Array(sep.utf8)
        var parts: [String] = []
        var start = 0, i = 0
        while i + p.count <= s.count {
            if s[i..<(i + p.count)].elementsEqual(p) {
                parts.append(String(decoding: s[start..<i], as: UTF8.self))
                i += p.count
                start = i
            } else {
                i += 1
            }
        }
        parts.append(String(decoding: s[start...], as: UTF8.self))
        return parts
    }
}
