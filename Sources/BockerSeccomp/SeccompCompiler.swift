import Glibc
import BockerCore
import CBocker
import CSeccomp

/// Compiles a `SeccompProfile` for one container (its capabilities, this machine's
/// architecture and kernel) into a classic BPF program with libseccomp, in the parent: the
/// container's process only hands the bytes to the kernel (PR_SET_SECCOMP) just before execve.
/// Owns the mapping from profile terms to libseccomp calls and the per-process program cache.
public enum SeccompCompiler {
    /// A compiled filter: an array of `struct sock_filter` (8 bytes each), ready for
    /// `struct sock_fprog`.
    public struct Program: Equatable, Sendable {
        public let bytes: [UInt8]
        public var instructionCount: Int { bytes.count / 8 }
    }

    /// This machine's architecture: the SCMP_ARCH_… name and Go's name (what Docker profiles'
    /// `arches` conditions use).
    public static let native: (scmp: String, goarch: String) = {
        let token = seccomp_arch_native()
        let known: [(String, String)] = [
            ("x86_64", "amd64"), ("x86", "386"), ("x32", "x32"), ("aarch64", "arm64"), ("arm", "arm"),
            ("ppc64le", "ppc64le"), ("ppc64", "ppc64"), ("ppc", "ppc"), ("s390x", "s390x"), ("s390", "s390"),
            ("riscv64", "riscv64"), ("mips64", "mips64"), ("mipsel64", "mips64le"), ("mips", "mips"),
            ("mipsel", "mipsle"), ("loongarch64", "loong64"),
        ]
        for (name, go) in known where seccomp_arch_resolve_name(name) == token {
            return ("SCMP_ARCH_" + name.uppercased(), go)
        }
        return ("SCMP_ARCH_NATIVE", "unknown")
    }()

    /// The running kernel's release ("6.18.3-amd64").
    public static let kernelRelease: String = {
        var u = utsname()
        uname(&u)
        return withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }()

    private static let lock = NSLockish()
    nonisolated(unsafe) private static var cache: [String: Program] = [:]

    /// The program for `profile` and a container holding `capabilities` (CAP_… names).
    /// libseccomp takes ~15 ms of CPU for Docker's default profile, so programs are kept: in
    /// this process for each (key, capabilities) pair (`key` names the profile: "default", or
    /// a profile's JSON text), and, with `cacheDirectory`, in a file named by a hash of
    /// everything the program depends on (the profile's content, the capabilities, this
    /// libseccomp, architecture and kernel), written atomically. A cached file that is not a
    /// whole number of instructions is ignored and replaced.
    public static func program(_ profile: SeccompProfile, key: String, capabilities: [String],
                               cacheDirectory: String? = nil) throws -> Program {
        let caps = capabilities.sorted()
        let k = key + "\u{0}" + caps.joined(separator: ",")
        if let p = lock.locked({ cache[k] }) { return p }
        var file: String?
        if let dir = cacheDirectory {
            file = dir + "/" + cacheName(profile, capabilities: caps)
            if let f = file, let bytes = try? FS.read(f), !bytes.isEmpty, bytes.count % 8 == 0 {
                let p = Program(bytes: bytes)
                lock.locked { cache[k] = p }
                return p
            }
        }
        let p = try compile(profile, capabilities: caps)
        lock.locked { cache[k] = p }
        if let f = file {
            // Best effort: a cache that cannot be written only costs the next start its time.
            try? FS.makeDirectories(FS.parent(f), mode: 0o700)
            try? FS.writeAtomically(f, p.bytes, mode: 0o600, durable: false)
        }
        return p
    }

    /// "<32 hex digits>.bpf": two FNV-1a hashes over the program's inputs.
    static func cacheName(_ profile: SeccompProfile, capabilities: [String]) -> String {
        var h = Fingerprint()
        let v = seccomp_version()
        h.add("bocker-seccomp-1")
        if let v { h.add(UInt64(v.pointee.major) << 32 | UInt64(v.pointee.minor) << 16 | UInt64(v.pointee.micro)) }
        h.add(native.scmp)
        h.add(kernelRelease)
        for c in capabilities { h.add(c) }
        h.add(profile)
        return h.hex + ".bpf"
    }

