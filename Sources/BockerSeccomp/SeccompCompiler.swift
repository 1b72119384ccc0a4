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

    /// The program for `profile` and a container holding `capabilities` (CAP_… names), compiled
    /// once per process for each (key, capabilities) pair: `key` identifies the profile (for
    /// example "default", or the profile's JSON text).
    public static func program(_ profile: SeccompProfile, key: String, capabilities: [String]) throws -> Program {
        let k = key + "\u{0}" + capabilities.sorted().joined(separator: ",")
        if let p = lock.locked({ cache[k] }) { return p }
        let p = try compile(profile, capabilities: capabilities)
        lock.locked { cache[k] = p }
        return p
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
        guard size > 0, size % 8 == 0, size <= 8 * 65535 else {
            throw BockerError(.internal, "seccomp: exported filter has an unexpected size (\(size) bytes)")
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
