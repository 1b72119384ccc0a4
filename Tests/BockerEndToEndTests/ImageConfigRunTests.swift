import Foundation
import Glibc
import Testing

private let hex64 = #/^[0-9a-f]{64}$/#

/// The anonymous (64-hex) volumes `volume ls` lists.
private func anonymousVolumes(_ f: BockerFixture) -> Set<String> {
    Set(f.run(["volume", "ls"]).stdoutLines.compactMap { $0.split(separator: " ").last.map(String.init) }
        .filter { $0.wholeMatch(of: hex64) != nil })
}

/// An image made from the busybox one by `commit -c` with these instructions.
private func imageWithChanges(_ f: BockerFixture, _ changes: [String], name: String) throws -> String {
    let img = try f.initImage()
    let (w, wid) = f.runNew(["run", img, "sh", "-c", "mkdir -p /data && echo from-image > /data/seed"])
    guard w.status == 0, let cid = wid else { throw FixtureError(description: "\(w)") }
    let c = f.run(["commit"] + changes.flatMap { ["-c", $0] } + [cid, name])
    guard c.status == 0 else { throw FixtureError(description: "commit: \(c)") }
    _ = f.run(["rm", cid])
    return name
}

/// The image config honoured at run: Volumes, StopSignal, ExposedPorts (-P), Labels.
@Suite("image config at run: volumes, stop signal, -P")
struct ImageConfigRunTests {
    @Test("an image VOLUME gets an anonymous volume: it keeps data across restarts, rm keeps it, rm -v and --rm remove it; a user mount wins")
    func anonymousVolume() throws {
        try BockerFixture.with { f in
            let img = try imageWithChanges(f, ["VOLUME /data"], name: "vol:1")
            let before = anonymousVolumes(f)
            let (r, rid) = f.runNew(["run", img, "sh", "-c", "echo kept >> /data/log; cat /data/log"])
            #expect(r.status == 0 && r.stdout == "kept\n", "\(r)")
            let id = try #require(rid)
            let made = anonymousVolumes(f).subtracting(before)
            #expect(made.count == 1, "\(made)")
            let vol = try #require(made.first)
            let obj = try #require(inspectObject(f, id))
            let mounts = obj["Mounts"] as? [[String: Any]] ?? []
            #expect(mounts.contains { $0["Name"] as? String == vol && $0["Destination"] as? String == "/data" && $0["Type"] as? String == "volume" }, "\(mounts)")
            #expect(((obj["Config"] as? [String: Any])?["Volumes"] as? [String: Any])?.keys.sorted() == ["/data"], "\(obj)")
            // The same volume on the next start: the data is still there.
            let again = f.run(["start", id])
            #expect(again.status == 0, "\(again)")
            #expect(f.run(["wait", id], timeout: 30).stdout == "0\n")
            let logs = f.run(["logs", id])
            #expect(logs.stdout == "kept\nkept\nkept\n", "\(logs)")
            // rm keeps it; rm -v of a second container removes that one's.
            #expect(f.run(["rm", id]).status == 0)
            #expect(anonymousVolumes(f).contains(vol), "rm without -v removed the volume")
            let (s, sid) = f.runNew(["run", img, "true"])
            #expect(s.status == 0, "\(s)")
            let second = anonymousVolumes(f).subtracting(before).subtracting([vol])
            #expect(second.count == 1, "\(second)")
            #expect(f.run(["rm", "-v", try #require(sid)]).status == 0)
            #expect(anonymousVolumes(f).subtracting(before) == [vol], "rm -v left \(second)")
            // --rm removes it too.
            let rm = f.run(["run", "--rm", img, "true"])
            #expect(rm.status == 0, "\(rm)")
            #expect(anonymousVolumes(f).subtracting(before) == [vol], "--rm left its volume")
            // A named volume on the same path wins: no anonymous one is made.
            let named = f.run(["run", "--rm", "-v", "mine:/data", img, "sh", "-c", "echo n > /data/n"])
            #expect(named.status == 0, "\(named)")
            #expect(anonymousVolumes(f).subtracting(before) == [vol])
            #expect(f.run(["volume", "rm", vol]).status == 0)
            #expect(f.run(["volume", "rm", "mine"]).status == 0)
        }
    }

