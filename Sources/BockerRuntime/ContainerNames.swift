/// Names for containers created without `--name`, as Docker gives them ("brave_lovelace"): an
/// adjective and the surname of a scientist or engineer, never one a container already has.
enum ContainerNames {
    static let adjectives = [
        "admiring", "agile", "amazing", "bold", "brave", "bright", "calm", "careful", "cheerful", "clever",
        "curious", "daring", "eager", "elegant", "epic", "fervent", "fond", "gallant", "gentle", "happy",
        "hopeful", "jolly", "keen", "kind", "lively", "lucid", "merry", "modest", "nifty", "nimble",
        "patient", "peaceful", "playful", "proud", "quick", "quiet", "relaxed", "serene", "sharp", "sleepy",
        "steady", "sunny", "swift", "tender", "thirsty", "tidy", "upbeat", "vibrant", "wise", "witty",
    ]
    static let surnames = [
        "agnesi", "babbage", "bardeen", "bell", "boole", "bose", "cerf", "curie", "darwin", "dijkstra",
        "einstein", "euler", "faraday", "fermi", "feynman", "franklin", "galileo", "gauss", "goldberg", "goodall",
        "hamilton", "hawking", "hopper", "hypatia", "johnson", "kepler", "knuth", "lamarr", "lamport", "liskov",
        "lovelace", "maxwell", "meitner", "mendel", "newton", "noether", "pascal", "pasteur", "planck", "raman",
        "ritchie", "shannon", "sinoussi", "tesla", "thompson", "torvalds", "turing", "volta", "wilson", "wozniak",
    ]

    /// A name none of `taken` has: a random pair, tried a few times, then with a number added
    /// (Docker's way once its pairs collide).
    static func generate(avoiding taken: Set<String>) -> String {
        var rng = SystemRandomNumberGenerator()
        func pair() -> String { adjectives.randomElement(using: &rng)! + "_" + surnames.randomElement(using: &rng)! }
        for _ in 0..<16 {
            let n = pair()
            if !taken.contains(n) { return n }
        }
        while true {
            let n = pair() + String(Int.random(in: 0..<10_000, using: &rng))
            if !taken.contains(n) { return n }
        }
    }
}
