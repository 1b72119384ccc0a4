import Foundation
import Glibc
import Testing

/// A tool inside the fixture's network namespace (where the test registry is).
private func tool(_ f: BockerFixture, _ argv: [String], timeout: Double = 120) -> RunResult {
    runTool(f.commandPrefix + argv, timeout: timeout)
}

/// `sh -c SCRIPT` with bocker as $B and the fixture's store (for pipes and redirections).
private func shell(_ f: BockerFixture, _ script: String, timeout: Double = 120) -> RunResult {
    runTool(f.commandPrefix + ["env", "BOCKER_ROOT=" + f.root, "BOCKER_DRIVER=" + f.driver, "B=" + BockerFixture.binary,
                               "sh", "-c", script], timeout: timeout)
}

private func json(_ text: String) -> Any? {
    try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
}

/// A Lua command (in BOCKER_SCRIPT_PATH) that uses the API directly: saves with explicit tags
/// and format, loads, and prints history.
private let apiCommand = """
    return {
      summary = "save/load through the Lua API",
      run = function(args)
        local img = bocker.image.get(args[1])
        img:save(args[2], { format = "oci-archive", tags = { "api/saved:7" } })
        local ok, err = pcall(img.save, img, args[2], { fromat = "oci-archive" })
        print("typo:", ok, err)
        local images, names = bocker.image.load(args[2])
        print("loaded:", #images, names[1][1], images[1].config_digest ~= nil)
        local h = images[1]:history()
        print("history:", #h, h[1] and h[1].created_by)
      end,
    }

    """

