import Glibc
import Testing

/// `bocker cp` on a stopped container sees its volumes and bind mounts at their mount points
/// (as Docker, which mounts them for the copy), attached only inside the copy's detached
/// tree; and `cp -L` follows a symlink SRC_PATH inside the container, never on the host.
@Suite("Verbs: cp with volumes and -L")
struct VerbsCopyMountsTests {
    /// The lines of our mountinfo that name the fixture's directory (other tests mount elsewhere).
    static func mounts(_ f: BockerFixture) -> [String] {
        (Host.readFile("/proc/self/mountinfo") ?? "").split(separator: "\n").map(String.init).filter { $0.contains(f.tmp) }
    }

    @Test("stopped container: cp out of a named volume and a bind mount, into the volume (a new container sees it), read-only bind refused; a volume's symlink to a host file is never followed; nothing left mounted",
          arguments: ["overlay", "copy"])
    func stoppedVolumes(driver: String) throws {
        try BockerFixture.with(driver: driver) { f in
            let img = try f.initImage()
            let bind = f.tmp + "/bind", ro = f.tmp + "/robind", shadow = f.tmp + "/shadow"
            try Host.makeDirectory(bind)
            try Host.makeDirectory(ro)
            try Host.writeFile(bind + "/b.txt", "BIND\n")
            try Host.writeFile(shadow, "HOSTSHADOW\n")
            let before = Self.mounts(f)
            // It ran once (its mount points exist) and stopped; the volume holds a file and a
            // symlink to a host path.
            let made = f.run(["run", "--name", "s", "-v", "data:/data", "-v", bind + ":/hb", "-v", ro + ":/ro:ro", img,
                              "sh", "-c", "echo VOL > /data/v.txt && ln -s \(shadow) /data/evil && ln -s / /data/up"])
            #expect(made.status == 0, "\(made)")
            _ = f.run(["create", "--name", "fresh", "-v", "data:/vol/in/here", img, "true"])
            // Out of the volume and the bind mount.
            #expect(f.run(["cp", "s:/data/v.txt", f.tmp + "/v"]).status == 0)
            #expect(Host.readFile(f.tmp + "/v") == "VOL\n")
            #expect(f.run(["cp", "s:/hb/b.txt", f.tmp + "/b"]).status == 0)
            #expect(Host.readFile(f.tmp + "/b") == "BIND\n")
            let tree = f.run(["cp", "s:/data", f.tmp + "/tree"])
            #expect(tree.status == 0 && Host.readFile(f.tmp + "/tree/v.txt") == "VOL\n", "\(tree)")
            #expect(VerbsCopyTests.meta(f.tmp + "/tree/evil")?.link == shadow, "the link is copied as a link")
            // A never-started container: its mount point is made for the copy, as a start makes it.
            let fresh = f.run(["cp", "fresh:/vol/in/here/v.txt", f.tmp + "/v2"])
            #expect(fresh.status == 0 && Host.readFile(f.tmp + "/v2") == "VOL\n", "\(fresh)")
            // Into the volume: a new container using it sees the file; into the bind: the host does.
            try Host.writeFile(f.tmp + "/in.txt", "INTO\n")
            #expect(f.run(["cp", f.tmp + "/in.txt", "s:/data/"]).status == 0)
            #expect(f.run(["cp", f.tmp + "/in.txt", "s:/hb/put.txt"]).status == 0)
            #expect(Host.readFile(bind + "/put.txt") == "INTO\n")
            let seen = f.run(["run", "--rm", "-v", "data:/mnt", img, "cat", "/mnt/in.txt"])
            #expect(seen.status == 0 && seen.stdout == "INTO\n", "\(seen)")
            // A read-only bind mount stays read-only for the copy.
            let roIn = f.run(["cp", f.tmp + "/in.txt", "s:/ro/"])
            #expect(roIn.status != 0 && roIn.stderrLines.count == 1, "\(roIn)")
            #expect(Host.listDirectory(ro).isEmpty)
            // The volume's symlinks lead to the container's files, never the host's.
            let viaLink = f.run(["cp", "-L", "s:/data/evil", f.tmp + "/leak"])
            #expect(viaLink.status != 0 && !Host.exists(f.tmp + "/leak"), "\(viaLink)")
            let viaUp = f.run(["cp", "s:/data/up\(shadow)", f.tmp + "/leak2"])
            #expect(viaUp.status != 0 && !Host.exists(f.tmp + "/leak2"), "\(viaUp)")
            try Host.makeDirectory(f.tmp + "/src")
            try Host.writeFile(f.tmp + "/src/pl2", "PAYLOAD\n")
            _ = f.run(["cp", f.tmp + "/src/pl2", "s:/data/evil"])
            _ = f.run(["cp", f.tmp + "/src/pl2", "s:/data/up\(f.tmp)/"])
            #expect(Host.readFile(shadow) == "HOSTSHADOW\n")
            #expect(!Host.exists(f.tmp + "/pl2"))
            // Nothing stays mounted, and the volume is not busy.
            #expect(Self.mounts(f) == before, "mounts left: \(Self.mounts(f))")
            #expect(f.run(["rm", "s", "fresh"]).status == 0)
            let rmv = f.run(["volume", "rm", "data"])
            #expect(rmv.status == 0, "\(rmv)")
        }
    }

