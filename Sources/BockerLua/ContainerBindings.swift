import CLua
import Glibc
import BockerCore
import BockerStore
import BockerRuntime
import BockerCgroups
import BockerNetwork

/// `bocker.container`: list, get, create, remove. Containers are `bocker.Container` userdata
/// (fields read fresh from the store each time) with methods run, exec, logs, commit, remove,
/// cgroup.
enum ContainerBindings {
    static let functions: Modules.Functions = [
        ("list", list), ("get", get), ("create", create), ("remove", remove), ("prune", VerbBindings.prune),
        ("summaries", SummaryBindings.summaries),
    ]

    static func runtime(_ lua: Lua) throws -> Runtime { try LuaHost.from(lua.L).runtime() }

    /// The container named by argument i: a Container userdata, an id or a name.
    static func ref(_ lua: Lua, _ i: Int32, _ fn: String) throws -> String {
        if let obj = lua.object(i, .container, as: ContainerObject.self) { return obj.id }
        if let id = SummaryBindings.idOf(lua, i) { return id }
        return try lua.checkString(i, fn)
    }

    /// bocker.container.list() → { Container… } (oldest first)
    static let list: clua_swift_function = { L in
        binding(L) { lua in
            let all = try runtime(lua).listContainers()
            lua_createtable(L, Int32(all.count), 0)
            for (i, c) in all.enumerated() {
                lua.pushObject(ContainerObject(c), .container)
                lua_rawseti(L, -2, lua_Integer(i + 1))
            }
            return 1
        }
    }

    /// bocker.container.get(ref) → Container; raises not_found "No container named 'x' exists".
    static let get: clua_swift_function = { L in
        binding(L) { lua in
            let rec = try runtime(lua).container(try lua.checkString(1, "bocker.container.get"))
            lua.pushObject(ContainerObject(rec), .container)
            return 1
        }
    }

    /// bocker.container.create{image=, cmd={…}, shell=bool, entrypoint={…}, env={"K=V"…}, workdir=,
    /// name=, user=, cpu_shares=, memory=bytes, pids_limit=, network="bridge"|"none"|"host"|name,
    /// ports={"8080:80", "127.0.0.1:53:53/udp"…}, privileged=bool, cap_add={…}, cap_drop={…},
    /// read_only=bool, security_opt={"seccomp=unconfined"…}, devices={"/dev/x[:/dev/y][:rwm]"…},
    /// userns="host"|"auto", log_opts={"max-size=10m", "max-file=3"}, healthcheck={test=, interval=,
    /// timeout=, retries=, start_period=, start_interval=} | "shell cmd" | false} → Container (state "created").
    /// The options `bocker.container.create` takes (any other key is an error).
    static let createOptions = ["image", "cmd", "entrypoint", "shell", "env", "workdir", "name", "user", "cpu_shares", "memory", "pids_limit", "network", "ports", "volumes", "tmpfs", "volumes_from", "hostname", "restart", "auto_remove", "init", "tty", "interactive", "labels", "privileged", "cap_add", "cap_drop", "read_only", "security_opt", "devices", "userns", "log_opts", "publish_all", "expose", "stop_signal", "stop_timeout",
                                       "extra_hosts", "dns", "dns_search", "dns_options", "cpus", "cpuset_cpus", "memory_swap",
                                       "memory_reservation", "mounts", "ulimits", "shm_size", "sysctls", "ipc", "pid", "uts", "healthcheck"]

