import XCTest
import Glibc
import BockerCore
@testable import BockerSeccomp

/// Docker's JSON profile format: what is read, what is refused (one line naming the file and
/// the place), and that compiled programs are real BPF.
final class ProfileParserTests: XCTestCase {
    func parse(_ json: String) throws -> SeccompProfile {
        try SeccompProfile.parse(json: json, source: "p.json")
    }

    func assertRefused(_ json: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try parse(json), file: file, line: line) { e in
            guard let e = e as? BockerError else { return XCTFail("not a BockerError: \(e)", file: file, line: line) }
            XCTAssertEqual(e.code, .invalidArgument, file: file, line: line)
            XCTAssertTrue(e.message.hasPrefix("seccomp profile \"p.json\": "), e.message, file: file, line: line)
            XCTAssertTrue(e.message.contains(fragment), "\(e.message) lacks \(fragment)", file: file, line: line)
            XCTAssertFalse(e.message.contains("\n"), file: file, line: line)
        }
    }

    func testFullProfile() throws {
        let p = try parse("""
        {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 13,
         "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
         "syscalls": [
           {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
           {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
           {"name": "kill", "action": "SCMP_ACT_KILL_PROCESS", "comment": "old single-name form"},
           {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
            "includes": {"caps": ["sys_admin"], "arches": ["amd64"], "minKernel": "4.8"},
            "excludes": {"caps": ["CAP_BPF"]}}
         ],
         "unknownKey": {"ignored": true}}
        """)
        XCTAssertEqual(p.defaultAction, .errno(13))
        XCTAssertEqual(p.architectures(native: "SCMP_ARCH_X86_64"), ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"])
        XCTAssertEqual(p.architectures(native: "SCMP_ARCH_AARCH64"), ["SCMP_ARCH_AARCH64"])
        XCTAssertEqual(p.rules.count, 4)
        XCTAssertEqual(p.rules[0].names, ["read", "write"])
        XCTAssertEqual(p.rules[0].action, .allow)
        XCTAssertEqual(p.rules[1].action, .errno(1))
        XCTAssertEqual(p.rules[2].names, ["kill"])
        XCTAssertEqual(p.rules[2].action, .killProcess)
        XCTAssertEqual(p.rules[3].args, [SeccompProfile.Arg(index: 0, value: 0x7E02_0000, valueTwo: 0, op: .maskedEqual)])
        XCTAssertEqual(p.rules[3].includes.caps, ["CAP_SYS_ADMIN"])
        XCTAssertEqual(p.rules[3].includes.minKernel, "4.8")
        XCTAssertEqual(p.rules[3].excludes.caps, ["CAP_BPF"])
    }

    func testDefaultsAndLargeValues() throws {
        let p = try parse("""
        {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
         "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                       "args": [{"index": 0, "value": 4294967295, "op": "SCMP_CMP_EQ"}]}]}
        """)
        XCTAssertEqual(p.defaultAction, .allow)
        XCTAssertEqual(p.architectures(native: "SCMP_ARCH_AARCH64"), ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"])
        XCTAssertEqual(p.rules[0].action, .errno(1), "SCMP_ACT_ERRNO without errnoRet is EPERM")
        XCTAssertEqual(p.rules[0].args[0].value, 0xffff_ffff)
        XCTAssertEqual(try parse(#"{"defaultAction": "SCMP_ACT_LOG"}"#).rules, [])
    }

    func testRefusals() {
        assertRefused("{", "not valid JSON")
        assertRefused("[]", "not a JSON object")
        assertRefused(#"{"syscalls": []}"#, "defaultAction: missing")
        assertRefused(#"{"defaultAction": "SCMP_ACT_FOO"}"#, #"defaultAction: unknown action "SCMP_ACT_FOO""#)
        assertRefused(#"{"defaultAction": 5}"#, "defaultAction: expected a string")
        assertRefused(#"{"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1}"#, "defaultErrnoRet: only allowed")
        assertRefused(#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_VAX"]}"#,
                      #"architectures[0]: unknown architecture "SCMP_ARCH_VAX""#)
        assertRefused(#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86"], "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}"#,
                      "either 'architectures' or 'archMap'")
        assertRefused(#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": {"names": ["read"]}}"#, "syscalls: expected an array")
        assertRefused(#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"action": "SCMP_ACT_ALLOW"}]}"#,
                      "syscalls[0]: no system call names")
        assertRefused(#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"]}]}"#, "syscalls[0].action: missing")
        assertRefused(#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}]}"#,
                      "syscalls[0].action: errnoRet is only allowed")
        assertRefused(#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": -1}]}"#,
                      "syscalls[0].errnoRet: expected a whole number")
        assertRefused(#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
                      "syscalls[0].args[0].index: expected a whole number from 0 to 5")
        assertRefused(#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ALMOST"}]}]}"#,
                      #"syscalls[0].args[0].op: unknown operator "SCMP_CMP_ALMOST""#)
        assertRefused(#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "new"}}]}"#,
                      "syscalls[0].includes.minKernel")
        assertRefused(#"{"defaultAction": "SCMP_ACT_NOTIFY"}"#, "SCMP_ACT_NOTIFY is not supported")
        assertRefused(#"{"defaultAction": "SCMP_ACT_ERRNO", "flags": ["SECCOMP_FILTER_FLAG_LOG"]}"#, "flags")
    }

    func testConditions() {
        let r = SeccompProfile.Rule(names: ["x"], action: .allow,
                                    includes: .init(caps: ["CAP_SYS_ADMIN"], minKernel: "5.1"),
                                    excludes: .init(arches: ["s390x"]))
        XCTAssertTrue(SeccompProfile.applies(r, capabilities: ["CAP_SYS_ADMIN"], arch: "amd64", kernel: "6.18.1-amd64"))
        XCTAssertFalse(SeccompProfile.applies(r, capabilities: [], arch: "amd64", kernel: "6.18.1"))
        XCTAssertFalse(SeccompProfile.applies(r, capabilities: ["CAP_SYS_ADMIN"], arch: "s390x", kernel: "6.18"))
        XCTAssertFalse(SeccompProfile.applies(r, capabilities: ["CAP_SYS_ADMIN"], arch: "amd64", kernel: "5.0.21"))
        XCTAssertTrue(SeccompProfile.applies(r, capabilities: ["CAP_SYS_ADMIN"], arch: "amd64", kernel: "5.10"))
    }

    func testDefaultProfileCompiles() throws {
        let dflt = try SeccompCompiler.compile(.dockerDefault, capabilities: ["CAP_CHOWN"])
        XCTAssertGreaterThan(dflt.instructionCount, 100)
        XCTAssertEqual(dflt.bytes.count % 8, 0)
        // With CAP_SYS_ADMIN the namespace calls are allowed: a different program.
        let admin = try SeccompCompiler.compile(.dockerDefault, capabilities: ["CAP_SYS_ADMIN"])
        XCTAssertNotEqual(dflt, admin)
        let cached = try SeccompCompiler.program(.dockerDefault, key: "default", capabilities: ["CAP_CHOWN"])
        XCTAssertEqual(cached, dflt)
        // A profile naming syscalls this libseccomp does not know still compiles (they are skipped).
        let p = try SeccompProfile.parse(json: #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["no_such_call", "mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}"#, source: "t")
        XCTAssertGreaterThan(try SeccompCompiler.compile(p, capabilities: []).instructionCount, 3)
    }

    func testDiskCache() throws {
        var template = Array("/tmp/bocker-seccomp-cache-XXXXXX".utf8CString)
        let dir = String(cString: try XCTUnwrap(mkdtemp(&template)))
        defer { _ = try? FS.removeTree(dir) }
        let cacheDir = dir + "/cache"
        let profile = try SeccompProfile.parse(json: #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}"#, source: "t")
        let first = try SeccompCompiler.program(profile, key: "cache-test-1", capabilities: ["CAP_KILL"], cacheDirectory: cacheDir)
        let files = FS.list(cacheDir)
        XCTAssertEqual(files.count, 1)
        XCTAssertTrue(files[0].hasSuffix(".bpf"))
        XCTAssertEqual(try FS.read(cacheDir + "/" + files[0]), first.bytes)
        // Another key (nothing in memory): read back from the file.
        try FS.writeAtomically(cacheDir + "/" + files[0], Array(first.bytes.prefix(16)), durable: false)
        let fromDisk = try SeccompCompiler.program(profile, key: "cache-test-2", capabilities: ["CAP_KILL"], cacheDirectory: cacheDir)
        XCTAssertEqual(fromDisk.bytes.count, 16, "the cached file is used")
        // A torn file (not whole instructions) is ignored and replaced.
        try FS.writeAtomically(cacheDir + "/" + files[0], [1, 2, 3], durable: false)
        let rebuilt = try SeccompCompiler.program(profile, key: "cache-test-3", capabilities: ["CAP_KILL"], cacheDirectory: cacheDir)
        XCTAssertEqual(rebuilt, first)
        XCTAssertEqual(try FS.read(cacheDir + "/" + files[0]), first.bytes)
        // Other capabilities or another profile: another file.
        _ = try SeccompCompiler.program(profile, key: "cache-test-4", capabilities: ["CAP_SYS_ADMIN"], cacheDirectory: cacheDir)
        _ = try SeccompCompiler.program(.dockerDefault, key: "cache-test-5", capabilities: ["CAP_KILL"], cacheDirectory: cacheDir)
        XCTAssertEqual(FS.list(cacheDir).filter { $0.hasSuffix(".bpf") }.count, 3)
    }
}
