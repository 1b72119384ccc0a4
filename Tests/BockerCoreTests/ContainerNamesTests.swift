import Testing
@testable import BockerRuntime

/// Generated container names: Docker's shape, and never one already taken, even when every
/// adjective_surname pair is.
@Suite("generated container names")
struct ContainerNamesTests {
    @Test("a name is adjective_surname from the lists, and differs from those taken")
    func shape() {
        let taken: Set<String> = ["brave_turing", "calm_curie"]
        for _ in 0..<200 {
            let n = ContainerNames.generate(avoiding: taken)
            let parts = n.split(separator: "_").map(String.init)
            #expect(parts.count == 2 && ContainerNames.adjectives.contains(parts[0]) && ContainerNames.surnames.contains(parts[1]), "\(n)")
            #expect(!taken.contains(n))
        }
    }

    @Test("with every pair taken the name gets a number, still unused")
    func exhausted() {
        var taken = Set<String>()
        for a in ContainerNames.adjectives { for s in ContainerNames.surnames { taken.insert(a + "_" + s) } }
        #expect(taken.count == ContainerNames.adjectives.count * ContainerNames.surnames.count)
        let n = ContainerNames.generate(avoiding: taken)
        #expect(!taken.contains(n))
        #expect(n.last?.isNumber == true, "\(n)")
        #expect(Set(ContainerNames.adjectives).count == ContainerNames.adjectives.count)
        #expect(Set(ContainerNames.surnames).count == ContainerNames.surnames.count)
    }
}
