import CLua
import BockerCore
import BockerStore
import BockerRuntime

/// A build chain as Lua holds it (`bocker.BuildChain` userdata): the immutable core chain and
/// the settings every chain made from it inherits (context, RUN network, build args, progress).
final class ChainObject {
    let chain: BuildChain
    let settings: ChainSettings
    init(_ chain: BuildChain, _ settings: ChainSettings) {
        self.chain = chain
        self.settings = settings
    }
}

final class ChainSettings {
    var context = "."
    var included: Set<String>?
    var network = "bridge"
    var buildArgs: [String] = []
    /// The `progress` function of `from`'s options, in the registry (LUA_NOREF: none).
    var progressRef: Int32 = LUA_NOREF
}

/// `bocker.build`: `from(base [, opts])` → a chain whose methods (`run`, `copy`, `workdir`, `env`,
/// …) each return a new chain; nothing runs until `commit` or `stdout`. The bindings only turn
/// arguments into core steps (`BuildStep`); the engine (`Builder`) does the rest.
enum BuildBindings {
    static let functions: Modules.Functions = [("from", from), ("prune", prune), ("usage", usage)]

    static func runtime(_ lua: Lua) throws -> Runtime { try LuaHost.from(lua.L).runtime() }

    /// bocker.build.from(base [, {name, context, include, network, build_args, no_cache, pull, progress}])
    static let from: clua_swift_function = { L in
        binding(L) { lua in
            let fn = "bocker.build.from"
            let base: BuildBase
            var inherited: ChainObject?
            if let c = lua.object(1, .chain, as: ChainObject.self) {
                base = .chain(c.chain)
                inherited = c
            } else if let img = lua.object(1, .image, as: ImageObject.self) {
                base = .image(img.rec.id)
            } else {
                let ref = try lua.checkString(1, fn)
                base = ref == "scratch" ? .scratch : .image(ref)
            }
            let opts = try lua.optionsTable(2, fn, keys: ["name", "context", "include", "network", "build_args", "no_cache", "pull",
                                                          "progress", "display", "location"])
            var options = BuildOptions()
            let s = ChainSettings()
            if let p = inherited?.settings {
                s.context = p.context; s.included = p.included; s.network = p.network
                s.buildArgs = p.buildArgs; s.progressRef = p.progressRef
                options = p.options(inherited!.chain)
            }
            options.stageName = nil
            if let t = opts {
                options.stageName = try lua.optString(t, "name")
                if let v = try lua.optBool(t, "no_cache") { options.noCache = v }
                if let v = try lua.optBool(t, "pull") { options.pull = v }
                if let v = try lua.optString(t, "network") { s.network = try checkNetwork(v) }
                if let v = try lua.optString(t, "context") { s.context = FS.absolute(v) }
                if let v = try lua.optStrings(t, "include") { s.included = Set(v) }
                if let v = try lua.optStringMap(t, "build_args") { s.buildArgs = v.keys.sorted().map { $0 + "=" + v[$0]! } }
                lua.pushRawField(t, "progress")
                if lua_type(L, -1) == LUA_TFUNCTION {
                    s.progressRef = luaL_ref(L, clua_registryindex())
                } else {
                    clua_pop(L, 1)
                }
            }
            if s.context == "." { s.context = FS.absolute(".") }
            let display = try opts.flatMap { try lua.optString($0, "display") }
            let location = try opts.flatMap { try lua.optString($0, "location") }
            lua.pushObject(ChainObject(BuildChain(base: base, options: options, display: display, location: location), s), .chain)
            return 1
        }
    }

    static func checkNetwork(_ v: String) throws -> String {
        guard ["none", "bridge", "host", "default"].contains(v) else {
            throw BockerError(.invalidArgument, "network for RUN must be none, bridge or host, not '\(v)'")
        }
        return v == "default" ? "bridge" : v
    }

    /// bocker.build.prune() → entries, layers removed (`builder prune`).
    static let prune: clua_swift_function = { L in
        binding(L) { lua in
            let rt = try runtime(lua)
            let r = try rt.store.withLock { try rt.store.pruneBuildCache(inUse: rt.layersInUse()) }
            lua.push(.int(r.entries))
            lua.push(.int(r.layers))
            return 2
        }
    }

