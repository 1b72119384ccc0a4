import CLua
import BockerCore

/// A value crossing between Swift and Lua.
indirect enum LuaValue {
    case `nil`
    case bool(Bool)
    case int(Int)
    case number(Double)
    case string(String)
    case array([LuaValue])
    case table([(String, LuaValue)])

    static func strings(_ a: [String]) -> LuaValue { .array(a.map { .string($0) }) }

    /// A JSON value as Lua data (null becomes nil).
    init(_ j: JSONValue) {
        switch j {
        case .null: self = .nil
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .number(let d): self = .number(d)
        case .string(let s): self = .string(s)
        case .array(let a): self = .array(a.map(LuaValue.init))
        case .object(let f): self = .table(f.map { ($0.0, LuaValue($0.1)) })
        }
    }
    static func optional(_ s: String?) -> LuaValue { s.map { .string($0) } ?? .nil }
    static func optional(_ i: Int32?) -> LuaValue { i.map { .int(Int($0)) } ?? .nil }
    static func optional(_ d: Double?) -> LuaValue { d.map { .number($0) } ?? .nil }
}

/// Thin helpers over a `lua_State*` for the bindings. Nothing here raises a Lua error (no
/// longjmp over Swift frames): bad arguments throw a `BockerError` that the trampoline raises.
struct Lua {
    let L: OpaquePointer

    init(_ L: OpaquePointer?) { self.L = L! }

    var top: Int32 { lua_gettop(L) }

    func push(_ v: LuaValue) {
        switch v {
        case .nil: lua_pushnil(L)
        case .bool(let b): lua_pushboolean(L, b ? 1 : 0)
        case .int(let i): lua_pushinteger(L, lua_Integer(i))
        case .number(let d): lua_pushnumber(L, d)
        case .string(let s): push(s)
        case .array(let items):
            lua_createtable(L, Int32(items.count), 0)
            for (i, item) in items.enumerated() {
                push(item)
                lua_rawseti(L, -2, lua_Integer(i + 1))
            }
        case .table(let fields):
            lua_createtable(L, 0, Int32(fields.count))
            for (k, item) in fields {
                push(item)
                lua_setfield(L, -2, k)
            }
        }
    }

    func push(_ s: String) {
        var s = s
        s.withUTF8 { buf in
            buf.withMemoryRebound(to: CChar.self) { _ = lua_pushlstring(L, $0.baseAddress, $0.count) }
        }
    }

    func type(_ i: Int32) -> Int32 { lua_type(L, i) }
    func isNil(_ i: Int32) -> Bool { clua_isnoneornil(L, i) != 0 }

    func string(_ i: Int32) -> String? {
        guard lua_type(L, i) == LUA_TSTRING || lua_type(L, i) == LUA_TNUMBER else { return nil }
        var len = 0
        guard let p = clua_tolstring(L, i, &len) else { return nil }
        return p.withMemoryRebound(to: UInt8.self, capacity: len) {
            String(decoding: UnsafeBufferPointer(start: $0, count: len), as: UTF8.self)
        }
    }

    /// Argument i as a string, or a clear error naming the function and argument.
    func checkString(_ i: Int32, _ fn: String) throws -> String {
        guard let s = string(i) else {
            throw BockerError(.invalidArgument, "bad argument #\(i) to '\(fn)' (string expected, got \(typeName(i)))")
        }
        return s
    }

    func typeName(_ i: Int32) -> String { String(cString: lua_typename(L, lua_type(L, i))) }

    /// Pushes field `key` of the table at index t without metamethods: a script's `__index`
    /// that raises must never longjmp across this Swift frame. Returns the value's type.
    @discardableResult
    func pushRawField(_ t: Int32, _ key: String) -> Int32 {
        let abs = lua_absindex(L, t)
        lua_pushstring(L, key)
        return lua_rawget(L, abs)
    }

    /// Reads field `key` of the table at index t (raw), leaving the stack as it was.
    func field<T>(_ t: Int32, _ key: String, _ read: (Int32) -> T?) -> T? {
        pushRawField(t, key)
        defer { clua_pop(L, 1) }
        return read(-1)
    }

    func integer(_ i: Int32) -> Int? {
        var ok: Int32 = 0
        let v = clua_tointegerx(L, i, &ok)
        return ok != 0 ? Int(v) : nil
    }

    func bool(_ i: Int32) -> Bool? {
        lua_type(L, i) == LUA_TBOOLEAN ? lua_toboolean(L, i) != 0 : nil
    }

    /// A Lua sequence of strings (numbers are converted) at index i.
    func stringArray(_ i: Int32, _ what: String) throws -> [String]? {
        if isNil(i) { return nil }
        if let s = string(i) { return [s] }
        guard lua_type(L, i) == LUA_TTABLE else {
            throw BockerError(.invalidArgument, "\(what) must be a list of strings, got \(typeName(i))")
        }
        let abs = lua_absindex(L, i)
        var out: [String] = []
        let n = lua_rawlen(L, abs)
        if n > 0 {
            for k in 1...Int(n) {
                lua_rawgeti(L, abs, lua_Integer(k))
                defer { clua_pop(L, 1) }
                guard let s = string(-1) else {
                    throw BockerError(.invalidArgument, "\(what)[\(k)] must be a string, got \(typeName(-1))")
                }
                out.append(s)
            }
        }
        return out
    }

