import CLua
import Glibc
import BockerCore
import BockerRuntime

/// `bocker.container.summaries()`: every container, oldest first, as plain tables of what `ps`
/// shows and filters on (read through the store's summary cache: one `stat` per record). A
/// table holds id, name, image, image_source, command, created and status; the other summary
/// fields (`lazyFields`) are filled in on first use from the listing, and any other field or
/// method of a `bocker.Container` reads the full record on use (`c.health`, `c:logs()`).
enum SummaryBindings {
    static let name = "bocker.ContainerSummary"
    /// The fields each table is made with (when not nil).
    static let eagerFields: Set<String> = ["id", "name", "image", "image_source", "command", "created", "status"]
    /// The summary's other fields, the same values as the Container fields of those names.
    static let lazyFields: Set<String> = ["paused", "exit_code", "pid", "started_at", "finished_at", "network_mode",
                                          "ports", "labels", "mounts"]

    /// One listing's summaries, by id (what the lazy fields are read from); held by the
    /// listing's metatable.
    final class Listing {
        let all: [ContainerSummary]
        private var byID: [String: ContainerSummary]?
        init(_ all: [ContainerSummary]) { self.all = all }

        func summary(_ id: String) -> ContainerSummary? {
            if byID == nil { byID = Dictionary(all.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a }) }
            return byID?[id]
        }
    }

    static let summaries: clua_swift_function = { L in
        binding(L) { lua in
            let all = try ContainerBindings.runtime(lua).containerSummaries()
            // The listing's metatable: __index, __tostring, __name and the listing itself.
            lua_createtable(L, 0, 4)
            lua.push(function: index)
            lua_setfield(L, -2, "__index")
            lua.push(function: tostring)
            lua_setfield(L, -2, "__tostring")
            lua.push(name)
            lua_setfield(L, -2, "__name")
            let p = clua_newuserdata(L, MemoryLayout<UnsafeMutableRawPointer?>.size)!
            p.storeBytes(of: Unmanaged.passRetained(Listing(all)).toOpaque(), as: UnsafeMutableRawPointer?.self)
            if luaL_newmetatable(L, "bocker.SummaryListing") != 0 {
                lua.push(function: objectGC)
                lua_setfield(L, -2, "__gc")
            }
            lua_setmetatable(L, -2)
            lua_setfield(L, -2, "__listing")
            let mt = lua_gettop(L)
            lua_createtable(L, Int32(all.count), 0)
            for (i, c) in all.enumerated() {
                lua_createtable(L, 0, 8)
                lua.push(c.id)
                lua_setfield(L, -2, "id")
                if let n = c.name {
                    lua.push(n)
                    lua_setfield(L, -2, "name")
                }
                lua.push(c.image)
                lua_setfield(L, -2, "image")
                lua.push(c.imageSource)
                lua_setfield(L, -2, "image_source")
                pushStrings(lua, c.command)
                lua_setfield(L, -2, "command")
                lua_pushnumber(L, c.created)
                lua_setfield(L, -2, "created")
                lua.push(c.live.rawValue)
                lua_setfield(L, -2, "status")
                lua_pushvalue(L, mt)
                lua_setmetatable(L, -2)
                lua_rawseti(L, -2, lua_Integer(i + 1))
            }
            return 1
        }
    }

    static func pushStrings(_ lua: Lua, _ a: [String]) {
        lua_createtable(lua.L, Int32(a.count), 0)
        for (i, s) in a.enumerated() {
            lua.push(s)
            lua_rawseti(lua.L, -2, lua_Integer(i + 1))
        }
    }

    /// Pushes a lazy field's value (nil when the summary has none).
    static func pushLazy(_ lua: Lua, _ c: ContainerSummary, _ key: String) {
        let L = lua.L
        func opt<T>(_ v: T?, _ push: (T) -> Void) { if let v { push(v) } else { lua_pushnil(L) } }
        switch key {
        case "paused": lua_pushboolean(L, c.isPaused ? 1 : 0)
        case "exit_code": opt(c.reportedExitCode) { lua_pushinteger(L, lua_Integer($0)) }
        case "pid": opt(c.live == .running ? c.pid : nil) { lua_pushinteger(L, lua_Integer($0)) }
        case "started_at": opt(c.startedAt) { lua_pushnumber(L, $0) }
        case "finished_at": opt(c.finishedAt) { lua_pushnumber(L, $0) }
        case "network_mode": lua.push(c.networkMode ?? "bridge")
        case "ports": pushStrings(lua, c.ports)
        case "labels":
            lua_createtable(L, 0, Int32(c.labels.count))
            for l in c.labels {
                lua.push(l.value)
                lua_setfield(L, -2, l.key)
            }
        case "mounts":
            lua_createtable(L, Int32(c.mounts.count), 0)
            for (i, m) in c.mounts.enumerated() {
                lua.push(.table([("type", .string(m.type)), ("source", .string(m.source)),
                                 ("destination", .string(m.destination)), ("read_only", .bool(m.readOnly))]))
                lua_rawseti(L, -2, lua_Integer(i + 1))
            }
        default: lua_pushnil(L)
        }
    }

    /// __index: a lazy field from the listing (kept in the table once made), an eager field that
    /// is nil, or a field or method the summary lacks, from the container's full record.
    static let index: clua_swift_function = { L in
        binding(L) { lua in
            guard let key = lua.string(2), let id = idOf(lua, 1) else { lua_pushnil(L); return 1 }
            if lazyFields.contains(key) {
                lua_getmetatable(L, 1)
                _ = lua_getfield(L, -1, "__listing")
                guard let raw = lua_touserdata(L, -1)?.load(as: UnsafeMutableRawPointer?.self),
                      let listing = Unmanaged<AnyObject>.fromOpaque(raw).takeUnretainedValue() as? Listing,
                      let c = listing.summary(id) else {
                    lua_pushnil(L)
                    return 1
                }
                pushLazy(lua, c, key)
                if lua_type(L, -1) != LUA_TNIL {
                    lua_pushvalue(L, 2)
                    lua_pushvalue(L, -2)
                    lua_rawset(L, 1)
                }
                return 1
            }
            if eagerFields.contains(key) { lua_pushnil(L); return 1 }
            let obj = ContainerObject(try ContainerBindings.runtime(lua).container(id))
            if try !ContainerBindings.field(lua, obj, key) { lua_pushnil(L) }
            return 1
        }
    }

    static let tostring: clua_swift_function = { L in
        binding(L) { lua in
            lua.push("bocker.Container(\(idOf(lua, 1) ?? "?"))")
            return 1
        }
    }

    /// The id of the summary table at index i (read raw: no __index), nil for anything else.
    static func idOf(_ lua: Lua, _ i: Int32) -> String? {
        let L = lua.L
        let t = lua_absindex(L, i)
        guard lua_type(L, t) == LUA_TTABLE, luaL_getmetafield(L, t, "__name") != LUA_TNIL else { return nil }
        let ours = lua.string(-1) == name
        clua_pop(L, 1)
        guard ours else { return nil }
        lua_pushstring(L, "id")
        _ = lua_rawget(L, t)
        defer { clua_pop(L, 1) }
        return lua.string(-1)
    }
}