    /// bocker.build.usage() → {entries, layers, bytes}: what the build cache holds alone.
    static let usage: clua_swift_function = { L in
        binding(L) { lua in
            let rt = try runtime(lua)
            let u = rt.store.buildCacheUsage(inUse: rt.layersInUse())
            lua.push(.table([("entries", .int(u.entries)), ("layers", .int(u.layers)), ("bytes", .int(u.bytes))]))
            return 1
        }
    }

    // MARK: Chain methods

    static func chain(_ lua: Lua, _ fn: String) throws -> ChainObject {
        try lua.checkObject(1, .chain, as: ChainObject.self, fn)
    }

    /// Appends one step: body reads the arguments and returns the step and its default display.
    static func step(_ L: OpaquePointer?, _ name: String, optsAt: Int32, keys: [String],
                     _ body: (Lua, ChainObject, Int32?) throws -> (BuildStep, String)) -> Int32 {
        binding(L) { lua in
            let o = try chain(lua, "chain:" + name)
            let opts = try lua.optionsTable(optsAt, "chain:" + name, keys: keys + ["display", "location"])
            let (s, display) = try body(lua, o, opts)
            let shown = try opts.flatMap { try lua.optString($0, "display") } ?? display
            let location = try opts.flatMap { try lua.optString($0, "location") }
            lua.pushObject(ChainObject(o.chain.appending(s, display: shown, location: location), o.settings), .chain)
            return 1
        }
    }

    static func strings(_ lua: Lua, _ i: Int32, _ what: String) throws -> [String] {
        guard let v = try lua.stringArray(i, what) else { throw BockerError(.invalidArgument, "\(what) is missing") }
        return v
    }

    static func json(_ a: [String]) -> String {
        "[" + a.map { JSONValue.string($0).render() }.joined(separator: ",") + "]"
    }

    /// A command: a string is shell form, a list exec form.
    static func command(_ lua: Lua, _ i: Int32, _ what: String) throws -> (argv: [String], shell: Bool) {
        if let s = lua.string(i), lua_type(lua.L, i) == LUA_TSTRING { return ([s], true) }
        return (try strings(lua, i, what), false)
    }

    /// Key=value pairs from a map (sorted by key) or a list of "K=V" strings (kept in order).
    static func pairs(_ lua: Lua, _ i: Int32, _ what: String) throws -> [(String, String)] {
        guard lua_type(lua.L, i) == LUA_TTABLE else { throw BockerError(.invalidArgument, "\(what) must be a table") }
        if lua_rawlen(lua.L, i) > 0 {
            return try strings(lua, i, what).map { kv in
                guard let eq = kv.firstIndex(of: "=") else { throw BockerError(.invalidArgument, "\(what): '\(kv)' is not KEY=VALUE") }
                return (String(kv[..<eq]), String(kv[kv.index(after: eq)...]))
            }
        }
        lua_pushvalue(lua.L, i)
        let tmp = lua_gettop(lua.L)
        lua_createtable(lua.L, 0, 1)
        lua_pushvalue(lua.L, tmp)
        lua_setfield(lua.L, -2, "v")
        defer { clua_pop(lua.L, 2) }
        let m = try lua.optStringMap(lua_gettop(lua.L), "v") ?? [:]
        return m.keys.sorted().map { ($0, m[$0]!) }
    }

    static func runStep(_ lua: Lua, _ o: ChainObject, _ opts: Int32?, argAt i: Int32) throws -> (RunStep, String) {
        let (argv, shell) = try command(lua, i, "command")
        var env = o.settings.buildArgs
        if let t = opts, let m = try lua.optStringMap(t, "env") { env += m.keys.sorted().map { $0 + "=" + m[$0]! } }
        let network = try opts.flatMap { try lua.optString($0, "network") }.map(checkNetwork) ?? o.settings.network
        return (RunStep(command: argv, shellForm: shell, env: env, network: network),
                "RUN " + (shell ? argv[0] : json(argv)))
    }

    static let run: clua_swift_function = { L in
        step(L, "run", optsAt: 3, keys: ["network", "env"]) { lua, o, opts in
            let (r, d) = try runStep(lua, o, opts, argAt: 2)
            return (.run(r), d)
        }
    }

