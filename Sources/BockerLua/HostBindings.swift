import CLua
import Glibc
import BockerCore
import BockerRuntime

/// `bocker.*` functions about the host itself: errors, the state root, the command list.
enum HostBindings {
    static var version: String { HostFacts.version }

    static let functions: Modules.Functions = [
        ("error", makeError),
        ("root", root),
        ("driver", driver),
        ("commands", commands),
        ("load_command", loadCommand),
        ("isatty", isatty),
        ("now", now),
        ("version", versionFn),
        ("host_info", hostInfo),
        ("json", json),
        ("sleep", sleep),
        ("wait_any", WaitBindings.waitAny),
        ("system_df", VerbBindings.systemDF),
        ("events", EventBindings.events),
        ("executable", executable),
    ]

    /// bocker.executable() → the absolute path of this bocker binary (/proc/self/exe).
    static let executable: clua_swift_function = { L in
        binding(L) { lua in
            var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = readlink("/proc/self/exe", &buf, buf.count - 1)
            guard n > 0 else { throw BockerError.errno("cannot read /proc/self/exe") }
            lua.push(String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self))
            return 1
        }
    }

    /// bocker.error(code, message [, status]) → an error value to raise with error().
    static let makeError: clua_swift_function = { L in
        binding(L) { lua in
            let code = try lua.checkString(1, "bocker.error")
            let msg = try lua.checkString(2, "bocker.error")
            lua.push(.table([("code", .string(code)), ("message", .string(msg))]))
            if let status = lua.integer(3) {
                lua.push(.int(status))
                lua_setfield(L, -2, "status")
            }
            _ = clua_getmetatable_named(L, "bocker.Error")
            lua_setmetatable(L, -2)
            return 1
        }
    }

    static let root: clua_swift_function = { L in
        binding(L) { lua in
            lua.push(try LuaHost.from(lua.L).runtime().root.path)
            return 1
        }
    }

    static let driver: clua_swift_function = { L in
        binding(L) { lua in
            lua.push(try LuaHost.from(lua.L).runtime().store.driver.name)
            return 1
        }
    }

    /// bocker.commands() → list of {name, origin = "user"|"bundled", path}.
    static let commands: clua_swift_function = { L in
        binding(L) { lua in
            let host = LuaHost.from(lua.L)
            lua.push(.array(host.allCommands().map {
                .table([("name", .string($0.name)), ("origin", .string($0.origin)), ("path", .string($0.path))])
            }))
            return 1
        }
    }

    /// bocker.load_command(name) → the command's table (summary, usage, run); nil when there is
    /// no such command; nil and the message when its script fails to load.
    static let loadCommand: clua_swift_function = { L in
        binding(L) { lua in
            let name = try lua.checkString(1, "bocker.load_command")
            let host = LuaHost.from(lua.L)
            guard let src = host.findCommand(name) else { lua_pushnil(L); return 1 }
            do { try host.loadCommand(src) } catch let e as BockerError {
                lua_pushnil(L)
                lua.pushError(e)
                return 2
            }
            if clua_pcall(L, 0, 1, 0) != LUA_OK {
                lua_pushnil(L)
                clua_insert(L, -2)
                return 2
            }
            return 1
        }
    }

    /// bocker.isatty(fd) → whether fd (default 1) is a terminal.
    static let isatty: clua_swift_function = { L in
        binding(L) { lua in
            lua.push(.bool(Glibc.isatty(Int32(lua.integer(1) ?? 1)) == 1))
            return 1
        }
    }

    /// bocker.now() → seconds since the epoch (float).
    static let now: clua_swift_function = { L in
        binding(L) { lua in
            lua.push(.number(WallClock.now()))
            return 1
        }
    }

    /// bocker.json(value [, indent]) → JSON text. A table whose keys are exactly 1..n is an
    /// array (an empty table is `[]`); other tables are objects with sorted keys.
    static let json: clua_swift_function = { L in
        binding(L) { lua in
            let indent = lua.integer(2)
            lua.push(try toJSON(lua, 1, depth: 0).render(indent: indent))
            return 1
        }
    }

    static func toJSON(_ lua: Lua, _ i: Int32, depth: Int) throws -> JSONValue {
        let L = lua.L
        let idx = lua_absindex(L, i)
        guard depth < 64 else { throw BockerError(.invalidArgument, "bocker.json: nested too deep (a cycle?)") }
        switch lua.type(idx) {
        case LUA_TNIL, LUA_TNONE: return .null
        case LUA_TBOOLEAN: return .bool(lua_toboolean(L, idx) != 0)
        case LUA_TNUMBER:
            if let n = lua.integer(idx) { return .int(n) }
            var ok: Int32 = 0
            return .number(clua_tonumberx(L, idx, &ok))
        case LUA_TSTRING: return .string(lua.string(idx) ?? "")
        case LUA_TTABLE:
            var keys: [String] = []
            var values: [String: JSONValue] = [:]
            var ints: [Int: JSONValue] = [:]
            lua_pushnil(L)
            while lua_next(L, idx) != 0 {
                let v = try toJSON(lua, -1, depth: depth + 1)
                if lua.type(-2) == LUA_TNUMBER, let k = lua.integer(-2) { ints[k] = v }
                else if lua.type(-2) == LUA_TSTRING, let k = lua.string(-2) { keys.append(k); values[k] = v }
                clua_pop(L, 1)
            }
            if keys.isEmpty && (1...max(ints.count, 1)).allSatisfy({ ints[$0] != nil } ) || (keys.isEmpty && ints.isEmpty) {
                return .array((0..<ints.count).map { ints[$0 + 1]! })
            }
            for (k, v) in ints { keys.append(String(k)); values[String(k)] = v }
            return .object(keys.sorted().map { ($0, values[$0]!) })
        case LUA_TLIGHTUSERDATA where StdlibBindings.isNull(lua, idx):
            return .null
        default:
            throw BockerError(.invalidArgument, "bocker.json: cannot encode a \(lua.typeName(idx))")
        }
    }

    /// bocker.sleep(seconds): waits (for scripts: health-check intervals, back-off).
    static let sleep: clua_swift_function = { L in
        binding(L) { lua in
            var ok: Int32 = 0
            let s = clua_tonumberx(lua.L, 1, &ok)
            guard ok != 0, s >= 0, s < 86400 else { throw BockerError(.invalidArgument, "bocker.sleep needs seconds (0 to 86400)") }
            var ts = timespec(tv_sec: Int(s), tv_nsec: Int((s - s.rounded(.down)) * 1e9))
            var left = timespec()
            while nanosleep(&ts, &left) != 0 && errno == EINTR {
                try Interrupt.check()
                ts = left
            }
            return 0
        }
    }

    static let versionFn: clua_swift_function = { L in
        binding(L) { lua in
            lua.push(version)
            return 1
        }
    }

    /// bocker.host_info() → {version, build, swift, lua, kernel, machine, os, cpus, memory,
    /// seccomp}: this build and this host (no state root needed).
    static let hostInfo: clua_swift_function = { L in
        binding(L) { lua in
            let k = HostFacts.kernel()
            lua.push(.table([
                ("version", .string(HostFacts.version)), ("build", .string(HostFacts.buildID())),
                ("swift", .string(HostFacts.swiftVersion)), ("lua", .string(String(cString: clua_release()))),
                ("kernel", .string(k.release)), ("machine", .string(k.machine)),
                ("os", HostFacts.operatingSystem().map { .string($0) } ?? .nil),
                ("cpus", .int(HostFacts.cpus())), ("memory", .int(HostFacts.memoryBytes())),
                ("seccomp", .bool(HostFacts.kernelHasSeccomp())),
            ]))
            return 1
        }
    }
}
