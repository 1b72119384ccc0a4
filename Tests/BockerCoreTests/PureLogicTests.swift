import Testing
import Glibc
@testable import BockerCore
@testable import BockerCgroups
@testable import BockerRuntime

@Suite("Pure logic")
struct PureLogicTests {
    @Test(arguments: [(UInt64(2), UInt64(1)), (1024, 100), (262144, 10000), (0, 0), (1, 1), (512, 59), (300000, 10000)])
    func cpuSharesConvertToWeightAsRuncDoes(shares: UInt64, weight: UInt64) {
        #expect(CgroupResources.cpuWeight(forShares: shares) == weight)
    }

    @Test func idsKeepTheOriginalLookAndDoNotRepeat() {
        var seen = Set<String>()
        for _ in 0..<2000 {
            let id = Identifier.random(prefix: "ps_")
            #expect(id.count == 15 && id.hasPrefix("ps_"))
            #expect(id.dropFirst(3).allSatisfy { "0123456789abcdef".contains($0) })
            seen.insert(id)
        }
        #expect(seen.count == 2000)
    }

    @Test(arguments: ["img_1", "ps_abc", "web-1", "a.b_c", "A9"])
    func safeComponents(_ s: String) { #expect(Identifier.isSafeComponent(s)) }

    @Test(arguments: ["", ".", "..", "../x", "a/b", "-rf", ".hidden", "a b", "x\0y", "a\nb", String(repeating: "a", count: 129)])
    func unsafeComponents(_ s: String) { #expect(!Identifier.isSafeComponent(s)) }

    @Test func trimmingAndSplitting() {
        #expect("  a b \n".trimmed() == "a b")
        #expect("\n\t ".trimmed() == "")
        #expect("x - y - z".split(separatorString: " - ") == ["x", "y", "z"])
        #expect("abc".split(separatorString: "--") == ["abc"])
        #expect("--a--".split(separatorString: "--") == ["", "a", ""])
    }

    @Test func logRecordsAreValidJSONLines() {
        var out: [UInt8] = []
        jsonEscape(Array("a\"b\\c\n\t\u{01}é".utf8), into: &out)
        #expect(String(decoding: out, as: UTF8.self) == #"a\"b\\c\n\t\u0001é"#)
        let t = WallClock.rfc3339Now()
        #expect(t.count == 30 && t.hasSuffix("Z") && t.contains("T"))
        #expect(WallClock.rfc3339(seconds: 0, nanoseconds: 5) == "1970-01-01T00:00:00.000000005Z")
        #expect(WallClock.rfc3339(seconds: 1_700_000_000.5) == "2023-11-14T22:13:20.500000000Z")
    }

    @Test func processStartTimeTellsLiveFromDead() {
        #expect(ProcessTable.startTime(of: getpid()) != nil)
        #expect(ProcessTable.startTime(of: -1) == nil)
        #expect(ProcessTable.startTime(of: 0x3fffffff) == nil)
    }

    @Test func cgroupManagersNameEveryHierarchy() {
        let v1 = Cgroups(v1Mounts: ["cpu": "/c/cpu", "cpuacct": "/c/cpu", "memory": "/c/mem", "pids": "/c/pids"],
                         v2Root: nil, parent: "bocker").manager(for: "ps_1")
        #expect(v1.paths == ["/c/cpu/bocker/ps_1", "/c/mem/bocker/ps_1", "/c/pids/bocker/ps_1"])
        #expect(v1.procsFiles.first == "/c/cpu/bocker/ps_1/cgroup.procs")
        let v2 = Cgroups(v1Mounts: [:], v2Root: "/sys/fs/cgroup", parent: "bocker").manager(for: "ps_1")
        #expect(v2.version == "v2" && v2.paths == ["/sys/fs/cgroup/bocker/ps_1"])
    }
}
