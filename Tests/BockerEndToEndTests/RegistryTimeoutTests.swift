import Glibc
import Testing

/// `timeout` of bocker.image.pull and bocker.image.push against a registry front that stalls
/// (shim.py --mode stall): the call raises `timeout` about when it should, and leaves nothing
/// half-made (no layer, blob or temp file of the pull; no manifest of the push).
@Suite("registry timeouts")
struct RegistryTimeoutTests {
    @Test("pull{timeout=} raises timeout when a blob stalls, leaving the store as it was; without the stall it pulls")
    func pullTimeout() throws {
        try BockerFixture.with { f in
            try TestRegistry.with(f) { reg in
                try reg.push("t/app:1", ["--layer", busyboxLayer, "--layer", "f:data=some data"])
                let shim = runTool(f.commandPrefix + [TestRegistry.harness + "/registry.sh", "shim", reg.dir, "stall", "stall"])
                let port = try #require(shim.stdoutLines.first(where: { $0.hasPrefix("SHIM_PORT=") })?.dropFirst(10), "\(shim)")
                // Something in the store first, so that its folders exist either way.
                _ = try f.initImage()
                let before = f.storeListing()
                let script = try f.writeFile("pull.lua", """
                    local t0 = bocker.now()
                    local ok, err = pcall(bocker.image.pull, arg[1], { timeout = 2 })
                    print("ok=" .. tostring(ok) .. " code=" .. tostring(err.code))
                    print("message=" .. tostring(err.message))
                    print("quick=" .. tostring(bocker.now() - t0 < 15) .. " not-early=" .. tostring(bocker.now() - t0 >= 1.9))
                    """)
                let r = f.run(["script", script, "127.0.0.1:\(port)/t/app:1"], timeout: 60)
                #expect(r.status == 0, "\(r)")
                #expect(r.stdoutLines == ["ok=false code=timeout",
                                          "message=timed out after 2s pulling '127.0.0.1:\(port)/t/app:1'",
                                          "quick=true not-early=true"], "\(r)")
                let log = (try? String(contentsOfFile: reg.dir + "/shim-stall.log", encoding: .utf8)) ?? ""
                #expect(log.contains("\"stalled\": true"), "the shim never stalled a blob: \(log)")
                #expect(f.storeListing() == before, "the timed-out pull left something behind")
                // The same pull straight from the registry, with time enough, works.
                let ok = try f.writeFile("ok.lua", """
                    local img = bocker.image.pull(arg[1], { timeout = 60 })
                    print(img.id:sub(1, 4))
                    """)
                let good = f.run(["script", ok, "\(reg.host)/t/app:1"], timeout: 90)
                #expect(good.status == 0 && good.stdout == "img_\n", "\(good)")
            }
        }
    }

    @Test("push{timeout=} raises timeout when uploads stall, and no manifest is put")
    func pushTimeout() throws {
        try BockerFixture.with { f in
            try TestRegistry.with(f) { reg in
                let shim = runTool(f.commandPrefix + [TestRegistry.harness + "/registry.sh", "shim", reg.dir, "stall", "stall"])
                let port = try #require(shim.stdoutLines.first(where: { $0.hasPrefix("SHIM_PORT=") })?.dropFirst(10), "\(shim)")
                let id = try f.initImage()
                let viaShim = "127.0.0.1:\(port)/t/pushed:1"
                #expect(f.run(["tag", id, viaShim]).status == 0)
                let script = try f.writeFile("push.lua", """
                    local t0 = bocker.now()
                    local ok, err = pcall(bocker.image.push, arg[1], { timeout = "2s" })
                    print("ok=" .. tostring(ok) .. " code=" .. tostring(err.code))
                    print("message=" .. tostring(err.message))
                    print("quick=" .. tostring(bocker.now() - t0 < 15))
                    """)
                let r = f.run(["script", script, viaShim], timeout: 60)
                #expect(r.status == 0, "\(r)")
                #expect(r.stdoutLines == ["ok=false code=timeout", "message=timed out after 2s pushing '\(viaShim)'", "quick=true"], "\(r)")
                let log = (try? String(contentsOfFile: reg.dir + "/shim-stall.log", encoding: .utf8)) ?? ""
                #expect(log.contains("\"stalled\": true"), "the shim never stalled an upload: \(log)")
                // No manifest: the image is not there to pull.
                let pull = f.run(["pull", "\(reg.host)/t/pushed:1"], timeout: 60)
                #expect(pull.status != 0 && pull.stderrLines.count == 1, "\(pull)")
            }
        }
    }
}