    static func copyStep(_ lua: Lua, _ o: ChainObject, _ opts: Int32?, from: CopySource?, fromName: String? = nil,
                         srcAt: Int32, add: Bool) throws -> (BuildStep, String) {
        let srcs = try strings(lua, srcAt, "source")
        let dest = try lua.checkString(srcAt + 1, add ? "chain:add" : "chain:copy")
        var source = from ?? .context(dir: o.settings.context, included: o.settings.included)
        var flags = fromName.map { "--from=\($0) " } ?? ""
        if let t = opts, from == nil {
            lua.pushRawField(t, "from")
            defer { clua_pop(lua.L, 1) }
            if let c = lua.object(-1, .chain, as: ChainObject.self) { source = .chain(c.chain); flags += "--from=\(c.chain.options.stageName ?? "<chain>") " }
            else if let s = lua.string(-1) { source = .image(s); flags += "--from=\(s) " }
            else if let i = lua.object(-1, .image, as: ImageObject.self) { source = .image(i.rec.id); flags += "--from=\(i.rec.id) " }
            if case .context = source, let dir = try lua.optString(t, "context") {
                source = .context(dir: FS.absolute(dir), included: try lua.optStrings(t, "include").map(Set.init))
            } else if case .context(let dir, _) = source, let inc = try lua.optStrings(t, "include") {
                source = .context(dir: dir, included: Set(inc))
            }
        }
        var c = CopyStep(sources: srcs, destination: dest, from: source)
        c.add = add
        if let t = opts {
            c.chown = try lua.optString(t, "chown")
            c.chmod = try lua.optString(t, "chmod")
        }
        if let v = c.chown { flags += "--chown=\(v) " }
        if let v = c.chmod { flags += "--chmod=\(v) " }
        return (.copy(c), (add ? "ADD " : "COPY ") + flags + srcs.joined(separator: " ") + " " + dest)
    }

    static let copy: clua_swift_function = { L in
        step(L, "copy", optsAt: 4, keys: ["chown", "chmod", "from", "context", "include"]) { lua, o, opts in
            try copyStep(lua, o, opts, from: nil, srcAt: 2, add: false)
        }
    }

    static let add: clua_swift_function = { L in
        step(L, "add", optsAt: 4, keys: ["chown", "chmod", "from", "context", "include"]) { lua, o, opts in
            try copyStep(lua, o, opts, from: nil, srcAt: 2, add: true)
        }
    }

    /// chain:copy_from(stage_or_image, src, dest [, opts])
    static let copyFrom: clua_swift_function = { L in
        step(L, "copy_from", optsAt: 5, keys: ["chown", "chmod"]) { lua, o, opts in
            let src: CopySource
            let name: String
            if let c = lua.object(2, .chain, as: ChainObject.self) { src = .chain(c.chain); name = c.chain.options.stageName ?? "<chain>" }
            else if let i = lua.object(2, .image, as: ImageObject.self) { src = .image(i.rec.id); name = i.rec.id }
            else { name = try lua.checkString(2, "chain:copy_from"); src = .image(name) }
            return try copyStep(lua, o, opts, from: src, fromName: name, srcAt: 3, add: false)
        }
    }

    static func configStep(_ L: OpaquePointer?, _ name: String, _ body: @escaping (Lua) throws -> (ConfigChange, String)) -> Int32 {
        step(L, name, optsAt: 3, keys: []) { lua, _, _ in
            let (c, d) = try body(lua)
            return (.config(c), d)
        }
    }

