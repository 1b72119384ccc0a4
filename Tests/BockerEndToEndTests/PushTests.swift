import Foundation
import Glibc
import Testing

/// `skopeo` (or another tool) inside the fixture's network namespace, where the registry is.
private func tool(_ f: BockerFixture, _ argv: [String], timeout: Double = 120) -> RunResult {
    runTool(f.commandPrefix + argv, timeout: timeout)
}

private func sha256(_ s: String) -> String {
    let r = runTool(["sha256sum"], stdin: s)
    return String(r.stdout.prefix(64))
}

/// The manifest digest of a pushed reference, from skopeo's raw bytes.
private func remoteManifestDigest(_ f: BockerFixture, _ ref: String, creds: String? = nil) -> String? {
    let r = tool(f, ["skopeo", "inspect", "--raw", "--tls-verify=false"] + (creds.map { ["--creds", $0] } ?? []) + ["docker://" + ref])
    return r.status == 0 ? "sha256:" + sha256(r.stdout) : nil
}

@Suite("push to a registry")
struct PushTests {
    @Test("tag + push an init image: skopeo reads it, umoci unpacks the same files; rmi, pull back, run", arguments: allDrivers)
    func pushInitImage(driver: String) throws {
        try BockerFixture.with(driver: driver) { f in
            try TestRegistry.with(f) { reg in
                let id = try f.initImage()
                let name = "\(reg.host)/local/app:1"
                let before = f.run(["run", "--rm", id, "sh", "-c", "ls /bin | head -3; echo ok"])
                #expect(before.status == 0, "\(before)")
                let t = f.run(["tag", id, name])
                #expect(t.status == 0 && t.stdout.isEmpty, "\(t)")
                let p = f.run(["push", name], timeout: 120)
                #expect(p.status == 0, "\(p)")
                let digestLine = try #require(p.stdoutLines.last, "\(p)")
                #expect(digestLine.hasPrefix("1: digest: sha256:"), "\(p)")
                #expect(p.stdout.contains(": Pushed"), "\(p)")

                let inspect = tool(f, ["skopeo", "inspect", "--tls-verify=false", "docker://" + name])
                #expect(inspect.status == 0 && inspect.stdout.contains("\"Architecture\": \"amd64\""), "\(inspect)")
                let remote = try #require(remoteManifestDigest(f, name))
                #expect(digestLine.contains(remote), "\(p) vs \(remote)")

                // A standard client copies it, and umoci unpacks the very files init took in.
                let oci = f.tmp + "/oci"
                let copy = tool(f, ["skopeo", "copy", "--src-tls-verify=false", "docker://" + name, "oci:" + oci + ":app"])
                #expect(copy.status == 0, "\(copy)")
                let bundle = f.tmp + "/bundle"
                let unpack = runTool(["umoci", "unpack", "--image", oci + ":app", bundle])
                #expect(unpack.status == 0, "\(unpack)")
                let diff = runTool(["diff", "-r", "--no-dereference", f.rootfs, bundle + "/rootfs"])
                #expect(diff.status == 0, "\(diff)")

                // A second push sends nothing new.
                let again = f.run(["push", name], timeout: 60)
                #expect(again.status == 0 && again.stdout.contains("Layer already exists"), "\(again)")

                // Gone here, back from the registry, the same output.
                let rmTag = f.run(["rmi", name])
                #expect(rmTag.stdoutLines == ["Untagged: \(name)"], "\(rmTag)")
                let rm = f.run(["rmi", id])
                #expect(rm.status == 0, "\(rm)")
                #expect(Host.listDirectory(f.root + "/images").isEmpty)
                #expect(Host.listDirectory(f.root + "/blobs/sha256").isEmpty, "\(Host.listDirectory(f.root + "/blobs/sha256"))")
                let pull = f.run(["pull", name], timeout: 120)
                #expect(pull.status == 0 && pull.stdout.contains("Digest: \(remote)"), "\(pull)")
                let after = f.run(["run", "--rm", name, "sh", "-c", "ls /bin | head -3; echo ok"])
                #expect(after.status == 0 && after.stdout == before.stdout, "\(before)\n\(after)")
            }
        }
    }

