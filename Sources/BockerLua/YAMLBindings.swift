import CLua
import BockerCore
import BockerYAML

/// `bocker.yaml`: YAML text ↔ Lua values over libyaml (`BockerYAML`). Only converts: the whole
/// document is parsed into Swift values first and pushed afterwards, so a parse error never
/// leaves a half-built table and no Lua error crosses a Swift frame.
enum YAMLBindings {
    static func install(_ lua: Lua, into bocker: Int32) {
        let L = lua.L
        lua_createtable(L, 0, 4)
        Modules.register(lua, into: lua_gettop(L), [("decode", decode), ("decode_all", decodeAll), ("encode", encode)])
        withUnsafeMutablePointer(to: &StdlibBindings.nullSentinel) { lua_pushlightuserdata(L, $0) }
        lua_setfield(L, -2, "null")
        lua_setfield(L, bocker, "yaml")
    }

    /// bocker.yaml.decode(text) → the first document's value (mappings and sequences as
    /// tables, null as bocker.yaml.null, which is bocker.json.null).
    static let decode: clua_swift_function = { L in
        binding(L) { lua in
            let text = try lua.checkString(1, "bocker.yaml.decode")
            let v = try YAML.decode(text)
            push(lua, v)
            return 1
        }
    }

    /// bocker.yaml.decode_all(text) → a list of every document's value.
    static let decodeAll: clua_swift_function = { L in
        binding(L) { lua in
            let text = try lua.checkString(1, "bocker.yaml.decode_all")
            let docs = try YAML.decodeAll(text)
            lua_createtable(lua.L, Int32(docs.count), 0)
            for (i, d) in docs.enumerated() {
                push(lua, d)
                lua_rawseti(lua.L, -2, lua_Integer(i + 1))
            }
            return 1
        }
    }

    /// bocker.yaml.encode(value) → YAML text (block style; keys sorted; an empty table is `{}`).
    static let encode: clua_swift_function = { L in
        binding(L) { lua in
            lua.push(try YAML.encode(try toYAML(lua, 1, depth: 0)))
            return 1
        }
    }

    static func push(_ lua: Lua, _ v: YAMLValue) {
        let L = lua.L
        switch v {
        case .null: withUnsafeMutablePointer(to: &StdlibBindings.nullSentinel) { lua_pushlightuserdata(L, $0) }
        case .bool(let b): lua.push(.bool(b))
        case .int(let i): lua.push(.int(i))
        case .float(let d): lua.push(.number(d))
        case .string(let s): lua.push(s)
        case .sequence(let items):
            lua_createtable(L, Int32(items.count), 0)
            for (k, e) in items.enumerated() {
                push(lua, e)
                lua_rawseti(L, -2, lua_Integer(k + 1))
            }
        case .mapping(let pairs):
            lua_createtable(L, 0, Int32(pairs.count))
            for p in pairs {
                if case .int(let i) = p.key { lua.push(.int(i)) } else { lua.push(p.key.scalarText ?? "") }
                push(lua, p.value)
                lua_rawset(L, -3)
            }
        }
    }

    static func toYAML(_ lua: Lua, _ i: Int32, depth: Int) throws -> YAMLValue {
        let L = lua.L
        let idx = lua_absindex(L, i)
        guard depth < 64 else { throw BockerError(.invalidArgument, "bocker.yaml.encode: nested too deep (a cycle?)") }
        switch lua.type(idx) {
        case LUA_TNIL, LUA_TNONE: return .null
        case LUA_TBOOLEAN: return .bool(lua_toboolean(L, idx) != 0)
        case LUA_TNUMBER:
            if let n = lua.integer(idx), lua_isinteger(L, idx) != 0 { return .int(n) }
            var ok: Int32 = 0
            return .float(clua_tonumberx(L, idx, &ok))
        case LUA_TSTRING: return .string(lua.string(idx) ?? "")
        case LUA_TTABLE:
            var named: [(String, YAMLValue)] = []
            var ints: [Int: YAMLValue] = [:]
            lua_pushnil(L)
            while lua_next(L, idx) != 0 {
                let v = try toYAML(lua, -1, depth: depth + 1)
                if lua_isinteger(L, -2) != 0, let k = lua.integer(-2) { ints[k] = v }
                else if lua.type(-2) == LUA_TSTRING || lua.type(-2) == LUA_TNUMBER, let k = lua.string(-2) { named.append((k, v)) }
                else if lua.type(-2) == LUA_TBOOLEAN { named.append((lua_toboolean(L, -2) != 0 ? "true" : "false", v)) }
                clua_pop(L, 1)
            }
            if named.isEmpty && !ints.isEmpty && (1...ints.count).allSatisfy({ ints[$0] != nil }) {
                return .sequence((1...ints.count).map { ints[$0]! })
            }
            var pairs: [(key: YAMLValue, value: YAMLValue)] = named.map { (.string($0.0), $0.1) }
            for (k, v) in ints { pairs.append((.int(k), v)) }
            pairs.sort { ($0.key.scalarText ?? "") < ($1.key.scalarText ?? "") }
            return .mapping(pairs)
        case LUA_TLIGHTUSERDATA where StdlibBindings.isNull(lua, idx):
            return .null
        default:
            throw BockerError(.invalidArgument, "bocker.yaml.encode: cannot encode a \(lua.typeName(idx))")
        }
    }
}
