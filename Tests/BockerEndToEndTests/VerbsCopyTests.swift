import Glibc
import Testing

/// `bocker cp` both ways, on running and stopped containers, with tar streams, and attacked
/// from inside the container with symlinks (planted, and swapped in a loop during the copy).
@Suite("Verbs: cp")
struct VerbsCopyTests {
    /// mode (permission bits), uid, gid and symlink target (nil for others) of a host path.
    static func meta(_ path: String) -> (mode: mode_t, uid: uid_t, gid: gid_t, link: String?)? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        var link: String? = nil
        if st.st_mode & S_IFMT == S_IFLNK {
            var buf = [CChar](repeating: 0, count: 4096)
            let n = readlink(path, &buf, buf.count - 1)
            if n >= 0 { buf[n] = 0; link = String(cString: buf) }
        }
        return (st.st_mode & 0o7777, st.st_uid, st.st_gid, link)
    }

    /// A host tree with odd modes and owners: tree/sub (0751), tree/sub/f (0640, 1234:5678,
    /// "hello"), tree/x (04755, 42:43), tree/link -> /etc/passwd.
    static func makeTree(_ f: BockerFixture) throws -> String {
        let t = f.tmp + "/tree"
        runTool(["mkdir", "-p", t + "/sub"])
        try Host.writeFile(t + "/sub/f", "hello\n", mode: 0o640)
        try Host.writeFile(t + "/x", "#!/bin/sh\n", mode: 0o755)
        chown(t + "/sub/f", 1234, 5678)
        chown(t + "/x", 42, 43)
        chmod(t + "/x", 0o4755)
        chmod(t + "/sub", 0o751)
        symlink("/etc/passwd", t + "/link")
        return t
    }

    @Test("cp host → container → host keeps modes (setuid too), symlinks and times; owners: root by default, kept with -a; running and stopped",
          arguments: ["overlay", "copy"])
    func bothWays(driver: String) throws {
        try BockerFixture.with(driver: driver) { f in
            let img = try f.initImage()
            let tree = try Self.makeTree(f)
            _ = f.run(["run", "-d", "--name", "live", img, "sleep", "60"])
            _ = f.run(["create", "--name", "idle", img, "true"])
            for c in ["live", "idle"] {
                let plain = f.run(["cp", tree, c + ":/copied"])
                #expect(plain.status == 0 && plain.stdout.isEmpty, "\(plain)")
                let keep = f.run(["cp", "-a", tree, c + ":/kept"])
                #expect(keep.status == 0, "\(keep)")
                let back = f.tmp + "/back-" + c
                #expect(f.run(["cp", c + ":/copied", back]).status == 0)
                #expect(f.run(["cp", c + ":/kept", back + "-a"]).status == 0)
                for (dir, owners) in [(back, false), (back + "-a", true)] {
                    let sub = Self.meta(dir + "/sub"), file = Self.meta(dir + "/sub/f"), x = Self.meta(dir + "/x")
                    #expect(sub?.mode == 0o751, "\(c) \(dir)/sub: \(String(describing: sub))")
                    #expect(file?.mode == 0o640, "\(c) \(dir)/sub/f: \(String(describing: file))")
                    #expect(x?.mode == 0o4755, "\(c) \(dir)/x: \(String(describing: x))")
                    #expect(Self.meta(dir + "/link")?.link == "/etc/passwd")
                    #expect(Host.readFile(dir + "/sub/f") == "hello\n")
                    if owners {
                        #expect(file?.uid == 1234 && file?.gid == 5678, "\(c) -a owner: \(String(describing: file))")
                        #expect(x?.uid == 42 && x?.gid == 43)
                    } else {
                        #expect(file?.uid == 0 && file?.gid == 0, "\(c) default owner: \(String(describing: file))")
                    }
                }
            }
            // The running container sees the files at once; the stopped one when it starts.
            let seen = f.run(["exec", "live", "cat", "/copied/sub/f"])
            #expect(seen.stdout == "hello\n", "\(seen)")
            _ = f.run(["create", "--name", "later", img, "cat", "/copied/sub/f"])
            #expect(f.run(["cp", tree, "later:/copied"]).status == 0)
            let started = f.run(["start", "-a", "later"])
            #expect(started.status == 0 && started.stdout == "hello\n", "\(started)")
            // Docker's naming rules: into an existing directory, as a new name, contents with /.
            #expect(f.run(["cp", tree + "/sub/f", "live:/tmp"]).status == 0)
            #expect(f.run(["cp", tree + "/sub/f", "live:/tmp/renamed"]).status == 0)
            #expect(f.run(["cp", tree + "/sub/.", "live:/tmp/contents"]).status == 0)
            let l = f.run(["exec", "live", "sh", "-c", "cat /tmp/f /tmp/renamed /tmp/contents/f"])
            #expect(l.stdout == "hello\nhello\nhello\n", "\(l)")
            #expect(f.run(["cp", "live:/copied/sub/f", f.tmp + "/one"]).status == 0)
            #expect(Host.readFile(f.tmp + "/one") == "hello\n")
            #expect(f.run(["cp", "live:/copied/sub/.", f.tmp + "/flat"]).status == 0)
            #expect(Host.readFile(f.tmp + "/flat/f") == "hello\n")
        }
    }

    @Test("'-': a tar stream out on stdout (the bind-mounted /etc/hosts too) and in from stdin")
    func tarStreams() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            _ = f.run(["run", "-d", "--name", "t", img, "sleep", "60"])
            let out = f.tmp + "/hosts.tar"
            let cp = f.run(["cp", "t:/etc/hosts", "-"])
            #expect(cp.status == 0 && !cp.stdout.isEmpty, "\(cp)")
            try Host.writeFile(out, cp.stdout)
            let list = runTool(["tar", "-tf", out])
            #expect(list.stdout == "hosts\n", "\(list)")
            let x = runTool(["tar", "-xOf", out])
            #expect(x.stdout.contains("localhost"), "\(x)")

            let tree = try Self.makeTree(f)
            let tarFile = f.tmp + "/in.tar"
            #expect(runTool(["tar", "-cf", tarFile, "-C", tree, "."]).status == 0)
            let env = f.environment()
            let p = runTool(["env", "-i"] + env + ["sh", "-c", "exec \"$@\" < \"$0\"", tarFile] + f.commandPrefix
                            + [BockerFixture.binary, "cp", "-a", "-", "t:/tmp"])
            #expect(p.status == 0, "\(p)")
            let ls = f.run(["exec", "t", "sh", "-c", "cat /tmp/sub/f; stat -c '%a %u:%g' /tmp/sub/f /tmp/x"])
            #expect(ls.stdout == "hello\n640 1234:5678\n4755 42:43\n", "\(ls)")
            let missing = f.run(["cp", "-", "t:/nope"], stdin: "")
            #expect(missing.status != 0 && missing.stderr.contains("/nope"), "\(missing)")
        }
    }

    @Test("bad input: one line naming the thing, non-zero, nothing made")
    func badInput() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            _ = f.run(["create", "--name", "c", img, "true"])
            for (args, words) in [(["cp", "c:/nonexistent", f.tmp + "/x"], "Could not find the file /nonexistent in container c"),
                                  (["cp", "c:/etc", "c:/tmp"], "between containers"),
                                  (["cp", f.tmp, f.tmp + "/y"], "CONTAINER:PATH"),
                                  (["cp", "c:/etc/passwd", f.tmp + "/no/such/dir/x"], "does not exist"),
                                  (["cp", "nosuch:/etc", f.tmp + "/z"], "nosuch")] {
                let r = f.run(args)
                #expect(r.status != 0 && r.stderrLines.count == 1 && r.stderr.contains(words), "\(args): \(r)")
            }
            #expect(!Host.exists(f.tmp + "/x") && !Host.exists(f.tmp + "/no"))
        }
    }

    @Test("a planted symlink to / or to a host path never leads out of the container, reading or writing")
    func plantedSymlinks() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let hostDir = f.tmp + "/hostdir"
            try Host.makeDirectory(hostDir)
            try Host.writeFile(hostDir + "/secret", "HOSTSECRET\n")
            _ = f.run(["run", "-d", "--name", "evil", img, "sleep", "60"])
            let plant = f.run(["exec", "evil", "sh", "-c", "ln -s / /up && ln -s \(hostDir) /hd && ln -s \(hostDir)/new /dangling && echo container-passwd > /tmp/marker"])
            #expect(plant.status == 0, "\(plant)")
            // Reading through the links: the container's own files or nothing.
            let viaRoot = f.run(["cp", "evil:/up/tmp/marker", f.tmp + "/m"])
            #expect(viaRoot.status == 0 && Host.readFile(f.tmp + "/m") == "container-passwd\n", "\(viaRoot)")
            let viaHost = f.run(["cp", "evil:/hd/secret", f.tmp + "/s"])
            #expect(viaHost.status != 0 && !Host.exists(f.tmp + "/s"), "\(viaHost)")
            let upEscape = f.run(["cp", "evil:/up/../../..\(hostDir)/secret", f.tmp + "/s2"])
            #expect(upEscape.status != 0 && !Host.exists(f.tmp + "/s2"), "\(upEscape)")
            // The link itself is copied as a link.
            #expect(f.run(["cp", "evil:/hd", f.tmp + "/link"]).status == 0)
            #expect(Self.meta(f.tmp + "/link")?.link == hostDir)
            // Writing through the links: into the container, never the host directory.
            try Host.writeFile(f.tmp + "/payload", "PAYLOAD\n")
            _ = f.run(["cp", f.tmp + "/payload", "evil:/hd/"])
            _ = f.run(["cp", f.tmp + "/payload", "evil:/up\(hostDir)/"])
            _ = f.run(["cp", f.tmp + "/payload", "evil:/dangling"])
            #expect(Host.listDirectory(hostDir) == ["secret"], "host directory changed: \(Host.listDirectory(hostDir))")
            let inside = f.run(["exec", "evil", "cat", "/dangling"])
            #expect(inside.stdout == "PAYLOAD\n", "the dangling link was not replaced inside: \(inside)")
            // A stopped container too (its root mounted only for the copy).
            _ = f.run(["stop", "-t", "0", "evil"])
            let stopped = f.run(["cp", "evil:/hd/secret", f.tmp + "/s3"])
            #expect(stopped.status != 0 && !Host.exists(f.tmp + "/s3"), "\(stopped)")
            _ = f.run(["cp", f.tmp + "/payload", "evil:/hd/"])
            #expect(Host.listDirectory(hostDir) == ["secret"])
        }
    }

    @Test("a directory swapped for a symlink to a host directory in a loop during cp: no host file is read or written",
          arguments: ["overlay", "copy"])
    func swapRace(driver: String) throws {
        try BockerFixture.with(driver: driver) { f in
            let probe = try f.compileProbe(named: "swap_loop")
            let img = try f.imageWith([probe: "/swap"])
            let secret = "HOSTSECRET-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
            let hostDir = f.tmp + "/hostdir"
            try Host.makeDirectory(hostDir)
            for i in 0..<200 { try Host.writeFile(hostDir + "/f\(i)", secret + "\n") }
            try Host.makeDirectory(hostDir + "/sub")
            let before = f.containerIds()
            let p = try f.start(["run", img, "/swap", hostDir])
            try #require(p.waitForStdout(containing: "ready", timeout: 30), "\(p.finish(timeout: 5))")
            let id = try #require(f.containerIds().subtracting(before).first)
            try Host.writeFile(f.tmp + "/payload", "PAYLOAD\n")
            var copied = 0
            for n in 0..<25 {
                let out = f.tmp + "/out\(n)"
                if f.run(["cp", id + ":/d", out], timeout: 60).status == 0 { copied += 1 }
                _ = f.run(["cp", id + ":/d/f7", out + "-file"], timeout: 60)
                _ = f.run(["cp", f.tmp + "/payload", id + ":/d/sub/"], timeout: 60)
                _ = f.run(["cp", f.tmp + "/payload", id + ":/d/planted\(n)"], timeout: 60)
            }
            #expect(copied > 0, "no copy of /d ever worked")
            // Only regular files count (a copied symlink is the container's link, not a read).
            let leaked = runTool(["sh", "-c", "find \"$0\" -maxdepth 3 -path \"$0/out*\" -type f -exec grep -l \"$1\" {} +", f.tmp, secret])
            #expect(leaked.stdout.isEmpty, "host files were copied out: \(leaked.stdout)")
            let written = Host.listDirectory(hostDir).filter { $0.hasPrefix("planted") || $0 == "payload" }
                + Host.listDirectory(hostDir + "/sub")
            #expect(written.isEmpty, "files were written into the host directory: \(written)")
            #expect(f.run(["rm", "-f", id]).status == 0)
            _ = p.finish(timeout: 30, eofGrace: 1)
        }
    }
}
