import CLua
import BockerCore
import BockerRuntime
import BockerRegistry

/// `bocker.image.pull`, `bocker.image.push` and `bocker.image.login`: registry access for Lua.
enum PullBindings {
    /// bocker.image.pull(ref [, {platform = "linux/arm64/v8", progress = function(event) end,
    /// timeout = seconds | "1m"}]) → Image, digest, downloaded. Events: {layer=, status=, current=,
    /// total=}. Past `timeout` it raises `timeout`, and nothing of the pull is left.
    static let pull: clua_swift_function = { L in
        binding(L) { lua in
            let ref = try lua.checkString(1, "bocker.image.pull")
            let opts = try lua.optionsTable(2, "bocker.image.pull", keys: ["platform", "progress", "timeout"])
            let platform = try opts.flatMap { try lua.optString($0, "platform") }
            let timeout = try opts.flatMap { try lua.optDuration($0, "timeout") }
            let progress = LuaProgress(lua, options: opts)
            let result = try ImageBindings.runtime(lua).pull(ref, platform: platform, timeout: timeout) { ev in
                progress.report(layer: ev.layer, status: ev.status, current: ev.current, total: ev.total)
            }
            try progress.check()
            lua.pushObject(ImageObject(result.image), .image)
            lua.push(result.digest)
            lua.push(.bool(result.downloaded))
            return 3
        }
    }

    /// bocker.image.push(image, [ref] [, {compression = "gzip"|"zstd", progress = function(event) end,
    /// timeout = seconds | "1m"}]) (past `timeout`: raises `timeout`, no manifest is put)
    /// / image:push([ref] [, opts]) → digest, size, the reference pushed to. ref defaults to the
    /// image argument when that is a name. Events: {layer=, status=, current=, total=}.
    static let push: clua_swift_function = { L in
        binding(L) { lua in
            let image = try ImageBindings.imageRef(lua, 1, "bocker.image.push")
            var target: String?
            var optIndex: Int32 = 2
            if lua_type(L, 2) == LUA_TSTRING { target = try lua.checkString(2, "bocker.image.push"); optIndex = 3 }
            let opts = try lua.optionsTable(optIndex, "bocker.image.push", keys: ["compression", "progress", "timeout"])
            var options = PushOptions()
            options.timeout = try opts.flatMap { try lua.optDuration($0, "timeout") }
            switch try opts.flatMap({ try lua.optString($0, "compression") }) {
            case nil, "gzip": options.compression = .gzip
            case "zstd": options.compression = .zstd
            case let other?: throw BockerError(.invalidArgument, "bocker.image.push: compression must be gzip or zstd, not '\(other)'")
            }
            let progress = LuaProgress(lua, options: opts)
            let result = try ImageBindings.runtime(lua).push(image, to: target, options: options) { ev in
                progress.report(layer: ev.layer, status: ev.status, current: ev.current, total: ev.total)
            }
            try progress.check()
            lua.push(result.digest)
            lua.push(.int(result.size))
            lua.push(result.reference)
            return 3
        }
    }

    /// bocker.image.login(server, username, password [, {verify = false}]) → the server key
    /// stored. The registry checks the credentials first unless `verify` is false.
    static let login: clua_swift_function = { L in
        binding(L) { lua in
            let server = try lua.checkString(1, "bocker.image.login")
            let user = try lua.checkString(2, "bocker.image.login")
            let pass = try lua.checkString(3, "bocker.image.login")
            let opts = try lua.optionsTable(4, "bocker.image.login", keys: ["verify"])
            let verify = try opts.flatMap { try lua.optBool($0, "verify") } ?? true
            lua.push(try Runtime.login(registry: server, username: user, password: pass, verify: verify))
            return 1
        }
    }

    /// bocker.image.logout(server) → true when credentials were removed, false when none.
    static let logout: clua_swift_function = { L in
        binding(L) { lua in
            let server = try lua.checkString(1, "bocker.image.logout")
            lua.push(.bool(try Runtime.logout(registry: server)))
            return 1
        }
    }
}

/// A script's `progress` function (the `progress` field of an options table) for pull and
/// push: called with {layer, status, current, total} on the calling thread, protected, so a
/// Lua error in it never longjmps over Swift frames; the first error stops further calls and
/// is raised by `check()` once the operation returns.
final class LuaProgress {
    private let lua: Lua
    private let index: Int32?
    private var failure: String?

    /// Reads `progress` from the options table at `options` (nil: none) and leaves it on the
    /// stack for the calls.
    init(_ lua: Lua, options: Int32?) {
        self.lua = lua
        var index: Int32?
        if let t = options {
            lua.pushRawField(t, "progress")
            if lua_type(lua.L, -1) == LUA_TFUNCTION { index = lua_gettop(lua.L) } else { clua_pop(lua.L, 1) }
        }
        self.index = index
    }

    func report<N: BinaryInteger>(layer: String, status: String, current: N, total: N) {
        guard let index, failure == nil else { return }
        lua_pushvalue(lua.L, index)
        lua.push(.table([("layer", .string(layer)), ("status", .string(status)),
                         ("current", .int(Int(current))), ("total", .int(Int(total)))]))
        if clua_pcall(lua.L, 1, 0, 0) != LUA_OK {
            failure = lua.string(-1) ?? "error in the progress function"
            clua_pop(lua.L, 1)
        }
    }

    func check() throws {
        if let e = failure { throw BockerError(.invalidArgument, "progress function: \(e)") }
    }
}
