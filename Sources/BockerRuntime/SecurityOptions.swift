#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import BockerCore
import BockerSeccomp

/// A host device made available in a container (`--device HOST[:CONTAINER][:PERMISSIONS]`).
/// Owns the parsing of Docker's syntax and the check that the host path is a device node.
public struct DeviceMapping: Codable, Sendable, Equatable {
    public var hostPath: String
    public var containerPath: String
    /// Any of "r", "w", "m" (read, write, mknod), Docker's default "rwm".
    public var permissions: String

    public init(hostPath: String, containerPath: String, permissions: String = "rwm") {
        self.hostPath = hostPath
        self.containerPath = containerPath
        self.permissions = permissions
    }

    static func isPermissions(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 3 && s.allSatisfy { "rwm".contains($0) } && Set(s).count == s.count
    }

    /// Docker's forms: `/dev/x`, `/dev/x:/dev/y`, `/dev/x:rw`, `/dev/x:/dev/y:rwm`.
    public static func parse(_ s: String) throws -> DeviceMapping {
        let parts = s.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        func bad(_ why: String) -> BockerError {
            BockerError(.invalidArgument, "invalid --device '\(s)': \(why)")
        }
        var d: DeviceMapping
        switch parts.count {
        case 1: d = DeviceMapping(hostPath: parts[0], containerPath: parts[0])
        case 2 where isPermissions(parts[1]):
            d = DeviceMapping(hostPath: parts[0], containerPath: parts[0], permissions: parts[1])
        case 2: d = DeviceMapping(hostPath: parts[0], containerPath: parts[1])
        case 3:
            guard isPermissions(parts[2]) else { throw bad("permissions must be a combination of r, w and m") }
            d = DeviceMapping(hostPath: parts[0], containerPath: parts[1], permissions: parts[2])
        default: throw bad("use HOST[:CONTAINER][:PERMISSIONS]")
        }
        guard d.hostPath.hasPrefix("/"), d.containerPath.hasPrefix("/") else { throw bad("paths must be absolute") }
        guard !d.containerPath.split(separator: "/").contains(".."), !d.containerPath.contains("\0") else {
            throw bad("the container path must not contain '..'")
        }
        return d
    }

    /// The host node's type ("c" or "b"), major and minor; fails for a missing path or one that
    /// is not a device node.
    public func hostNode() throws -> (type: Character, major: UInt32, minor: UInt32) {
        var st = stat()
        guard stat(hostPath, &st) == 0 else {
            throw BockerError(.invalidArgument, "error gathering device information while adding custom device \"\(hostPath)\": \(String(cString: strerror(errno)))")
        }
        let fmt = st.st_mode & S_IFMT
        guard fmt == S_IFCHR || fmt == S_IFBLK else {
            throw BockerError(.invalidArgument, "error gathering device information while adding custom device \"\(hostPath)\": not a device node")
        }
        let dev = UInt64(st.st_rdev)
        let major = UInt32(((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff))
        let minor = UInt32(((dev >> 12) & 0xffff_ff00) | (dev & 0xff))
        return (fmt == S_IFCHR ? "c" : "b", major, minor)
    }
}

/// How a container is confined beyond bocker's defaults: Docker's `--privileged`,
/// `--cap-add`/`--cap-drop`, `--read-only`, `--security-opt`, `--device` and `--userns`.
/// Owns parsing and validating those settings and the capability set they give.
public struct SecurityOptions: Codable, Sendable, Equatable {
    /// All capabilities, no seccomp filter, every device, a writable /sys, no masked paths.
    public var privileged = false
    public var capAdd: [String] = []
    public var capDrop: [String] = []
    /// The root filesystem is mounted read-only (volumes, tmpfs mounts, /dev stay writable).
    public var readOnlyRootfs = false
    /// PR_SET_NO_NEW_PRIVS (bocker's default is on; `--security-opt no-new-privileges=false`
    /// turns it off, as Docker's default is).
    public var noNewPrivileges = true
    /// nil: bocker's default profile (Docker's); "unconfined": no filter; otherwise the JSON
    /// text of a Docker seccomp profile, read when the container was created.
    public var seccomp: String?
    /// `--security-opt systempaths=unconfined`: no masked or read-only /proc and /sys paths.
    public var unmaskedPaths = false
    public var devices: [DeviceMapping] = []
    /// nil or "host": the host's user namespace; "auto": a private id range.
    public var userns: String?

