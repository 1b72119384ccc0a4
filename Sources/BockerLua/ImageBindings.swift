import CLua
import BockerCore
import BockerStore
import BockerRuntime

/// `bocker.image`: list, get, init (from a directory), remove, tag, pull, push. Images are
/// `bocker.Image` userdata with fields id, source, names, created, layers, config, digest,
/// manifest and the methods remove, tag and push.
enum ImageBindings {
    static let functions: Modules.Functions = [
        ("list", list), ("get", get), ("init", initFn), ("remove", remove),
        ("tag", tag), ("pull", PullBindings.pull), ("push", PullBindings.push), ("login", PullBindings.login), ("logout", PullBindings.logout),
        ("save", ArchiveBindings.save), ("load", ArchiveBindings.load), ("import", ArchiveBindings.importFn),
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

    /// The image argument i: an Image object's id, or a reference string.
    static func imageRef(_ lua: Lua, _ i: Int32, _ fn: String) throws -> String {
        if let obj = lua.object(i, .image, as: ImageObject.self) { return obj.rec.id }
        return try lua.checkString(i, fn)
    }

    /// bocker.image.tag(image, name) / image:tag(name) → the image (now also called name), the
    /// name in its recorded form ("myapp:latest").
    static let tag: clua_swift_function = { L in
        binding(L) { lua in
            let ref = try imageRef(lua, 1, "bocker.image.tag")
            let target = try lua.checkString(2, "bocker.image.tag")
            let (img, name) = try runtime(lua).tag(ref, as: target)
            lua.pushObject(ImageObject(img), .image)
            lua.push(name)
            return 2
        }
    }

    /// bocker.image.remove(ref [, {force = bool}]) → the image's id, and the name removed when
    /// the reference took away only one of the image's names (the image stays).
    static let remove: clua_swift_function = { L in
        binding(L) { lua in
            let ref = try imageRef(lua, 1, "bocker.image.remove")
            let opts = try lua.optionsTable(2, "bocker.image.remove", keys: ["force"])
            let force = try opts.flatMap { try lua.optBool($0, "force") } ?? false
            let r = try runtime(lua).removeImage(ref, force: force)
            lua.push(r.image.id)
            lua.push(.optional(r.untagged))
            return 2
        }
    }

    static func field(_ lua: Lua, _ img: ImageRecord, _ key: String) -> Bool {
        switch key {
        case "id": lua.push(img.id)
        case "source": lua.push(img.source)
        case "names": lua.push(.strings(img.names))
        case "manifest": lua.push(.optional(img.manifest))
        case "tag": lua.push(function: tag)
        case "push": lua.push(function: PullBindings.push)
        case "save": lua.push(function: ArchiveBindings.save)
        case "history": lua.push(function: ArchiveBindings.history)
        case "config_digest": lua.push(.optional(img.configDigest))
        case "created": lua.push(.number(img.created))
        case "layers": lua.push(.strings(img.layers))
        case "digest": lua.push(.optional(img.digest))
        case "reference": lua.push(.optional(img.reference))
        case "config": lua.push(configTable(img.config))
        case "author": lua.push(.optional(img.author))
        case "remove": lua.push(function: remove)
        default: return false
        }
        return true
    }

    /// image.config: the whole OCI config as `run` and `commit` see it (absent fields nil).
    static func configTable(_ c: ImageConfig) -> LuaValue {
        func strings(_ v: [String]?) -> LuaValue { v.map(LuaValue.strings) ?? .nil }
        var health = LuaValue.nil
        if let h = c.healthcheck {
            func seconds(_ ns: Int64?) -> LuaValue { ns.map { .number(Double($0) / 1e9) } ?? .nil }
            health = .table([("test", .strings(h.test)), ("interval", seconds(h.interval)), ("timeout", seconds(h.timeout)),
                             ("start_period", seconds(h.startPeriod)), ("start_interval", seconds(h.startInterval)),
                             ("retries", h.retries.map { .int($0) } ?? .nil)])
        }
        return .table([
            ("env", strings(c.env)), ("entrypoint", strings(c.entrypoint)), ("cmd", strings(c.cmd)),
            ("workdir", .optional(c.workingDir)), ("user", .optional(c.user)),
            ("exposed_ports", strings(c.exposedPorts)),
            ("labels", c.labels.map { l in .table(l.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }) } ?? .nil),
            ("volumes", strings(c.volumes)), ("stop_signal", .optional(c.stopSignal)), ("healthcheck", health),
            ("shell", strings(c.shell)), ("on_build", strings(c.onBuild)),
        ])
    }
}
