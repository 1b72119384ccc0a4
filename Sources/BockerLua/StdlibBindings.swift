import CLua
import Glibc
import BockerCore
import BockerRegistry

/// The small standard library scripts get beside the container API: JSON both ways and the
/// file-system helpers orchestration scripts need (`bocker.json`, `bocker.fs`).
enum StdlibBindings {
    /// The light userdata that stands for JSON null in decoded values (`bocker.json.null`).
    nonisolated(unsafe) static var nullSentinel = 0

    /// Installs `bocker.json` (callable as before: `bocker.json(v)` encodes) and `bocker.fs`
    /// into the table at index `bocker`.
    static func install(_ lua: Lua, into bocker: Int32) {
        let L = lua.L
        lua_createtable(L, 0, 3)
        Modules.register(lua, into: lua_gettop(L), [("encode", HostBindings.json), ("decode", decode)])
        withUnsafeMutablePointer(to: &nullSentinel) { lua_pushlightuserdata(L, $0) }
        lua_setfield(L, -2, "null")
        lua_createtable(L, 0, 1)
        lua.push(function: callEncode)
        lua_setfield(L, -2, "__call")
        lua_setmetatable(L, -2)
        lua_setfield(L, bocker, "json")

        lua_createtable(L, 0, 8)
        Modules.register(lua, into: lua_gettop(L), [
            ("read", read), ("write", write), ("exists", exists), ("mkdir", mkdir),
            ("tempdir", tempdir), ("glob", glob), ("remove", remove), ("list", list), ("cwd", cwd),
        ])
        lua_setfield(L, bocker, "fs")

        lua_createtable(L, 0, 4)
        Modules.register(lua, into: lua_gettop(L), [
            ("debug", logDebug), ("info", logInfo), ("warn", logWarn), ("error", logError),
        ])
        lua_setfield(L, bocker, "log")
        Modules.register(lua, into: bocker, [("env", env), ("duration", duration)])

        lua_createtable(L, 0, 1)
        Modules.register(lua, into: lua_gettop(L), [("request", httpRequest)])
        lua_setfield(L, bocker, "http")
    }

    /// bocker.env(name [, default]) → the environment variable, or the default (nil) when unset
    /// or empty.
    static let env: clua_swift_function = { L in
        binding(L) { lua in
            let name = try lua.checkString(1, "bocker.env")
            if let v = getenv(name).flatMap({ String(validatingCString: $0) }), !v.isEmpty {
                lua.push(v)
            } else {
                lua_pushvalue(L, 2)
            }
            return 1
        }
    }

    /// bocker.duration(v) → seconds, for a number or Go's form ("1m30s", "500ms").
    static let duration: clua_swift_function = { L in
        binding(L) { lua in
            if lua.type(1) == LUA_TNUMBER {
                var ok: Int32 = 0
                let n = clua_tonumberx(L, 1, &ok)
                if n >= 0 && n.isFinite { lua.push(.number(n)); return 1 }
            }
            guard lua.type(1) == LUA_TSTRING, let s = lua.string(1), let v = Durations.parse(s) else {
                throw BockerError(.invalidArgument, "invalid duration '\(lua.string(1) ?? lua.typeName(1))': use seconds or a form such as 1m30s")
            }
            lua.push(.number(v))
            return 1
        }
    }