    static let create: clua_swift_function = { L in
        binding(L) { lua in
            guard let t = try lua.optionsTable(1, "bocker.container.create", keys: ContainerBindings.createOptions) else {
                throw BockerError(.invalidArgument, "bocker.container.create needs an options table")
            }
            guard let image = try lua.optString(t, "image") else {
                throw BockerError(.invalidArgument, "bocker.container.create: option 'image' is required")
            }
            var spec = ContainerSpec(image: image, command: try lua.optStrings(t, "cmd"))
            spec.entrypoint = try lua.optStrings(t, "entrypoint")
            spec.shell = try lua.optBool(t, "shell") ?? false
            spec.env = try lua.optStrings(t, "env") ?? []
            for kv in spec.env where !kv.contains("=") || kv.hasPrefix("=") {
                throw BockerError(.invalidArgument, "invalid environment variable '\(kv)' (use KEY=VALUE)")
            }
            spec.workdir = try lua.optString(t, "workdir")
            if let w = spec.workdir, !w.hasPrefix("/") {
                throw BockerError(.invalidArgument, "the working directory '\(w)' is invalid, it needs to be an absolute path")
            }
            spec.name = try lua.optString(t, "name")
            spec.user = try lua.optString(t, "user")
            // Ranges are the core's to check (Runtime.create); negative numbers cannot convert.
            if let s = try lua.optInt(t, "cpu_shares") {
                guard s >= 0 else { throw BockerError(.invalidArgument, "invalid CPU shares \(s): must be between 2 and 262144") }
                spec.resources.cpuShares = UInt64(s)
            }
            if let m = try lua.optInt(t, "memory") { spec.resources.memoryBytes = Int64(m) }
            if let p = try lua.optInt(t, "pids_limit") {
                spec.resources.pidsMax = Int64(p)
            }
            if let n = try lua.optString(t, "network") { spec.network = n }
            spec.ports = try (lua.optStrings(t, "ports") ?? []).map(PortMapping.parse)
            spec.mounts = try (lua.optStrings(t, "volumes") ?? []).map(MountSpec.parseVolume)
                + (lua.optStrings(t, "tmpfs") ?? []).map(MountSpec.tmpfs)
            spec.volumesFrom = try lua.optStrings(t, "volumes_from") ?? []
            if let h = try lua.optString(t, "hostname") {
                guard !h.isEmpty, h.utf8.count <= 64, h.utf8.allSatisfy({ $0 == 0x2d || $0 == 0x2e || ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) }) else {
                    throw BockerError(.invalidArgument, "invalid hostname '\(h)'")
                }
                spec.hostname = h
            }
            if let r = try lua.optString(t, "restart") { spec.restartPolicy = try RestartPolicy.parse(r) }
            spec.autoRemove = try lua.optBool(t, "auto_remove") ?? false
            spec.useInit = try lua.optBool(t, "init") ?? false
            spec.tty = try lua.optBool(t, "tty") ?? false
            spec.openStdin = try lua.optBool(t, "interactive") ?? false
            spec.labels = try lua.optStringMap(t, "labels") ?? [:]
            spec.security.privileged = try lua.optBool(t, "privileged") ?? false
            spec.security.capAdd = try lua.optStrings(t, "cap_add") ?? []
            spec.security.capDrop = try lua.optStrings(t, "cap_drop") ?? []
            spec.security.readOnlyRootfs = try lua.optBool(t, "read_only") ?? false
            for opt in try lua.optStrings(t, "security_opt") ?? [] { try spec.security.apply(securityOpt: opt) }
            spec.security.devices = try (lua.optStrings(t, "devices") ?? []).map(DeviceMapping.parse)
            spec.security.userns = try lua.optString(t, "userns")
            spec.logOptions = try LogOptions.parse(lua.optStrings(t, "log_opts") ?? [])
            spec.publishAll = try lua.optBool(t, "publish_all") ?? false
            spec.expose = try lua.optStrings(t, "expose") ?? []
            spec.stopSignal = try lua.optString(t, "stop_signal")
            spec.stopTimeout = try lua.optInt(t, "stop_timeout")
            try runFlags(lua, t, into: &spec)
            spec.healthcheck = try lua.optHealthcheck(t)
            if spec.autoRemove && spec.restartPolicy.name != "no" {
                throw BockerError(.invalidArgument, "conflicting options: --restart and --rm")
            }
            let rec = try runtime(lua).create(spec)
            lua.pushObject(ContainerObject(rec), .container)
            return 1
        }
    }

    /// The run flags of `bocker.container.create` (converted only; the core validates).
    static func runFlags(_ lua: Lua, _ t: Int32, into spec: inout ContainerSpec) throws {
        spec.run.extraHosts = try (lua.optStrings(t, "extra_hosts") ?? []).map(RunOptions.parseHost)
        spec.run.dns = try lua.optStrings(t, "dns") ?? []
        spec.run.dnsSearch = try lua.optStrings(t, "dns_search") ?? []
        spec.run.dnsOptions = try lua.optStrings(t, "dns_options") ?? []
        spec.run.ulimits = try (lua.optStrings(t, "ulimits") ?? []).map(Ulimit.parse)
        spec.run.sysctls = try (lua.optStrings(t, "sysctls") ?? []).map(Sysctl.parse)
        spec.run.shmSize = try lua.optInt(t, "shm_size").map(Int64.init)
        spec.run.ipcMode = try lua.optString(t, "ipc")
        spec.run.pidMode = try lua.optString(t, "pid")
        spec.run.utsMode = try lua.optString(t, "uts")
        spec.mounts += try (lua.optStrings(t, "mounts") ?? []).map(MountSpec.parseMount)
        if let c = try lua.optNumber(t, "cpus") { try spec.resources.setCPUs(c) }
        spec.resources.cpusetCpus = try lua.optString(t, "cpuset_cpus")
        spec.resources.memorySwap = try lua.optInt(t, "memory_swap").map(Int64.init)
        spec.resources.memoryReservation = try lua.optInt(t, "memory_reservation").map(Int64.init)
    }

    /// bocker.container.remove(ref [, {force = bool, volumes = bool}]) → the removed container's
    /// id; with volumes also its anonymous volumes.
    static let remove: clua_swift_function = { L in
        binding(L) { lua in
            let id = try ref(lua, 1, "remove")
            let opts = try lua.optionsTable(2, "remove", keys: ["force", "volumes"])
            let force = try opts.flatMap { try lua.optBool($0, "force") } ?? false
            let volumes = try opts.flatMap { try lua.optBool($0, "volumes") } ?? false
            lua.push(try runtime(lua).remove(id, force: force, volumes: volumes).id)
            return 1
        }
    }

    /// c:run{interactive = bool} → exit code. Runs in the foreground, output live and logged.
    static let run: clua_swift_function = { L in
        binding(L) { lua in
            let id = try ref(lua, 1, "run")
            let opts = try lua.optionsTable(2, "run", keys: ["interactive", "attach", "sig_proxy"])
            let interactive = try opts.flatMap { try lua.optBool($0, "interactive") } ?? false
            var attach = AttachOptions()
            if let streams = try opts.flatMap({ try lua.optStrings($0, "attach") }) {
                for s in streams where !["stdin", "stdout", "stderr"].contains(s.lowercased()) {
                    throw BockerError(.invalidArgument, "invalid attach stream '\(s)': use stdin, stdout or stderr")
                }
                attach.stdout = streams.contains { $0.lowercased() == "stdout" }
                attach.stderr = streams.contains { $0.lowercased() == "stderr" }
            }
            attach.sigProxy = try opts.flatMap { try lua.optBool($0, "sig_proxy") } ?? true
            fflush(nil)
            let rec = try runtime(lua).runAttachedRecord(id, interactive: interactive, attach: attach)
            lua.object(1, .container, as: ContainerObject.self)?.rec = rec
            lua.push(.int(Int(rec.exitCode ?? 0)))
            return 1
        }
    }

    /// c:exec(cmd [, {env = {…}, workdir = , user = , capture = bool}]) → exit code (stdio is
    /// this process's); with capture: exit code, stdout, stderr (strings).
    static let exec: clua_swift_function = { L in
        binding(L) { lua in
            let id = try ref(lua, 1, "exec")
            guard let argv = try lua.stringArray(2, "exec command"), !argv.isEmpty else {
                throw BockerError(.invalidArgument, "exec needs a command")
            }
            let opts = try lua.optionsTable(3, "exec", keys: ["env", "workdir", "user", "capture", "timeout", "tty", "detach"])
            let tty = try opts.flatMap { try lua.optBool($0, "tty") } ?? false
            let timeout = try opts.flatMap { try lua.optDuration($0, "timeout") }
            let env = try opts.flatMap { try lua.optStrings($0, "env") } ?? []
            let workdir = try opts.flatMap { try lua.optString($0, "workdir") }
            let user = try opts.flatMap { try lua.optString($0, "user") }
            fflush(nil)
            if try opts.flatMap({ try lua.optBool($0, "detach") }) == true {
                if tty { throw BockerError(.invalidArgument, "exec: tty and detach cannot be combined") }
                try runtime(lua).execDetached(id, argv: argv, env: env, workdir: workdir, user: user)
                lua.push(.int(0))
                return 1
            }
            if try opts.flatMap({ try lua.optBool($0, "capture") }) == true {
                if tty { throw BockerError(.invalidArgument, "exec: tty and capture cannot be combined") }
                let (code, out, err) = try runtime(lua).execCapture(id, argv: argv, env: env, workdir: workdir, user: user, timeout: timeout)
                lua.push(.int(Int(code)))
                lua.push(String(decoding: out, as: UTF8.self))
                lua.push(String(decoding: err, as: UTF8.self))
                return 3
            }
            lua.push(.int(Int(try runtime(lua).exec(id, argv: argv, env: env, workdir: workdir, user: user, timeout: timeout, tty: tty))))
            return 1
        }
    }

    /// c:attach{stdin = bool, stdout = bool, stderr = bool, sig_proxy = bool, detach_keys = "ctrl-p,ctrl-q",
    /// start = bool} → exit code, or nil, "detached". Follows the running container (with
    /// start: starts it first, as `start -a`); stdin reaches it only if it was created with -i.
    static let attach: clua_swift_function = { L in
        binding(L) { lua in
            let id = try ref(lua, 1, "attach")
            let opts = try lua.optionsTable(2, "attach", keys: ["stdin", "stdout", "stderr", "sig_proxy", "detach_keys", "start"])
            var req = AttachRequest()
            req.stdin = try opts.flatMap { try lua.optBool($0, "stdin") } ?? false
            req.stdout = try opts.flatMap { try lua.optBool($0, "stdout") } ?? true
            req.stderr = try opts.flatMap { try lua.optBool($0, "stderr") } ?? true
            req.sigProxy = try opts.flatMap { try lua.optBool($0, "sig_proxy") } ?? true
            if let keys = try opts.flatMap({ try lua.optString($0, "detach_keys") }) {
                req.detachKeys = try AttachRequest.parseDetachKeys(keys)
            }
            let start = try opts.flatMap { try lua.optBool($0, "start") } ?? false
            fflush(nil)
            let rt = try runtime(lua)
            switch start ? try rt.startAttached(id, req) : try rt.attach(id, req) {
            case .exited(let rec):
                lua.object(1, .container, as: ContainerObject.self)?.rec = rec
                lua.push(.int(Int(rec.reportedExitCode(live: rec.liveState) ?? 0)))
                return 1
            case .detached:
                lua_pushnil(L)
                lua.push("detached")
                return 2
            }
        }
    }

    /// c:start() → c, running detached (a monitor keeps its log and exit code).
    static let start: clua_swift_function = { L in
        binding(L) { lua in
            let rec = try runtime(lua).startDetached(try ref(lua, 1, "start"))
            lua.object(1, .container, as: ContainerObject.self)?.rec = rec
            lua_pushvalue(L, 1)
            return 1
        }
    }

    /// c:stop{timeout = N} → c (the stop signal, SIGKILL after the timeout — default the
    /// container's stop_timeout, else 10; returns once recorded).
    static let stop: clua_swift_function = { L in
        binding(L) { lua in
            let id = try ref(lua, 1, "stop")
            let t = try lua.optionsTable(2, "stop", keys: ["timeout"]).flatMap { try lua.optInt($0, "timeout") }
            let rec = try runtime(lua).stop(id, timeout: t)
            lua.object(1, .container, as: ContainerObject.self)?.rec = rec
            lua_pushvalue(L, 1)
            return 1
        }
    }

    /// c:kill([signal]) → c. signal: a number, or a name ("TERM", "SIGUSR1"); default KILL.
    static let kill: clua_swift_function = { L in
        binding(L) { lua in
            let id = try ref(lua, 1, "kill")
            let sig = try Signals.parse(lua.string(2) ?? "KILL")
            _ = try runtime(lua).kill(id, signal: sig)
            lua_pushvalue(L, 1)
            return 1
        }
    }

    /// c:inspect([{json = true}]) → a table shaped like `docker inspect`'s object (or its JSON text).
    static let inspect: clua_swift_function = { L in
        binding(L) { lua in
            let rt = try runtime(lua)
            let value = rt.inspect(try rt.container(try ref(lua, 1, "inspect")))
            if try lua.optionsTable(2, "inspect", keys: ["json"]).flatMap({ try lua.optBool($0, "json") }) == true {
                lua.push(value.render(indent: 4))
            } else {
                lua.push(LuaValue(value))
            }
            return 1
        }
    }

    /// c:logs() → { {stream = "stdout"|"stderr", text = "…", time = "RFC 3339"}… }
    /// c:logs{offset = N, wait = bool} → entries, next offset, still running: to follow a log,
    /// call again from the returned offset; with wait it blocks until there is more (or the
    /// container has stopped for good).
    static let logs: clua_swift_function = { L in
        binding(L) { lua in
            let id = try ref(lua, 1, "logs")
            func push(_ entries: [LogEntry]) {
                lua.push(.array(entries.map {
                    .table([("stream", .string($0.stream)), ("text", .string($0.log)), ("time", .string($0.time))])
                }))
            }
            if let t = try lua.optionsTable(2, "logs", keys: ["offset", "wait", "since", "until"]) {
                let offset = try lua.optInt(t, "offset") ?? 0
                let wait = try lua.optBool(t, "wait") ?? false
                let since = try lua.optString(t, "since").map { try TimeArgument.parse($0, option: "since") }
                let until = try lua.optString(t, "until").map { try TimeArgument.parse($0, option: "until") }
                let (entries, next, running) = try runtime(lua).logs(id, from: offset, wait: wait, since: since, until: until)
                push(entries)
                lua.push(.int(next))
                lua.push(.bool(running))
                return 3
            }
            push(try runtime(lua).logs(id))
            return 1
        }
    }

    /// c:commit([target] [, {changes = {...}, message = , author = , pause = true}]) → Image,
    /// replaced (true when target named an existing image, which keeps its id). No target: an
    /// image without a name.
    static let commit: clua_swift_function = { L in
        binding(L) { lua in
            let id = try ref(lua, 1, "commit")
            let target = lua.isNil(2) || lua_type(L, 2) == LUA_TTABLE ? nil : try lua.checkString(2, "commit")
            let optsIndex: Int32 = lua_type(L, 2) == LUA_TTABLE ? 2 : 3
            var options = CommitOptions()
            if let t = try lua.optionsTable(optsIndex, "commit", keys: ["changes", "message", "author", "pause"]) {
                options.message = try lua.optString(t, "message")
                options.author = try lua.optString(t, "author")
                options.pause = try lua.optBool(t, "pause") ?? true
                options.changes = try lua.nestedOptions(t, "changes", "commit changes", keys: changeKeys) { c in
                    try c.map { try configChange(lua, $0) } ?? ImageConfigChange()
                }
            }
            let (img, replaced) = try runtime(lua).commit(id, to: target, options: options)
            lua.pushObject(ImageObject(img), .image)
            lua.push(.bool(replaced))
            return 2
        }
    }

    static let changeKeys = ["cmd", "entrypoint", "env", "exposed_ports", "labels", "user", "workdir", "volumes",
                             "stop_signal", "healthcheck", "on_build"]

    /// A `changes` table (commit's config patch) as the core's ImageConfigChange.
    static func configChange(_ lua: Lua, _ t: Int32) throws -> ImageConfigChange {
        var c = ImageConfigChange()
        c.cmd = try lua.optStrings(t, "cmd")
        c.entrypoint = try lua.optStrings(t, "entrypoint")
        c.env = try lua.optStrings(t, "env") ?? []
        c.exposedPorts = try lua.optStrings(t, "exposed_ports") ?? []
        c.labels = try lua.optStringMap(t, "labels") ?? [:]
        c.user = try lua.optString(t, "user")
        c.workingDir = try lua.optString(t, "workdir")
        c.volumes = try lua.optStrings(t, "volumes") ?? []
        c.stopSignal = try lua.optString(t, "stop_signal")
        c.onBuild = try lua.optStrings(t, "on_build") ?? []
        c.healthcheck = try lua.nestedOptions(t, "healthcheck", "commit changes.healthcheck",
                                              keys: ["test", "interval", "timeout", "start_period", "start_interval", "retries"]) { h in
            guard let h else { return nil }
            guard let test = try lua.optStrings(h, "test") else {
                throw BockerError(.invalidArgument, "commit changes.healthcheck needs a test ({\"CMD\", ...}, {\"CMD-SHELL\", \"...\"} or {\"NONE\"})")
            }
            func ns(_ key: String) throws -> Int64? { try lua.optDuration(h, key).map { Int64(($0 * 1e9).rounded()) } }
            return HealthcheckConfig(test: test, interval: try ns("interval"), timeout: try ns("timeout"),
                                     startPeriod: try ns("start_period"), startInterval: try ns("start_interval"),
                                     retries: try lua.optInt(h, "retries"))
        }
        return c
    }

    /// c:cgroup() → Cgroup
    static let cgroup: clua_swift_function = { L in
        binding(L) { lua in
            let rec = try runtime(lua).container(try ref(lua, 1, "cgroup"))
            lua.pushObject(CgroupObject(try runtime(lua).cgroup(of: rec.id)), .cgroup)
            return 1
        }
    }

    /// c:refresh() → c, with its fields read again from the store.
    static let refresh: clua_swift_function = { L in
        binding(L) { lua in
            let obj = try lua.checkObject(1, .container, as: ContainerObject.self, "refresh")
            obj.rec = try runtime(lua).container(obj.id)
            lua_pushvalue(L, 1)
            return 1
        }
    }

    static let methods: [String: clua_swift_function] = [
        "run": run, "exec": exec, "logs": logs, "commit": commit, "remove": remove, "cgroup": cgroup,
        "refresh": refresh, "start": start, "attach": attach, "stop": stop, "kill": kill, "wait": WaitBindings.wait, "inspect": inspect,
        "wait_for": WaitBindings.waitFor, "port": WaitBindings.port, "ip": WaitBindings.ip,
        "export": ArchiveBindings.export,
    ].merging(VerbBindings.methods) { own, _ in own }

    /// Fields: id, name, image, image_source, command, argv, status, exit_code, pid, created,
    /// started_at, finished_at, hostname, workdir, user, env, error, resources, health.
    static func field(_ lua: Lua, _ obj: ContainerObject, _ key: String) throws -> Bool {
        if let m = methods[key] { lua.push(function: m); return true }
        let c = obj.rec
        switch key {
        case "id": lua.push(c.id)
        case "name": lua.push(.optional(c.name))
        case "image": lua.push(c.image)
        case "image_source": lua.push(c.imageSource)
        case "command": lua.push(.strings(c.command))
        case "argv": lua.push(.strings(c.argv))
        case "status": lua.push(obj.live.rawValue)
        case "paused": lua.push(.bool(obj.live == .running && c.paused == true))
        case "exit_code": lua.push(.optional(c.reportedExitCode(live: obj.live)))
        case "pid": lua.push(.optional(obj.live == .running ? c.pid : nil))
        case "created": lua.push(.number(c.created))
        case "started_at": lua.push(.optional(c.startedAt))
        case "finished_at": lua.push(.optional(c.finishedAt))
        case "hostname": lua.push(c.hostname)
        case "workdir": lua.push(c.workdir)
        case "user": lua.push(.optional(c.user))
        case "env": lua.push(.strings(c.env))
        case "error": lua.push(.optional(c.error))
        case "network_mode": lua.push(c.networkMode ?? NetworkStore.defaultName)
        case "restart_count": lua.push(.int(c.restartCount ?? 0))
        case "restart_policy": lua.push(c.restartPolicy?.name ?? "no")
        case "stop_requested": lua.push(.bool(c.stopRequested == true))
        case "labels": lua.push(.table((c.labels ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))
        case "oom_killed": lua.push(.bool(c.oomKilled == true))
        case "stop_signal": lua.push(.optional(c.stopSignal))
        case "exposed_ports": lua.push(.strings(c.exposedPorts ?? []))
        case "health": lua.push(.optional(try runtime(lua).health(of: c)?.status))
        case "mounts":
            lua.push(.array((c.mounts ?? []).map {
                .table([("type", .string($0.type.rawValue)), ("source", .string($0.source)),
                        ("destination", .string($0.destination)), ("read_only", .bool($0.readOnly))])
            }))
        case "disk_usage": lua.push(.int(FS.diskUsage(try runtime(lua).root.containerDir(c.id))))
        case "ports": lua.push(.strings((c.ports ?? []).map(\.description)))
        case "published_ports":   // while running: what is really bound (random ports resolved)
            let ports = obj.live == .running ? (c.networkState?.ports ?? []) : []
            lua.push(.array(ports.map {
                .table([("container_port", .int($0.containerPort)), ("proto", .string($0.proto)),
                        ("host_ip", .string($0.hostIP ?? "0.0.0.0")), ("host_port", .int($0.hostPort))])
            }))
        case "network":
            guard obj.live == .running, let n = c.networkState else { lua_pushnil(lua.L); return true }
            lua.push(.table([
                ("name", .string(n.network)), ("ip", .string(n.ip)), ("mac", .string(n.mac)),
                ("gateway", .string(n.gateway)), ("prefix_length", .int(n.prefixLength)),
                ("ports", .strings(n.ports.map(\.description))),
            ]))
        case "resources":
            lua.push(.table([
                ("cpu_shares", c.resources.cpuShares.map { .int(Int($0)) } ?? .nil),
                ("memory", c.resources.memoryBytes.map { .int(Int($0)) } ?? .nil),
                ("pids_limit", c.resources.pidsMax.map { .int(Int($0)) } ?? .nil),
            ]))
        default: return false
        }
        return true
    }
}
