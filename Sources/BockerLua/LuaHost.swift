import CLua
import Glibc
import BockerCore
import BockerRuntime
import BockerScripts

/// The scripting host: one Lua state with the `bocker` modules, the command search path and
/// the rules for turning errors into one line and an exit status. `main` is all the CLI does.
public final class LuaHost {
    let L: OpaquePointer
    /// Where `bocker NAME` looks for NAME.lua, in order, before the bundled commands.
    public let commandDirs: [String]
    var debug = false
    /// The state root to open; nil means `$BOCKER_ROOT` (tests give each host its own).
    public var stateRoot: StateRoot?
    private var runtimeStorage: Runtime?

    public init(commandDirs: [String] = LuaHost.defaultCommandDirs()) {
        L = luaL_newstate()
        self.commandDirs = commandDirs
        luaL_openlibs(L)
        // The host outlives the state; bindings find it through the registry (Redis' pattern).
        lua_pushlightuserdata(L, Unmanaged.passUnretained(self).toOpaque())
        lua_setfield(L, clua_registryindex(), "bocker.host")
        Modules.install(Lua(L))
    }

    /// Whether `deinit` closes the Lua state. The CLI clears it after a bundled command, just
    /// before the process ends (which frees the memory at once): closing would only walk and
    /// free every object, a seventh of what `ps` does with 1,000 containers. A user's script or
    /// command keeps Lua's rule that finalizers run when the state closes.
    var closesStateOnDeinit = true

    deinit { if closesStateOnDeinit { lua_close(L) } }

    static func from(_ L: OpaquePointer) -> LuaHost {
        lua_getfield(L, clua_registryindex(), "bocker.host")
        let p = lua_touserdata(L, -1)!
        clua_pop(L, 1)
        return Unmanaged<LuaHost>.fromOpaque(p).takeUnretainedValue()
    }

    /// The runtime, opened on first use so `help` never touches the state root.
    func runtime() throws -> Runtime {
        if let rt = runtimeStorage { return rt }
        let rt = try Runtime.open(root: stateRoot)
        runtimeStorage = rt
        return rt
    }

    /// `$BOCKER_SCRIPT_PATH` (colon-separated), `~/.config/bocker/commands`, `/etc/bocker/commands`.
    public static func defaultCommandDirs() -> [String] {
        var dirs: [String] = []
        if let p = getenv("BOCKER_SCRIPT_PATH").flatMap({ String(validatingCString: $0) }) {
            dirs += p.split(byte: 0x3a)
        }
        if let home = getenv("HOME").flatMap({ String(validatingCString: $0) }), !home.isEmpty {
            dirs.append(home + "/.config/bocker/commands")
        }
        dirs.append("/etc/bocker/commands")
        return dirs
    }

    // MARK: Finding commands

    /// Where a command comes from: a file in a command folder, or bundled in the binary.
    struct CommandSource {
        let name: String
        let origin: String     // "user" or "bundled"
        let path: String       // file path, or "commands/NAME.lua" inside the binary
    }

    func findCommand(_ name: String) -> CommandSource? {
        guard Identifier.isSafeComponent(name) else { return nil }
        for dir in commandDirs {
            let path = dir + "/" + name + ".lua"
            if FS.exists(path) { return CommandSource(name: name, origin: "user", path: path) }
        }
        let key = "commands/" + name + ".lua"
        if BundledScripts.text(key) != nil { return CommandSource(name: name, origin: "bundled", path: key) }
        return nil
    }

    /// Every command name found, the first source of each (as `findCommand` would choose).
    func allCommands() -> [CommandSource] {
        var names = Set<String>()
        for dir in commandDirs {
            for f in FS.list(dir) where f.hasSuffix(".lua") { names.insert(String(f.dropLast(4))) }
        }
        for p in BundledScripts.paths where p.hasPrefix("commands/") && p.hasSuffix(".lua") {
            names.insert(String(p.dropFirst("commands/".count).dropLast(4)))
        }
        return names.sorted().compactMap(findCommand)
    }

    /// Loads a command's chunk onto the stack; throws with Lua's syntax message.
    func loadCommand(_ src: CommandSource) throws {
        if src.origin == "bundled" {
            if LuaHost.loadBundledBytecode(L, src.path) { return }
            try loadChunk(BundledScripts.text(src.path) ?? "", name: "=bocker:" + src.path)
        } else {
            try loadFile(src.path)
        }
    }

    /// Pushes a bundled script's chunk from its build-time bytecode; false (nothing pushed)
    /// when there is none or this Lua refuses it (another Lua release than the build's), so the
    /// caller compiles the text instead.
    static func loadBundledBytecode(_ L: OpaquePointer, _ path: String) -> Bool {
        guard let code = BundledScripts.bytecode(path) else { return false }
        let status = code.withUnsafeBufferPointer { buf in
            buf.withMemoryRebound(to: CChar.self) { clua_loadbytecode(L, $0.baseAddress, $0.count, "=bocker:" + path) }
        }
        if status == LUA_OK { return true }
        clua_pop(L, 1)
        return false
    }

