/// The message for an option name a function does not know, with the closest known name when
/// one is near enough to be a typo ("unknown option 'memroy' (did you mean 'memory'?)").
enum OptionNames {
    static func unknown(_ name: String, known: [String]) -> String {
        var message = "unknown option '\(name)'"
        if let best = closest(to: name, in: known) { message += " (did you mean '\(best)'?)" }
        return message
    }

    /// The known name at the smallest edit distance, if that distance is small for its length.
    static func closest(to name: String, in known: [String]) -> String? {
        let scored = known.map { ($0, distance(name, $0)) }.min { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
        guard let (best, d) = scored, d <= max(1, min(3, name.count / 3)) else { return nil }
        return best
    }

    /// Damerau-Levenshtein (optimal string alignment): a swap of two letters counts as one edit.
    static func distance(_ a: String, _ b: String) -> Int {
        let x = Array(a.lowercased().utf8), y = Array(b.lowercased().utf8)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var d = Array(repeating: Array(repeating: 0, count: y.count + 1), count: x.count + 1)
        for i in 0...x.count { d[i][0] = i }
        for j in 0...y.count { d[0][j] = j }
        for i in 1...x.count {
            for j in 1...y.count {
                let cost = x[i - 1] == y[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, x[i - 1] == y[j - 2], x[i - 2] == y[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[x.count][y.count]
    }
}
