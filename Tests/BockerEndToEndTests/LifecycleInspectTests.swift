import Foundation
import Glibc
import Testing

@Suite("inspect, ps filters and formats, images --format json, system prune, logs -n/-t/-f")
struct LifecycleInspectTests {
    @Test("inspect: State, Config, HostConfig, Mounts and NetworkSettings of a running, then stopped container")
    func inspectRunning() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let id = try f.runDetached(["--name", "insp", "-e", "A=1", "-w", "/tmp", "-h", "myhost",
                                        "--restart", "on-failure:2", "-m", "64m", "-c", "300", "--pids-limit", "100",
                                        "-p", "18080:80", img, "sleep", "1000"])
            let (r, arr) = f.inspect([id])
            #expect(r.status == 0, "\(r)")
            let all = try #require(arr, "not a JSON array of objects: \(r)")
            try #require(all.count == 1, "\(r)")
            let o = all[0]
            #expect(lcString(o, "Id") == id, "\(o)")
            #expect(["insp", "/insp"].contains(lcString(o, "Name") ?? ""), "Name: \(o)")
            #expect(isRFC3339(lcString(o, "Created") ?? ""), "Created: \(o)")

            let st = try #require(o["State"] as? [String: Any], "State: \(o)")
            #expect(lcString(st, "Status") == "running", "\(st)")
            #expect(lcBool(st, "Running") == true, "\(st)")
            let pid = try #require(lcInt(st, "Pid"), "Pid: \(st)")
            #expect(Host.processes(inContainer: id).contains(pid_t(pid)), "Pid \(pid) is not in the container's cgroups")
            #expect(lcInt(st, "ExitCode") == 0, "\(st)")
            #expect(lcBool(st, "OOMKilled") == false, "\(st)")
            #expect(isRFC3339(lcString(st, "StartedAt") ?? ""), "StartedAt: \(st)")
            #expect(st.keys.contains("FinishedAt") && st.keys.contains("Error"), "\(st)")
            #expect(lcInt(st, "RestartCount") == 0, "\(st)")

