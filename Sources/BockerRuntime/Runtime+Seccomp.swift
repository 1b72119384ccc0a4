import BockerCore
import BockerSeccomp

extension Runtime {
    /// The seccomp program a container's processes run under (its first process, `exec`ed
    /// commands, bocker's init), compiled for the container's capabilities: nil (no filter) for
    /// `--privileged` and `seccomp=unconfined`, the user's profile for `seccomp=PROFILE.json`,
    /// else Docker's default profile. Compiled once per bocker process, profile and capability
    /// set, and cached in the state root's cache/seccomp (see `SeccompCompiler.program`).
    func seccompFilter(_ rec: ContainerRecord, capabilities: CapabilitySet) throws -> [UInt8]? {
        let sec = rec.security ?? SecurityOptions()
        if sec.privileged { return nil }
        switch sec.seccomp {
        case nil:
            return try SeccompCompiler.program(.dockerDefault, key: "default", capabilities: capabilities.names,
                                             cacheDirectory: seccompCacheDir).bytes
        case "unconfined"?:
            return nil
        case let text?:
            let profile = try SeccompProfile.parse(json: text, source: "of container \(rec.id)")
            return try SeccompCompiler.program(profile, key: text, capabilities: capabilities.names,
                                               cacheDirectory: seccompCacheDir).bytes
        }
    }

    /// Compiled seccomp programs (a cache: anything in it may be removed at any time).
    var seccompCacheDir: String { root.path + "/cache/seccomp" }
}
