import CLua
import BockerCore
import BockerNetwork
import BockerRuntime

/// `bocker.network`: create, list, get, remove bridge networks. Networks are
/// `bocker.Network` userdata with fields name, subnet, gateway, bridge, internal and the method
/// remove.
enum NetworkBindings {
    static let functions: Modules.Functions = [
        ("create", create), ("list", list), ("get", get), ("remove", remove),
    ]

    static func runtime(_ lua: Lua) throws -> Runtime { try LuaHost.from(lua.L).runtime() }

    /// bocker.network.create{name = , subnet = "10.89.3.0/24"?, internal = bool?} → Network
    static let create: clua_swift_function = { L in
        binding(L) { lua in
            guard let t = try lua.optionsTable(1, "bocker.network.create", keys: ["name", "subnet", "internal"]),
                  let name = try lua.optString(t, "name") else {
                throw BockerError(.invalidArgument, "bocker.network.create needs {name = …}")
            }
            let subnet = try lua.optString(t, "subnet")
            let isInternal = try lua.optBool(t, "internal") ?? false
            let rt = try runtime(lua)
            let rec = try rt.store.withLock { try rt.networks.create(name: name, subnet: subnet, internal: isInternal) }
            lua.pushObject(NetworkObject(rec), .network)
            return 1
        }
    }

    /// bocker.network.list() → { Network… } (the default "bridge" first)
    static let list: clua_swift_function = { L in
        binding(L) { lua in
            let all = try runtime(lua).networks.list()
            lua_createtable(L, Int32(all.count), 0)
            for (i, n) in all.enumerated() {
                lua.pushObject(NetworkObject(n), .network)
                lua_rawseti(L, -2, lua_Integer(i + 1))
            }
            return 1
        }
    }

    /// bocker.network.get(name) → Network; raises not_found "network 'x' not found".
    static let get: clua_swift_function = { L in
        binding(L) { lua in
            let rec = try runtime(lua).networks.get(try lua.checkString(1, "bocker.network.get"))
            lua.pushObject(NetworkObject(rec), .network)
            return 1
        }
    }

    /// bocker.network.remove(name or Network) → name; refused while containers use it.
    static let remove: clua_swift_function = { L in
        binding(L) { lua in
            let name = try lua.object(1, .network, as: NetworkObject.self)?.rec.name
                ?? lua.checkString(1, "bocker.network.remove")
            try runtime(lua).removeNetwork(name)
            lua.push(name)
            return 1
        }
    }

    static func field(_ lua: Lua, _ n: NetworkObject, _ key: String) -> Bool {
        switch key {
        case "name": lua.push(n.rec.name)
        case "subnet": lua.push(n.rec.subnet)
        case "gateway": lua.push(n.rec.gateway)
        case "bridge": lua.push(n.rec.bridge)
        case "internal": lua.push(.bool(n.rec.isInternal))
        case "builtin": lua.push(.bool(n.rec.name == NetworkStore.defaultName))
        case "remove": lua.push(function: remove)
        default: return false
        }
        return true
    }
}