    @Test("a new anonymous volume starts with the image's files at its path (deletions of upper layers honoured); a symlink in the image is never followed to the host", arguments: ["overlay", "copy"])
    func copyUp(driver: String) throws {
        try BockerFixture.with(driver: driver) { f in
            let secret = "HOSTSECRET-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
            let hostDir = f.tmp + "/hostdata"
            try Host.makeDirectory(hostDir)
            try Host.writeFile(hostDir + "/secret", secret + "\n")
            let base = try f.imageWith(name: "copyup") { dir in
                runTool(["mkdir", "-p", dir + "/data/sub"])
                try Host.writeFile(dir + "/data/a", "a\n")
                try Host.writeFile(dir + "/data/b", "b\n")
                try Host.writeFile(dir + "/data/sub/c", "c\n")
                runTool(["chown", "123:45", dir + "/data"])
                runTool(["chmod", "0750", dir + "/data"])
                runTool(["ln", "-s", hostDir, dir + "/link"])
            }
            // A later layer deletes /data/b and adds /data/d.
            let (w, wid) = f.runNew(["run", base, "sh", "-c", "rm /data/b; echo d > /data/d"])
            #expect(w.status == 0, "\(w)")
            #expect(f.run(["commit", "-c", "VOLUME /data /link", try #require(wid), "cu:1"]).status == 0)
            let before = anonymousVolumes(f)
            let c = f.run(["create", "cu:1", "true"])
            #expect(c.status == 0, "\(c)")
            let made = anonymousVolumes(f).subtracting(before)
            #expect(made.count == 2, "\(made)")
            var seen: [String: String] = [:]
            for v in made {
                let data = f.root + "/volumes/" + v + "/_data"
                let list = runTool(["find", data, "-mindepth", "1", "-printf", "%P %U:%G %m\\n"]).stdoutLines.sorted()
                var st = stat()
                lstat(data, &st)
                seen[v] = list.joined(separator: ",") + " root=\(st.st_uid):\(st.st_gid) \(String(st.st_mode & 0o7777, radix: 8))"
            }
            let leaked = runTool(["grep", "-rl", secret, f.root + "/volumes"])
            #expect(leaked.stdout.isEmpty, "host files copied into a volume: \(leaked.stdout)")
            let values = Set(seen.values)
            #expect(values.contains("a 0:0 644,d 0:0 644,sub 0:0 755,sub/c 0:0 644 root=123:45 750"), "\(seen)")
            #expect(values.contains { $0.hasPrefix(" root=") }, "the /link volume is not empty: \(seen)")
            _ = f.run(["rm", "-v", c.stdout.trimmingCharacters(in: .whitespacesAndNewlines)])
            #expect(anonymousVolumes(f) == before)
        }
    }

    @Test("stop sends the image's StopSignal; --stop-signal overrides it; --stop-timeout bounds the wait")
    func stopSignal() throws {
        try BockerFixture.with { f in
            let img = try imageWithChanges(f, ["STOPSIGNAL SIGUSR1"], name: "sig:1")
            let trap = "trap 'echo got USR1; exit 3' USR1; trap 'echo got HUP; exit 4' HUP; trap 'echo got TERM; exit 5' TERM; echo ready; while :; do sleep 0.1; done"
            let d = f.run(["run", "-d", img, "sh", "-c", trap])
            let id = d.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(d.status == 0, "\(d)")
            let obj = try #require(inspectObject(f, id))
            #expect((obj["Config"] as? [String: Any])?["StopSignal"] as? String == "SIGUSR1", "\(obj)")
            try #require(try waitForLog(f, id, "ready"))
            #expect(f.run(["stop", id], timeout: 30).status == 0)
            #expect(f.run(["logs", id]).stdoutLines.last == "got USR1")
            #expect(inspectExitCode(f, id) == 3)
            // restart stops with it too.
            #expect(f.run(["start", id]).status == 0)
            try #require(try waitForLog(f, id, "ready", times: 2))
            #expect(f.run(["restart", id], timeout: 30).status == 0)
            #expect(f.run(["logs", id]).stdoutLines.filter { $0 == "got USR1" }.count == 2, "\(f.run(["logs", id]))")
            _ = f.run(["rm", "-f", id])

            let o = f.run(["run", "-d", "--stop-signal", "HUP", img, "sh", "-c", trap])
            let oid = o.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            try #require(try waitForLog(f, oid, "ready"))
            #expect(f.run(["stop", oid], timeout: 30).status == 0)
            #expect(inspectExitCode(f, oid) == 4, "\(f.run(["logs", oid]))")
            _ = f.run(["rm", oid])

            // A container that ignores its stop signal is killed after --stop-timeout, not 10 s.
            let t = f.run(["run", "-d", "--stop-timeout", "1", img, "sh", "-c", "trap '' USR1; echo ready; while :; do sleep 0.1; done"])
            let tid = t.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            try #require(try waitForLog(f, tid, "ready"))
            var t0 = timespec(), t1 = timespec()
            clock_gettime(CLOCK_MONOTONIC, &t0)
            #expect(f.run(["stop", tid], timeout: 30).status == 0)
            clock_gettime(CLOCK_MONOTONIC, &t1)
            #expect(t1.tv_sec - t0.tv_sec < 6, "stop took \(t1.tv_sec - t0.tv_sec) s")
            #expect(inspectExitCode(f, tid) == 137)
            _ = f.run(["rm", tid])

            // kill with the stop signal is a stop: a restart policy does not bring it back.
            let lua = try f.writeFile("killstop.lua", """
                local c = bocker.container.create{ image = arg[1], restart = "always", network = "none",
                  cmd = { "sh", "-c", "trap 'exit 3' USR1; echo ready; while :; do sleep 0.1; done" } }
                c:start()
                c:wait_for{ log = "ready", timeout = 30 }
                c:kill("USR1")
                print(c:wait{ timeout = 20 }, c:refresh().restart_count)
                c:remove{ force = true }
                """)
            let ks = f.run(["script", lua, img], timeout: 60)
            #expect(ks.status == 0 && ks.stdout == "3\t0\n", "\(ks)")

            // systemd's STOPSIGNAL SIGRTMIN+3 is signal 37.
            let rt = f.run(["run", "-d", "--stop-signal", "SIGRTMIN+3", img, "sh", "-c", "trap 'exit 6' 37; echo ready; while :; do sleep 0.1; done"])
            let rtid = rt.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            try #require(try waitForLog(f, rtid, "ready"))
            #expect(f.run(["stop", rtid], timeout: 30).status == 0)
            #expect(inspectExitCode(f, rtid) == 6)
            _ = f.run(["rm", rtid])

            let bad = f.run(["run", "--stop-signal", "NOPE", img, "true"])
            #expect(bad.status == 125 && bad.allLines.count == 1 && bad.stderr.contains("NOPE"), "\(bad)")
        }
    }

