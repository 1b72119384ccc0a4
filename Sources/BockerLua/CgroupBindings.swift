import CLua
import BockerCore
import BockerCgroups
import BockerRuntime

/// `bocker.cgroup`: the host's cgroup version and a container's cgroup (`bocker.Cgroup`
/// userdata: fields version, paths; methods read(key), write(key, value), pids()).
enum CgroupBindings {
    static let functions: Modules.Functions = [("version", version), ("of", of)]

    /// bocker.cgroup.version() → "v1" or "v2"
    static let version: clua_swift_function = { L in
        binding(L) { lua in
            lua.push(try LuaHost.from(lua.L).runtime().cgroups.version)
            return 1
        }
    }

    /// bocker.cgroup.of(container or id) → Cgroup
    static let of: clua_swift_function = { L in
        binding(L) { lua in
            let rt = try LuaHost.from(lua.L).runtime()
            let id = try ContainerBindings.ref(lua, 1, "bocker.cgroup.of")
            let rec = try rt.container(id)
            lua.pushObject(CgroupObject(rt.cgroup(of: rec.id)), .cgroup)
            return 1
        }
    }

    static let read: clua_swift_function = { L in
        binding(L) { lua in
            let cg = try lua.checkObject(1, .cgroup, as: CgroupObject.self, "read")
            lua.push(try cg.manager.read(try lua.checkString(2, "read")))
            return 1
        }
    }

    static let write: clua_swift_function = { L in
        binding(L) { lua in
            let cg = try lua.checkObject(1, .cgroup, as: CgroupObject.self, "write")
            try cg.manager.write(try lua.checkString(2, "write"), try lua.checkString(3, "write"))
            return 0
        }
    }

    static let pids: clua_swift_function = { L in
        binding(L) { lua in
            let cg = try lua.checkObject(1, .cgroup, as: CgroupObject.self, "pids")
            lua.push(.array(cg.manager.processes().map { .int(Int($0)) }))
            return 1
        }
    }

    static func field(_ lua: Lua, _ cg: CgroupObject, _ key: String) -> Bool {
        switch key {
        case "version": lua.push(cg.manager.version)
        case "paths": lua.push(.strings(cg.manager.paths))
        case "exists": lua.push(.bool(cg.manager.exists()))
        case "read": lua.push(function: read)
        case "write": lua.push(function: write)
        case "pids": lua.push(function: pids)
        default: return false
        }
        return true
    }
}

extension ObjectType {
    /// __index: fields and methods by name; unknown keys are nil.
    var index: clua_swift_function {
        switch self {
        case .image: return { L in
            binding(L) { lua in
                let o = try lua.checkObject(1, .image, as: ImageObject.self, "__index")
                if !ImageBindings.field(lua, o.rec, lua.string(2) ?? "") { lua_pushnil(L) }
                return 1
            }
        }
        case .container: return { L in
            binding(L) { lua in
                let o = try lua.checkObject(1, .container, as: ContainerObject.self, "__index")
                if try !ContainerBindings.field(lua, o, lua.string(2) ?? "") { lua_pushnil(L) }
                return 1
            }
        }
        case .cgroup: return { L in
            binding(L) { lua in
                let o = try lua.checkObject(1, .cgroup, as: CgroupObject.self, "__index")
                if !CgroupBindings.field(lua, o, lua.string(2) ?? "") { lua_pushnil(L) }
                return 1
            }
        }
        case .network: return { L in
            binding(L) { lua in
                let o = try lua.checkObject(1, .network, as: NetworkObject.self, "__index")
                if !NetworkBindings.field(lua, o, lua.string(2) ?? "") { lua_pushnil(L) }
                return 1
            }
        }
        case .chain: return { L in
            binding(L) { lua in
                let o = try lua.checkObject(1, .chain, as: ChainObject.self, "__index")
                if !BuildBindings.field(lua, o, lua.string(2) ?? "") { lua_pushnil(L) }
                return 1
            }
        }
        }
    }

    /// __tostring: "bocker.Image(img_…)" and so on.
    var tostring: clua_swift_function {
        switch self {
        case .image: return { L in
            binding(L) { lua in
                lua.push("bocker.Image(\(lua.object(1, .image, as: ImageObject.self)?.rec.id ?? "?"))")
                return 1
            }
        }
        case .container: return { L in
            binding(L) { lua in
                lua.push("bocker.Container(\(lua.object(1, .container, as: ContainerObject.self)?.id ?? "?"))")
                return 1
            }
        }
        case .cgroup: return { L in
            binding(L) { lua in
                lua.push("bocker.Cgroup(\(lua.object(1, .cgroup, as: CgroupObject.self)?.manager.paths.first ?? "?"))")
                return 1
            }
        }
        case .network: return { L in
            binding(L) { lua in
                lua.push("bocker.Network(\(lua.object(1, .network, as: NetworkObject.self)?.rec.name ?? "?"))")
                return 1
            }
        }
        case .chain: return { L in
            binding(L) { lua in
                lua.push("bocker.BuildChain(\(lua.object(1, .chain, as: ChainObject.self)?.chain.display ?? "?"))")
                return 1
            }
        }
        }
    }
}