    @Test("cp -L: a symlink SRC_PATH to an absolute path is followed inside the container (file and directory), the copy keeps the link's name; without -L the link is copied; on the host -L follows normally")
    func followLink() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let hostPath = f.tmp + "/target"
            try Host.writeFile(hostPath, "HOST\n")
            let plant = "mkdir -p \(f.tmp) /d/sub && echo INSIDE > \(hostPath) && echo DEEP > /d/sub/x && ln -s \(hostPath) /abs && ln -s /d /dl && ln -s abs /rel"
            let made = f.run(["run", "--name", "c", img, "sh", "-c", plant])
            #expect(made.status == 0, "\(made)")
            _ = f.run(["run", "-d", "--name", "live", img, "sleep", "60"])
            #expect(f.run(["exec", "live", "sh", "-c", plant]).status == 0)
            for c in ["live", "c"] {
                let out = f.tmp + "/out-" + c
                try Host.makeDirectory(out)
                #expect(f.run(["cp", "-L", c + ":/abs", out]).status == 0)
                #expect(Host.readFile(out + "/abs") == "INSIDE\n", "\(c): followed inside, named as the link")
                #expect(f.run(["cp", "--follow-link", c + ":/rel", out + "/renamed"]).status == 0)
                #expect(Host.readFile(out + "/renamed") == "INSIDE\n")
                #expect(f.run(["cp", "-L", c + ":/dl", out]).status == 0)
                #expect(Host.readFile(out + "/dl/sub/x") == "DEEP\n", "\(c): a link to a directory copies the directory")
                #expect(f.run(["cp", c + ":/abs", out + "/plain"]).status == 0)
                #expect(VerbsCopyTests.meta(out + "/plain")?.link == hostPath, "without -L the link itself")
                let tar = f.run(["cp", "-L", c + ":/abs", "-"])
                try Host.writeFile(out + "/t.tar", tar.stdout)
                #expect(runTool(["tar", "-tvf", out + "/t.tar"]).stdout.contains("abs"))
                #expect(runTool(["tar", "-xOf", out + "/t.tar"]).stdout == "INSIDE\n")
            }
            #expect(Host.readFile(hostPath) == "HOST\n")
            // Host side: -L follows the host's link, the copy keeps the link's name.
            symlink(hostPath, f.tmp + "/hlink")
            #expect(f.run(["cp", "-L", f.tmp + "/hlink", "live:/tmp/"]).status == 0)
            let got = f.run(["exec", "live", "sh", "-c", "cat /tmp/hlink; test -L /tmp/hlink && echo LINK"])
            #expect(got.stdout == "HOST\n", "\(got)")
        }
    }
}