    @Test("a project's down stops a service with its image's StopSignal")
    func projectDown() throws {
        try BockerFixture.with { f in
            let img = try imageWithChanges(f, ["STOPSIGNAL USR1"], name: "psig:1")
            let out = f.tmp + "/out"
            try Host.makeDirectory(out)
            let script = try f.writeFile("sigp.lua", """
                local project = require "bocker.project"
                local p = project.new { name = "sigp" }
                p:service "svc" {
                  image = os.getenv("SIG_IMAGE"), network = "none", volumes = { os.getenv("SIG_OUT") .. ":/out" },
                  command = "trap 'echo USR1 > /out/got; exit 0' USR1; trap 'echo TERM > /out/got; exit 0' TERM; echo ready; while :; do sleep 0.1; done",
                }
                return p:main(arg)
                """)
            let env = ["SIG_IMAGE": img, "SIG_OUT": out]
            let up = f.run(["script", script, "up"], env: env)
            #expect(up.status == 0, "\(up)")
            try #require(try waitForLog(f, "sigp-svc-1", "ready"))
            let down = f.run(["script", script, "down"], env: env, timeout: 60)
            #expect(down.status == 0, "\(down)")
            #expect(Host.readFile(out + "/got") == "USR1\n", "\(String(describing: Host.readFile(out + "/got")))")
        }
    }

    @Test("-P publishes the image's EXPOSE and --expose ports on free host ports; a request from the host reaches the container")
    func publishAll() throws {
        try NetworkFixture.with { n, f in
            let base = try n.makeImage(files: ["var/www/index.html": webPage])
            let (w, wid) = f.runNew(["run", "--network", "none", base, "true"])
            #expect(w.status == 0, "\(w)")
            let cid = try #require(wid)
            #expect(f.run(["commit", "-c", "EXPOSE 80", cid, "web:1"]).status == 0)
            let (server, id) = try n.startContainer("web:1", options: ["-P", "--expose", "81/udp"],
                                                    script: "httpd -p 80 -h /var/www; echo ready; read line; true")
            let obj = try #require(inspectObject(f, id))
            let ports = (obj["NetworkSettings"] as? [String: Any])?["Ports"] as? [String: [[String: String]]] ?? [:]
            #expect(Set(ports.keys) == ["80/tcp", "81/udp"], "\(ports)")
            let exposed = ((obj["Config"] as? [String: Any])?["ExposedPorts"] as? [String: Any])?.keys.sorted()
            #expect(exposed == ["80/tcp", "81/udp"], "\(String(describing: exposed))")
            let hostPort = try #require(ports["80/tcp"]?.first?["HostPort"].flatMap { Int($0) }, "\(ports)")
            #expect(hostPort >= 32768 && hostPort <= 60999, "\(hostPort)")
            let port = f.run(["port", id])
            #expect(port.stdoutLines.contains("80/tcp -> 0.0.0.0:\(hostPort)"), "\(port)")
            #expect(port.stdoutLines.contains { $0.hasPrefix("81/udp -> 0.0.0.0:") }, "\(port)")
            let got = n.httpGet("http://127.0.0.1:\(hostPort)/")
            #expect(got.status == 0 && got.stdout == webPage, "\(got)")
            let r = server.finish(timeout: 30)
            #expect(r.status == 0, "\(r)")
            // Without -P, EXPOSE alone publishes nothing.
            let (plain, pid) = try n.startContainer("web:1", script: "echo ready; read line; true")
            let pobj = try #require(inspectObject(f, pid))
            #expect(((pobj["NetworkSettings"] as? [String: Any])?["Ports"] as? [String: Any])?.isEmpty == true, "\(pobj)")
            _ = plain.finish(timeout: 30)
        }
    }

