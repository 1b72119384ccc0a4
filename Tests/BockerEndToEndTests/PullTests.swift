import Glibc
import Testing

/// A registry (Debian's docker-registry, via scripts/dev/registry/registry.sh) running inside
/// the fixture's own network namespace, on its 127.0.0.1: bocker reaches it there and nothing
/// leaves the namespace. Stopped (by the pids the harness recorded) whatever happens.
final class TestRegistry {
    let f: BockerFixture
    let dir: String
    let port: String
    var host: String { "127.0.0.1:\(port)" }
    static var harness: String { BockerFixture.packageRoot + "/scripts/dev/registry" }

    init(_ f: BockerFixture, auth: String = "none") throws {
        self.f = f
        dir = f.tmp + "/registry"
        let r = runTool(f.commandPrefix + [TestRegistry.harness + "/registry.sh", "start", dir, "--auth", auth,
                                           "--watch", String(getpid())], timeout: 60)
        guard r.status == 0, let p = r.stdoutLines.first(where: { $0.hasPrefix("PORT=") }) else {
            throw FixtureError(description: "registry.sh start failed: \(r)")
        }
        port = String(p.dropFirst("PORT=".count))
    }

    func stop() { _ = runTool([TestRegistry.harness + "/registry.sh", "stop", dir], timeout: 60) }

    /// Writes an OCI layout with make-image.py and pushes it as REPO:TAG; returns the summary JSON text.
    @discardableResult
    func push(_ repo: String, _ args: [String], v2s2: Bool = false) throws -> String {
        let layout = f.tmp + "/layout-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let made = runTool(["python3", TestRegistry.harness + "/make-image.py", layout, "--tag", "latest"] + args, timeout: 120)
        guard made.status == 0 else { throw FixtureError(description: "make-image.py failed: \(made)") }
        let pushed = runTool(f.commandPrefix + [TestRegistry.harness + "/registry.sh", "push", dir, layout + ":latest", repo]
                             + (v2s2 ? ["--v2s2"] : []), timeout: 120)
        guard pushed.status == 0 else { throw FixtureError(description: "registry.sh push failed: \(pushed)") }
        return made.stdout
    }

    static func with(_ f: BockerFixture, auth: String = "none", _ body: (TestRegistry) throws -> Void) throws {
        let r = try TestRegistry(f, auth: auth)
        defer { r.stop() }
        try body(r)
    }
}

/// A busybox root as make-image.py entries: the binary and the applets the tests use.
let busyboxLayer = "c:bin/busybox=/bin/busybox;" + ["sh", "echo", "cat", "ls", "pwd", "test", "id", "env"]
    .map { "l:bin/\($0)->busybox" }.joined(separator: ";")