    func loadChunk(_ text: String, name: String) throws {
        let status = text.utf8CString.withUnsafeBufferPointer {
            clua_loadbuffer(L, $0.baseAddress, $0.count - 1, name)
        }
        if status != LUA_OK {
            let msg = Lua(L).string(-1) ?? "cannot load \(name)"
            clua_pop(L, 1)
            throw BockerError(.invalidArgument, msg)
        }
    }

    func loadFile(_ path: String) throws {
        let bytes: [UInt8]
        do { bytes = try FS.read(path) } catch {
            throw BockerError(.notFound, "cannot open script '\(path)'")
        }
        var text = String(decoding: bytes, as: UTF8.self)
        if text.hasPrefix("#") { text = "--" + text }   // a #! line, as lua(1) skips it
        try loadChunk(text, name: "@" + path)
    }

    // MARK: Running

    /// Calls the function below `nargs` arguments on the stack in protected mode. On error,
    /// returns the error value's one-line text (left off the stack); results stay on the stack.
    func protectedCall(nargs: Int32, nresults: Int32) -> (ok: Bool, message: String, bare: String, status: Int32?) {
        let base = lua_gettop(L) - nargs
        if debug { lua_pushcclosure(L, clua_msghandler_traceback, 0) } else { lua_pushcclosure(L, clua_msghandler_plain, 0) }
        clua_insert(L, base)
        let rc = clua_pcall(L, nargs, nresults, base)
        clua_remove(L, base)
        if rc == LUA_OK { return (true, "", "", nil) }
        let text = errorText(at: -1)
        let bare = errorText(at: -1, withWhere: false)
        let status = exitStatus(at: -1)
        clua_pop(L, 1)
        return (false, text, bare, status)
    }

    /// The one line a user sees for an error value: a bocker error's `where` + message (the
    /// `where` only for the user's own scripts), or the string Lua made.
    func errorText(at i: Int32, withWhere: Bool = true) -> String {
        let lua = Lua(L)
        let idx = lua_absindex(L, i)
        if lua_type(L, idx) == LUA_TTABLE {
            let msg = lua.field(idx, "message") { lua.string($0) } ?? "error"
            let whereText = lua.field(idx, "where") { lua.string($0) } ?? ""
            return (withWhere ? whereText : "") + msg
        }
        if let s = lua.string(idx) { return s }
        if luaL_callmeta(L, idx, "__tostring") != 0, let s = lua.string(-1) {
            clua_pop(L, 1)
            return s
        }
        return "(error object is a \(lua.typeName(idx)) value)"
    }

    func exitStatus(at i: Int32) -> Int32? {
        let lua = Lua(L)
        let idx = lua_absindex(L, i)
        guard lua_type(L, idx) == LUA_TTABLE else { return nil }
        return lua.field(idx, "status") { lua.integer($0) }.map(Int32.init)
    }

    /// Whether the last `runCommand` ran a bundled command's script (nil before any).
    private(set) var ranBundledCommand: Bool?

    /// Runs `bocker NAME args…`: the command's table `run(args)`; returns the exit status.
    public func runCommand(_ name: String, _ args: [String]) -> Int32 {
        guard let src = findCommand(name) else {
            printError("bocker: '\(name)' is not a bocker command. See 'bocker help'.")
            return 1
        }
        setArgTable(script: src.path, args)
        do { try loadCommand(src) } catch {
            printError("\(error)")
            return 1
        }
        let r = protectedCall(nargs: 0, nresults: 1)
        if !r.ok { printError(r.message); return 1 }
        guard lua_type(L, -1) == LUA_TTABLE else {
            clua_pop(L, 1)
            printError("bocker: command script '\(src.path)' must return a table with a run function")
            return 1
        }
        let cmd = lua_absindex(L, -1)
        let lua = Lua(L)
        let failStatus = lua.field(cmd, "error_status") { lua.integer($0) }.map(Int32.init) ?? 1
        lua.pushRawField(cmd, "run")
        guard lua_type(L, -1) == LUA_TFUNCTION else {
            clua_pop(L, 2)
            printError("bocker: command script '\(src.path)' has no run function")
            return 1
        }
        lua.push(.strings(args))
        let bundled = src.origin == "bundled"
        ranBundledCommand = bundled
        let call = protectedCall(nargs: 1, nresults: 1)
        if !call.ok {
            // Bundled commands show just the message (the original's lines); a user's own
            // command shows where it failed. `--help` ends a command with an empty status-0
            // error: nothing more to print.
            if call.status == 0 && call.bare.isEmpty { return 0 }
            printError(bundled ? call.bare : call.message)
            return call.status ?? failStatus
        }
        let status = lua.integer(-1).map(Int32.init) ?? 0
        clua_pop(L, 2)
        return status
    }