    static let workdir: clua_swift_function = { L in
        configStep(L, "workdir") { lua in let p = try lua.checkString(2, "chain:workdir"); return (.workdir(p), "WORKDIR " + p) }
    }
    static let env: clua_swift_function = { L in
        configStep(L, "env") { lua in
            let kv = try pairs(lua, 2, "chain:env")
            return (.env(kv), "ENV " + kv.map { $0.0 + "=" + $0.1 }.joined(separator: " "))
        }
    }
    static let label: clua_swift_function = { L in
        configStep(L, "label") { lua in
            let kv = try pairs(lua, 2, "chain:label")
            return (.labels(kv), "LABEL " + kv.map { $0.0 + "=" + $0.1 }.joined(separator: " "))
        }
    }
    static let user: clua_swift_function = { L in
        configStep(L, "user") { lua in let u = try lua.checkString(2, "chain:user"); return (.user(u), "USER " + u) }
    }
    static func shellOrList(_ lua: Lua, _ what: String) throws -> [String] {
        let (argv, shell) = try command(lua, 2, what)
        return shell ? ["/bin/sh", "-c", argv[0]] : argv
    }
    static let cmd: clua_swift_function = { L in
        configStep(L, "cmd") { lua in let a = try shellOrList(lua, "chain:cmd"); return (.cmd(a), "CMD " + json(a)) }
    }
    static let entrypoint: clua_swift_function = { L in
        configStep(L, "entrypoint") { lua in let a = try shellOrList(lua, "chain:entrypoint"); return (.entrypoint(a), "ENTRYPOINT " + json(a)) }
    }
    static let shell: clua_swift_function = { L in
        configStep(L, "shell") { lua in let a = try strings(lua, 2, "chain:shell"); return (.shell(a), "SHELL " + json(a)) }
    }
    static let expose: clua_swift_function = { L in
        configStep(L, "expose") { lua in let a = try strings(lua, 2, "chain:expose"); return (.expose(a), "EXPOSE " + a.joined(separator: " ")) }
    }
    static let volume: clua_swift_function = { L in
        configStep(L, "volume") { lua in let a = try strings(lua, 2, "chain:volume"); return (.volumes(a), "VOLUME " + json(a)) }
    }
    static let stopSignal: clua_swift_function = { L in
        configStep(L, "stop_signal") { lua in let s = try lua.checkString(2, "chain:stop_signal"); return (.stopSignal(s), "STOPSIGNAL " + s) }
    }
    static let onbuild: clua_swift_function = { L in
        configStep(L, "onbuild") { lua in let s = try lua.checkString(2, "chain:onbuild"); return (.onBuild([s]), "ONBUILD " + s) }
    }
    static let author: clua_swift_function = { L in
        configStep(L, "author") { lua in let s = try lua.checkString(2, "chain:author"); return (.author(s), "MAINTAINER " + s) }
    }

    /// chain:healthcheck("NONE" | {test = {"CMD", …} | "shell command", interval, timeout,
    /// start_period, start_interval (seconds), retries})
    static let healthcheck: clua_swift_function = { L in
        configStep(L, "healthcheck") { lua in
            if let s = lua.string(2), s == "NONE" { return (.healthcheck(HealthcheckConfig(test: ["NONE"])), "HEALTHCHECK NONE") }
            let t = try lua.optionsTable(2, "chain:healthcheck", keys: ["test", "interval", "timeout", "start_period", "start_interval", "retries"])
            guard let t else { throw BockerError(.invalidArgument, "chain:healthcheck needs \"NONE\" or a table") }
            lua.pushRawField(t, "test")
            let (argv, sh) = try command(lua, -1, "healthcheck test")
            clua_pop(lua.L, 1)
            let test = sh ? ["CMD-SHELL", argv[0]] : (argv.first == "CMD" || argv.first == "CMD-SHELL" ? argv : ["CMD"] + argv)
            func ns(_ k: String) throws -> Int64? {
                try lua.field(t, k) { i -> Double? in lua_type(lua.L, i) == LUA_TNUMBER ? lua_tonumberx(lua.L, i, nil) : nil }.map { Int64($0 * 1e9) }
            }
            let h = HealthcheckConfig(test: test, interval: try ns("interval"), timeout: try ns("timeout"),
                                      startPeriod: try ns("start_period"), startInterval: try ns("start_interval"),
                                      retries: try lua.optInt(t, "retries"))
            return (.healthcheck(h), "HEALTHCHECK " + json(test))
        }
    }

    /// chain:stdout(cmd [, {network, env, progress}]) → the command's standard output (cached).
    static let stdout: clua_swift_function = { L in
        binding(L) { lua in
            let o = try chain(lua, "chain:stdout")
            let opts = try lua.optionsTable(3, "chain:stdout", keys: ["network", "env", "progress"])
            let (r, _) = try runStep(lua, o, opts, argAt: 2)
            let progress = BuildProgress(lua, options: opts, fallback: o.settings.progressRef)
            let builder = Builder(runtime: try runtime(lua))
            builder.progress = progress.report
            let out = try builder.output(of: o.chain, r)
            try progress.check()
            lua.push(out)
            return 1
        }
    }

