import CLua
import Glibc
import BockerCore
import BockerRuntime
import BockerNetwork

/// Bindings that block: waiting for exits, readiness, and the ports and addresses to reach a
/// container by. Every wait takes a `timeout` (seconds or "1m30s") and raises `timeout`.
enum WaitBindings {
    /// c:wait([{timeout = 10}]) → exit code, once the container has exited for good.
    static let wait: clua_swift_function = { L in
        binding(L) { lua in
            let opts = try lua.optionsTable(2, "wait", keys: ["timeout"])
            let timeout = try opts.flatMap { try lua.optDuration($0, "timeout") }
            let rec = try ContainerBindings.runtime(lua).waitForExit(try ContainerBindings.ref(lua, 1, "wait"), timeout: timeout)
            lua.object(1, .container, as: ContainerObject.self)?.rec = rec
            lua.push(.int(Int(rec.reportedExitCode(live: rec.liveState) ?? 0)))
            return 1
        }
    }

    /// c:wait_for{log = "regex", times = 1, port = 80, http = {port =, path = "/", status = 200},
    /// health = true, timeout = 60} → c, once every condition given holds. Raises `timeout`, or
    /// `invalid_state` when the container stops first (or, with health, becomes unhealthy).
    static let waitFor: clua_swift_function = { L in
        binding(L) { lua in
            guard let t = try lua.optionsTable(2, "wait_for", keys: ["log", "times", "port", "http", "health", "timeout"]) else {
                throw BockerError(.invalidArgument, "c:wait_for needs a table of conditions (log, port, http, health)")
            }
            var w = WaitStrategy()
            w.logPattern = try lua.optString(t, "log")
            w.logTimes = try lua.optInt(t, "times") ?? 1
            w.port = try lua.optInt(t, "port")
            try lua.nestedOptions(t, "http", "wait_for http", keys: ["port", "path", "status"]) { h in
                guard let h else { return }
                guard let port = try lua.optInt(h, "port") ?? w.port else {
                    throw BockerError(.invalidArgument, "c:wait_for: http needs a port (http = {port = 80, path = \"/\"})")
                }
                w.http = (port, try lua.optString(h, "path") ?? "/", try lua.optInt(h, "status"))
            }
            w.health = try lua.optBool(t, "health") ?? false
            guard w.logPattern != nil || w.port != nil || w.http != nil || w.health else {
                throw BockerError(.invalidArgument, "c:wait_for needs a condition: log, port, http or health")
            }
            let timeout = try lua.optDuration(t, "timeout") ?? 60
            try ContainerBindings.runtime(lua).waitFor(try ContainerBindings.ref(lua, 1, "wait_for"), w, timeout: timeout)
            lua_pushvalue(L, 1)
            return 1
        }
    }

    /// c:port(80 [, "tcp"]) → the host port published for that container port. Raises
    /// `not_found` when it is not published.
    static let port: clua_swift_function = { L in
        binding(L) { lua in
            let obj = try lua.checkObject(1, .container, as: ContainerObject.self, "port")
            guard let p = lua.integer(2) else { throw BockerError(.invalidArgument, "bad argument #2 to 'port' (port number expected)") }
            let proto = lua.string(3) ?? "tcp"
            guard let m = (obj.rec.ports ?? []).first(where: { $0.containerPort == p && $0.proto == proto }) else {
                throw BockerError(.notFound, "container port \(p)/\(proto) of '\(obj.id)' is not published")
            }
            lua.push(.int(m.hostPort))
            return 1
        }
    }

    /// c:ip([network]) → the container's address (on that network), or nil while it has none.
    static let ip: clua_swift_function = { L in
        binding(L) { lua in
            let obj = try lua.checkObject(1, .container, as: ContainerObject.self, "ip")
            obj.rec = try ContainerBindings.runtime(lua).container(obj.id)
            let net = obj.rec.networkState
            if let want = lua.string(2), net?.network != want, !(want == "bridge" && net?.network == NetworkStore.defaultName) {
                lua.push(.nil)
            } else {
                lua.push(.optional(net?.ip))
            }
            return 1
        }
    }

    /// bocker.wait_any({c1, c2, …} [, {timeout = 10}]) → the first container to exit for good.
    static let waitAny: clua_swift_function = { L in
        binding(L) { lua in
            guard lua.type(1) == LUA_TTABLE else {
                throw BockerError(.invalidArgument, "bad argument #1 to 'bocker.wait_any' (list of containers expected, got \(lua.typeName(1)))")
            }
            var refs: [String] = []
            let n = lua_rawlen(L, 1)
            if n > 0 {
                for k in 1...Int(n) {
                    lua_rawgeti(L, 1, lua_Integer(k))
                    defer { clua_pop(L, 1) }
                    refs.append(try ContainerBindings.ref(lua, -1, "bocker.wait_any"))
                }
            }
            let opts = try lua.optionsTable(2, "bocker.wait_any", keys: ["timeout"])
            let timeout = try opts.flatMap { try lua.optDuration($0, "timeout") }
            let rec = try ContainerBindings.runtime(lua).waitForAny(refs, timeout: timeout)
            lua.pushObject(ContainerObject(rec), .container)
            return 1
        }
    }
}

extension Lua {
    /// Field `key` as a duration in seconds: a number, or a string such as "1m30s" or "500ms".
    func optDuration(_ t: Int32, _ key: String) throws -> Double? {
        pushRawField(t, key)
        defer { clua_pop(L, 1) }
        if isNil(-1) { return nil }
        if lua_type(L, -1) == LUA_TNUMBER {
            var ok: Int32 = 0
            let v = clua_tonumberx(L, -1, &ok)
            guard v >= 0, v.isFinite else { throw BockerError(.invalidArgument, "option '\(key)' must not be negative") }
            return v
        }
        guard lua_type(L, -1) == LUA_TSTRING, let s = string(-1), let v = Durations.parse(s) else {
            throw BockerError(.invalidArgument, "option '\(key)' must be a duration (seconds, or \"1m30s\"), got \(typeName(-1))")
        }
        return v
    }
}
