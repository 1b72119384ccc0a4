import Testing
import Glibc
@testable import BockerLua
import BockerCore

/// docs/bocker.d.lua (the LuaLS stubs) names exactly what the bindings provide: every
/// function of the `bocker` table, every Container method and every option of
/// `bocker.container.create`. A binding added without its stub, or a stub left behind by a
/// removed binding, fails here.
@Suite("LuaLS stubs in sync with the bindings")
struct StubsInSyncTests {
    static let stubs: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        parts.removeLast(3)
        let path = parts.joined(separator: "/") + "/docs/bocker.d.lua"
        return (try? FS.readString(path)) ?? ""
    }()

    /// `function NAME(` lines, with the stub's local aliases (imagelib, …) spelled as the API.
    static var stubFunctions: Set<String> {
        var out = Set<String>()
        for line in stubs.split(separator: "\n") where line.hasPrefix("function ") {
            guard let paren = line.firstIndex(of: "(") else { continue }
            var name = String(line[line.index(line.startIndex, offsetBy: 9)..<paren])
            for lib in ["image", "container", "cgroup", "network", "volume", "build"] where name.hasPrefix(lib + "lib.") {
                name = "bocker." + lib + "." + name.dropFirst(lib.count + 4)
            }
            out.insert(name)
        }
        return out
    }

    @Test func everyBockerFunctionHasAStubAndNoStubIsStale() throws {
        #expect(!Self.stubs.isEmpty)
        let f = try HostFixture()
        let r = f.eval("""
            local names = {}
            for k, v in pairs(bocker) do
              if type(v) == "function" then names[#names + 1] = "bocker." .. k
              elseif type(v) == "table" then
                for k2, v2 in pairs(v) do
                  if type(v2) == "function" then names[#names + 1] = "bocker." .. k .. "." .. k2 end
                end
              end
            end
            table.sort(names)
            return table.concat(names, " ")
            """)
        #expect(r.ok, "\(r)")
        let actual = Set(r.value.split(separator: " ").map(String.init))
        let stubbed = Self.stubFunctions.filter { $0.hasPrefix("bocker.") }
        let missing = actual.subtracting(stubbed).sorted()
        let stale = stubbed.subtracting(actual).sorted()
        #expect(missing.isEmpty, "functions without a stub in docs/bocker.d.lua: \(missing)")
        #expect(stale.isEmpty, "stubs of functions that do not exist: \(stale)")
    }

    @Test func everyContainerMethodHasAStub() {
        let actual = Set(ContainerBindings.methods.keys.map { "Container:" + $0 })
        let stubbed = Self.stubFunctions.filter { $0.hasPrefix("Container:") }
        #expect(actual.subtracting(stubbed).isEmpty, "methods without a stub: \(actual.subtracting(stubbed).sorted())")
        #expect(stubbed.subtracting(actual).isEmpty, "stubs of methods that do not exist: \(stubbed.subtracting(actual).sorted())")
    }

    @Test func createOptionsMatchTheStubClass() {
        let lines = Self.stubs.split(separator: "\n")
        guard let start = lines.firstIndex(of: "---@class bocker.CreateOptions") else {
            Issue.record("no bocker.CreateOptions class in the stubs")
            return
        }
        var fields = Set<String>()
        for line in lines[(start + 1)...] {
            guard line.hasPrefix("---@field ") else { break }
            let name = line.dropFirst(10).prefix { $0 != " " && $0 != "?" }
            fields.insert(String(name))
        }
        let actual = Set(ContainerBindings.createOptions)
        #expect(actual.subtracting(fields).isEmpty, "create options without a stub field: \(actual.subtracting(fields).sorted())")
        #expect(fields.subtracting(actual).isEmpty, "stub fields the binding refuses: \(fields.subtracting(actual).sorted())")
    }
}
