import CLua
import BockerCore
import BockerRuntime

/// `bocker.image.save`, `bocker.image.load`, `bocker.image.import`, `image:history()` and
/// `c:export()`: images and container filesystems as archives, for Lua.
enum ArchiveBindings {
    /// bocker.image.save(images, path [, {format = "docker-archive"|"oci-archive", tags = {…}}])
    /// / image:save(path [, opts]). images: an Image, a reference, or a list of them. path "-"
    /// is standard output. Names recorded: `tags` (one image only), else an Image's names, a
    /// reference's name (none for an id).
    static let save: clua_swift_function = { L in
        binding(L) { lua in
            let fn = "bocker.image.save"
            var items: [SaveItem] = []
            func item(_ i: Int32) throws -> SaveItem {
                if let obj = lua.object(i, .image, as: ImageObject.self) { return SaveItem(ref: obj.rec.id, tags: obj.rec.names) }
                guard let s = lua.string(i) else {
                    throw BockerError(.invalidArgument, "bad argument #1 to '\(fn)' (image, reference or list expected, got \(lua.typeName(i)))")
                }
                return SaveItem(ref: s)
            }
            if lua_type(L, 1) == LUA_TTABLE {
                let n = lua_rawlen(L, 1)
                for k in 0..<Int(n) {
                    lua_rawgeti(L, 1, lua_Integer(k + 1))
                    defer { clua_pop(L, 1) }
                    items.append(try item(-1))
                }
            } else {
                items.append(try item(1))
            }
            let path = try lua.checkString(2, fn)
            let opts = try lua.optionsTable(3, fn, keys: ["format", "tags"])
            var format = ImageArchiveFormat.dockerArchive
            if let f = try opts.flatMap({ try lua.optString($0, "format") }) {
                guard let v = ImageArchiveFormat(rawValue: f) else {
                    throw BockerError(.invalidArgument, "\(fn): format must be docker-archive or oci-archive, not '\(f)'")
                }
                format = v
            }
            if let tags = try opts.flatMap({ try lua.optStrings($0, "tags") }) {
                guard items.count == 1 else { throw BockerError(.invalidArgument, "\(fn): tags needs exactly one image") }
                items[0].tags = tags
            }
            try ImageBindings.runtime(lua).save(items, to: path, format: format)
            return 0
        }
    }

    /// bocker.image.load([path]) → { Image… }, { {names…}… }: the images of an archive (path
    /// nil or "-": standard input), and for each the names the archive gave it.
    static let load: clua_swift_function = { L in
        binding(L) { lua in
            let path = lua.isNil(1) ? "-" : try lua.checkString(1, "bocker.image.load")
            let loaded = try ImageBindings.runtime(lua).load(from: path)
            lua_createtable(L, Int32(loaded.count), 0)
            for (i, l) in loaded.enumerated() {
                lua.pushObject(ImageObject(l.image), .image)
                lua_rawseti(L, -2, lua_Integer(i + 1))
            }
            lua.push(.array(loaded.map { .strings($0.names) }))
            return 2
        }
    }

    /// bocker.image.import(path [, {ref = "name:tag", message = "…"}]) → Image: a one-layer
    /// image from a flat filesystem tar (path "-": standard input).
    static let importFn: clua_swift_function = { L in
        binding(L) { lua in
            let path = try lua.checkString(1, "bocker.image.import")
            let opts = try lua.optionsTable(2, "bocker.image.import", keys: ["ref", "message"])
            let ref = try opts.flatMap { try lua.optString($0, "ref") }
            let message = try opts.flatMap { try lua.optString($0, "message") }
            let img = try ImageBindings.runtime(lua).importImage(from: path, reference: ref, message: message)
            lua.pushObject(ImageObject(img), .image)
            return 1
        }
    }

    /// image:history() → { {created=, created_by=, comment=, empty_layer=}… } from the image's
    /// config (oldest first; empty when it has none).
    static let history: clua_swift_function = { L in
        binding(L) { lua in
            let ref = try ImageBindings.imageRef(lua, 1, "history")
            lua.push(.array(try ImageBindings.runtime(lua).history(ref).map(LuaValue.init)))
            return 1
        }
    }

    /// c:export(path): the container's filesystem as a flat tar (path "-": standard output).
    static let export: clua_swift_function = { L in
        binding(L) { lua in
            let id = try ContainerBindings.ref(lua, 1, "export")
            let path = try lua.checkString(2, "export")
            try ContainerBindings.runtime(lua).export(id, to: path)
            return 0
        }
    }
}
