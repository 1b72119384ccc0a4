import BockerCore

/// A seccomp profile in the shape of Docker's JSON format: a default action, the architectures
/// the filter covers, and rules (syscall names, an action, argument conditions, and the
/// capability / architecture / kernel conditions that decide whether a rule applies to a given
/// container). It owns the meaning of a profile; `SeccompCompiler` turns one into BPF.
public struct SeccompProfile: Equatable, Sendable {
    /// What happens to a matching system call.
    public enum Action: Equatable, Sendable {
        case allow
        /// Fail with this errno (EPERM when the profile gives none).
        case errno(UInt32)
        /// Kill the calling thread (SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD).
        case killThread
        case killProcess
        case trap
        /// Notify a tracer with this value (EPERM when the profile gives none).
        case trace(UInt32)
        case log
    }

    /// A comparison of one system call argument (libseccomp's scmp_compare).
    public enum Operator: String, Sendable, CaseIterable {
        case notEqual = "SCMP_CMP_NE"
        case lessThan = "SCMP_CMP_LT"
        case lessOrEqual = "SCMP_CMP_LE"
        case equal = "SCMP_CMP_EQ"
        case greaterOrEqual = "SCMP_CMP_GE"
        case greaterThan = "SCMP_CMP_GT"
        case maskedEqual = "SCMP_CMP_MASKED_EQ"
    }

    /// `args[index] op value` (for SCMP_CMP_MASKED_EQ: `args[index] & value == valueTwo`).
    public struct Arg: Equatable, Sendable {
        public var index: UInt32
        public var value: UInt64
        public var valueTwo: UInt64
        public var op: Operator

        public init(index: UInt32, value: UInt64, valueTwo: UInt64 = 0, op: Operator) {
            self.index = index
            self.value = value
            self.valueTwo = valueTwo
            self.op = op
        }
    }

    /// Docker's `includes` / `excludes`: capabilities (CAP_… names), architectures (Go names:
    /// amd64, arm64, x32, …) and, for includes, a minimum kernel version.
    public struct Condition: Equatable, Sendable {
        public var caps: [String] = []
        public var arches: [String] = []
        public var minKernel: String?

        public init(caps: [String] = [], arches: [String] = [], minKernel: String? = nil) {
            self.caps = caps
            self.arches = arches
            self.minKernel = minKernel
        }

        var isEmpty: Bool { caps.isEmpty && arches.isEmpty && minKernel == nil }
    }

    /// One entry of `syscalls`.
    public struct Rule: Equatable, Sendable {
        public var names: [String]
        public var action: Action
        public var args: [Arg]
        public var includes: Condition
        public var excludes: Condition

        public init(names: [String], action: Action, args: [Arg] = [], includes: Condition = Condition(),
                    excludes: Condition = Condition()) {
            self.names = names
            self.action = action
            self.args = args
            self.includes = includes
            self.excludes = excludes
        }
    }

    /// Docker's archMap entry: with this native architecture (SCMP_ARCH_… name), the filter also
    /// covers the sub-architectures (e.g. x86 and x32 on x86_64).
    public struct ArchMapping: Equatable, Sendable {
        public var architecture: String
        public var subArchitectures: [String]

        public init(architecture: String, subArchitectures: [String]) {
            self.architecture = architecture
            self.subArchitectures = subArchitectures
        }
    }

    public var defaultAction: Action
    /// SCMP_ARCH_… names covered (the old `architectures` field); empty = see archMap.
    public var architectures: [String]
    public var archMap: [ArchMapping]
    public var rules: [Rule]

    public init(defaultAction: Action, architectures: [String] = [], archMap: [ArchMapping] = [], rules: [Rule]) {
        self.defaultAction = defaultAction
        self.architectures = architectures
        self.archMap = archMap
        self.rules = rules
    }

    /// The SCMP_ARCH_… names the filter covers on a machine whose native architecture is
    /// `native` (an SCMP_ARCH_… name): the listed architectures, else the archMap entry for it.
    public func architectures(native: String) -> [String] {
        if !architectures.isEmpty { return architectures }
        guard let m = archMap.first(where: { $0.architecture == native }) else { return [native] }
        return [m.architecture] + m.subArchitectures
    }

    /// Whether a rule applies to a container with these capabilities, on this architecture (a
    /// Go name) and kernel release, with Docker's rules: every included capability held, no
    /// excluded one held; architecture in includes (if any) and not in excludes; kernel at
    /// least minKernel.
    public static func applies(_ rule: Rule, capabilities: Set<String>, arch: String, kernel: String) -> Bool {
        if !rule.includes.arches.isEmpty && !rule.includes.arches.contains(arch) { return false }
        if !rule.includes.caps.isEmpty && !rule.includes.caps.allSatisfy({ capabilities.contains($0) }) { return false }
        if let min = rule.includes.minKernel, compareKernel(kernel, min) < 0 { return false }
        if rule.excludes.arches.contains(arch) { return false }
        if rule.excludes.caps.contains(where: { capabilities.contains($0) }) { return false }
        if let min = rule.excludes.minKernel, compareKernel(kernel, min) >= 0 { return false }
        return true
    }

    /// Compares two kernel versions ("6.18.3-amd64" against "4.8") by their numeric parts.
    static func compareKernel(_ a: String, _ b: String) -> Int {
        func parts(_ s: String) -> [Int] {
            var out: [Int] = []
            for piece in s.split(separator: ".", omittingEmptySubsequences: false).prefix(3) {
                let digits = piece.prefix { $0.isASCII && $0.isNumber }
                out.append(Int(digits) ?? 0)
                if digits.count != piece.count { break }
            }
            return out
        }
        let x = parts(a), y = parts(b)
        for i in 0..<max(x.count, y.count) {
            let l = i < x.count ? x[i] : 0, r = i < y.count ? y[i] : 0
            if l != r { return l < r ? -1 : 1 }
        }
        return 0
    }
}