    @Test("Lua: create options stop_signal, stop_timeout, publish_all, expose; image.config and image.author")
    func luaAPI() throws {
        try BockerFixture.with { f in
            _ = try imageWithChanges(f, ["EXPOSE 8080 53/udp", "STOPSIGNAL QUIT", "LABEL a=b", "VOLUME /data",
                                         "HEALTHCHECK --interval=5s --timeout=2s --retries=4 CMD true", "ONBUILD RUN make"], name: "lua:1")
            let path = try f.writeFile("cfg.lua", """
                local img = bocker.image.get("lua:1")
                local c = img.config
                print(table.concat(c.exposed_ports, ","), c.stop_signal, c.labels.a, table.concat(c.volumes, ","))
                print(table.concat(c.healthcheck.test, " "), c.healthcheck.interval, c.healthcheck.timeout, c.healthcheck.retries)
                print(tostring(img.author), tostring(c.cmd), c.on_build[1])
                local ct = bocker.container.create{ image = "lua:1", cmd = { "true" }, network = "none",
                  stop_signal = "USR2", stop_timeout = 3, expose = { "9000-9001" }, publish_all = false }
                print(ct.stop_signal, table.concat(ct.exposed_ports, ","))
                local i = ct:inspect()
                print(i.Config.StopSignal, i.Config.StopTimeout, i.Config.Healthcheck.Test[1])
                ct:remove{ volumes = true }
                local ok, err = pcall(bocker.container.create, { image = "lua:1", stop_sigal = "X" })
                print(err.message)
                ok, err = pcall(bocker.container.create, { image = "lua:1", cmd = { "true" }, expose = { "http" } })
                print(err.message)
                local c2 = bocker.container.create{ image = "lua:1", cmd = { "true" }, network = "none" }
                local img2 = c2:commit("lua:2", { author = "me", message = "m", changes = { env = { "X=1" }, cmd = { "echo" } } })
                print(img2.author, table.concat(img2.config.env, ","), img2.config.cmd[1])
                ok, err = pcall(c2.commit, c2, "lua:3", { changes = { entrypont = { "x" } } })
                print(err.message)
                c2:remove{ volumes = true }
                """)
            let r = f.run(["script", path])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdoutLines.count == 9, "\(r)")
            guard r.stdoutLines.count == 9 else { return }
            #expect(r.stdoutLines[0] == "8080/tcp,53/udp\tQUIT\tb\t/data", "\(r)")
            #expect(r.stdoutLines[1] == "CMD-SHELL true\t5.0\t2.0\t4", "\(r)")
            #expect(r.stdoutLines[2] == "nil\tnil\tRUN make", "\(r)")
            #expect(r.stdoutLines[3] == "USR2\t8080/tcp,53/udp,9000/tcp,9001/tcp", "\(r)")
            #expect(r.stdoutLines[4] == "USR2\t3\tCMD-SHELL", "\(r)")
            #expect(r.stdoutLines[5].contains("unknown option 'stop_sigal'") && r.stdoutLines[5].contains("stop_signal"), "\(r)")
            #expect(r.stdoutLines[6].contains("http"), "\(r)")
            #expect(r.stdoutLines[7] == "me\tX=1\techo", "\(r)")
            #expect(r.stdoutLines[8].contains("entrypont") && r.stdoutLines[8].contains("'entrypoint'"), "\(r)")
        }
    }
}

/// Waits (bounded, on the log, without sleeping a fixed time) until `text` appeared `times` times.
func waitForLog(_ f: BockerFixture, _ id: String, _ text: String, times: Int = 1) throws -> Bool {
    let lua = try f.writeFile("waitlog-\(UInt32.random(in: 0...UInt32.max)).lua", """
        bocker.container.get(arg[1]):wait_for{ log = arg[2], times = tonumber(arg[3]), timeout = 30 }
        """)
    return f.run(["script", lua, id, text, String(times)], timeout: 40).status == 0
}

func inspectExitCode(_ f: BockerFixture, _ id: String) -> Int? {
    (inspectObject(f, id)?["State"] as? [String: Any])?["ExitCode"] as? Int
}
