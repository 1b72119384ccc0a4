#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import BockerCore
import CBocker

/// One entry of a container's device allow-list, in the terms of the v1 devices controller
/// (`c 1:3 rwm`): the node type, major and minor (nil = any) and the access it allows. The same
/// list becomes `devices.allow` lines on v1 and a BPF_CGROUP_DEVICE program on v2.
public struct DeviceRule: Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable { case char = "c", block = "b", all = "a" }

    /// What may be done with a node; the raw values are the kernel's BPF_DEVCG_ACC_* bits.
    public struct Access: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let mknod = Access(rawValue: 1)
        public static let read = Access(rawValue: 2)
        public static let write = Access(rawValue: 4)
        public static let all: Access = [.read, .write, .mknod]

        /// Docker's "rwm" letters (any subset, each at most once, not empty).
        public init(letters: String) throws {
            var a: Access = []
            for ch in letters {
                let bit: Access
                switch ch {
                case "r": bit = .read
                case "w": bit = .write
                case "m": bit = .mknod
                default: throw BockerError(.invalidArgument, "invalid device permissions '\(letters)': use a combination of r, w and m")
                }
                if a.contains(bit) { throw BockerError(.invalidArgument, "invalid device permissions '\(letters)': use a combination of r, w and m") }
                a.insert(bit)
            }
            if a.isEmpty { throw BockerError(.invalidArgument, "invalid device permissions '': use a combination of r, w and m") }
            self = a
        }

        public var letters: String {
            (contains(.read) ? "r" : "") + (contains(.write) ? "w" : "") + (contains(.mknod) ? "m" : "")
        }
    }

    public var kind: Kind
    public var major: UInt32?
    public var minor: UInt32?
    public var access: Access

    public init(_ kind: Kind, _ major: UInt32?, _ minor: UInt32?, _ access: Access) {
        self.kind = kind
        self.major = major
        self.minor = minor
        self.access = access
    }

    /// The v1 `devices.allow` line: "c 1:3 rwm", "b *:* m", "a *:* rwm".
    public var description: String {
        "\(kind.rawValue) \(major.map(String.init) ?? "*"):\(minor.map(String.init) ?? "*") \(access.letters)"
    }

    /// Docker's default list, which bocker has always written on v1: any node may be created
    /// (m), and only these opened: null, zero, full, random, urandom (1:3 1:5 1:7 1:8 1:9), tty,
    /// console, ptmx (5:0 5:1 5:2), the devpts slaves (136:*) and tun (10:200). Everything
    /// else, fuse (10:229) and every block device included, is refused.
    public static let defaults: [DeviceRule] = [
        DeviceRule(.char, nil, nil, .mknod), DeviceRule(.block, nil, nil, .mknod),
        DeviceRule(.char, 1, 3, .all), DeviceRule(.char, 1, 5, .all), DeviceRule(.char, 1, 7, .all),
        DeviceRule(.char, 1, 8, .all), DeviceRule(.char, 1, 9, .all),
        DeviceRule(.char, 5, 0, .all), DeviceRule(.char, 5, 1, .all), DeviceRule(.char, 5, 2, .all),
        DeviceRule(.char, 136, nil, .all), DeviceRule(.char, 10, 200, .all),
    ]

    /// Every device, every access (`--privileged`).
    public static let allowAll = DeviceRule(.all, nil, nil, .all)
}

/// The cgroup v2 device allow-list: a BPF_CGROUP_DEVICE program, assembled here from a list of
/// DeviceRules, loaded and attached to a container's cgroup. (The layout follows what runc's
/// devicefilter emits: read the context once, then one block per rule, first match allows,
/// the end denies.)
public enum DeviceFilter {
    // struct bpf_cgroup_dev_ctx { u32 access_type (type | access << 16); u32 major; u32 minor; }
    static let devBlock: Int32 = 1, devChar: Int32 = 2   // BPF_DEVCG_DEV_*

    /// One struct bpf_insn as the kernel reads it on a little-endian machine: code, dst_reg in
    /// the low nibble and src_reg in the high nibble of byte 1, off, imm.
    static func insn(_ code: UInt8, dst: UInt8 = 0, src: UInt8 = 0, off: Int16 = 0, imm: Int32 = 0) -> UInt64 {
        UInt64(code) | UInt64(dst & 0xf | (src & 0xf) << 4) << 8
            | UInt64(UInt16(bitPattern: off)) << 16 | UInt64(UInt32(bitPattern: imm)) << 32
    }

