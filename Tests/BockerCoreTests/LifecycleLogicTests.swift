import Testing
import Glibc
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
@testable import BockerCore
@testable import BockerRuntime
import BockerCgroups
import BockerNetwork

@Suite("Lifecycle logic")
struct LifecycleLogicTests {
    @Test func statesSayWhatTheyAllow() {
        #expect(ContainerState.created.canStart && ContainerState.exited.canStart)
        #expect(!ContainerState.running.canStart && !ContainerState.removing.canStart)
        #expect(ContainerState.running.canExec && !ContainerState.exited.canExec)
        #expect(ContainerState.running.needsForceToRemove && !ContainerState.exited.needsForceToRemove)
    }

    @Test func restartPoliciesParseAndDecide() throws {
        #expect(try RestartPolicy.parse("on-failure:3") == RestartPolicy(name: "on-failure", maximumRetryCount: 3))
        #expect(try RestartPolicy.parse("always").name == "always")
        for bad in ["sometimes", "on-failure:x", "always:2", "on-failure:-1", ""] {
            #expect(throws: BockerError.self) { try RestartPolicy.parse(bad) }
        }
        let onFailure = RestartPolicy(name: "on-failure", maximumRetryCount: 2)
        #expect(onFailure.shouldRestart(exitCode: 3, restarts: 0, stoppedByUser: false))
        #expect(onFailure.shouldRestart(exitCode: 3, restarts: 1, stoppedByUser: false))
        #expect(!onFailure.shouldRestart(exitCode: 3, restarts: 2, stoppedByUser: false))
        #expect(!onFailure.shouldRestart(exitCode: 0, restarts: 0, stoppedByUser: false))
        #expect(RestartPolicy(name: "always").shouldRestart(exitCode: 0, restarts: 9, stoppedByUser: false))
        #expect(!RestartPolicy(name: "always").shouldRestart(exitCode: 1, restarts: 0, stoppedByUser: true))
        #expect(!RestartPolicy().shouldRestart(exitCode: 1, restarts: 0, stoppedByUser: false))
    }

    @Test func volumeSpecs() throws {
        #expect(try MountSpec.parseVolume("/srv:/data:ro") == MountSpec(type: .bind, source: "/srv", destination: "/data", readOnly: true))
        #expect(try MountSpec.parseVolume("cache:/var/cache") == MountSpec(type: .volume, source: "cache", destination: "/var/cache", readOnly: false))
        for bad in ["/srv", "/srv:data", "x:/", "../x:/d", "/a:/b:rx", "/a:/b/../c", ":/d"] {
            #expect(throws: BockerError.self, "\(bad)") { try MountSpec.parseVolume(bad) }
        }
        #expect(throws: BockerError.self) { try MountSpec.checkHostPath("/no/such/path/anywhere") }
    }

    @Test func jsonReaderReadsWhatTheWriterWrites() throws {
        let v = JSONValue.object([("a", .string("x\"y\\z\n\u{1}é")), ("n", .int(-42)), ("d", .number(1.5)),
                                  ("t", .bool(true)), ("z", .null), ("l", .array([.int(1), .string("two")]))])
        for indent in [nil, 2] {
            let back = try JSONValue.parse(Array(v.render(indent: indent).utf8))
            #expect(back.render() == v.render())
        }
        #expect(try JSONValue.parse(Array(#"{"s":"\u00e9\ud83d\ude00"}"#.utf8))["s"]?.string == "é😀")
        for bad in ["{", "[1,]", "{\"a\" 1}", "tru", "\"open", "1 2"] {
            #expect(throws: BockerError.self, "\(bad)") { try JSONValue.parse(Array(bad.utf8)) }
        }
    }

    @Test func fastRecordReaderMatchesCodable() throws {
        var rec = ContainerRecord(
            id: "ps_0123456789ab", name: "web", image: "img_1", imageSource: "/src", layers: ["l1", "l2"],
            command: ["sh", "-c", "x"], argv: ["/bin/sh", "-c", "x"], env: ["A=1"], workdir: "/w", hostname: "h",
            user: "nobody", resources: CgroupResources(cpuShares: 512, memoryBytes: 1 << 20, pidsMax: 10),
            networkMode: "bridge", ports: [PortMapping(hostPort: 8080, containerPort: 80)],
            networkState: NetworkAttachment(network: "bridge", ip: "10.0.0.2", mac: "02:42:0a:00:00:02", gateway: "10.0.0.1",
                                            prefixLength: 24, hostVeth: "bk0123456789ab", ports: [], rules: [["nat", "X"]]),
            mounts: [MountSpec(type: .volume, source: "v", destination: "/v", readOnly: true)],
            restartPolicy: RestartPolicy(name: "on-failure", maximumRetryCount: 2), restartCount: 1, stopRequested: true,
            oomKilled: false, autoRemove: true, useInit: true, tty: false, created: 1.5, state: .exited)
        rec.exitCode = 3
        rec.finishedAt = 2.25
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        let bytes = Array(try enc.encode(rec))
        let fast = try #require(ContainerRecord(json: try JSONValue.parse(bytes)))
        let slow = try JSONDecoder().decode(ContainerRecord.self, from: Data(bytes))
        #expect(Array(try enc.encode(fast)) == Array(try enc.encode(slow)))
        // The hand-written writer produces what both readers read back identically.
        let written = Array(rec.json.render().utf8)
        let viaCodable = try JSONDecoder().decode(ContainerRecord.self, from: Data(written))
        let viaFast = try #require(ContainerRecord(json: try JSONValue.parse(written)))
        #expect(Array(try enc.encode(viaCodable)) == bytes)
        #expect(Array(try enc.encode(viaFast)) == bytes)
    }

    @Test func signalNames() throws {
        #expect(try Signals.parse("KILL") == SIGKILL)
        #expect(try Signals.parse("sigterm") == SIGTERM)
        #expect(try Signals.parse("15") == 15)
        #expect(throws: BockerError.self) { try Signals.parse("NOPE") }
    }
}