    /// Field `key` of an options table as a string / integer / bool / string list, with
    /// clear errors when present but of the wrong type.
    func optString(_ t: Int32, _ key: String) throws -> String? {
        pushRawField(t, key)
        defer { clua_pop(L, 1) }
        if isNil(-1) { return nil }
        guard let s = string(-1) else { throw BockerError(.invalidArgument, "option '\(key)' must be a string, got \(typeName(-1))") }
        return s
    }

    func optInt(_ t: Int32, _ key: String) throws -> Int? {
        pushRawField(t, key)
        defer { clua_pop(L, 1) }
        if isNil(-1) { return nil }
        guard let v = integer(-1) else { throw BockerError(.invalidArgument, "option '\(key)' must be an integer, got \(typeName(-1))") }
        return v
    }

    func optNumber(_ t: Int32, _ key: String) throws -> Double? {
        pushRawField(t, key)
        defer { clua_pop(L, 1) }
        if isNil(-1) { return nil }
        guard lua_type(L, -1) == LUA_TNUMBER else { throw BockerError(.invalidArgument, "option '\(key)' must be a number, got \(typeName(-1))") }
        return lua_tonumberx(L, -1, nil)
    }

    func optBool(_ t: Int32, _ key: String) throws -> Bool? {
        pushRawField(t, key)
        defer { clua_pop(L, 1) }
        if isNil(-1) { return nil }
        guard let v = bool(-1) else { throw BockerError(.invalidArgument, "option '\(key)' must be a boolean, got \(typeName(-1))") }
        return v
    }

    /// Field `key` as a table of string keys to string values.
    func optStringMap(_ t: Int32, _ key: String) throws -> [String: String]? {
        pushRawField(t, key)
        defer { clua_pop(L, 1) }
        if isNil(-1) { return nil }
        guard lua_type(L, -1) == LUA_TTABLE else {
            throw BockerError(.invalidArgument, "option '\(key)' must be a table of strings, got \(typeName(-1))")
        }
        var out: [String: String] = [:]
        let tbl = lua_absindex(L, -1)
        lua_pushnil(L)
        while lua_next(L, tbl) != 0 {
            guard lua_type(L, -2) == LUA_TSTRING, let k = string(-2), let v = string(-1) else {
                clua_pop(L, 2)
                throw BockerError(.invalidArgument, "option '\(key)' must map strings to strings")
            }
            out[k] = v
            clua_pop(L, 1)
        }
        return out
    }

    func optStrings(_ t: Int32, _ key: String) throws -> [String]? {
        pushRawField(t, key)
        defer { clua_pop(L, 1) }
        return try stringArray(-1, "option '\(key)'")
    }

    /// Index i if it is a table (or nil/none → nil); anything else is an error. Every key of the
    /// table must be one of `keys`: a misspelled option is an error naming it (and the key
    /// meant, when one is close), never silently ignored. Read without metamethods.
    func optionsTable(_ i: Int32, _ fn: String, keys: [String]) throws -> Int32? {
        if isNil(i) { return nil }
        guard lua_type(L, i) == LUA_TTABLE else {
            throw BockerError(.invalidArgument, "bad argument #\(i) to '\(fn)' (table expected, got \(typeName(i)))")
        }
        let t = lua_absindex(L, i)
        lua_pushnil(L)
        while lua_next(L, t) != 0 {
            defer { clua_pop(L, 1) }
            guard lua_type(L, -2) == LUA_TSTRING, let k = string(-2) else {
                let type = typeName(-2)
                clua_pop(L, 2)   // value and key: the traversal ends here
                throw BockerError(.invalidArgument, "\(fn): option names must be strings, got a \(type) key")
            }
            if !keys.contains(k) {
                clua_pop(L, 2)
                throw BockerError(.invalidArgument, "\(fn): \(OptionNames.unknown(k, known: keys))")
            }
        }
        return t
    }

    /// Field `key` of the options table at t, when present an options table itself with `keys`
    /// (read raw and strictly, as `optionsTable`): `body` gets its index, or nil when the field
    /// is absent. The stack is as it was afterwards, whatever `body` does.
    func nestedOptions<T>(_ t: Int32, _ key: String, _ fn: String, keys: [String], _ body: (Int32?) throws -> T) throws -> T {
        pushRawField(t, key)
        defer { clua_pop(L, 1) }
        return try body(try optionsTable(lua_gettop(L), fn, keys: keys))
    }

    /// Pushes a function implemented in Swift (called through the C trampoline).
    func push(function: clua_swift_function) { clua_pushswiftfunction(L, function) }

    /// Pushes a bocker error table {code, message} with the bocker.Error metatable.
    /// Errors that mean "the command could not be run" carry Docker's exit status (126/127).
    func pushError(_ e: BockerError) {
        var fields: [(String, LuaValue)] = [("code", .string(e.code.rawValue)), ("message", .string(e.message))]
        if e.code == .commandNotFound { fields.append(("status", .int(127))) }
        if e.code == .notExecutable { fields.append(("status", .int(126))) }
        if e.code == .interrupted { fields.append(("status", .int(130))) }
        push(.table(fields))
        _ = clua_getmetatable_named(L, "bocker.Error")
        lua_setmetatable(L, -2)
    }
}

/// Runs a binding body: results pushed → count; an error → pushed error table and -1, which the
/// C trampoline raises. Every Swift function exposed to Lua goes through this.
func binding(_ L: OpaquePointer?, _ body: (Lua) throws -> Int32) -> Int32 {
    let lua = Lua(L)
    do {
        return try body(lua)
    } catch let e as BockerError {
        lua.pushError(e)
        return -1
    } catch {
        lua.pushError(BockerError(.internal, "\(error)"))
        return -1
    }
}
