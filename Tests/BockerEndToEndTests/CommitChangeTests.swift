import Foundation
import Glibc
import Testing

/// `skopeo` inside the fixture's network namespace, where the test registry is.
private func skopeo(_ f: BockerFixture, _ argv: [String]) -> RunResult {
    runTool(f.commandPrefix + ["skopeo"] + argv, timeout: 120)
}

private func json(_ text: String) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
}

/// `inspect ID` as a dictionary (the first object of the array).
func inspectObject(_ f: BockerFixture, _ id: String) -> [String: Any]? {
    let r = f.run(["inspect", id])
    guard r.status == 0, let v = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) else { return nil }
    return (v as? [[String: Any]])?.first ?? v as? [String: Any]
}

/// `commit --change`, `-m`, `-a`, `--pause`: the committed image's config, history and layer.
@Suite("commit: changes, message, author, pause")
struct CommitChangeTests {
    @Test("commit -c 'CMD [...]' -c 'ENV K=V' …: the new image runs that CMD with that ENV", arguments: ["overlay", "copy"])
    func changesApplied(driver: String) throws {
        try BockerFixture.with(driver: driver) { f in
            let img = try f.initImage()
            let (w, wid) = f.runNew(["run", img, "sh", "-c", "mkdir -p /srv/app && echo data > /srv/app/file"])
            #expect(w.status == 0, "\(w)")
            let cid = try #require(wid)
            let c = f.run(["commit", "-c", #"CMD ["sh","-c","echo hi $K $P; pwd; cat file"]"#, "-c", "ENV K=V",
                           "-c", "ENV P=${K}2 Q=\"two words\"", "-c", "WORKDIR /srv", "-c", "WORKDIR app",
                           "-c", "LABEL org.example.x=1 \"y z\"=2", "-c", "USER 0:0", "-c", "ONBUILD RUN make", cid, "app:1"])
            #expect(c.status == 0, "\(c)")
            let r = f.run(["run", "--rm", "app:1"])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdoutLines == ["hi V V2", "/srv/app", "data"], "\(r)")
            let env = f.run(["run", "--rm", "app:1", "sh", "-c", "echo \"$Q\""])
            #expect(env.stdout == "two words\n", "\(env)")
            // The labels are the container's (image labels under its own).
            let (l, lid) = f.runNew(["run", "--label", "y z=mine", "app:1", "true"])
            #expect(l.status == 0, "\(l)")
            let labels = inspectObject(f, try #require(lid)).flatMap { ($0["Config"] as? [String: Any])?["Labels"] as? [String: String] }
            #expect(labels == ["org.example.x": "1", "y z": "mine"], "\(String(describing: labels))")

            // ENTRYPOINT without CMD clears the old CMD (Docker's rule); the rest of the config stays.
            let e = f.run(["commit", "-c", #"ENTRYPOINT ["echo","entry"]"#, cid, "app:2"])
            #expect(e.status == 0, "\(e)")
            let er = f.run(["run", "--rm", "app:2"])
            #expect(er.stdout == "entry\n", "\(er)")
            let er2 = f.run(["run", "--rm", "app:2", "more"])
            #expect(er2.stdout == "entry more\n", "\(er2)")
        }
    }

    @Test("a refused instruction or a bad value: one line, nothing made")
    func refused() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let (_, wid) = f.runNew(["run", img, "true"])
            let cid = try #require(wid)
            let before = f.storeListing()
            for (change, word) in [("RUN echo x", "run is not a valid change command"), ("COPY a b", "copy is not a valid change command"),
                                   ("EXPOSE 99999", "99999"), ("STOPSIGNAL NOPE", "NOPE"), ("VOLUME data", "data"),
                                   ("ENV", "ENV"), ("HEALTHCHECK CMD", "HEALTHCHECK"), ("LABEL \"open=x", "double-quote"), ("FROM x", "from is not a valid change command"),
                                   ("HEALTHCHECK --bogus=1 CMD true", "bogus")] {
                let r = f.run(["commit", "-c", change, cid, "x:1"])
                #expect(r.status != 0, "\(change): \(r)")
                #expect(r.allLines.count == 1 && r.allLines.first?.contains(word) == true, "\(change): \(r)")
            }
            #expect(f.storeListing() == before, "a refused commit changed the store")
        }
    }

