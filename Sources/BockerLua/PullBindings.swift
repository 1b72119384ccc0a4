import CLua
import BockerCore
import BockerRuntime
import BockerRegistry

/// `bocker.image.pull`, `bocker.image.push` and `bocker.image.login`: registry access for Lua.
enum PullBindings {
    /// bocker.image.pull(ref [, {platform = "linux/arm64/v8", progress = function(event) end}])
    /// → Image, digest, downloaded. Events: {layer=, status=, current=, total=}.
    static let pull: clua_swift_function = { L in
        binding(L) { lua in
            let ref = try lua.checkString(1, "bocker.image.pull")
            let opts = try lua.optionsTable(2, "bocker.image.pull", keys: ["platform", "progress"])
            let platform = try opts.flatMap { try lua.optString($0, "platform") }
            var hasCallback = false
            if let t = opts {
                lua.pushRawField(t, "progress")
                hasCallback = lua_type(L, -1) == LUA_TFUNCTION
                if !hasCallback { clua_pop(L, 1) }
            }
            let cb = lua_gettop(L)
            var callbackError: String?
            let result = try ImageBindings.runtime(lua).pull(ref, platform: platform) { ev in
                guard hasCallback, callbackError == nil else { return }
                lua_pushvalue(L, cb)
                lua.push(.table([("layer", .string(ev.layer)), ("status", .string(ev.status)),
                                 ("current", .int(Int(ev.current))), ("total", .int(Int(ev.total)))]))
                // Protected: a Lua error in the callback must not longjmp over Swift frames.
                if clua_pcall(L, 1, 0, 0) != LUA_OK {
                    callbackError = lua.string(-1) ?? "error in the progress function"
                    clua_pop(L, 1)
                }
            }
            if let e = callbackError { throw BockerError(.invalidArgument, "progress function: \(e)") }
            lua.pushObject(ImageObject(result.image), .image)
            lua.push(result.digest)
            lua.push(.bool(result.downloaded))
            return 3
        }
    }

    /// bocker.image.push(image, [ref] [, {compression = "gzip"|"zstd", progress = function(event) end}])
    /// / image:push([ref] [, opts]) → digest, size, the reference pushed to. ref defaults to the
    /// image argument when that is a name. Events: {layer=, status=, current=, total=}.
    static let push: clua_swift_function = { L in
        binding(L) { lua in
            let image = try ImageBindings.imageRef(lua, 1, "bocker.image.push")
            var target: String?
            var optIndex: Int32 = 2
            if lua_type(L, 2) == LUA_TSTRING { target = try lua.checkString(2, "bocker.image.push"); optIndex = 3 }
            let opts = try lua.optionsTable(optIndex, "bocker.image.push", keys: ["compression", "progress"])
            var options = PushOptions()
            switch try opts.flatMap({ try lua.optString($0, "compression") }) {
            case nil, "gzip": options.compression = .gzip
            case "zstd": options.compression = .zstd
            case let other?: throw BockerError(.invalidArgument, "bocker.image.push: compression must be gzip or zstd, not '\(other)'")
            }
            var hasCallback = false
            if let t = opts {
                lua.pushRawField(t, "progress")
                hasCallback = lua_type(L, -1) == LUA_TFUNCTION
                if !hasCallback { clua_pop(L, 1) }
            }
            let cb = lua_gettop(L)
            var callbackError: String?
            let result = try ImageBindings.runtime(lua).push(image, to: target, options: options) { ev in
                guard hasCallback, callbackError == nil else { return }
                lua_pushvalue(L, cb)
                lua.push(.table([("layer", .string(ev.layer)), ("status", .string(ev.status)),
                                 ("current", .int(Int(ev.current))), ("total", .int(Int(ev.total)))]))
                if clua_pcall(L, 1, 0, 0) != LUA_OK {
                    callbackError = lua.string(-1) ?? "error in the progress function"
                    clua_pop(L, 1)
                }
            }
            if let e = callbackError { throw BockerError(.invalidArgument, "progress function: \(e)") }
            lua.push(result.digest)
            lua.push(.int(result.size))
            lua.push(result.reference)
            return 3
        }
    }

    /// bocker.image.login(server, username, password) → the server key stored.
    static let login: clua_swift_function = { L in
        binding(L) { lua in
            let server = try lua.checkString(1, "bocker.image.login")
            let user = try lua.checkString(2, "bocker.image.login")
            let pass = try lua.checkString(3, "bocker.image.login")
            try CredentialStore.fromEnvironment().save(Credentials(username: user, password: pass), registry: server)
            lua.push(server)
            return 1
        }
    }
}