    public init() {}

    private enum CodingKeys: String, CodingKey {
        case privileged, capAdd, capDrop, readOnlyRootfs, noNewPrivileges, seccomp, unmaskedPaths, devices, userns
    }

    /// Reads the block as `json` writes it: absent keys keep their defaults.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        privileged = try c.decodeIfPresent(Bool.self, forKey: .privileged) ?? false
        capAdd = try c.decodeIfPresent([String].self, forKey: .capAdd) ?? []
        capDrop = try c.decodeIfPresent([String].self, forKey: .capDrop) ?? []
        readOnlyRootfs = try c.decodeIfPresent(Bool.self, forKey: .readOnlyRootfs) ?? false
        noNewPrivileges = try c.decodeIfPresent(Bool.self, forKey: .noNewPrivileges) ?? true
        seccomp = try c.decodeIfPresent(String.self, forKey: .seccomp)
        unmaskedPaths = try c.decodeIfPresent(Bool.self, forKey: .unmaskedPaths) ?? false
        devices = try c.decodeIfPresent([DeviceMapping].self, forKey: .devices) ?? []
        userns = try c.decodeIfPresent(String.self, forKey: .userns)
    }

    /// The capabilities the container's processes keep.
    public func capabilities() throws -> CapabilitySet {
        if privileged { return try CapabilitySet.all.adding([], dropping: capDrop) }
        let set = try CapabilitySet.dockerDefault.adding(capAdd, dropping: capDrop)
        let missing = CapabilitySet(bits: set.bits & ~CapabilitySet.available.bits)
        guard missing.bits == 0 else {
            throw BockerError(.invalidArgument, "cannot give the container \(missing): bocker itself does not have it (not in its bounding set)")
        }
        return set
    }

    /// Applies one `--security-opt` value. `readFile` reads a seccomp profile's path.
    public mutating func apply(securityOpt opt: String, readFile: (String) throws -> String = SecurityOptions.readProfile) throws {
        // Docker accepts both KEY=VALUE and the older KEY:VALUE.
        let sep = opt.firstIndex(where: { $0 == "=" || $0 == ":" })
        let key = sep.map { String(opt[..<$0]) } ?? opt
        let value = sep.map { String(opt[opt.index(after: $0)...]) }
        func bad(_ why: String) -> BockerError {
            BockerError(.invalidArgument, "invalid --security-opt '\(opt)': \(why)")
        }
        switch key {
        case "seccomp":
            guard let v = value, !v.isEmpty else { throw bad("use seccomp=unconfined or seccomp=PROFILE.json") }
            if v == "unconfined" {
                seccomp = "unconfined"
            } else {
                let text = try readFile(v)
                _ = try SeccompProfile.parse(json: text, source: v)   // errors name the file
                seccomp = text
            }
        case "no-new-privileges":
            switch value {
            case nil, "true"?: noNewPrivileges = true
            case "false"?: noNewPrivileges = false
            default: throw bad("use no-new-privileges[=true|false]")
            }
        case "systempaths":
            guard value == "unconfined" else { throw bad("use systempaths=unconfined") }
            unmaskedPaths = true
        case "apparmor", "label":
            // bocker applies no LSM profile; only the values that ask for none are honest.
            guard value == "unconfined" || (key == "label" && value == "disable") else {
                throw bad("\(key) profiles are not supported (bocker applies no LSM profile)")
            }
        default:
            throw bad("unknown option '\(key)' (use seccomp=, no-new-privileges, systempaths=unconfined)")
        }
    }