    @Test("-m and -a go into the OCI config's history and author; the pushed manifest has the base layers plus one diff layer", arguments: allDrivers)
    func historyAndDiffLayer(driver: String) throws {
        try BockerFixture.with(driver: driver) { f in
            try TestRegistry.with(f) { reg in
                let img = try f.initImage()
                let (w, wid) = f.runNew(["run", img, "sh", "-c", "rm /etc/os-release; echo new > /added"])
                #expect(w.status == 0, "\(w)")
                let cid = try #require(wid)
                let name = "\(reg.host)/c/committed:1"
                let c = f.run(["commit", "-m", "the message", "-a", "A. Author <a@example.org>",
                               "-c", "EXPOSE 8080", "-c", "STOPSIGNAL SIGQUIT", "-c", "VOLUME /data",
                               "-c", "HEALTHCHECK --interval=5s --retries=2 CMD [\"true\"]", cid, name])
                #expect(c.status == 0, "\(c)")
                let p = f.run(["push", name], timeout: 120)
                #expect(p.status == 0, "\(p)")

                let cfgText = skopeo(f, ["inspect", "--config", "--raw", "--tls-verify=false", "docker://" + name])
                let cfg = try #require(json(cfgText.stdout), "\(cfgText)")
                #expect(cfg["author"] as? String == "A. Author <a@example.org>", "\(cfgText.stdout)")
                let history = try #require(cfg["history"] as? [[String: Any]], "\(cfgText.stdout)")
                #expect(history.count == 2, "\(history)")
                #expect(history.last?["comment"] as? String == "the message", "\(history)")
                #expect(history.last?["author"] as? String == "A. Author <a@example.org>", "\(history)")
                #expect(history.last?["created_by"] as? String == "bocker commit", "\(history)")
                let config = try #require(cfg["config"] as? [String: Any])
                #expect((config["ExposedPorts"] as? [String: Any])?.keys.sorted() == ["8080/tcp"], "\(config)")
                #expect(config["StopSignal"] as? String == "SIGQUIT", "\(config)")
                #expect((config["Volumes"] as? [String: Any])?.keys.sorted() == ["/data"], "\(config)")
                let hc = config["Healthcheck"] as? [String: Any]
                #expect(hc?["Test"] as? [String] == ["CMD", "true"], "\(config)")
                #expect(hc?["Interval"] as? Int == 5_000_000_000 && hc?["Retries"] as? Int == 2, "\(config)")

                // Base layer + exactly one new layer, holding only the change and a whiteout.
                let dir = f.tmp + "/copied"
                let copy = skopeo(f, ["copy", "--src-tls-verify=false", "docker://" + name, "dir:" + dir])
                #expect(copy.status == 0, "\(copy)")
                let manifest = try #require(json(Host.readFile(dir + "/manifest.json") ?? ""))
                let layers = try #require(manifest["layers"] as? [[String: Any]])
                #expect(layers.count == 2, "\(layers)")
                let top = try #require((layers.last?["digest"] as? String)?.split(separator: ":").last.map(String.init))
                let list = runTool(["tar", "-tzf", dir + "/" + top])
                #expect(list.status == 0, "\(list)")
                let entries = Set(list.stdoutLines.map { $0.hasPrefix("./") ? String($0.dropFirst(2)) : $0 }.filter { !$0.isEmpty && $0 != "./" })
                #expect(entries.isSuperset(of: ["added", "etc/.wh.os-release"]), "\(entries)")
                #expect(entries.subtracting(["added", "etc/", "etc", "etc/.wh.os-release"]).isEmpty, "more than the change: \(entries)")
            }
        }
    }

