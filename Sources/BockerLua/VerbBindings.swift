import CLua
import Glibc
import BockerCore
import BockerRuntime
import BockerCgroups

/// Container methods for Docker's smaller verbs (rename, pause, unpause, update, top, stats,
/// diff, copy) and `bocker.container.prune`: each converts its arguments and calls the core.
enum VerbBindings {
    static func runtime(_ lua: Lua) throws -> Runtime { try ContainerBindings.runtime(lua) }

    /// Runs `body` with the container's id and stores the record it returns in the userdata.
    static func update(_ lua: Lua, _ fn: String, _ body: (String) throws -> ContainerRecord) throws {
        let rec = try body(try ContainerBindings.ref(lua, 1, fn))
        lua.object(1, .container, as: ContainerObject.self)?.rec = rec
        lua_pushvalue(lua.L, 1)
    }

    /// c:rename(new_name) → c
    static let rename: clua_swift_function = { L in
        binding(L) { lua in
            let name = try lua.checkString(2, "rename")
            try update(lua, "rename") { try runtime(lua).rename($0, to: name) }
            return 1
        }
    }

    /// c:pause() → c (every process frozen)
    static let pause: clua_swift_function = { L in
        binding(L) { lua in
            try update(lua, "pause") { try runtime(lua).pause($0) }
            return 1
        }
    }

    /// c:unpause() → c
    static let unpause: clua_swift_function = { L in
        binding(L) { lua in
            try update(lua, "unpause") { try runtime(lua).unpause($0) }
            return 1
        }
    }

    /// c:update{memory = bytes, cpu_shares = N, cpus = 1.5, pids_limit = N} → c
    static let updateLimits: clua_swift_function = { L in
        binding(L) { lua in
            guard let t = try lua.optionsTable(2, "update", keys: ["memory", "cpu_shares", "cpus", "pids_limit"]) else {
                throw BockerError(.invalidArgument, "update needs an options table")
            }
            var u = Runtime.ResourceUpdate()
            if let s = try lua.optInt(t, "cpu_shares") {
                guard s >= 0 else { throw BockerError(.invalidArgument, "invalid CPU shares \(s): must be between 2 and 262144") }
                u.resources.cpuShares = UInt64(s)
            }
            if let m = try lua.optInt(t, "memory") { u.resources.memoryBytes = Int64(m) }
            if let p = try lua.optInt(t, "pids_limit") { u.resources.pidsMax = Int64(p) }
            if let c = try lua.optNumber(t, "cpus") {
                guard c >= 0, c.isFinite else { throw BockerError(.invalidArgument, "invalid --cpus \(c): must not be negative") }
                u.nanoCPUs = Int64((c * 1e9).rounded())
            }
            try update(lua, "update") { try runtime(lua).update($0, u) }
            return 1
        }
    }

    /// c:top([{ps arguments…}]) → titles, rows (lists of strings)
    static let top: clua_swift_function = { L in
        binding(L) { lua in
            let id = try ContainerBindings.ref(lua, 1, "top")
            let args = try lua.stringArray(2, "top's ps arguments") ?? []
            let (titles, rows) = try runtime(lua).top(id, psArgs: args)
            lua.push(.strings(titles))
            lua.push(.array(rows.map { .strings($0) }))
            return 2
        }
    }

    /// bocker.container.prune() → { ids… }, bytes reclaimed
    static let prune: clua_swift_function = { L in
        binding(L) { lua in
            let (ids, bytes) = try runtime(lua).pruneContainers()
            lua.push(.strings(ids))
            lua.push(.int(bytes))
            return 2
        }
    }

    /// c:copy_out(path [, dest [, {follow_link = bool}]]) → c: the container's file or tree at
    /// `path` to the host path `dest`, or (no dest) as a tar stream on stdout.
    static let copyOut: clua_swift_function = { L in
        binding(L) { lua in
            let id = try ContainerBindings.ref(lua, 1, "copy_out")
            let path = try lua.checkString(2, "copy_out")
            let follow = try lua.optionsTable(4, "copy_out", keys: ["follow_link"]).flatMap { try lua.optBool($0, "follow_link") } ?? false
            fflush(nil)
            if lua.isNil(3) {
                try runtime(lua).copyOut(id, path: path, toTarFD: 1, followLink: follow)
            } else {
                try runtime(lua).copyOut(id, path: path, toHost: try lua.checkString(3, "copy_out"), followLink: follow)
            }
            lua_pushvalue(L, 1)
            return 1
        }
    }

    /// c:copy_in(src, path [, {archive = bool, follow_link = bool}]) → c: the host file or tree
    /// `src` (nil: a tar stream on stdin) into the container at `path`.
    static let copyIn: clua_swift_function = { L in
        binding(L) { lua in
            let id = try ContainerBindings.ref(lua, 1, "copy_in")
            let path = try lua.checkString(3, "copy_in")
            let opts = try lua.optionsTable(4, "copy_in", keys: ["archive", "follow_link"])
            let archive = try opts.flatMap { try lua.optBool($0, "archive") } ?? false
            let follow = try opts.flatMap { try lua.optBool($0, "follow_link") } ?? false
            if lua.isNil(2) {
                try runtime(lua).copyIn(id, fromTarFD: 0, path: path, archive: archive)
            } else {
                try runtime(lua).copyIn(id, fromHost: try lua.checkString(2, "copy_in"), path: path, archive: archive, followLink: follow)
            }
            lua_pushvalue(L, 1)
            return 1
        }
    }

    /// c:stats() → {time, cpu_nanos, system_nanos, online_cpus, memory_usage, memory_limit,
    /// net_rx, net_tx, block_read, block_write, pids}: one reading of the running container.
    static let stats: clua_swift_function = { L in
        binding(L) { lua in
            let s = try runtime(lua).stats(try ContainerBindings.ref(lua, 1, "stats"))
            lua.push(.table([
                ("time", .number(s.time)), ("cpu_nanos", .int(Int(s.cpuNanos))), ("system_nanos", .int(Int(s.systemNanos))),
                ("online_cpus", .int(s.onlineCPUs)), ("memory_usage", .int(Int(s.memoryUsage))),
                ("memory_limit", .int(Int(s.memoryLimit))), ("net_rx", .int(Int(s.netRx))), ("net_tx", .int(Int(s.netTx))),
                ("block_read", .int(Int(s.blockRead))), ("block_write", .int(Int(s.blockWrite))), ("pids", .int(s.pids)),
            ]))
            return 1
        }
    }

    /// c:diff() → { {kind = "A"|"C"|"D", path = "/…"}… } sorted by path.
    static let diff: clua_swift_function = { L in
        binding(L) { lua in
            let changes = try runtime(lua).diff(try ContainerBindings.ref(lua, 1, "diff"))
            lua.push(.array(changes.map { .table([("kind", .string($0.kind)), ("path", .string($0.path))]) }))
            return 1
        }
    }

    /// bocker.system_df() → { {type, total, active, size, reclaimable}… }
    static let systemDF: clua_swift_function = { L in
        binding(L) { lua in
            lua.push(.array(try runtime(lua).diskUsage().map {
                .table([("type", .string($0.type)), ("total", .int($0.total)), ("active", .int($0.active)),
                        ("size", .int($0.size)), ("reclaimable", .int($0.reclaimable))])
            }))
            return 1
        }
    }

    static let methods: [String: clua_swift_function] = [
        "stats": stats, "diff": diff,
        "rename": rename, "pause": pause, "unpause": unpause, "update": updateLimits, "top": top,
        "copy_out": copyOut, "copy_in": copyIn,
    ]
}