    /// bocker.http.request{url =, method = "GET"|"POST"|…, headers = {K = V}, body =, timeout = 30}
    /// → {status =, headers = {name = value} (lowercase names), body =}. Any status is an
    /// answer; no answer raises `io`, the time limit `timeout`.
    static let httpRequest: clua_swift_function = { L in
        binding(L) { lua in
            guard let t = try lua.optionsTable(1, "bocker.http.request", keys: ["url", "method", "headers", "body", "timeout"]),
                  let url = try lua.optString(t, "url") else {
                throw BockerError(.invalidArgument, "bocker.http.request needs {url = …}")
            }
            let r = try WebClient.request(url: url, method: try lua.optString(t, "method"),
                                          headers: try lua.optStringMap(t, "headers") ?? [:],
                                          body: try lua.optString(t, "body").map { Array($0.utf8) },
                                          timeout: try lua.optDuration(t, "timeout") ?? 30)
            var headers: [(String, LuaValue)] = []
            for (name, value) in r.headers where !headers.contains(where: { $0.0 == name }) { headers.append((name, .string(value))) }
            lua.push(.table([("status", .int(r.status)), ("headers", .table(headers))]))
            r.body.withUnsafeBufferPointer { b in
                b.baseAddress.map { lua_pushlstring(L, UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self), b.count) } ?? lua_pushstring(L, "")
            }
            lua_setfield(L, -2, "body")
            return 1
        }
    }

    static let levels = ["debug", "info", "warn", "error"]

    /// bocker.log.LEVEL(...): one line on stderr ("info: …", coloured on a terminal), when the
    /// level is at least $BOCKER_LOG_LEVEL (default info). Strings, numbers, booleans and nil
    /// are joined with spaces.
    static let logDebug: clua_swift_function = { L in StdlibBindings.log(L, 0) }
    static let logInfo: clua_swift_function = { L in StdlibBindings.log(L, 1) }
    static let logWarn: clua_swift_function = { L in StdlibBindings.log(L, 2) }
    static let logError: clua_swift_function = { L in StdlibBindings.log(L, 3) }

    static func log(_ L: OpaquePointer?, _ level: Int) -> Int32 {
        binding(L) { lua in
            let wanted = getenv("BOCKER_LOG_LEVEL").flatMap { String(validatingCString: $0) }.flatMap { levels.firstIndex(of: $0.lowercased()) } ?? 1
            guard level >= wanted else { return 0 }
            var parts: [String] = []
            let n = lua_gettop(lua.L)
            if n > 0 {
                for i in 1...n {
                    switch lua.type(i) {
                    case LUA_TNIL: parts.append("nil")
                    case LUA_TBOOLEAN: parts.append(lua_toboolean(lua.L, i) != 0 ? "true" : "false")
                    case LUA_TNUMBER, LUA_TSTRING:
                        lua_pushvalue(lua.L, i)   // tolstring converts a number in place: on a copy
                        parts.append(lua.string(-1) ?? "")
                        clua_pop(lua.L, 1)
                    default: parts.append("<\(lua.typeName(i))>")
                    }
                }
            }
            let colours = ["\u{1b}[2m", "\u{1b}[36m", "\u{1b}[33m", "\u{1b}[31m"]
            let tag = Glibc.isatty(2) == 1 ? colours[level] + levels[level] + "\u{1b}[0m" : levels[level]
            let line = tag + ": " + parts.joined(separator: " ") + "\n"
            Array(line.utf8).withUnsafeBytes { try? FS.writeAll(2, $0, what: "log") }
            return 0
        }
    }

    static func isNull(_ lua: Lua, _ i: Int32) -> Bool {
        lua_type(lua.L, i) == LUA_TLIGHTUSERDATA
            && withUnsafeMutablePointer(to: &nullSentinel) { lua_touserdata(lua.L, i) == UnsafeMutableRawPointer($0) }
    }

    /// bocker.json(v [, indent]): the table's __call (its first argument is the table itself).
    static let callEncode: clua_swift_function = { L in
        lua_rotate(L, 1, -1)   // the json table to the top…
        clua_pop(L, 1)         // …and gone
        return HostBindings.json(L)
    }

    /// bocker.json.decode(text) → value: objects and arrays as tables, null as bocker.json.null.
    static let decode: clua_swift_function = { L in
        binding(L) { lua in
            let text = try lua.checkString(1, "bocker.json.decode")
            let value: JSONValue
            do { value = try JSONValue.parse(Array(text.utf8)) } catch let e as BockerError {
                throw BockerError(.invalidArgument, "bocker.json.decode: \(e.message)")
            }
            try push(lua, value, depth: 0)
            return 1
        }
    }

    static func push(_ lua: Lua, _ v: JSONValue, depth: Int) throws {
        let L = lua.L
        guard depth < 200 else { throw BockerError(.invalidArgument, "bocker.json.decode: nested too deep") }
        switch v {
        case .null: withUnsafeMutablePointer(to: &nullSentinel) { lua_pushlightuserdata(L, $0) }
        case .bool(let b): lua.push(.bool(b))
        case .int(let i): lua.push(.int(i))
        case .number(let d): lua.push(.number(d))
        case .string(let s): lua.push(s)
        case .array(let a):
            lua_createtable(L, Int32(a.count), 0)
            for (k, e) in a.enumerated() {
                try push(lua, e, depth: depth + 1)
                lua_rawseti(L, -2, lua_Integer(k + 1))
            }
        case .object(let fields):
            lua_createtable(L, 0, Int32(fields.count))
            for (k, e) in fields {
                lua.push(k)
                try push(lua, e, depth: depth + 1)
                lua_rawset(L, -3)
            }
        }
    }

    // MARK: bocker.fs

    /// bocker.fs.read(path) → the file's contents.
    static let read: clua_swift_function = { L in
        binding(L) { lua in
            let path = try lua.checkString(1, "bocker.fs.read")
            lua.push(String(decoding: try FS.read(path), as: UTF8.self))
            return 1
        }
    }

    /// bocker.fs.write(path, text): replaces the file atomically (made if missing).
    static let write: clua_swift_function = { L in
        binding(L) { lua in
            let path = try lua.checkString(1, "bocker.fs.write")
            let text = try lua.checkString(2, "bocker.fs.write")
            try FS.writeAtomically(path, Array(text.utf8))
            return 0
        }
    }

    /// bocker.fs.cwd() → the absolute path of the current directory (getcwd; $PWD can be stale).
    static let cwd: clua_swift_function = { L in
        binding(L) { lua in
            guard let p = getcwd(nil, 0) else { throw BockerError.errno("bocker.fs.cwd: cannot read the current directory") }
            defer { free(p) }
            lua.push(String(cString: p))
            return 1
        }
    }

    /// bocker.fs.exists(path) → boolean (a dangling symlink does not exist).
    static let exists: clua_swift_function = { L in
        binding(L) { lua in
            lua.push(.bool(FS.exists(try lua.checkString(1, "bocker.fs.exists"))))
            return 1
        }
    }

    /// bocker.fs.mkdir(path): makes the directory and its parents (mkdir -p).
    static let mkdir: clua_swift_function = { L in
        binding(L) { lua in
            try FS.makeDirectories(try lua.checkString(1, "bocker.fs.mkdir"))
            return 0
        }
    }

    /// bocker.fs.remove(path): removes a file or a whole directory tree (rm -rf; not across
    /// file systems).
    static let remove: clua_swift_function = { L in
        binding(L) { lua in
            try FS.removeTree(try lua.checkString(1, "bocker.fs.remove"))
            return 0
        }
    }

    /// bocker.fs.tempdir([prefix]) → a new private directory under $TMPDIR or /tmp.
    static let tempdir: clua_swift_function = { L in
        binding(L) { lua in
            let prefix = lua.string(1) ?? "bocker"
            guard Identifier.isSafeComponent(prefix) else { throw BockerError(.invalidArgument, "bocker.fs.tempdir: bad prefix '\(prefix)'") }
            let base = getenv("TMPDIR").flatMap { String(validatingCString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
            var template = Array("\(base)/\(prefix)-XXXXXX".utf8CString)
            guard let p = mkdtemp(&template) else { throw BockerError.errno("bocker.fs.tempdir: cannot create a directory in \(base)") }
            lua.push(String(cString: p))
            return 1
        }
    }

    /// bocker.fs.glob(pattern) → sorted list of matching paths (shell rules: * ? [..]; no ~).
    static let glob: clua_swift_function = { L in
        binding(L) { lua in
            let pattern = try lua.checkString(1, "bocker.fs.glob")
            var g = glob_t()
            defer { globfree(&g) }
            let rc = Glibc.glob(pattern, 0, nil, &g)
            var out: [String] = []
            if rc == 0 {
                for i in 0..<Int(g.gl_pathc) { if let p = g.gl_pathv[i] { out.append(String(cString: p)) } }
            } else if rc != GLOB_NOMATCH {
                throw BockerError(.io, "bocker.fs.glob: cannot read '\(pattern)'")
            }
            lua.push(.strings(out.sorted()))
            return 1
        }
    }

    /// bocker.fs.list(dir) → the directory's entries sorted by name, each { name, type } with
    /// type "file", "dir", "link" (never followed) or "other" (fifo, socket, device).
    static let list: clua_swift_function = { L in
        binding(L) { lua in
            let dir = try lua.checkString(1, "bocker.fs.list")
            guard let d = opendir(dir) else { throw BockerError.errno("bocker.fs.list: cannot read '\(dir)'") }
            defer { closedir(d) }
            var entries: [(String, String)] = []
            while let ent = readdir(d) {
                var st = stat()
                let (name, rc) = withUnsafePointer(to: ent.pointee.d_name) {
                    $0.withMemoryRebound(to: CChar.self, capacity: 256) { p in
                        (String(validatingCString: p), fstatat(dirfd(d), p, &st, AT_SYMLINK_NOFOLLOW))
                    }
                }
                guard let name else { throw BockerError(.invalidArgument, "bocker.fs.list: '\(dir)' holds a name that is not UTF-8") }
                if name == "." || name == ".." { continue }
                guard rc == 0 else { throw BockerError.errno("bocker.fs.list: cannot stat '\(dir)/\(name)'") }
                let type: String
                switch st.st_mode & S_IFMT {
                case S_IFREG: type = "file"
                case S_IFDIR: type = "dir"
                case S_IFLNK: type = "link"
                default: type = "other"
                }
                entries.append((name, type))
            }
            entries.sort { Array($0.0.utf8).lexicographicallyPrecedes(Array($1.0.utf8)) }
            lua.push(.array(entries.map { .table([("name", .string($0.0)), ("type", .string($0.1))]) }))
            return 1
        }
    }
}