@Suite("pull from a registry")
struct PullTests {
    @Test("pull NAME TAG (the original's form) and run the image's default command from its config", arguments: allDrivers)
    func pullAndRunDefault(driver: String) throws {
        try BockerFixture.with(driver: driver) { f in
            try TestRegistry.with(f) { reg in
                try reg.push("tools/hello:1", ["--compression", "gzip", "--layer", busyboxLayer,
                                               "--compression", "zstd", "--layer", "f:srv/motd=hello from a layer\\n",
                                               "--config-env", "GREETING=hi", "--workdir", "/srv",
                                               "--cmd", #"["/bin/sh","-c","echo $GREETING from $(pwd); cat motd"]"#])
                let name = "\(reg.host)/tools/hello"
                let p = f.run(["pull", name, "1"], timeout: 120)
                #expect(p.status == 0, "\(p)")
                let img = try #require(p.stdoutLines.last, "\(p)")
                #expect(img.hasPrefix("Created: img_"), "\(p)")
                #expect(p.stdout.contains("Digest: sha256:"), "\(p)")
                let images = f.run(["images"])
                #expect(images.stdout.contains("\(name):1"), "\(images)")
                let r = f.run(["run", "--rm", "\(name):1"])
                #expect(r.status == 0 && r.stdout == "hi from /srv\nhello from a layer\n", "\(r)")
                // Pulling again downloads nothing.
                let again = f.run(["pull", "\(name):1"], timeout: 60)
                #expect(again.status == 0 && again.stdout.contains("Image is up to date"), "\(again)")
            }
        }
    }

    @Test("Docker schema 2, uncompressed layers, whiteouts and an opaque directory")
    func whiteoutsAndFormats() throws {
        try BockerFixture.with { f in
            try TestRegistry.with(f) { reg in
                try reg.push("w/img:v2", ["--layer", busyboxLayer + ";f:etc/gone=x;f:etc/kept=k;d:data;f:data/old=o",
                                          "--layer", "w:etc/gone;o:data;f:data/new=n"], v2s2: true)
                try reg.push("w/img:plain", ["--compression", "none", "--layer", busyboxLayer + ";f:etc/a=a",
                                             "--layer", "w:etc/a;f:etc/b=b"])
                for tag in ["v2", "plain"] {
                    let ref = "\(reg.host)/w/img:\(tag)"
                    let p = f.run(["pull", "-q", ref], timeout: 120)
                    #expect(p.status == 0, "\(p)")
                }
                let r = f.run(["run", "--rm", "\(reg.host)/w/img:v2", "sh", "-c", "ls /etc /data; test -e /etc/gone && echo LEAK; true"])
                #expect(r.status == 0, "\(r)")
                #expect(r.stdout.contains("kept") && r.stdout.contains("new") && !r.stdout.contains("old") && !r.stdout.contains("LEAK"), "\(r)")
                let u = f.run(["run", "--rm", "\(reg.host)/w/img:plain", "ls", "/etc"])
                #expect(u.status == 0 && u.stdout.contains("b") && !u.stdoutLines.contains("a"), "\(u)")
            }
        }
    }

    @Test("a second image on the same base downloads only its own layer")
    func sharedBase() throws {
        try BockerFixture.with { f in
            try TestRegistry.with(f) { reg in
                try reg.push("s/a:1", ["--layer", busyboxLayer, "--layer", "f:a=a"])
                try reg.push("s/b:1", ["--layer", busyboxLayer, "--layer", "f:b=b"])
                let a = f.run(["pull", "\(reg.host)/s/a:1"], timeout: 120)
                #expect(a.status == 0, "\(a)")
                let layers = Host.listDirectory(f.root + "/layers").count
                let b = f.run(["pull", "\(reg.host)/s/b:1"], timeout: 120)
                #expect(b.status == 0 && b.stdout.contains("Already exists"), "\(b)")
                #expect(Host.listDirectory(f.root + "/layers").count == layers + 1)
                let rmi = f.run(["rmi", "\(reg.host)/s/a:1"])
                #expect(rmi.status == 0, "\(rmi)")
                let run = f.run(["run", "--rm", "\(reg.host)/s/b:1", "cat", "/b"])
                #expect(run.status == 0 && run.stdout == "b", "\(run)")
            }
        }
    }

    @Test("a multi-platform index: this machine's platform, or --platform; attestations skipped")
    func platforms() throws {
        try BockerFixture.with { f in
            try TestRegistry.with(f) { reg in
                try reg.push("m/multi:1", ["--platform", "linux/amd64", "--index-with", "linux/arm64/v8", "--attestation",
                                           "--layer", busyboxLayer + ";f:arch=any"])
                let p = f.run(["pull", "\(reg.host)/m/multi:1"], timeout: 120)
                #expect(p.status == 0, "\(p)")
                let arm = f.run(["pull", "--platform", "linux/arm64/v8", "-q", "\(reg.host)/m/multi:1"], timeout: 120)
                #expect(arm.status == 0, "\(arm)")
                let none = f.run(["pull", "--platform", "linux/s390x", "\(reg.host)/m/multi:1"], timeout: 60)
                #expect(none.status != 0 && none.allLines.count <= 2, "\(none)")
            }
        }
    }

    @Test("unknown image: one line, exit 1, nothing stored")
    func notFound() throws {
        try BockerFixture.with { f in
            try TestRegistry.with(f) { reg in
                let p = f.run(["pull", "\(reg.host)/nope/nothing:1"], timeout: 60)
                #expect(p.status != 0, "\(p)")
                #expect(p.stderrLines.last == "No image named '\(reg.host)/nope/nothing:1' exists", "\(p)")
                #expect(Host.listDirectory(f.root + "/images").isEmpty)
                #expect(Host.listDirectory(f.root + "/layers").isEmpty)
            }
        }
    }

    @Test("Basic auth: refused without credentials, works after bocker login")
    func basicAuth() throws {
        try BockerFixture.with { f in
            try TestRegistry.with(f, auth: "basic") { reg in
                try reg.push("p/private:1", ["--layer", busyboxLayer])
                let home = f.tmp + "/home"
                let denied = f.run(["pull", "\(reg.host)/p/private:1"], env: ["HOME": home], timeout: 60)
                #expect(denied.status != 0 && denied.stderr.contains("unauthorized"), "\(denied)")
                let login = f.run(["login", reg.host, "-u", "testuser", "-p", "testpass"], env: ["HOME": home])
                #expect(login.status == 0, "\(login)")
                let ok = f.run(["pull", "\(reg.host)/p/private:1"], env: ["HOME": home], timeout: 120)
                #expect(ok.status == 0, "\(ok)")
            }
        }
    }

    @Test("a layer that tries to write outside its root is refused and harms nothing")
    func maliciousLayer() throws {
        try BockerFixture.with { f in
            try TestRegistry.with(f) { reg in
                let sentinel = f.tmp + "/sentinel"
                try Host.writeFile(sentinel, "untouched\n")
                // make-image.py writes what it is told: a symlink out of the root, then a write through it.
                try reg.push("evil/img:1", ["--layer", busyboxLayer + ";l:escape->\(f.tmp);f:escape/sentinel=owned"])
                let p = f.run(["pull", "\(reg.host)/evil/img:1"], timeout: 120)
                #expect(Host.readFile(sentinel) == "untouched\n")
                if p.status == 0 {
                    // Contained: the write landed inside the image, not on the host.
                    let r = f.run(["run", "--rm", "\(reg.host)/evil/img:1", "cat", "\(f.tmp)/sentinel"])
                    #expect(r.stdout == "owned", "\(r)")
                } else {
                    #expect(Host.listDirectory(f.root + "/images").isEmpty, "\(p)")
                }
            }
        }
    }

    @Test("kill -9 in the middle of a pull: no image, no partial layer; pulling again works")
    func killedPull() throws {
        try BockerFixture.with { f in
            try TestRegistry.with(f) { reg in
                try reg.push("k/img:1", ["--layer", busyboxLayer, "--layer", "f:x=x"])
                let ref = "\(reg.host)/k/img:1"
                let p = f.run(["pull", ref], env: ["BOCKER_FAULT": "pull.layer"], timeout: 120)
                #expect(p.status == 128 + SIGKILL, "\(p)")
                let images = f.run(["images", "-q"])
                #expect(images.status == 0 && images.stdout.isEmpty, "\(images)")
                #expect(Host.listDirectory(f.root + "/layers").isEmpty, "\(Host.listDirectory(f.root + "/layers"))")
                let again = f.run(["pull", ref], timeout: 120)
                #expect(again.status == 0, "\(again)")
                let r = f.run(["run", "--rm", ref, "cat", "/x"])
                #expect(r.stdout == "x", "\(r)")
            }
        }
    }
}

/// BOCKER_MAX_LAYER_SIZE bounds a layer's uncompressed size: a decompression bomb fails the
/// pull with one line naming the layer, and leaves no layer, no image, no temporary file.
@Suite("pull: layer size limit")
struct PullSizeLimitTests {
    @Test("a gzip bomb over BOCKER_MAX_LAYER_SIZE is refused and leaves nothing")
    func bombRefused() throws {
        try BockerFixture.with { f in
            try TestRegistry.with(f) { reg in
                // 64 MiB of zeros: about 64 KiB as gzip.
                let summary = try reg.push("bomb/img:1", ["--layer", busyboxLayer, "--layer", "z:zeros=67108864;f:after=x"])
                let ref = "\(reg.host)/bomb/img:1"
                let p = f.run(["pull", "-q", ref], env: ["BOCKER_MAX_LAYER_SIZE": "16m"], timeout: 120)
                #expect(p.status != 0, "\(p)")
                let line = try #require(p.stderrLines.last, "\(p)")
                #expect(line.hasPrefix("layer sha256:") && line.hasSuffix(" exceeds the maximum size of 16m (BOCKER_MAX_LAYER_SIZE)"), "\(p)")
                #expect(p.stderrLines.count == 1, "\(p)")
                // The digest named is the bomb's (the second layer's), as the registry knows it.
                let digest = String(line.dropFirst("layer ".count).prefix(71))
                #expect(summary.contains(digest), "\(digest) not in \(summary)")
                let images = f.run(["images", "-q"])
                #expect(images.status == 0 && images.stdout.isEmpty, "\(images)")
                #expect(Host.listDirectory(f.root + "/layers").isEmpty, "\(Host.listDirectory(f.root + "/layers"))")
                #expect(Host.listDirectory(f.root + "/tmp").isEmpty, "\(Host.listDirectory(f.root + "/tmp"))")

                let bad = f.run(["pull", "-q", ref], env: ["BOCKER_MAX_LAYER_SIZE": "lots"], timeout: 60)
                #expect(bad.status != 0 && bad.allLines == ["invalid BOCKER_MAX_LAYER_SIZE 'lots': expected a size such as 512m or 10g"], "\(bad)")

                // Under a limit it fits in (and by default) the same image pulls and runs.
                let ok = f.run(["pull", "-q", ref], env: ["BOCKER_MAX_LAYER_SIZE": "80m"], timeout: 120)
                #expect(ok.status == 0, "\(ok)")
                let r = f.run(["run", "--rm", ref, "cat", "/after"])
                #expect(r.stdout == "x", "\(r)")
            }
        }
    }
}