    /// Compiles without the cache.
    public static func compile(_ profile: SeccompProfile, capabilities: [String]) throws -> Program {
        guard let ctx = seccomp_init(actionValue(profile.defaultAction)) else {
            throw BockerError(.internal, "seccomp: libseccomp could not start a filter")
        }
        defer { seccomp_release(ctx) }
        // The program is only exported: no_new_privs is the container process's business.
        _ = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)
        for arch in profile.architectures(native: native.scmp) {
            let token = seccomp_arch_resolve_name(SeccompProfile.libseccompArchName(arch))
            guard token != 0 else { throw BockerError(.invalidArgument, "seccomp: unknown architecture \(arch)") }
            let rc = seccomp_arch_add(ctx, token)
            guard rc == 0 || rc == -EEXIST else {
                throw BockerError(.invalidArgument, "seccomp: cannot add architecture \(arch): \(String(cString: strerror(-rc)))")
            }
        }
        let caps = Set(capabilities)
        for rule in profile.rules {
            guard rule.action != profile.defaultAction,
                  SeccompProfile.applies(rule, capabilities: caps, arch: native.goarch, kernel: kernelRelease) else { continue }
            let action = actionValue(rule.action)
            // Conditions on distinct arguments must all hold (one rule); several on the same
            // argument are alternatives (one rule each), as runc does.
            let indices = rule.args.map(\.index)
            let groups: [[SeccompProfile.Arg]] = Set(indices).count == indices.count ? [rule.args] : rule.args.map { [$0] }
            for name in rule.names {
                let nr = seccomp_syscall_resolve_name(name)
                if nr == __NR_SCMP_ERROR { continue }   // unknown to this libseccomp: skipped, like Docker
                for group in groups {
                    var cmps = group.map {
                        scmp_arg_cmp(arg: $0.index, op: compareValue($0.op), datum_a: $0.value, datum_b: $0.valueTwo)
                    }
                    let rc = seccomp_rule_add_array(ctx, action, nr, UInt32(cmps.count), &cmps)
                    guard rc == 0 else {
                        throw BockerError(.invalidArgument,
                                          "seccomp: cannot add the rule for \(name): \(String(cString: strerror(-rc)))")
                    }
                }
            }
        }
        let fd = bk_memfd("bocker-seccomp")
        guard fd >= 0 else { throw BockerError.errno("seccomp: cannot create a memfd") }
        defer { close(fd) }
        let rc = seccomp_export_bpf(ctx, fd)
        guard rc == 0 else { throw BockerError(.internal, "seccomp: cannot export the filter: \(String(cString: strerror(-rc)))") }
        let size = lseek(fd, 0, SEEK_END)
        guard size > 0, size % 8 == 0 else {
            throw BockerError(.internal, "seccomp: exported filter has an unexpected size (\(size) bytes)")
        }
        // The kernel refuses longer programs (BPF_MAXINSNS); better at create than at start.
        guard size / 8 <= 4096 else {
            throw BockerError(.invalidArgument, "seccomp: the profile compiles to \(size / 8) BPF instructions, more than the kernel's limit of 4096")
        }
        var bytes = [UInt8](repeating: 0, count: Int(size))
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n == Int(size) else { throw BockerError.errno("seccomp: cannot read the exported filter") }
        return Program(bytes: bytes)
    }

    static func actionValue(_ a: SeccompProfile.Action) -> UInt32 {
        switch a {
        case .allow: return 0x7fff_0000
        case .errno(let e): return 0x0005_0000 | (e & 0xffff)
        case .killThread: return 0
        case .killProcess: return 0x8000_0000
        case .trap: return 0x0003_0000
        case .trace(let v): return 0x7ff0_0000 | (v & 0xffff)
        case .log: return 0x7ffc_0000
        }
    }

    static func compareValue(_ op: SeccompProfile.Operator) -> scmp_compare {
        switch op {
        case .notEqual: return SCMP_CMP_NE
        case .lessThan: return SCMP_CMP_LT
        case .lessOrEqual: return SCMP_CMP_LE
        case .equal: return SCMP_CMP_EQ
        case .greaterOrEqual: return SCMP_CMP_GE
        case .greaterThan: return SCMP_CMP_GT
        case .maskedEqual: return SCMP_CMP_MASKED_EQ
        }
    }
}

/// Two 64-bit FNV-1a hashes (different offset bases) over a sequence of values, each ended by
/// a separator so that ("ab", "c") and ("a", "bc") differ.
struct Fingerprint {
    private var a: UInt64 = 0xcbf2_9ce4_8422_2325
    private var b: UInt64 = 0x6c62_272e_07bb_0142

    mutating func byte(_ x: UInt8) {
        a = (a ^ UInt64(x)) &* 0x100_0000_01b3
        b = (b ^ UInt64(x)) &* 0x100_0000_01b3
    }
    mutating func add(_ s: String) {
        for x in s.utf8 { byte(x) }
        byte(0)
    }
    mutating func add(_ n: UInt64) {
        for i in 0..<8 { byte(UInt8(truncatingIfNeeded: n >> (8 * UInt64(i)))) }
        byte(0xff)
    }
    mutating func add(_ act: SeccompProfile.Action) {
        add(UInt64(SeccompCompiler.actionValue(act)))
    }
    mutating func add(_ c: SeccompProfile.Condition) {
        for x in c.caps { add(x) }
        byte(1)
        for x in c.arches { add(x) }
        byte(2)
        add(c.minKernel ?? "-")
    }
    mutating func add(_ p: SeccompProfile) {
        add(p.defaultAction)
        for x in p.architectures { add(x) }
        byte(3)
        for m in p.archMap {
            add(m.architecture)
            for x in m.subArchitectures { add(x) }
            byte(4)
        }
        for r in p.rules {
            for n in r.names { add(n) }
            byte(5)
            add(r.action)
            for g in r.args {
                add(UInt64(g.index))
                add(g.value)
                add(g.valueTwo)
                add(g.op.rawValue)
            }
            byte(6)
            add(r.includes)
            add(r.excludes)
        }
    }

    var hex: String {
        func h(_ v: UInt64) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: 16 - s.count) + s
        }
        return h(a) + h(b)
    }
}

/// A pthread mutex (no Foundation in this module).
final class NSLockish: @unchecked Sendable {
    private var m = pthread_mutex_t()
    init() { pthread_mutex_init(&m, nil) }
    func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&m)
        defer { pthread_mutex_unlock(&m) }
        return try body()
    }
}