    @Test("a committed layer goes up as a diff (deletions as whiteouts) and comes back the same", arguments: allDrivers)
    func committedDiff(driver: String) throws {
        try BockerFixture.with(driver: driver) { f in
            try TestRegistry.with(f) { reg in
                try reg.push("c/base:1", ["--layer", busyboxLayer + ";f:etc/gone=x;f:etc/kept=k;d:data;f:data/old=o"])
                let base = "\(reg.host)/c/base:1"
                #expect(f.run(["pull", "-q", base], timeout: 120).status == 0)
                let (r, cid) = f.runNew(["run", base, "sh", "-c", "rm /etc/gone; rm -r /data; mkdir /data; echo n > /data/new; echo added > /etc/added"])
                #expect(r.status == 0, "\(r)")
                let container = try #require(cid, "\(r)")
                let app = "\(reg.host)/c/app:1"
                let c = f.run(["commit", container, app])
                #expect(c.status == 0, "\(c)")
                let rmc = f.run(["rm", container])
                #expect(rmc.status == 0, "\(rmc)")
                let p = f.run(["push", app], timeout: 120)
                #expect(p.status == 0, "\(p)")
                // Two layers; the top one holds the change only (a few hundred bytes, not busybox).
                let raw = tool(f, ["skopeo", "inspect", "--raw", "--tls-verify=false", "docker://" + app])
                let m = try JSONSerialization.jsonObject(with: Data(raw.stdout.utf8)) as? [String: Any]
                let layers = try #require(m?["layers"] as? [[String: Any]], "\(raw)")
                #expect(layers.count == 2)
                #expect((layers.last?["size"] as? Int ?? .max) < 4096, "\(layers)")
                for ref in [app, base] { #expect(f.run(["rmi", ref]).status == 0) }
                #expect(Host.listDirectory(f.root + "/layers").isEmpty)
                #expect(f.run(["pull", "-q", app], timeout: 120).status == 0)
                let out = f.run(["run", "--rm", app, "sh", "-c", "ls /etc /data; cat /etc/added; test -e /etc/gone && echo LEAK; true"])
                #expect(out.status == 0, "\(out)")
                #expect(out.stdout.contains("kept") && out.stdout.contains("new") && out.stdout.contains("added"), "\(out)")
                #expect(!out.stdout.contains("old") && !out.stdout.contains("LEAK") && !out.stdout.contains("gone"), "\(out)")
            }
        }
    }

    @Test("a pulled image pushed under another name keeps its manifest digest (layers mounted)")
    func repushKeepsDigest() throws {
        try BockerFixture.with { f in
            try TestRegistry.with(f) { reg in
                try reg.push("r/orig:1", ["--compression", "gzip", "--layer", busyboxLayer,
                                          "--compression", "zstd", "--layer", "f:x=1", "--cmd", #"["/bin/sh"]"#], v2s2: false)
                let orig = "\(reg.host)/r/orig:1", copy = "\(reg.host)/r/copy:2"
                #expect(f.run(["pull", "-q", orig], timeout: 120).status == 0)
                #expect(f.run(["tag", orig, copy]).status == 0)
                let p = f.run(["push", copy], timeout: 120)
                #expect(p.status == 0 && p.stdout.contains("Mounted from r/orig"), "\(p)")
                let a = try #require(remoteManifestDigest(f, orig))
                let b = try #require(remoteManifestDigest(f, copy))
                #expect(a == b)
                #expect(p.stdoutLines.last == "2: digest: \(a) size: \(p.stdoutLines.last?.split(separator: " ").last ?? "")", "\(p)")
            }
        }
    }

    @Test("Docker schema 2 images go back with their media type and digest")
    func repushDockerSchema2() throws {
        try BockerFixture.with { f in
            try TestRegistry.with(f) { reg in
                try reg.push("d/v2:1", ["--layer", busyboxLayer], v2s2: true)
                let orig = "\(reg.host)/d/v2:1", copy = "\(reg.host)/d/again:1"
                #expect(f.run(["pull", "-q", orig], timeout: 120).status == 0)
                #expect(f.run(["tag", orig, copy]).status == 0)
                #expect(f.run(["push", copy], timeout: 120).status == 0)
                #expect(remoteManifestDigest(f, orig) == remoteManifestDigest(f, copy))
                let raw = tool(f, ["skopeo", "inspect", "--raw", "--tls-verify=false", "docker://" + copy])
                #expect(raw.stdout.contains("application/vnd.docker.distribution.manifest.v2+json"), "\(raw)")
            }
        }
    }

    @Test("push with Basic auth and with a token server: refused without login, works after", arguments: ["basic", "token"])
    func authenticated(auth: String) throws {
        try BockerFixture.with { f in
            try TestRegistry.with(f, auth: auth) { reg in
                let home = f.tmp + "/home"
                let id = try f.initImage()
                let name = "\(reg.host)/priv/app:1"
                #expect(f.run(["tag", id, name]).status == 0)
                let denied = f.run(["push", name], env: ["HOME": home], timeout: 60)
                #expect(denied.status != 0 && denied.stderrLines.count == 1, "\(denied)")
                #expect(denied.stderr.contains("unauthorized") || denied.stderr.contains("denied"), "\(denied)")
                let login = f.run(["login", reg.host, "-u", "testuser", "-p", "testpass"], env: ["HOME": home])
                #expect(login.status == 0, "\(login)")
                let ok = f.run(["push", name], env: ["HOME": home], timeout: 120)
                #expect(ok.status == 0, "\(ok)")
                #expect(remoteManifestDigest(f, name, creds: "testuser:testpass") != nil)
            }
        }
    }

    @Test("a connection dropped mid-upload is started again; a push killed half-way is finished by the next")
    func interrupted() throws {
        try BockerFixture.with { f in
            try TestRegistry.with(f) { reg in
                let shim = runTool(f.commandPrefix + [TestRegistry.harness + "/registry.sh", "shim", reg.dir, "drop", "drop-upload-once"])
                let port = try #require(shim.stdoutLines.first(where: { $0.hasPrefix("SHIM_PORT=") })?.dropFirst(10), "\(shim)")
                let id = try f.initImage()
                let viaShim = "127.0.0.1:\(port)/i/app:1"
                #expect(f.run(["tag", id, viaShim]).status == 0)
                let p = f.run(["push", viaShim], timeout: 120)
                #expect(p.status == 0, "\(p)")
                let log = (try? String(contentsOfFile: reg.dir + "/shim-drop.log", encoding: .utf8)) ?? ""
                #expect(log.contains("\"dropped\": true"), "\(log)")
                #expect(remoteManifestDigest(f, "\(reg.host)/i/app:1") != nil)

                // Killed after its first blob: nothing is pushed as a manifest; the next push completes.
                let killedName = "\(reg.host)/i/killed:1"
                try reg.push("i/base:1", ["--layer", busyboxLayer, "--layer", "f:y=y"])
                #expect(f.run(["pull", "-q", "\(reg.host)/i/base:1"], timeout: 120).status == 0)
                #expect(f.run(["tag", "\(reg.host)/i/base:1", killedName]).status == 0)
                let killed = f.run(["push", killedName], env: ["BOCKER_FAULT": "push.layer"], timeout: 120)
                #expect(killed.status == 128 + SIGKILL, "\(killed)")
                #expect(remoteManifestDigest(f, killedName) == nil)
                let again = f.run(["push", killedName], timeout: 120)
                #expect(again.status == 0, "\(again)")
                #expect(remoteManifestDigest(f, killedName) == remoteManifestDigest(f, "\(reg.host)/i/base:1"))
            }
        }
    }

    @Test("tag and rmi follow Docker's rules for names")
    func tagAndRmi() throws {
        try BockerFixture.with { f in
            let id = try f.initImage()
            #expect(f.run(["tag", String(id.prefix(8)), "myapp:1"]).status == 0)
            #expect(f.run(["tag", "myapp:1", "myapp"]).status == 0)
            let images = f.run(["images"])
            #expect(images.stdoutLines.count == 4, "\(images)")
            #expect(images.stdout.contains("myapp:latest") && images.stdout.contains("myapp:1"), "\(images)")
            let r = f.run(["run", "--rm", "myapp:1", "echo", "hi"])
            #expect(r.status == 0 && r.stdout == "hi\n", "\(r)")

            let bad = f.run(["tag", id, "Bad Name"])
            #expect(bad.status != 0 && bad.stderrLines.count == 1 && bad.stderr.contains("invalid reference format"), "\(bad)")
            let digest = f.run(["tag", id, "x@sha256:" + String(repeating: "a", count: 64)])
            #expect(digest.status != 0 && digest.stderrLines.count == 1, "\(digest)")
            let missing = f.run(["tag", "nothere", "y:1"])
            #expect(missing.status != 0 && missing.stderrLines == ["No image named 'nothere' exists"], "\(missing)")

            // By id with several names: refused without -f.
            let byID = f.run(["rmi", id])
            #expect(byID.status != 0 && byID.stderrLines.count == 1 && byID.stderr.contains("several names"), "\(byID)")
            #expect(f.run(["rmi", "myapp:1"]).stdoutLines == ["Untagged: myapp:1"])
            #expect(f.run(["rmi", "myapp"]).stdoutLines == ["Untagged: myapp:latest"])
            // The last name takes the image with it.
            let last = f.run(["rmi", f.rootfs])
            #expect(last.stdoutLines == ["Removed: \(f.rootfs)"], "\(last)")
            #expect(Host.listDirectory(f.root + "/images").isEmpty)

            // A name moves: the image that had it loses it.
            let a = try f.initImage(), b = try f.initImage()
            #expect(f.run(["tag", a, "app:v"]).status == 0)
            #expect(f.run(["tag", b, "app:v"]).status == 0)
            let moved = f.run(["images"])
            #expect(moved.stdoutLines.contains { $0.hasPrefix(b) && $0.contains("app:v") }, "\(moved)")
            #expect(!moved.stdoutLines.contains { $0.hasPrefix(a) && $0.contains("app:v") }, "\(moved)")
            let forced = f.run(["rmi", "-f", b])
            #expect(forced.status == 0, "\(forced)")
        }
    }
}