    // Opcodes (linux/bpf_common.h, linux/bpf.h).
    static let ldxw: UInt8 = 0x61      // BPF_LDX | BPF_MEM | BPF_W:  dst = *(u32 *)(src + off)
    static let and32: UInt8 = 0x54     // BPF_ALU | BPF_AND | BPF_K:  dst &= imm (32-bit)
    static let rsh32: UInt8 = 0x74     // BPF_ALU | BPF_RSH | BPF_K
    static let mov32Reg: UInt8 = 0xbc  // BPF_ALU | BPF_MOV | BPF_X
    static let movImm: UInt8 = 0xb7    // BPF_ALU64 | BPF_MOV | BPF_K
    static let jneImm: UInt8 = 0x55    // BPF_JMP | BPF_JNE | BPF_K:  if dst != imm: pc += off
    static let jneReg: UInt8 = 0x5d    // BPF_JMP | BPF_JNE | BPF_X
    static let exit: UInt8 = 0x95      // BPF_JMP | BPF_EXIT

    /// The program: r2 = type, r3 = requested access, r4 = major, r5 = minor; for each rule,
    /// every test that fails jumps past the rule's block; a block that runs to its end returns
    /// 1 (allow). After the last rule, 0 (deny: the kernel answers EPERM).
    public static func program(for rules: [DeviceRule]) -> [UInt64] {
        var p: [UInt64] = [
            insn(ldxw, dst: 2, src: 1, off: 0),
            insn(and32, dst: 2, imm: 0xffff),
            insn(ldxw, dst: 3, src: 1, off: 0),
            insn(rsh32, dst: 3, imm: 16),
            insn(ldxw, dst: 4, src: 1, off: 4),
            insn(ldxw, dst: 5, src: 1, off: 8),
        ]
        for rule in rules {
            // Jumps are written with off 0 and patched once the block's length is known.
            var block: [(insn: UInt64, jumps: Bool)] = []
            switch rule.kind {
            case .char: block.append((insn(jneImm, dst: 2, imm: devChar), true))
            case .block: block.append((insn(jneImm, dst: 2, imm: devBlock), true))
            case .all: break
            }
            if rule.access != .all {
                // (requested & allowed) != requested: something was asked that is not allowed.
                block.append((insn(mov32Reg, dst: 1, src: 3), false))
                block.append((insn(and32, dst: 1, imm: Int32(rule.access.rawValue)), false))
                block.append((insn(jneReg, dst: 1, src: 3), true))
            }
            if let major = rule.major { block.append((insn(jneImm, dst: 4, imm: Int32(bitPattern: major)), true)) }
            if let minor = rule.minor { block.append((insn(jneImm, dst: 5, imm: Int32(bitPattern: minor)), true)) }
            block.append((insn(movImm, dst: 0, imm: 1), false))
            block.append((insn(exit), false))
            for (i, b) in block.enumerated() {
                let skip = UInt64(UInt16(bitPattern: Int16(block.count - i - 1))) << 16
                p.append(b.jumps ? b.insn | skip : b.insn)
            }
            // A rule without a test matches everything: what follows could never run, and the
            // verifier refuses unreachable instructions.
            if !block.contains(where: \.jumps) { return p }
        }
        p.append(insn(movImm, dst: 0, imm: 0))
        p.append(insn(exit))
        return p
    }

    /// Loads the program for `rules` and attaches it to the cgroup directory at `path`
    /// (BPF_F_ALLOW_MULTI: a parent's programs still apply too). It lives as long as the cgroup.
    public static func attach(_ rules: [DeviceRule], to path: String) throws {
        let prog = program(for: rules)
        var msg = [CChar](repeating: 0, count: 512)
        let rc = prog.withUnsafeBufferPointer {
            bk_bpf_attach_device_program(path, $0.baseAddress, Int32($0.count), &msg, msg.count)
        }
        if rc != 0 {
            let text = String(decoding: msg.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw BockerError(.kernel, "cannot set up device control for cgroup '\(path)': \(text)")
        }
    }

    /// How many device programs are attached to the cgroup at `path` itself (nil: cannot ask).
    public static func attachedCount(_ path: String) -> Int? {
        let n = bk_bpf_count_device_programs(path)
        return n < 0 ? nil : Int(n)
    }
}
