import CLua
import BockerCore
import BockerRuntime

/// `bocker.volume`: named volumes (data under the state root that outlives containers).
/// Volumes are plain tables {name, mountpoint, created, users = {container ids}}.
enum VolumeBindings {
    static let functions: Modules.Functions = [
        ("create", create), ("list", list), ("get", get), ("remove", remove),
    ]

    static func runtime(_ lua: Lua) throws -> Runtime { try LuaHost.from(lua.L).runtime() }

    static func value(_ rt: Runtime, _ v: VolumeRecord) -> LuaValue {
        .table([("name", .string(v.name)), ("mountpoint", .string(v.mountpoint)), ("created", .number(v.created)),
                ("users", .strings(rt.volumeUsers(v.name)))])
    }

    /// bocker.volume.create{name = } → volume (an existing one is returned as it is).
    static let create: clua_swift_function = { L in
        binding(L) { lua in
            let name: String
            if let t = try lua.optionsTable(1, "bocker.volume.create", keys: ["name"]), let n = try lua.optString(t, "name") { name = n }
            else { name = try lua.checkString(1, "bocker.volume.create") }
            let rt = try runtime(lua)
            let v = try rt.store.withLock { try rt.volumes.ensure(name) }
            lua.push(value(rt, v))
            return 1
        }
    }

    static let list: clua_swift_function = { L in
        binding(L) { lua in
            let rt = try runtime(lua)
            lua.push(.array(rt.volumes.list().map { value(rt, $0) }))
            return 1
        }
    }

    /// bocker.volume.get(name) → volume; raises not_found "no such volume: x".
    static let get: clua_swift_function = { L in
        binding(L) { lua in
            let rt = try runtime(lua)
            lua.push(value(rt, try rt.volumes.get(try lua.checkString(1, "bocker.volume.get"))))
            return 1
        }
    }

    /// bocker.volume.remove(name) → name; refused (in_use) while any container uses it.
    static let remove: clua_swift_function = { L in
        binding(L) { lua in
            let name = try lua.checkString(1, "bocker.volume.remove")
            try runtime(lua).removeVolume(name)
            lua.push(name)
            return 1
        }
    }
}
