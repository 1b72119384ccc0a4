import Testing
import Glibc
import CLua
@testable import BockerLua
import BockerCore
import BockerScripts

/// The bundled scripts' build-time bytecode: what bocker loads is exactly what Lua compiles from
/// the text, it keeps chunk names and lines, and only the binary's own chunks may be binary.
@Suite("bundled scripts as bytecode")
struct BundledBytecodeTests {
    @Test("every bundled script's embedded bytecode is byte for byte what Lua compiles from its text")
    func bytecodeMatchesText() throws {
        let paths = BundledScripts.paths
        #expect(paths.count > 50, "\(paths.count) bundled scripts")
        var checked = 0
        for path in paths {
            let text = try #require(BundledScripts.text(path))
            let code = try #require(BundledScripts.bytecode(path), "no bytecode for \(path)")
            let source = Array(((text.hasPrefix("#") ? "--" : "") + text).utf8)
            var length = 0
            var error: UnsafeMutablePointer<CChar>?
            let compiled = try #require(clua_compile(source, source.count, "=bocker:" + path, &length, &error))
            defer { free(compiled) }
            let expected = Array(UnsafeRawBufferPointer(start: compiled, count: length))
            #expect(code == expected, "\(path): \(code.count) bytes embedded, \(expected.count) compiled")
            // And this Lua takes it (no silent fall back to compiling the text).
            let L = try #require(luaL_newstate())
            #expect(LuaHost.loadBundledBytecode(L, path), "\(path): bytecode refused")
            lua_close(L)
            checked += 1
        }
        #expect(checked == paths.count)
        // Bytecode holds every byte value somewhere; the literal's encoding must carry them.
        let all = Set(paths.flatMap { BundledScripts.bytecode($0) ?? [] })
        #expect(all.count == 256, "byte values seen across the bytecode: \(all.count)")
    }

    @Test("a bundled module loads from bytecode and still names its chunk and lines")
    func chunkNamesAndLines() throws {
        let f = try HostFixture()
        let r = f.eval("""
            local cli = require "bocker.cli"
            local info = debug.getinfo(cli.join, "S")
            local ok, err = pcall(cli.join, nil)
            return info.source .. "|" .. info.linedefined .. "|" .. tostring(err)
            """)
        #expect(r.ok, "\(r)")
        let text = try #require(BundledScripts.text("lib/bocker/cli.lua"))
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let defined = try #require(lines.firstIndex { $0.hasPrefix("function cli.join(") }) + 1
        #expect(r.value.hasPrefix("=bocker:lib/bocker/cli.lua|\(defined)|bocker:lib/bocker/cli.lua:"), "\(r.value)")
        #expect(r.value.contains("attempt to get length of a nil value"), "\(r.value)")
    }

    @Test("a user's command file or script holding bytecode is refused: only text is loaded from disk")
    func userBytecodeRefused() throws {
        let dir = "/tmp/bocker-luatest-cmds-\(getpid())"
        defer { try? FS.removeTree(dir) }
        let code = try #require(BundledScripts.bytecode("commands/version.lua"))
        try FS.makeDirectories(dir)
        try FS.writeAtomically(dir + "/sneaky.lua", code, durable: false)
        let f = try HostFixture(commandDirs: [dir])
        let src = try #require(f.host.findCommand("sneaky"))
        #expect(src.origin == "user")
        #expect(throws: BockerError.self) { try f.host.loadCommand(src) }
        do {
            try f.host.loadCommand(src)
        } catch {
            #expect("\(error)".contains("attempt to load a binary chunk"), "\(error)")
        }
        // The binary's own loader refuses text, so a script can never be taken for bytecode.
        let L = f.host.L
        let text = "return 1"
        #expect(clua_loadbytecode(L, text, text.utf8.count, "=t") != LUA_OK)
        clua_pop(L, 1)
    }
}
