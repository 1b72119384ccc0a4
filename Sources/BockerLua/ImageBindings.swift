import CLua
import BockerCore
import BockerStore
import BockerRuntime

/// `bocker.image`: list, get, init (from a directory), remove. Images are `bocker.Image`
/// userdata with fields id, source, created, layers, config and the method remove.
enum ImageBindings {
    static let functions: Modules.Functions = [
        ("list", list), ("get", get), ("init", initFn), ("remove", remove),
        ("pull", PullBindings.pull), ("login", PullBindings.login),
    ]

    static func runtime(_ lua: Lua) throws -> Runtime { try LuaHost.from(lua.L).runtime() }

    /// bocker.image.list() → { Image… } (oldest first)
    static let list: clua_swift_function = { L in
        binding(L) { lua in
            let images = try runtime(lua).store.listImages()
            lua_createtable(L, Int32(images.count), 0)
            for (i, img) in images.enumerated() {
                lua.pushObject(ImageObject(img), .image)
                lua_rawseti(L, -2, lua_Integer(i + 1))
            }
            return 1
        }
    }

    /// bocker.image.get(ref) → Image; raises not_found: "No image named 'x' exists".
    static let get: clua_swift_function = { L in
        binding(L) { lua in
            let ref = try lua.checkString(1, "bocker.image.get")
            lua.pushObject(ImageObject(try runtime(lua).store.image(ref)), .image)
            return 1
        }
    }

    /// bocker.image.init(dir [, {source = "…"}]) → Image made from the directory's content.
    static let initFn: clua_swift_function = { L in
        binding(L) { lua in
            let dir = try lua.checkString(1, "bocker.image.init")
            let opts = try lua.optionsTable(2, "bocker.image.init", keys: ["source"])
            let source = try opts.flatMap { try lua.optString($0, "source") } ?? FS.absolute(dir)
            let img = try runtime(lua).store.createImage(fromDirectory: dir, source: source)
            lua.pushObject(ImageObject(img), .image)
            return 1
        }
    }

    /// bocker.image.remove(ref [, {force = bool}]) → the removed image's id.
    static let remove: clua_swift_function = { L in
        binding(L) { lua in
            let ref: String
            if let obj = lua.object(1, .image, as: ImageObject.self) { ref = obj.rec.id }
            else { ref = try lua.checkString(1, "bocker.image.remove") }
            let opts = try lua.optionsTable(2, "bocker.image.remove", keys: ["force"])
            let force = try opts.flatMap { try lua.optBool($0, "force") } ?? false
            lua.push(try runtime(lua).removeImage(ref, force: force).id)
            return 1
        }
    }

    static func field(_ lua: Lua, _ img: ImageRecord, _ key: String) -> Bool {
        switch key {
        case "id": lua.push(img.id)
        case "source": lua.push(img.source)
        case "created": lua.push(.number(img.created))
        case "layers": lua.push(.strings(img.layers))
        case "digest": lua.push(.optional(img.digest))
        case "reference": lua.push(.optional(img.reference))
        case "config":
            lua.push(.table([
                ("env", img.config.env.map(LuaValue.strings) ?? .nil),
                ("entrypoint", img.config.entrypoint.map(LuaValue.strings) ?? .nil),
                ("cmd", img.config.cmd.map(LuaValue.strings) ?? .nil),
                ("workdir", .optional(img.config.workingDir)),
                ("user", .optional(img.config.user)),
            ]))
        case "remove": lua.push(function: remove)
        default: return false
        }
        return true
    }
}
