/// String helpers FoundationEssentials does not carry (bocker avoids full Foundation for startup).
extension StringProtocol {
    /// Without leading and trailing spaces, tabs, CR and LF.
    public func trimmed() -> String {
        let ws: Set<Character> = [" ", "\t", "\n", "\r"]
        guard let start = firstIndex(where: { !ws.contains($0) }) else { return "" }
        let end = lastIndex(where: { !ws.contains($0) })!
        return String(self[start...end])
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