@Suite("save, load, export, import")
struct SaveLoadTests {
    @Test("save: skopeo and umoci read it, layers are the pushed blobs; rmi, load (file and stdin), run", arguments: allDrivers)
    func saveRoundTrip(driver: String) throws {
        try BockerFixture.with(driver: driver) { f in
            try TestRegistry.with(f) { reg in
                let id = try f.initImage()
                let name = "\(reg.host)/sl/app:1"
                #expect(f.run(["tag", id, name]).status == 0)
                let before = f.run(["run", "--rm", name, "sh", "-c", "ls /bin | head -3; echo ok"])
                #expect(before.status == 0, "\(before)")
                let p = f.run(["push", "-q", name], timeout: 120)
                #expect(p.status == 0, "\(p)")

                let archive = f.tmp + "/app.tar"
                let s = f.run(["save", "-o", archive, name], timeout: 120)
                #expect(s.status == 0 && s.stdout.isEmpty, "\(s)")
                // The archive's layers are the registry's blobs, byte for byte.
                let raw = tool(f, ["skopeo", "inspect", "--raw", "--tls-verify=false", "docker://" + name])
                let pushedLayers = ((json(raw.stdout) as? [String: Any])?["layers"] as? [[String: Any]])?.compactMap { $0["digest"] as? String } ?? []
                #expect(!pushedLayers.isEmpty, "\(raw)")
                let listing = runTool(["tar", "tf", archive]).stdoutLines
                for d in pushedLayers { #expect(listing.contains("blobs/sha256/" + d.dropFirst(7)), "\(d) not in \(listing)") }
                let manifest = runTool(["tar", "xOf", archive, "manifest.json"])
                #expect(manifest.stdout.contains("\"RepoTags\":[\"\(name)\"]"), "\(manifest)")

                // skopeo reads it as docker-archive and as an OCI archive (the same tar), and the
                // files it copies out are what init took in.
                let inspect = runTool(["skopeo", "inspect", "docker-archive:" + archive])
                #expect(inspect.status == 0 && inspect.stdout.contains("\"Architecture\": \"amd64\""), "\(inspect)")
                let inspectOCI = runTool(["skopeo", "inspect", "oci-archive:" + archive])
                #expect(inspectOCI.status == 0, "\(inspectOCI)")
                let oci = f.tmp + "/oci"
                let copy = runTool(["skopeo", "copy", "docker-archive:" + archive, "oci:" + oci + ":app"])
                #expect(copy.status == 0, "\(copy)")
                let unpack = runTool(["umoci", "unpack", "--image", oci + ":app", f.tmp + "/bundle"])
                #expect(unpack.status == 0, "\(unpack)")
                let diff = runTool(["diff", "-r", "--no-dereference", f.rootfs, f.tmp + "/bundle/rootfs"])
                #expect(diff.status == 0, "\(diff)")

                // Gone, loaded back, the same output; a second load adds nothing.
                #expect(f.run(["rmi", name]).status == 0)
                #expect(f.run(["rmi", id]).status == 0)
                #expect(Host.listDirectory(f.root + "/images").isEmpty)
                let l = f.run(["load", "-i", archive], timeout: 120)
                #expect(l.status == 0 && l.stdoutLines == ["Loaded image: \(name)"], "\(l)")
                let after = f.run(["run", "--rm", name, "sh", "-c", "ls /bin | head -3; echo ok"])
                #expect(after.status == 0 && after.stdout == before.stdout, "\(before)\n\(after)")
                let images = Host.listDirectory(f.root + "/images")
                let layers = Host.listDirectory(f.root + "/layers")
                let again = shell(f, "cat '\(archive)' | $B load")
                #expect(again.status == 0 && again.stdoutLines == ["Loaded image: \(name)"], "\(again)")
                #expect(Host.listDirectory(f.root + "/images") == images)
                #expect(Host.listDirectory(f.root + "/layers") == layers)
                // A loaded image pushes with the same manifest digest it had.
                let re = f.run(["push", name], timeout: 120)
                #expect(re.status == 0 && re.stdout.contains("Layer already exists"), "\(re)")

                // --format oci-archive, by id: an OCI layout with no manifest.json, loaded untagged.
                let ociTar = f.tmp + "/app-oci.tar"
                let so = f.run(["save", "--format", "oci-archive", "-o", ociTar, name])
                #expect(so.status == 0, "\(so)")
                #expect(!runTool(["tar", "tf", ociTar]).stdoutLines.contains("manifest.json"))
                let index = runTool(["tar", "xOf", ociTar, "index.json"])
                #expect(index.stdout.contains("\"org.opencontainers.image.ref.name\":\"1\""), "\(index)")
                #expect(runTool(["skopeo", "inspect", "oci-archive:" + ociTar]).status == 0)
            }
        }
    }

    @Test("load reads what skopeo writes (docker-archive, oci-archive; gzip, zstd and plain layers, whiteouts) and it runs")
    func loadSkopeoArchives() throws {
        try BockerFixture.with { f in
            try TestRegistry.with(f) { reg in
                // docker-archive cannot hold zstd layers: the OCI one gets the same image with one.
                for (tag, middle) in [("1", "gzip"), ("2", "zstd")] {
                    try reg.push("t/app:" + tag, ["--compression", "gzip", "--layer", busyboxLayer + ";f:etc/gone=x;d:data;f:data/old=o",
                                                  "--compression", middle, "--layer", "w:etc/gone;o:data;f:data/new=n",
                                                  "--compression", "none", "--layer", "f:srv/motd=hello from a layer\\n",
                                                  "--config-env", "GREETING=hi", "--workdir", "/srv",
                                                  "--cmd", #"["/bin/sh","-c","echo $GREETING from $(pwd); cat motd; ls /data; test -e /etc/gone && echo LEAK; true"]"#])
                }
                let src = "docker://\(reg.host)/t/app:1", src2 = "docker://\(reg.host)/t/app:2"
                let dockerTar = f.tmp + "/d.tar", ociTar = f.tmp + "/o.tar"
                let c1 = tool(f, ["skopeo", "copy", "--src-tls-verify=false", src, "docker-archive:" + dockerTar + ":skopeo/app:1"])
                #expect(c1.status == 0, "\(c1)")
                let c2 = tool(f, ["skopeo", "copy", "--src-tls-verify=false", src2, "oci-archive:" + ociTar + ":skopeo/app:2"])
                #expect(c2.status == 0, "\(c2)")
                let expected = "hi from /srv\nhello from a layer\nnew\n"

                let l1 = f.run(["load", "-i", dockerTar], timeout: 120)
                #expect(l1.status == 0 && l1.stdoutLines == ["Loaded image: skopeo/app:1"], "\(l1)")
                let r1 = f.run(["run", "--rm", "skopeo/app:1"])
                #expect(r1.status == 0 && r1.stdout == expected, "\(r1)")

                let l2 = shell(f, "$B load < '\(ociTar)'")
                #expect(l2.status == 0 && l2.stdoutLines == ["Loaded image: skopeo/app:2"], "\(l2)")
                let r2 = f.run(["run", "--rm", "skopeo/app:2"])
                #expect(r2.status == 0 && r2.stdout == expected, "\(r2)")
                // Same layers: shared, not made twice.
                #expect(Host.listDirectory(f.root + "/layers").count == 3, "\(Host.listDirectory(f.root + "/layers"))")

                // A gzip-compressed archive, quiet.
                #expect(runTool(["gzip", "-k", dockerTar]).status == 0)
                let l3 = f.run(["load", "-q", "-i", dockerTar + ".gz"], timeout: 120)
                #expect(l3.status == 0 && l3.stdout.isEmpty, "\(l3)")
            }
        }
    }

    @Test("a truncated, corrupted or hostile archive fails with one line and leaves nothing", arguments: allDrivers)
    func badArchives(driver: String) throws {
        try BockerFixture.with(driver: driver) { f in
            let id = try f.initImage()
            let good = f.tmp + "/good.tar"
            #expect(f.run(["save", "-o", good, id]).status == 0)
            #expect(f.run(["rmi", id]).status == 0)
            let empty = f.storeListing()
            let size = (try? FileManager.default.attributesOfItem(atPath: good)[.size] as? Int) ?? 0
            #expect(size > 100_000)

            var cases: [(String, String)] = []   // file, what the message must say
            let truncated = f.tmp + "/truncated.tar"
            #expect(runTool(["sh", "-c", "head -c \(size / 2) '\(good)' > '\(truncated)'"]).status == 0)
            cases.append((truncated, "Truncated"))
            // One flipped byte inside the (gzip) layer: a corrupt stream.
            let flipped = f.tmp + "/flipped.tar"
            #expect(runTool(["python3", "-c", """
                import sys
                b = bytearray(open(sys.argv[1], 'rb').read())
                i = b.find(b'\\x1f\\x8b\\x08')
                b[i + 4000] ^= 0xff
                open(sys.argv[2], 'wb').write(b)
                """, good, flipped]).status == 0)
            cases.append((flipped, "layer"))
            let notTar = try f.writeFile("garbage.tar", String(repeating: "not an archive\n", count: 100))
            cases.append((notTar, "not a valid tar archive"))
            // A layer whose content is not its config's diff_id (a valid tar, the wrong one),
            // and an outer entry that climbs out of the archive, which must not be written.
            let hostile = f.tmp + "/hostile.tar"
            let escape = f.tmp + "/escaped"
            let made = runTool(["python3", "-c", """
                import hashlib, io, json, sys, tarfile
                def add(t, name, data):
                    i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))
                layer = io.BytesIO()
                with tarfile.open(fileobj=layer, mode='w') as lt:
                    add(lt, 'bin/x', b'hello')
                layer = layer.getvalue()
                config = json.dumps({'architecture': 'amd64', 'os': 'linux', 'config': {},
                    'rootfs': {'type': 'layers', 'diff_ids': ['sha256:' + '0' * 64]}}).encode()
                with tarfile.open(sys.argv[1], 'w') as t:
                    add(t, '../../../..' + sys.argv[2], b'pwned')
                    add(t, 'l.tar', layer)
                    add(t, 'c.json', config)
                    add(t, 'manifest.json', json.dumps([{'Config': 'c.json', 'RepoTags': ['evil:1'], 'Layers': ['l.tar']}]).encode())
                """, hostile, escape])
            #expect(made.status == 0, "\(made)")
            cases.append((hostile, "diff_id mismatch"))
            // manifest.json naming a file the archive lacks.
            let missing = f.tmp + "/missing.tar"
            #expect(runTool(["sh", "-c", "cd '\(f.tmp)' && mkdir m && cd m && echo '[{\"Config\":\"c.json\",\"Layers\":[\"nope.tar\"]}]' > manifest.json && echo '{}' > c.json && tar cf '\(missing)' manifest.json c.json"]).status == 0)
            cases.append((missing, "does not contain it"))

            for (file, why) in cases {
                let r = f.run(["load", "-i", file], timeout: 60)
                #expect(r.status != 0, "\(file): \(r)")
                let lines = r.stderr.split(separator: "\n")
                #expect(lines.count == 1 && r.stderr.contains(file) && r.stderr.contains(why), "\(file): \(r)")
                #expect(f.storeListing() == empty, "\(file) left \(f.storeListing())")
            }
            #expect(!FileManager.default.fileExists(atPath: escape))
            // And the good one still loads.
            let ok = f.run(["load", "-i", good])
            #expect(ok.status == 0 && ok.stdout.hasPrefix("Loaded image ID: sha256:"), "\(ok)")
            // That id names the image (Docker's form), as does a start of it.
            let imageID = String(ok.stdout.dropFirst("Loaded image ID: ".count).prefix(71))
            let tagged = f.run(["tag", String(imageID.prefix(19)), "loaded:1"])
            #expect(tagged.status == 0, "\(tagged)")
            #expect(f.run(["run", "--rm", "loaded:1", "true"]).status == 0)
        }
    }

    @Test("kill -9 in the middle of a load or an import: no image, no layer, no blob; doing it again works")
    func killedLoadAndImport() throws {
        try BockerFixture.with { f in
            let id = try f.initImage()
            let archive = f.tmp + "/a.tar", flat = f.tmp + "/flat.tar"
            #expect(f.run(["save", "-o", archive, id]).status == 0)
            let (r0, cid) = f.runNew(["run", id, "true"])
            #expect(r0.status == 0, "\(r0)")
            #expect(f.run(["export", "-o", flat, try #require(cid)]).status == 0)
            #expect(f.run(["rm", try #require(cid)]).status == 0)
            #expect(f.run(["rmi", id]).status == 0)
            for (args, point) in [(["load", "-i", archive], "load.layer"), (["import", flat, "flat:1"], "import.layer")] {
                let r = f.run(args, env: ["BOCKER_FAULT": point], timeout: 120)
                #expect(r.status == 128 + SIGKILL, "\(r)")
                let images = f.run(["images", "-q"])
                #expect(images.status == 0 && images.stdout.isEmpty, "\(images)")
                #expect(Host.listDirectory(f.root + "/layers").isEmpty, "\(Host.listDirectory(f.root + "/layers"))")
                #expect(Host.listDirectory(f.root + "/blobs/sha256").isEmpty, "\(Host.listDirectory(f.root + "/blobs/sha256"))")
                #expect(Host.listDirectory(f.root + "/pending").isEmpty, "\(Host.listDirectory(f.root + "/pending"))")
                let again = f.run(args, timeout: 120)
                #expect(again.status == 0, "\(again)")
                let img = point == "import.layer" ? "flat:1" : String(again.stdout.dropFirst("Loaded image ID: ".count).prefix(71))
                let run = f.run(["run", "--rm", img, "echo", "ok"])
                #expect(run.status == 0 && run.stdout == "ok\n", "\(run)")
                let all = f.run(["images", "-q"]).stdoutLines
                for i in Set(all) { _ = f.run(["rmi", "-f", i]) }
            }
        }
    }

    @Test("export a changed container, import it (file and stdin), run it; save refuses a terminal", arguments: allDrivers)
    func exportImport(driver: String) throws {
        try BockerFixture.with(driver: driver) { f in
            let id = try f.initImage()
            let (r, cid) = f.runNew(["run", id, "sh", "-c", "echo changed > /new; rm /bin/pwd; mkdir -p /d/e; echo deep > /d/e/f"])
            #expect(r.status == 0, "\(r)")
            let c = try #require(cid)
            let flat = f.tmp + "/flat.tar"
            let e = f.run(["export", "-o", flat, c])
            #expect(e.status == 0 && e.stdout.isEmpty, "\(e)")
            let names = runTool(["tar", "tf", flat]).stdoutLines
            #expect(names.contains("new") && names.contains("bin/busybox") && !names.contains("bin/pwd"), "\(names)")
            #expect(!names.contains { $0.contains(".wh.") }, "\(names)")

            let i = f.run(["import", "-m", "flat copy", flat, "flat:1"])
            #expect(i.status == 0 && i.stdout.hasPrefix("Created: img_"), "\(i)")
            try f.writeFile("cmds/hist.lua", "return { run = function(a) for _, h in ipairs(bocker.image.get(a[1]):history()) do print(h.comment) end end }\n")
            let hist = f.run(["hist", "flat:1"], env: ["BOCKER_SCRIPT_PATH": f.tmp + "/cmds"])
            #expect(hist.status == 0 && hist.stdout == "flat copy\n", "\(hist)")
            let check = ["sh", "-c", "cat /new /d/e/f; test -e /bin/pwd && echo LEAK; ls /bin | wc -l"]
            let run1 = f.run(["run", "--rm", "flat:1"] + check)
            let orig = f.run(["run", "--rm", id, "sh", "-c", "ls /bin | wc -l"])
            let binCount = (Int(orig.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) - 1
            #expect(run1.status == 0 && run1.stdout == "changed\ndeep\n\(binCount)\n", "\(run1) \(orig)")

            let piped = shell(f, "$B export \(c) | $B import - flat:2")
            #expect(piped.status == 0 && piped.stdout.hasPrefix("Created: img_"), "\(piped)")
            let run2 = f.run(["run", "--rm", "flat:2"] + check)
            #expect(run2.status == 0 && run2.stdout == run1.stdout, "\(run2)")

            // A bad tar imports nothing.
            let listing = f.storeListing()
            let bad = try f.writeFile("bad.tar", String(repeating: "x", count: 5000))
            let ib = f.run(["import", bad])
            #expect(ib.status != 0 && ib.stderr.contains(bad), "\(ib)")
            #expect(f.storeListing() == listing)

            // Docker's refusal to write binary to a terminal (script gives bocker a pty).
            let tty = shell(f, "script -qec \"$B save flat:1\" /dev/null")
            #expect(tty.status != 0 && tty.stdout.contains("cowardly refusing to save to a terminal"), "\(tty)")
            let ttyExport = shell(f, "script -qec \"$B export \(c)\" /dev/null")
            #expect(ttyExport.status != 0 && ttyExport.stdout.contains("cowardly refusing"), "\(ttyExport)")
        }
    }

    @Test("export of a --userns=auto container: the owners it sees, not the host's mapped ids", arguments: allDrivers)
    func exportUserns(driver: String) throws {
        try BockerFixture.with(driver: driver) { f in
            let env = ["BOCKER_SUBUID_FILE": try f.writeFile("subuid", "bocker:3000000000:65536\n"),
                       "BOCKER_SUBGID_FILE": try f.writeFile("subgid", "bocker:3100000000:65536\n")]
            let id = try f.initImage()
            let (r, cid) = f.runNew(["run", "--userns=auto", id, "sh", "-c", "echo x > /own; mkdir /d; chown 5:6 /d"], env: env)
            #expect(r.status == 0, "\(r)")
            let flat = f.tmp + "/u.tar"
            let e = f.run(["export", "-o", flat, try #require(cid)], env: env)
            #expect(e.status == 0, "\(e)")
            let list = runTool(["tar", "tvf", flat, "--numeric-owner"]).stdoutLines
            let own = list.first { $0.hasSuffix(" own") }, d = list.first { $0.hasSuffix(" d/") }
            #expect(own?.contains(" 0/0 ") == true && d?.contains(" 5/6 ") == true, "\(list)")
        }
    }

    @Test("the Lua API: image:save with tags and format, strict options, bocker.image.load, image:history()")
    func luaAPI() throws {
        try BockerFixture.with { f in
            let id = try f.initImage()
            try f.writeFile("cmds/apitest.lua", apiCommand)
            let r = f.run(["apitest", id, f.tmp + "/api.tar"], env: ["BOCKER_SCRIPT_PATH": f.tmp + "/cmds"], timeout: 120)
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout.contains("typo:\tfalse\t") && r.stdout.contains("fromat"), "\(r)")
            #expect(r.stdout.contains("loaded:\t1\tapi/saved:7\ttrue"), "\(r)")
            #expect(r.stdout.contains("history:\t1\tbocker init "), "\(r)")
        }
    }
}
