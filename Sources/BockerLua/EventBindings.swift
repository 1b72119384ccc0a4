import CLua
import Glibc
import BockerCore
import BockerRuntime

/// `bocker.events{…}`: an iterator over container events as they happen (create, start, die,
/// oom, destroy), filtered as Docker's `events --filter` does.
enum EventBindings {
    /// The Lua side of the iterator: buffers what one read returns and asks again when empty.
    /// `read(state)` returns a list of events and whether the stream has ended (`until` passed).
    static let iteratorSource = """
        local read, state = ...
        local buffer, i, ended = {}, 1, false
        return function()
          while true do
            if i <= #buffer then
              local e = buffer[i]
              i = i + 1
              return e
            end
            if ended then return nil end
            buffer, ended = read(state)
            i = 1
          end
        end
        """

    /// bocker.events{filters = {container = "x" | {…}, event = "die" | {…}, image = …},
    /// since = unix seconds, until = unix seconds, timeout = 30} → iterator of event tables
    /// {time, time_text, type, action, id, name, image, exit_code}. Without `since`, only events
    /// from now on; without `until`, it waits for more (until `timeout`, which raises).
    static let events: clua_swift_function = { L in
        binding(L) { lua in
            let opts = try lua.optionsTable(1, "bocker.events", keys: ["filters", "since", "until", "timeout"])
            lua_createtable(L, 0, 6)   // the state table the reader keeps its place in
            let state = lua_gettop(L)
            var start = try ContainerBindings.runtime(lua).eventsEnd
            if let t = opts {
                for key in ["since", "until"] {
                    lua.pushRawField(t, key)
                    if !lua.isNil(-1) {
                        guard lua_type(L, -1) == LUA_TNUMBER else {
                            throw BockerError(.invalidArgument, "option '\(key)' must be a time in seconds since the epoch, got \(lua.typeName(-1))")
                        }
                        if key == "since" { start = .beginning }
                    }
                    lua_setfield(L, state, key)
                }
                if let timeout = try lua.optDuration(t, "timeout") {
                    lua.push(.number(timeout))
                    lua_setfield(L, state, "timeout")
                }
                try lua.nestedOptions(t, "filters", "bocker.events filters", keys: ["container", "event", "image"]) { f in
                    guard let f else { return }
                    for key in ["container", "event", "image"] {
                        if let list = try lua.optStrings(f, key) {
                            lua.push(.strings(list))
                            lua_setfield(L, state, key)
                        }
                    }
                }
            }
            lua.push(.int(start.offset))
            lua_setfield(L, state, "offset")
            lua.push(.int(Int(truncatingIfNeeded: start.file)))
            lua_setfield(L, state, "file")
            guard luaL_loadbufferx(L, iteratorSource, iteratorSource.utf8.count, "=bocker.events", "t") == LUA_OK else {
                throw BockerError(.internal, "bocker.events: cannot load its iterator")
            }
            lua.push(function: read)
            lua_pushvalue(L, state)
            // Runs the small chunk above: it only builds a closure, so nothing in it can raise.
            lua_callk(L, 2, 1, 0, nil)
            return 1
        }
    }

    /// read(state) → { event… }, ended: blocks until there is at least one matching event.
    static let read: clua_swift_function = { L in
        binding(L) { lua in
            var filter = EventFilter()
            func number(_ key: String) -> Double? {
                lua.pushRawField(1, key)
                defer { clua_pop(L, 1) }
                var ok: Int32 = 0
                let v = clua_tonumberx(L, -1, &ok)
                return ok != 0 ? v : nil
            }
            filter.since = number("since")
            filter.until = number("until")
            filter.containers = try lua.optStrings(1, "container") ?? []
            filter.actions = try lua.optStrings(1, "event") ?? []
            filter.images = try lua.optStrings(1, "image") ?? []
            lua.pushRawField(1, "file")
            let file = UInt64(truncatingIfNeeded: lua.integer(-1) ?? 0)
            clua_pop(L, 1)
            let cursor = EventCursor(file: file, offset: lua.field(1, "offset") { lua.integer($0) } ?? 0)
            var timeout = number("timeout")
            if let t = timeout, let started = number("started") { timeout = max(0, t - (WallClock.now() - started)) }
            if number("started") == nil {
                lua.push(.number(WallClock.now()))
                lua_setfield(L, 1, "started")
            }
            let (found, next) = try ContainerBindings.runtime(lua).events(from: cursor, filter: filter, wait: true, timeout: timeout)
            lua.push(.int(next.offset))
            lua_setfield(L, 1, "offset")
            lua.push(.int(Int(truncatingIfNeeded: next.file)))
            lua_setfield(L, 1, "file")
            lua_createtable(L, Int32(found.count), 0)
            for (k, e) in found.enumerated() {
                lua.push(.table([
                    ("time", .number(e.time)), ("time_text", .string(WallClock.rfc3339(seconds: e.time))),
                    ("type", .string("container")), ("action", .string(e.action)), ("id", .string(e.id)),
                    ("name", .optional(e.name)), ("image", .string(e.image)),
                    ("exit_code", e.exitCode.map { .int(Int($0)) } ?? .nil),
                ]))
                lua_rawseti(L, -2, lua_Integer(k + 1))
            }
            let ended = found.isEmpty && filter.until.map { WallClock.now() > $0 } == true
            lua.push(.bool(ended))
            return 2
        }
    }
}
