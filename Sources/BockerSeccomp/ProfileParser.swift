import BockerCore
import CSeccomp

extension SeccompProfile {
    /// Reads a profile in Docker's JSON format (`docker run --security-opt seccomp=FILE`).
    /// `source` names the profile in errors (the file the user gave). Unknown keys are ignored,
    /// as Docker does; a wrong type, an unknown action, operator or architecture, or a rule
    /// without names is an `.invalidArgument` error of one line: `seccomp profile "FILE": WHERE:
    /// WHAT`. Syscall names are not checked here: names this libseccomp does not know are
    /// skipped when compiling, like Docker skips them.
    public static func parse(json text: String, source: String) throws -> SeccompProfile {
        func fail(_ what: String) -> BockerError {
            BockerError(.invalidArgument, "seccomp profile \"\(source)\": \(what)")
        }
        let root: JSONValue
        do {
            root = try JSONValue.parse(Array(text.utf8))
        } catch let e as BockerError {
            throw fail("not valid JSON (\(e.message))")
        }
        guard case .object = root else { throw fail("not a JSON object") }

        func string(_ v: JSONValue?, _ at: String) throws -> String? {
            guard let v = present(v) else { return nil }
            guard let s = v.string else { throw fail("\(at): expected a string") }
            return s
        }
        func strings(_ v: JSONValue?, _ at: String) throws -> [String] {
            guard let v = present(v) else { return [] }
            guard let a = v.array else { throw fail("\(at): expected an array of strings") }
            return try a.enumerated().map { i, e in
                guard let s = e.string else { throw fail("\(at)[\(i)]: expected a string") }
                return s
            }
        }
        func unsigned(_ v: JSONValue?, _ at: String, max: UInt64 = .max) throws -> UInt64? {
            guard let v = present(v) else { return nil }
            var n: UInt64?
            switch v {
            case .int(let i) where i >= 0: n = UInt64(i)
            case .number(let d) where d >= 0 && d == d.rounded() && d < 18446744073709551616.0:
                n = UInt64(d)
            default: n = nil
            }
            guard let n, n <= max else { throw fail("\(at): expected a whole number from 0 to \(max)") }
            return n
        }
        func array(_ v: JSONValue?, _ at: String) throws -> [JSONValue] {
            guard let v = present(v) else { return [] }
            guard let a = v.array else { throw fail("\(at): expected an array") }
            return a
        }
        func object(_ v: JSONValue?, _ at: String) throws -> JSONValue? {
            guard let v = present(v) else { return nil }
            guard case .object = v else { throw fail("\(at): expected an object") }
            return v
        }
        func arch(_ name: String, _ at: String) throws -> String {
            guard SeccompProfile.knownArchitecture(name) else {
                throw fail("\(at): unknown architecture \"\(name)\" (SCMP_ARCH_X86_64, SCMP_ARCH_AARCH64, …)")
            }
            return name
        }
        func action(_ v: JSONValue?, errno: UInt64?, _ at: String) throws -> Action {
            guard let name = try string(v, at) else { throw fail("\(at): missing") }
            let ret = UInt32(errno ?? 1)
            switch name {
            case "SCMP_ACT_ALLOW": break
            case "SCMP_ACT_ERRNO": return .errno(ret)
            case "SCMP_ACT_TRACE": return .trace(ret)
            case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD": break
            case "SCMP_ACT_KILL_PROCESS": break
            case "SCMP_ACT_TRAP": break
            case "SCMP_ACT_LOG": break
            case "SCMP_ACT_NOTIFY": throw fail("\(at): SCMP_ACT_NOTIFY is not supported by bocker")
            default:
                throw fail("\(at): unknown action \"\(name)\" (SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, …)")
            }
            if errno != nil { throw fail("\(at): errnoRet is only allowed with SCMP_ACT_ERRNO or SCMP_ACT_TRACE") }
            switch name {
            case "SCMP_ACT_ALLOW": return .allow
            case "SCMP_ACT_KILL_PROCESS": return .killProcess
            case "SCMP_ACT_TRAP": return .trap
            case "SCMP_ACT_LOG": return .log
            default: return .killThread
            }
        }
        func condition(_ v: JSONValue?, _ at: String) throws -> Condition {
            guard let o = try object(v, at) else { return Condition() }
            let caps = try strings(o["caps"], at + ".caps").map { c -> String in
                let up = c.uppercased()
                return up.hasPrefix("CAP_") ? up : "CAP_" + up
            }
            let kernel = try string(o["minKernel"], at + ".minKernel")
            if let kernel, SeccompProfile.compareKernel(kernel, "0.0") <= 0 || kernel.first?.isNumber != true {
                throw fail("\(at).minKernel: \"\(kernel)\" is not a kernel version such as \"4.8\"")
            }
            return Condition(caps: caps, arches: try strings(o["arches"], at + ".arches"), minKernel: kernel)
        }

        let defaultErrno = try unsigned(root["defaultErrnoRet"], "defaultErrnoRet", max: 4095)
        var profile = SeccompProfile(defaultAction: try action(root["defaultAction"], errno: nil, "defaultAction"), rules: [])
        if let e = defaultErrno {
            switch profile.defaultAction {
            case .errno: profile.defaultAction = .errno(UInt32(e))
            case .trace: profile.defaultAction = .trace(UInt32(e))
            default: throw fail("defaultErrnoRet: only allowed with SCMP_ACT_ERRNO or SCMP_ACT_TRACE")
            }
        }
        if let flags = present(root["flags"]), !(flags.array?.isEmpty ?? false) {
            throw fail("flags: seccomp filter flags are not supported by bocker")
        }
        if let path = try string(root["listenerPath"], "listenerPath"), !path.isEmpty {
            throw fail("listenerPath: seccomp notification listeners are not supported by bocker")
        }
        profile.architectures = try strings(root["architectures"], "architectures").enumerated().map {
            try arch($1, "architectures[\($0)]")
        }
        for (i, m) in try array(root["archMap"], "archMap").enumerated() {
            let at = "archMap[\(i)]"
            guard let m = try object(m, at) else { throw fail("\(at): expected an object") }
            guard let main = try string(m["architecture"], at + ".architecture") else {
                throw fail("\(at).architecture: missing")
            }
            let subs = try strings(m["subArchitectures"], at + ".subArchitectures").enumerated().map {
                try arch($1, "\(at).subArchitectures[\($0)]")
            }
            profile.archMap.append(ArchMapping(architecture: try arch(main, at + ".architecture"), subArchitectures: subs))
        }
        if !profile.architectures.isEmpty && !profile.archMap.isEmpty {
            throw fail("use either 'architectures' or 'archMap', not both")
        }

        for (i, s) in try array(root["syscalls"], "syscalls").enumerated() {
            let at = "syscalls[\(i)]"
            guard let s = try object(s, at) else { throw fail("\(at): expected an object") }
            var names = try strings(s["names"], at + ".names")
            if let one = try string(s["name"], at + ".name") { names.append(one) }
            if names.isEmpty { throw fail("\(at): no system call names ('names')") }
            if let bad = names.first(where: { $0.isEmpty }) { throw fail("\(at).names: empty name \"\(bad)\"") }
            let errno = try unsigned(s["errnoRet"], at + ".errnoRet", max: 4095)
            let act = try action(s["action"], errno: errno, at + ".action")
            var args: [Arg] = []
            for (j, a) in try array(s["args"], at + ".args").enumerated() {
                let aat = "\(at).args[\(j)]"
                guard let a = try object(a, aat) else { throw fail("\(aat): expected an object") }
                guard let index = try unsigned(a["index"], aat + ".index", max: 5) else { throw fail("\(aat).index: missing") }
                guard let opName = try string(a["op"], aat + ".op") else { throw fail("\(aat).op: missing") }
                guard let op = Operator(rawValue: opName) else {
                    throw fail("\(aat).op: unknown operator \"\(opName)\" (SCMP_CMP_EQ, SCMP_CMP_NE, SCMP_CMP_MASKED_EQ, …)")
                }
                args.append(Arg(index: UInt32(index), value: try unsigned(a["value"], aat + ".value") ?? 0,
                                valueTwo: try unsigned(a["valueTwo"], aat + ".valueTwo") ?? 0, op: op))
            }
            profile.rules.append(Rule(names: names, action: act, args: args,
                                      includes: try condition(s["includes"], at + ".includes"),
                                      excludes: try condition(s["excludes"], at + ".excludes")))
        }
        return profile
    }

    /// Whether libseccomp knows this SCMP_ARCH_… name.
    static func knownArchitecture(_ name: String) -> Bool {
        guard name.hasPrefix("SCMP_ARCH_") else { return false }
        return seccomp_arch_resolve_name(libseccompArchName(name)) != 0
    }

    /// "SCMP_ARCH_X86_64" → "x86_64", the spelling libseccomp resolves.
    static func libseccompArchName(_ name: String) -> String {
        String(name.dropFirst("SCMP_ARCH_".count)).lowercased()
    }
}

/// The value, or nil when absent or JSON null (Docker treats both as "not given").
private func present(_ v: JSONValue?) -> JSONValue? {
    if let v, case .null = v { return nil }
    return v
}
