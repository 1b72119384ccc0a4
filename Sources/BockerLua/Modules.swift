import CLua
import Glibc
import BockerCore
import BockerScripts

/// Builds the `bocker` table Lua scripts see (also `require "bocker"`, `require "bocker.image"`
/// …): the primitives from Swift, a searcher for the bundled Lua library, and the metatables.
enum Modules {
    typealias Functions = [(String, clua_swift_function)]

    static func install(_ lua: Lua) {
        let L = lua.L
        // Metatables: error values and object types.
        _ = luaL_newmetatable(L, "bocker.Error")
        lua.push(function: errorToString)
        lua_setfield(L, -2, "__tostring")
        clua_pop(L, 1)
        for t in ObjectType.allCases {
            _ = luaL_newmetatable(L, t.rawValue)
            lua.push(function: objectGC)
            lua_setfield(L, -2, "__gc")
            lua.push(function: t.index)
            lua_setfield(L, -2, "__index")
            lua.push(function: t.tostring)
            lua_setfield(L, -2, "__tostring")
            clua_pop(L, 1)
        }

        // The bocker table and its modules.
        lua_createtable(L, 0, 8)
        let bocker = lua_gettop(L)
        register(lua, into: bocker, HostBindings.functions)
        StdlibBindings.install(lua, into: bocker)
        YAMLBindings.install(lua, into: bocker)
        for (name, fns) in [("image", ImageBindings.functions), ("container", ContainerBindings.functions),
                            ("cgroup", CgroupBindings.functions), ("network", NetworkBindings.functions),
                            ("volume", VolumeBindings.functions), ("build", BuildBindings.functions),
                            ("text", TextBindings.functions)] {
            lua_createtable(L, 0, Int32(fns.count))
            register(lua, into: lua_gettop(L), fns)
            // package.preload["bocker.NAME"] returns the same table.
            lua_pushvalue(L, -1)
            setPreload(lua, "bocker." + name)
            lua_setfield(L, bocker, name)
        }
        lua_pushvalue(L, bocker)
        setPreload(lua, "bocker")
        lua_setglobal(L, "bocker")

        // Searcher for the bundled Lua library (scripts/lib/NAME.lua), after preload.
        _ = clua_getglobal(L, "package")
        lua_getfield(L, -1, "searchers")
        let searchers = lua_gettop(L)
        let n = lua_rawlen(L, searchers)
        var i = n
        while i >= 2 {
            lua_rawgeti(L, searchers, lua_Integer(i))
            lua_rawseti(L, searchers, lua_Integer(i + 1))
            i -= 1
        }
        lua.push(function: bundledSearcher)
        lua_rawseti(L, searchers, 2)
        clua_pop(L, 2)
    }

    static func register(_ lua: Lua, into table: Int32, _ fns: Functions) {
        for (name, fn) in fns {
            lua.push(function: fn)
            lua_setfield(lua.L, table, name)
        }
    }

    /// Sets package.preload[name] to a loader returning the value on top of the stack (popped).
    static func setPreload(_ lua: Lua, _ name: String) {
        let L = lua.L
        // A closure over the value: function() return value end, built in Lua for brevity.
        _ = clua_getglobal(L, "package")
        lua_getfield(L, -1, "preload")
        let text = "local v = ...; return function() return v end"
        _ = clua_loadbuffer(L, text, text.utf8.count, "=bocker:preload")
        lua_pushvalue(L, -4)
        _ = clua_pcall(L, 1, 1, 0)
        lua_setfield(L, -2, name)
        clua_pop(L, 3)
    }

    /// package.searchers entry: "bocker.args" → bundled lib/bocker/args.lua.
    static let bundledSearcher: clua_swift_function = { L in
        binding(L) { lua in
            let name = try lua.checkString(1, "searcher")
            // "bocker.cli" → "lib/bocker/cli.lua" (a byte loop: no generic machinery at start-up)
            let path = "lib/" + String(decoding: name.utf8.map { $0 == 0x2e ? 0x2f : $0 }, as: UTF8.self) + ".lua"
            if LuaHost.loadBundledBytecode(lua.L, path) {
                lua.push(path)
                return 2
            }
            guard let text = BundledScripts.text(path) else {
                lua.push("\n\tno bundled module '\(path)'")
                return 1
            }
            let status = text.utf8CString.withUnsafeBufferPointer {
                clua_loadbuffer(L, $0.baseAddress, $0.count - 1, "=bocker:" + path)
            }
            if status != LUA_OK {
                let msg = lua.string(-1) ?? "cannot load \(path)"
                throw BockerError(.internal, msg)
            }
            lua.push(path)
            return 2
        }
    }

    /// __tostring of an error value: "where" + message.
    static let errorToString: clua_swift_function = { L in
        binding(L) { lua in
            let msg = lua.field(1, "message") { lua.string($0) } ?? "error"
            let whereText = lua.field(1, "where") { lua.string($0) } ?? ""
            lua.push(whereText + msg)
            return 1
        }
    }
}