    @Test("a container that swaps /etc for a symlink to a host directory: commit leaves the host's files alone", arguments: ["copy", "btrfs"])
    func placeholderSymlink(driver: String) throws {
        try BockerFixture.with(driver: driver) { f in
            let hostDir = f.tmp + "/hostetc"
            try Host.makeDirectory(hostDir)
            for n in ["hosts", "resolv.conf", "hostname"] { try Host.writeFile(hostDir + "/" + n, "") }
            // (overlay cannot rename a lower directory; the cumulative drivers can.)
            let img = try f.initImage()
            let (w, wid) = f.runNew(["run", img, "sh", "-c", "echo changed > /changed; mv /etc /etc.old && ln -s \(hostDir) /etc"])
            #expect(w.status == 0, "\(w)")
            let c = f.run(["commit", try #require(wid), "swapped:1"])
            #expect(c.status == 0, "\(c)")
            for n in ["hosts", "resolv.conf", "hostname"] {
                #expect(Host.readFile(hostDir + "/" + n) != nil, "commit removed the host's \(n)")
            }
            // The symlink is what was committed (the image cannot run: /etc is a symlink).
            let links = runTool(["find", f.root + "/layers", "-mindepth", "3", "-maxdepth", "3", "-name", "etc", "-type", "l"])
            #expect(!links.stdout.isEmpty, "\(links)")
        }
    }

    @Test("--pause (the default) freezes a running container while it is read; --pause=false does not")
    func pauseFreezes() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            for (args, expected) in [([String](), "FROZEN"), (["--pause=false"], "THAWED")] {
                let before = f.containerIds()
                let p = try f.start(["run", img, "sh", "-c", "trap 'exit 7' TERM; echo ready; while :; do sleep 1; done"])
                try #require(p.waitForStdout(containing: "ready", timeout: 30), "\(p.finish(timeout: 5))")
                let id = try #require(f.containerIds().subtracting(before).first)
                // Killed at the point where the layer is written: the state the commit left is
                // the state it was in while it read the files.
                let c = f.run(["commit"] + args + [id, "snap"], env: ["BOCKER_FAULT": "commit.layer"])
                #expect(c.status == 128 + SIGKILL, "\(c)")
                let dir = try #require(Host.cgroupDirectories(forContainer: id).first { $0.contains("/freezer/") })
                let state = Host.readFile(dir + "/freezer.state") ?? ""
                #expect(state.hasPrefix(expected), "commit \(args): \(state)")
                #expect(f.run(["stop", id], timeout: 30).status == 0)
                #expect(p.finish(timeout: 30).status == 7)
                _ = f.run(["rm", id])
            }
        }
    }

    @Test("--pause=false never copies host files through a directory swapped for a symlink", arguments: ["overlay", "copy"])
    func unpausedSymlinkSwap(driver: String) throws {
        try BockerFixture.with(driver: driver) { f in
            let probe = try f.compileProbe(named: "swap_loop")
            let img = try f.imageWith([probe: "/swap"])
            let secret = "HOSTSECRET-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
            let hostDir = f.tmp + "/hostdir"
            try Host.makeDirectory(hostDir)
            for i in 0..<200 { try Host.writeFile(hostDir + "/f\(i)", secret + "\n") }
            let before = f.containerIds()
            let p = try f.start(["run", img, "/swap", hostDir])
            try #require(p.waitForStdout(containing: "ready", timeout: 30), "\(p.finish(timeout: 5))")
            let id = try #require(f.containerIds().subtracting(before).first)
            var made = 0
            for n in 0..<15 {
                // It may fail (a path changed under the walk); it must never read the host's files.
                if f.run(["commit", "--pause=false", id, "snap\(n)"], timeout: 60).status == 0 { made += 1 }
            }
            let leaked = runTool(["grep", "-rl", secret, f.root + "/layers"])
            #expect(leaked.stdout.isEmpty, "host files were committed: \(leaked.stdout)")
            #expect(made > 0, "no unpaused commit succeeded")
            #expect(f.run(["rm", "-f", id]).status == 0)
            _ = p.finish(timeout: 30, eofGrace: 1)
        }
    }
}