    /// Reads a seccomp profile for `--security-opt seccomp=PATH`.
    public static func readProfile(_ path: String) throws -> String {
        do {
            return String(decoding: try FS.read(path), as: UTF8.self)
        } catch {
            throw BockerError(.invalidArgument, "opening seccomp profile (\(path)) failed: \(String(cString: strerror(errno)))")
        }
    }

    /// `--userns` values bocker knows.
    public static func checkUserns(_ v: String?) throws {
        guard let v else { return }
        guard v == "host" || v == "auto" || v.isEmpty else {
            throw BockerError(.invalidArgument, "invalid --userns '\(v)': use host or auto")
        }
    }

    /// Checks everything that can be checked before the container is made.
    public func validate() throws {
        _ = try capabilities()
        try SecurityOptions.checkUserns(userns)
        for d in devices { _ = try d.hostNode() }
        if userns == "auto" && !devices.isEmpty {
            // No mknod in a user namespace, and a bound host node would belong to host root,
            // whom the container's root is not.
            throw BockerError(.invalidArgument, "--device cannot be combined with --userns=auto (a user namespace cannot make device nodes)")
        }
        // A profile is compiled once here, so that one libseccomp refuses fails the create.
        if !privileged, let s = seccomp, s != "unconfined" {
            let profile = try SeccompProfile.parse(json: s, source: "given")
            _ = try SeccompCompiler.program(profile, key: s, capabilities: try capabilities().names)
        }
    }

    /// The settings as Docker's inspect shows HostConfig.SecurityOpt (a profile's text as
    /// "seccomp=<profile>").
    public var securityOptStrings: [String] {
        var out: [String] = []
        if let s = seccomp { out.append(s == "unconfined" ? "seccomp=unconfined" : "seccomp=" + s) }
        if !noNewPrivileges { out.append("no-new-privileges=false") }
        if unmaskedPaths { out.append("systempaths=unconfined") }
        return out
    }

    /// Nothing differs from the defaults (the record then omits the whole block).
    public var isDefault: Bool { self == SecurityOptions() }
}

extension SecurityOptions {
    /// Reads what `json` wrote.
    init(json j: JSONValue) {
        privileged = j["privileged"]?.bool ?? false
        capAdd = j["capAdd"]?.strings ?? []
        capDrop = j["capDrop"]?.strings ?? []
        readOnlyRootfs = j["readOnlyRootfs"]?.bool ?? false
        noNewPrivileges = j["noNewPrivileges"]?.bool ?? true
        seccomp = j["seccomp"]?.string
        unmaskedPaths = j["unmaskedPaths"]?.bool ?? false
        devices = j["devices"]?.array?.compactMap { d in
            guard let h = d["hostPath"]?.string, let c = d["containerPath"]?.string else { return nil }
            return DeviceMapping(hostPath: h, containerPath: c, permissions: d["permissions"]?.string ?? "rwm")
        } ?? []
        userns = j["userns"]?.string
    }

    /// The block as stored in container.json (keys sorted, defaults left out).
    var json: JSONValue {
        var f: [(String, JSONValue)] = []
        if !capAdd.isEmpty { f.append(("capAdd", .array(capAdd.map { .string($0) }))) }
        if !capDrop.isEmpty { f.append(("capDrop", .array(capDrop.map { .string($0) }))) }
        if !devices.isEmpty {
            f.append(("devices", .array(devices.map { d in .object([
                ("containerPath", .string(d.containerPath)), ("hostPath", .string(d.hostPath)),
                ("permissions", .string(d.permissions))]) })))
        }
        if !noNewPrivileges { f.append(("noNewPrivileges", .bool(false))) }
        if privileged { f.append(("privileged", .bool(true))) }
        if readOnlyRootfs { f.append(("readOnlyRootfs", .bool(true))) }
        if let s = seccomp { f.append(("seccomp", .string(s))) }
        if unmaskedPaths { f.append(("unmaskedPaths", .bool(true))) }
        if let u = userns { f.append(("userns", .string(u))) }
        return .object(f)
    }
}