    /// chain:commit([name | {names…}] [, {progress}]) → Image
    static let commit: clua_swift_function = { L in
        binding(L) { lua in
            let o = try chain(lua, "chain:commit")
            var names: [String] = []
            var optsAt: Int32 = 2
            if lua_type(L, 2) == LUA_TSTRING || (lua_type(L, 2) == LUA_TTABLE && lua_rawlen(L, 2) > 0) {
                names = try strings(lua, 2, "names")
                optsAt = 3
            } else if lua.isNil(2) && !lua.isNil(3) {
                optsAt = 3
            }
            let opts = try lua.optionsTable(optsAt, "chain:commit", keys: ["progress"])
            let progress = BuildProgress(lua, options: opts, fallback: o.settings.progressRef)
            let builder = Builder(runtime: try runtime(lua))
            builder.progress = progress.report
            let img = try builder.commit(o.chain, names: names)
            try progress.check()
            lua.pushObject(ImageObject(img), .image)
            return 1
        }
    }

    static func field(_ lua: Lua, _ o: ChainObject, _ key: String) -> Bool {
        switch key {
        case "run": lua.push(function: run)
        case "copy": lua.push(function: copy)
        case "add": lua.push(function: add)
        case "copy_from": lua.push(function: copyFrom)
        case "workdir": lua.push(function: workdir)
        case "env": lua.push(function: env)
        case "label": lua.push(function: label)
        case "user": lua.push(function: user)
        case "cmd": lua.push(function: cmd)
        case "entrypoint": lua.push(function: entrypoint)
        case "shell": lua.push(function: shell)
        case "expose": lua.push(function: expose)
        case "volume": lua.push(function: volume)
        case "stop_signal": lua.push(function: stopSignal)
        case "healthcheck": lua.push(function: healthcheck)
        case "onbuild": lua.push(function: onbuild)
        case "author": lua.push(function: author)
        case "stdout": lua.push(function: stdout)
        case "commit": lua.push(function: commit)
        case "name": lua.push(.optional(o.chain.options.stageName))
        case "display": lua.push(o.chain.display)
        default: return false
        }
        return true
    }
}

extension ChainSettings {
    func options(_ c: BuildChain) -> BuildOptions { c.options }
}

/// A build's progress function, called on the calling thread with {kind, text, stage, id},
/// protected (pcall): its first error stops further calls and is raised by `check()`.
final class BuildProgress {
    private let lua: Lua
    private var index: Int32?
    private var failure: String?

    init(_ lua: Lua, options: Int32?, fallback: Int32) {
        self.lua = lua
        if let t = options {
            lua.pushRawField(t, "progress")
            if lua_type(lua.L, -1) == LUA_TFUNCTION { index = lua_gettop(lua.L) } else { clua_pop(lua.L, 1) }
        }
        if index == nil && fallback != LUA_NOREF {
            _ = lua_rawgeti(lua.L, clua_registryindex(), lua_Integer(fallback))
            index = lua_gettop(lua.L)
        }
    }

    func report(_ e: BuildEvent) {
        guard let index, failure == nil else { return }
        let fields: [(String, LuaValue)]
        switch e {
        case .step(let d, let stage): fields = [("kind", .string("step")), ("text", .string(d)), ("stage", .optional(stage))]
        case .cached: fields = [("kind", .string("cached"))]
        case .output(let line): fields = [("kind", .string("output")), ("text", .string(line))]
        case .done(let id): fields = [("kind", .string("done")), ("id", .string(id))]
        case .pull(let line): fields = [("kind", .string("pull")), ("text", .string(line))]
        }
        lua_pushvalue(lua.L, index)
        lua.push(.table(fields))
        if clua_pcall(lua.L, 1, 0, 0) != LUA_OK {
            failure = lua.string(-1) ?? "error in the progress function"
            clua_pop(lua.L, 1)
        }
    }

    func check() throws {
        if let f = failure { throw BockerError(.invalidArgument, f) }
    }
}