            let cfg = try #require(o["Config"] as? [String: Any], "Config: \(o)")
            #expect([img, f.rootfs].contains(lcString(cfg, "Image") ?? ""), "Config.Image: \(cfg)")
            #expect(cfg["Cmd"] as? [String] == ["sleep", "1000"], "Config.Cmd: \(cfg)")
            #expect((cfg["Env"] as? [String])?.contains("A=1") == true, "Config.Env: \(cfg)")
            #expect(lcString(cfg, "WorkingDir") == "/tmp", "\(cfg)")
            #expect(lcString(cfg, "Hostname") == "myhost", "\(cfg)")
            for key in ["Entrypoint", "User"] { #expect(cfg.keys.contains(key), "Config.\(key) missing: \(cfg)") }

            let hc = try #require(o["HostConfig"] as? [String: Any], "HostConfig: \(o)")
            #expect(lcString(hc, "RestartPolicy", "Name") == "on-failure", "\(hc)")
            #expect(lcInt(hc, "RestartPolicy", "MaximumRetryCount") == 2, "\(hc)")
            #expect(lcInt(hc, "Memory") == 64 * 1024 * 1024, "\(hc)")
            #expect(lcInt(hc, "CpuShares") == 300, "\(hc)")
            #expect(lcInt(hc, "PidsLimit") == 100, "\(hc)")
            #expect(lcString(hc, "NetworkMode") == "bridge", "\(hc)")
            #expect(String(describing: hc["PortBindings"] ?? "").contains("18080"), "PortBindings: \(hc)")

            #expect((o["Mounts"] as? [Any])?.isEmpty == true, "Mounts of a container without volumes: \(o)")

            let ns = try #require(o["NetworkSettings"] as? [String: Any], "NetworkSettings: \(o)")
            let ip = lcString(ns, "IPAddress") ?? ""
            #expect(ip.hasPrefix("10.0.0.") && ip != "10.0.0.1", "IPAddress: \(ns)")
            #expect(lcString(ns, "Gateway") == "10.0.0.1", "\(ns)")
            #expect((lcString(ns, "MacAddress") ?? "").wholeMatch(of: #/02:42(:[0-9a-f]{2}){4}/#) != nil, "\(ns)")
            #expect(String(describing: ns["Ports"] ?? "").contains("18080"), "Ports: \(ns)")

            // Stopped: exited, not running, Pid 0, exit code and finish time recorded.
            let stop = f.run(["stop", "-t", "1", id])
            #expect(stop.status == 0, "\(stop)")
            let after = try f.inspectOne("insp")
            #expect(lcString(after, "State", "Status") == "exited", "\(after)")
            #expect(lcBool(after, "State", "Running") == false, "\(after)")
            #expect(lcInt(after, "State", "Pid") == 0, "\(after)")
            #expect(lcInt(after, "State", "ExitCode") == 137, "\(after)")
            #expect(isRFC3339(lcString(after, "State", "FinishedAt") ?? ""), "\(after)")
            _ = f.run(["rm", id])
            f.expectLifecycleClean(removed: [id])
        }
    }

    @Test("inspect of several containers, of a created one, and of an unknown one")
    func inspectSeveral() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let (r1, a) = f.runNew(["run", img, "sh", "-c", "exit 4"])
            #expect(r1.status == 4, "\(r1)")
            let exited = try #require(a)
            let created = try f.createContainer(image: img, cmd: ["true"])

            let (r, arr) = f.inspect([exited, created])
            #expect(r.status == 0, "\(r)")
            let all = try #require(arr, "\(r)")
            #expect(all.map { lcString($0, "Id") ?? "" } == [exited, created], "\(r)")
            if all.count == 2 {
                #expect(lcString(all[0], "State", "Status") == "exited", "\(all[0])")
                #expect(lcInt(all[0], "State", "ExitCode") == 4, "\(all[0])")
                #expect(lcString(all[1], "State", "Status") == "created", "\(all[1])")
                #expect(lcBool(all[1], "State", "Running") == false, "\(all[1])")
            }

            let unknown = f.run(["inspect", "ps_000000000000"])
            #expect(unknown.status == 1, "\(unknown)")
            #expect(unknown.stderrLines == ["No container named 'ps_000000000000' exists"], "\(unknown)")
            _ = f.run(["rm", exited, created])
            f.expectLifecycleClean(removed: [exited, created])
        }
    }

    @Test("ps: Up / Exited (N) … ago / Created, -q, --filter status=…, --format json")
    func psFiltersAndFormat() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let running = try f.runDetached(["--name", "runner", img, "sleep", "1000"])
            let (r, e) = f.runNew(["run", img, "sh", "-c", "exit 3"])
            #expect(r.status == 3, "\(r)")
            let exited = try #require(e)
            let created = try f.createContainer(image: img, cmd: ["true"])

            let ps = f.run(["ps"])
            #expect(ps.status == 0, "\(ps)")
            let header = try #require(ps.stdoutLines.first)
            #expect(fields(header).contains("NAMES"), "header: \(header)")
            let rRow = try #require(row(running, in: ps.stdout), "\(ps)")
            #expect(rRow.contains(" Up "), "\(rRow)")
            #expect(fields(rRow).last == "runner", "\(rRow)")
            let eRow = try #require(row(exited, in: ps.stdout), "\(ps)")
            #expect(eRow.contains(#/Exited \(3\) .+ ago/#), "\(eRow)")
            let cRow = try #require(row(created, in: ps.stdout), "\(ps)")
            #expect(cRow.contains("Created"), "\(cRow)")

            let q = f.run(["ps", "-q"])
            #expect(q.status == 0, "\(q)")
            #expect(Set(q.stdoutLines) == [running, exited, created] && q.stdoutLines.count == 3, "\(q)")

            for (status, id) in [("running", running), ("exited", exited), ("created", created)] {
                let fq = f.run(["ps", "-q", "--filter", "status=" + status])
                #expect(fq.status == 0, "\(fq)")
                #expect(fq.stdoutLines == [id], "--filter status=\(status): \(fq)")
                let table = f.run(["ps", "--filter", "status=" + status])
                #expect(table.stdoutLines.count == 2 && row(id, in: table.stdout) != nil, "--filter status=\(status): \(table)")
            }

            let json = f.run(["ps", "--format", "json"])
            #expect(json.status == 0, "\(json)")
            let objs = try #require(parseJSONLines(json.stdout), "not one JSON object per line: \(json)")
            #expect(objs.count == 3, "\(json)")
            for o in objs {
                for key in ["ID", "Names", "Image", "Command", "State", "Status"] {
                    #expect(o[key] != nil, "\(key) missing: \(o)")
                }
            }
            func obj(_ id: String) -> [String: Any]? { objs.first { lcString($0, "ID") == id } }
            let ro = try #require(obj(running), "\(json)")
            #expect(lcString(ro, "State") == "running", "\(ro)")
            #expect(lcString(ro, "Names") == "runner", "\(ro)")
            #expect((lcString(ro, "Status") ?? "").hasPrefix("Up"), "\(ro)")
            #expect((lcString(ro, "Command") ?? "").contains("sleep"), "\(ro)")
            let eo = try #require(obj(exited), "\(json)")
            #expect(lcString(eo, "State") == "exited", "\(eo)")
            #expect((lcString(eo, "Status") ?? "").hasPrefix("Exited (3)"), "\(eo)")
            let co = try #require(obj(created), "\(json)")
            #expect(lcString(co, "State") == "created", "\(co)")

            _ = f.run(["rm", "-f", running, exited, created])
            f.expectLifecycleClean(removed: [running, exited, created])
        }
    }

    @Test("images --format json: one object per line with ID and Source")
    func imagesJSON() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let (w, wid) = f.runNew(["run", img, "touch", "/x"])
            #expect(w.status == 0, "\(w)")
            let cid = try #require(wid)
            let c = f.run(["commit", cid, "mine"])
            let img2 = try #require(firstImageId(in: c.stdout), "\(c)")

            let r = f.run(["images", "--format", "json"])
            #expect(r.status == 0, "\(r)")
            let objs = try #require(parseJSONLines(r.stdout), "not one JSON object per line: \(r)")
            #expect(objs.count == 2, "\(r)")
            let first = objs.first { lcString($0, "ID") == img }
            #expect(first.flatMap { lcString($0, "Source") } == f.rootfs, "\(r)")
            let second = objs.first { lcString($0, "ID") == img2 }
            #expect(second.flatMap { lcString($0, "Source") } == "mine", "\(r)")
            _ = f.run(["rm", cid])
            f.expectLifecycleClean(removed: [cid])
        }
    }

    @Test("system prune -f: exited containers and unused user networks go; running ones and volumes stay")
    func systemPrune() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            #expect(f.run(["network", "create", "usednet"]).status == 0)
            #expect(f.run(["network", "create", "prunenet"]).status == 0)
            #expect(f.run(["volume", "create", "keepvol"]).status == 0)
            let running = try f.runDetached(["--network", "usednet", img, "sleep", "1000"])
            let (r, e) = f.runNew(["run", "-v", "keepvol:/data", img, "sh", "-c", "echo kept > /data/f; exit 1"])
            #expect(r.status == 1, "\(r)")
            let exited = try #require(e)

            let prune = f.run(["system", "prune", "-f"])
            #expect(prune.status == 0, "\(prune)")
            #expect(prune.stdout.contains(exited), "the removed container is not listed: \(prune)")
            #expect(!prune.stdout.contains(running), "\(prune)")
            #expect(prune.stdoutLines.contains { $0.hasPrefix("Total reclaimed space: ") }, "\(prune)")

            let ids = f.run(["ps", "-q"])
            #expect(ids.stdoutLines == [running], "\(ids)")
            #expect(lcBool(f.state(running), "Running") == true)
            let nets = f.run(["network", "ls", "-q"])
            #expect(nets.stdoutLines.contains("usednet"), "a network in use was pruned: \(nets)")
            #expect(nets.stdoutLines.contains("bridge"), "\(nets)")
            #expect(!nets.stdoutLines.contains("prunenet"), "an unused network was kept: \(nets)")
            let vols = f.run(["volume", "ls"])
            #expect(vols.stdoutLines.dropFirst().contains { fields($0).last == "keepvol" }, "a volume was pruned: \(vols)")
            let cat = f.run(["run", "--rm", "-v", "keepvol:/data", img, "cat", "/data/f"])
            #expect(cat.stdout == "kept\n", "\(cat)")

            _ = f.run(["rm", "-f", running])
            #expect(f.run(["network", "rm", "usednet"]).status == 0)
            f.expectLifecycleClean(removed: [running, exited])
        }
    }

    @Test("logs -n 2 gives the last two lines; -t prefixes RFC 3339 timestamps")
    func logsTailAndTimestamps() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let (r, rid) = f.runNew(["run", img, "sh", "-c", "for i in 1 2 3 4; do echo line$i; done"])
            #expect(r.status == 0, "\(r)")
            let id = try #require(rid)

            let tail = f.run(["logs", "-n", "2", id])
            #expect(tail.status == 0, "\(tail)")
            #expect(tail.stdout == "line3\nline4\n", "\(tail)")

            let ts = f.run(["logs", "-t", id])
            #expect(ts.status == 0, "\(ts)")
            #expect(ts.stdoutLines.count == 4, "\(ts)")
            for (i, line) in ts.stdoutLines.enumerated() {
                let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
                #expect(parts.count == 2 && isRFC3339(parts[0]), "not 'TIMESTAMP text': \(line)")
                #expect(parts.last == "line\(i + 1)", "\(line)")
            }

            let both = f.run(["logs", "-t", "-n", "2", id])
            #expect(both.stdoutLines.count == 2, "\(both)")
            #expect(both.stdoutLines.last?.hasSuffix(" line4") == true, "\(both)")
            _ = f.run(["rm", id])
            f.expectLifecycleClean(removed: [id])
        }
    }

    @Test("logs -f follows a running container until it exits")
    func logsFollow() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let id = try f.runDetached([img, "sh", "-c", "mkfifo /tmp/f; echo a; read x < /tmp/f; echo b"])
            let p = try f.start(["logs", "-f", id])
            let gotA = p.waitForStdout(containing: "a\n", timeout: 30)
            try #require(gotA, "logs -f never printed 'a': \(p.stdoutText) \(p.stderrText)")
            // The container is blocked on the fifo: logs -f must still be following.
            #expect(!p.reapIfExited(), "logs -f returned while the container was running: \(p.stdoutText)")

            // (The exec may be killed, 137, when the container ends first: its pid namespace dies.)
            let release = f.run(["exec", id, "sh", "-c", "echo go > /tmp/f"])
            #expect(release.status == 0 || release.status == 137, "\(release)")
            let r = p.finish(timeout: 30)
            #expect(r.status == 0 && !r.timedOut, "logs -f did not return after the container exited: \(r)")
            #expect(r.stdout == "a\nb\n", "\(r)")
            #expect(f.waitExit(id) == 0)

            // On an exited container, -f prints the log and returns.
            let again = f.run(["logs", "-f", id], timeout: 20)
            #expect(again.status == 0 && !again.timedOut, "\(again)")
            #expect(again.stdout == "a\nb\n", "\(again)")
            _ = f.run(["rm", id])
            f.expectLifecycleClean(removed: [id])
        }
    }
}