    /// Runs `bocker script FILE args…` with `arg` set as lua(1) sets it.
    public func runScript(_ path: String, _ args: [String]) -> Int32 {
        setArgTable(script: path, args)
        do { try loadFile(path) } catch {
            printError("\(error)")
            return 1
        }
        // Ctrl-C (or SIGTERM) raises "interrupted" in the script, ends any wait at once, and
        // then stops the containers the script started; a second one kills bocker outright.
        Interrupt.install()
        clua_install_interrupt_hook(L, { Interrupt.requested ? 1 : 0 })
        for a in args { Lua(L).push(a) }
        let r = protectedCall(nargs: Int32(args.count), nresults: 1)
        if Interrupt.requested {
            Interrupt.acknowledge()
            printError(r.ok ? "interrupted" : r.message)
            stopStartedContainers()
            return 130
        }
        if !r.ok { printError(r.message); return r.status ?? 1 }
        let status = Lua(L).integer(-1).map(Int32.init) ?? 0
        clua_pop(L, 1)
        return status
    }

    /// After an interrupted script: stops (TERM, then KILL after 10 s) what it started that
    /// still runs, and says so.
    func stopStartedContainers() {
        guard let rt = runtimeStorage else { return }
        var stopped: [String] = []
        for id in rt.startedByThisProcess where (try? rt.container(id).liveState) == .running {
            if (try? rt.stop(id, timeout: 10)) != nil { stopped.append(id) }
        }
        if !stopped.isEmpty { printError("interrupted: stopped \(stopped.joined(separator: ", "))") }
    }

    func setArgTable(script: String, _ args: [String]) {
        lua_createtable(L, Int32(args.count), 1)
        Lua(L).push(script)
        lua_rawseti(L, -2, 0)
        for (i, a) in args.enumerated() {
            Lua(L).push(a)
            lua_rawseti(L, -2, lua_Integer(i + 1))
        }
        lua_setglobal(L, "arg")
    }

    func printError(_ s: String) {
        fflush(stdout)
        let line = s.hasSuffix("\n") ? s : s + "\n"
        _ = try? Array(line.utf8).withUnsafeBytes { try FS.writeAll(2, $0, what: "stderr") }
    }

    // MARK: The CLI

    /// The global options `--name=value` may set (as `BOCKER_NAME`): the original's
    /// `--cpu_share`/`--mem_limit` and the variables README documents. Anything else before
    /// the command is an error, not a stray environment variable.
    public static let globalSettings: Set<String> = [
        "cpu_share", "mem_limit", "root", "driver", "script_path", "cgroup_parent",
        "bridge", "bridge_subnet", "dns",
    ]

    /// The whole command line: global options (`--debug`, `--help`/`-h`, `--version`/`-v`, and
    /// the original's `--name=value` for the names in `globalSettings`, which sets
    /// `BOCKER_NAME`), then a command and its arguments. Returns the exit status.
    public static func main(_ argv: [String]) -> Int32 {
        var args = Array(argv.dropFirst())
        var debug = false
        while let first = args.first, first.hasPrefix("-"), first.count > 1 {
            args.removeFirst()
            if first == "--" { break }
            let opt = String(first.drop { $0 == "-" })
            if opt == "debug" || first == "-D" { debug = true; continue }
            if opt == "help" || first == "-h" { args = ["help"] + args; break }
            if opt == "version" || first == "-v" {
                print("bocker version \(HostFacts.version), build \(HostFacts.buildID())")
                return 0
            }
            let key = String(opt.prefix { $0 != "=" }).lowercased().replacingDashes()
            guard first.hasPrefix("--"), opt.contains("="), globalSettings.contains(key) else {
                LuaHost.writeStderr("bocker: unknown option: \(first.prefix { $0 != "=" }) (global options: --debug, --help, --version, --NAME=VALUE for \(globalSettings.sorted().joined(separator: ", ")); see 'bocker help')\n")
                return 125
            }
            setenv("BOCKER_" + key.uppercased(), String(opt.drop { $0 != "=" }.dropFirst()), 1)
        }
        let host = LuaHost()
        host.debug = debug
        guard let name = args.first else { return host.runCommand("help", []) }
        let rest = Array(args.dropFirst())
        let status: Int32
        if name == "script" {
            guard let file = rest.first else {
                LuaHost.writeStderr("usage: bocker script FILE [ARG...]\n")
                return 1
            }
            status = host.runScript(file, Array(rest.dropFirst()))
        } else {
            status = host.runCommand(name, rest)
            host.closesStateOnDeinit = host.ranBundledCommand == false
        }
        fflush(stdout)
        return status
    }

    static func writeStderr(_ s: String) {
        _ = try? Array(s.utf8).withUnsafeBytes { try FS.writeAll(2, $0, what: "stderr") }
    }
}

extension String {
    func replacingDashes() -> String { String(map { $0 == "-" ? "_" : $0 }) }
}
