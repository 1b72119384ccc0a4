import Foundation
import Glibc
import Testing

/// The entry of inspect's Mounts whose Destination is `dest`.
private func mount(_ obj: [String: Any], _ dest: String) -> [String: Any]? {
    (obj["Mounts"] as? [[String: Any]])?.first { lcString($0, "Destination") == dest }
}

@Suite("volumes: bind mounts, named volumes, --volumes-from, --tmpfs")
struct VolumeTests {
    @Test("-v HOSTDIR:/path and -v HOSTFILE:/path:ro bind-mount host paths; inspect shows them", arguments: allDrivers)
    func bindMounts(driver: String) throws {
        try LifecycleFixture.with(driver: driver) { f in
            let img = try f.initImage()
            let dir = f.tmp + "/hostdir"
            try f.writeFile("hostdir/in", "from host\n")
            let file = try f.writeFile("greeting.txt", "hello file\n")

            let (r, rid) = f.runNew(["run", "-v", dir + ":/mnt", "-v", file + ":/etc/greeting:ro", img, "sh", "-c",
                                     "cat /mnt/in; cat /etc/greeting; echo from container > /mnt/out"])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout == "from host\nhello file\n", "\(r)")
            #expect(Host.readFile(dir + "/out") == "from container\n", "the write did not reach the host directory")
            let id = try #require(rid)

            let obj = try f.inspectOne(id)
            let m = try #require(mount(obj, "/mnt"), "no mount for /mnt: \(obj)")
            #expect(lcString(m, "Type") == "bind", "\(m)")
            #expect(lcString(m, "Source") == dir, "\(m)")
            #expect(lcBool(m, "RW") == true, "\(m)")
            let g = try #require(mount(obj, "/etc/greeting"), "no mount for /etc/greeting: \(obj)")
            #expect(lcString(g, "Type") == "bind" && lcString(g, "Source") == file, "\(g)")
            #expect(lcBool(g, "RW") == false, "\(g)")

            // The image is untouched: a plain container has no /mnt/in.
            let plain = f.run(["run", img, "cat", "/mnt/in"])
            #expect(plain.status != 0, "\(plain)")
            let ids = Array(f.containerIds())
            _ = f.run(["rm"] + ids)
            f.expectLifecycleClean(removed: ids)
            #expect(Host.readFile(dir + "/in") == "from host\n", "rm touched the host directory")
        }
    }

    @Test(":ro refuses writes inside the container")
    func readOnlyBind() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let dir = f.tmp + "/ro"
            try f.writeFile("ro/in", "data\n")
            let r = f.run(["run", "-v", dir + ":/mnt:ro", img, "sh", "-c", "cat /mnt/in; touch /mnt/x && echo WROTE"])
            #expect(r.stdout.hasPrefix("data\n"), "\(r)")
            #expect(!r.stdout.contains("WROTE"), "touch succeeded on a :ro mount: \(r)")
            #expect(r.status != 0, "\(r)")
            #expect(!Host.exists(dir + "/x"), "a file appeared in the read-only host directory")
            let ids = Array(f.containerIds())
            _ = f.run(["rm"] + ids)
            f.expectLifecycleClean(removed: ids)
        }
    }

    @Test("a missing host path, or one that is or passes through a symlink: one line naming it, 125, nothing created")
    func badHostPaths() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            try f.writeFile("real/sub/file", "x\n")
            symlink(f.tmp + "/real", f.tmp + "/link")
            let before = f.storeListing()
            let paths = [f.tmp + "/missing", f.tmp + "/link", f.tmp + "/link/sub", f.tmp + "/link/sub/file"]
            for path in paths {
                for mode in [["run"], ["run", "-d"]] {
                    let r = f.run(mode + ["-v", path + ":/mnt", img, "true"])
                    #expect(r.status == 125, "\(mode) -v \(path): \(r)")
                    #expect(r.allLines.count == 1, "\(mode) -v \(path): \(r)")
                    #expect(r.allLines.first?.contains(path) == true, "the message should name \(path): \(r)")
                    #expect(f.containerIds().isEmpty, "a container was created for -v \(path)")
                    #expect(f.storeListing() == before, "the store changed for -v \(path)")
                }
            }
            // The real directory itself is fine.
            let ok = f.run(["run", "-v", f.tmp + "/real/sub:/mnt", img, "cat", "/mnt/file"])
            #expect(ok.status == 0 && ok.stdout == "x\n", "\(ok)")
            let ids = Array(f.containerIds())
            _ = f.run(["rm"] + ids)
            f.expectLifecycleClean(removed: ids)
        }
    }

    @Test("a named volume is made on first use, survives rm and is seen by the next container", arguments: allDrivers)
    func namedVolume(driver: String) throws {
        try LifecycleFixture.with(driver: driver) { f in
            let img = try f.initImage()
            let (w, wid) = f.runNew(["run", "-v", "data:/data", img, "sh", "-c", "echo persisted > /data/f"])
            #expect(w.status == 0, "\(w)")
            let writer = try #require(wid)
            let obj = try f.inspectOne(writer)
            let m = try #require(mount(obj, "/data"), "no mount for /data: \(obj)")
            #expect(lcString(m, "Type") == "volume" && lcString(m, "Name") == "data", "\(m)")
            #expect(lcBool(m, "RW") == true, "\(m)")

            let rm = f.run(["rm", writer])
            #expect(rm.status == 0, "\(rm)")
            let (r, rid) = f.runNew(["run", "-v", "data:/data", img, "cat", "/data/f"])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout == "persisted\n", "the volume's content did not survive rm: \(r)")
            let reader = try #require(rid)

            let ls = f.run(["volume", "ls"])
            #expect(ls.status == 0, "\(ls)")
            let header = fields(ls.stdoutLines.first ?? "")
            #expect(header == ["VOLUME", "NAME"] || header == ["DRIVER", "VOLUME", "NAME"], "header: \(ls)")
            #expect(ls.stdoutLines.dropFirst().map { fields($0).last ?? "" } == ["data"], "\(ls)")

            let vi = f.run(["volume", "inspect", "data"])
            #expect(vi.status == 0, "\(vi)")
            let arr = try #require(parseJSON(vi.stdout) as? [[String: Any]], "not a JSON array: \(vi)")
            try #require(arr.count == 1, "\(vi)")
            #expect(lcString(arr[0], "Name") == "data", "\(vi)")
            let mp = try #require(lcString(arr[0], "Mountpoint"), "\(vi)")
            #expect(mp.hasPrefix(f.root + "/"), "the mountpoint \(mp) is not under the state root \(f.root)")
            #expect(Host.readFile(mp + "/f") == "persisted\n", "the mountpoint does not hold the volume's files")
            #expect(lcString(m, "Source") == mp, "Mounts Source \(m) vs Mountpoint \(mp)")

            let rm2 = f.run(["rm", reader])
            #expect(rm2.status == 0, "\(rm2)")
            let vrm = f.run(["volume", "rm", "data"])
            #expect(vrm.status == 0, "\(vrm)")
            #expect(!Host.exists(mp), "volume rm left \(mp)")
            let ls2 = f.run(["volume", "ls"])
            #expect(ls2.stdoutLines.count == 1, "\(ls2)")
            f.expectLifecycleClean(removed: [writer, reader])
        }
    }

    @Test("volume create / rm: rm is refused while any container, running or not, uses the volume")
    func volumeInUse() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let create = f.run(["volume", "create", "vol1"])
            #expect(create.status == 0, "\(create)")
            #expect(create.stdout == "vol1\n", "\(create)")
            let ls = f.run(["volume", "ls"])
            #expect(ls.stdoutLines.dropFirst().contains { fields($0).last == "vol1" }, "\(ls)")

            let (r, eid) = f.runNew(["run", "-v", "vol1:/v", img, "true"])
            #expect(r.status == 0, "\(r)")
            let exited = try #require(eid)
            let running = try f.runDetached(["-v", "vol1:/v", img, "sleep", "1000"])

            let refused = f.run(["volume", "rm", "vol1"])
            #expect(refused.status != 0, "\(refused)")
            #expect(refused.allLines.count == 1, "\(refused)")
            #expect(refused.allLines.first.map { $0.contains(exited) || $0.contains(running) } == true,
                    "the message should name a container using it: \(refused)")

            #expect(f.run(["rm", exited]).status == 0)
            let stillRefused = f.run(["volume", "rm", "vol1"])
            #expect(stillRefused.status != 0, "\(stillRefused)")
            #expect(stillRefused.allLines.count == 1 && stillRefused.allLines[0].contains(running), "\(stillRefused)")

            #expect(f.run(["rm", "-f", running]).status == 0)
            let ok = f.run(["volume", "rm", "vol1"])
            #expect(ok.status == 0, "\(ok)")
            let ls2 = f.run(["volume", "ls"])
            #expect(!ls2.stdoutLines.dropFirst().contains { fields($0).last == "vol1" }, "\(ls2)")
            f.expectLifecycleClean(removed: [exited, running])
        }
    }

    @Test("--volumes-from gives the same mounts; :ro makes them read-only")
    func volumesFrom() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let dir = f.tmp + "/shared"
            try f.writeFile("shared/in", "host side\n")
            let (r, sid) = f.runNew(["run", "--name", "store", "-v", "data:/data", "-v", dir + ":/host", img,
                                     "sh", "-c", "echo vol side > /data/f"])
            #expect(r.status == 0, "\(r)")
            let source = try #require(sid)

            let (c, cid) = f.runNew(["run", "--volumes-from", "store", img, "sh", "-c",
                                     "cat /data/f /host/in; echo back > /data/g"])
            #expect(c.status == 0, "\(c)")
            #expect(c.stdout == "vol side\nhost side\n", "\(c)")
            let user = try #require(cid)
            let obj = try f.inspectOne(user)
            #expect(mount(obj, "/data").flatMap { lcString($0, "Name") } == "data", "\(obj)")
            #expect(mount(obj, "/host").flatMap { lcString($0, "Source") } == dir, "\(obj)")

            let (ro, roid) = f.runNew(["run", "--volumes-from", source + ":ro", img, "sh", "-c",
                                       "cat /data/g; touch /data/x && echo WROTE"])
            #expect(ro.stdout.hasPrefix("back\n"), "\(ro)")
            #expect(!ro.stdout.contains("WROTE"), "write through --volumes-from …:ro: \(ro)")
            let roUser = try #require(roid)
            let roObj = try f.inspectOne(roUser)
            #expect(mount(roObj, "/data").flatMap { lcBool($0, "RW") } == false, "\(roObj)")

            let ids = Array(f.containerIds())
            _ = f.run(["rm"] + ids)
            f.expectLifecycleClean(removed: ids)
        }
    }

    @Test("--tmpfs /scratch mounts a writable tmpfs")
    func tmpfs() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let (r, rid) = f.runNew(["run", "--tmpfs", "/scratch", img, "sh", "-c",
                                     "echo hi > /scratch/f && cat /scratch/f && mount | grep ' /scratch '"])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdoutLines.first == "hi", "\(r)")
            #expect(r.stdoutLines.dropFirst().contains { $0.contains("tmpfs") }, "no tmpfs at /scratch: \(r)")
            let id = try #require(rid)
            let obj = try f.inspectOne(id)
            #expect(mount(obj, "/scratch").flatMap { lcString($0, "Type") } == "tmpfs", "\(obj)")
            // Nothing written there reaches the container's filesystem.
            let c = f.run(["commit", id, "scratched"])
            let newImg = try #require(firstImageId(in: c.stdout), "\(c)")
            let check = f.run(["run", newImg, "cat", "/scratch/f"])
            #expect(check.status != 0, "the tmpfs file was committed: \(check)")
            let ids = Array(f.containerIds())
            _ = f.run(["rm"] + ids)
            f.expectLifecycleClean(removed: ids)
        }
    }

    @Test("commit does not capture volume contents", arguments: allDrivers)
    func commitSkipsVolumes(driver: String) throws {
        try LifecycleFixture.with(driver: driver) { f in
            let img = try f.initImage()
            let (w, wid) = f.runNew(["run", "-v", "data:/data", img, "sh", "-c", "echo vol > /data/vf; echo root > /rf"])
            #expect(w.status == 0, "\(w)")
            let writer = try #require(wid)
            let c = f.run(["commit", writer, "withvol"])
            let newImg = try #require(firstImageId(in: c.stdout), "\(c)")
            let r = f.run(["run", newImg, "sh", "-c", "cat /rf; [ -e /data/vf ] && echo VOLUME-FILE-COMMITTED; true"])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout == "root\n", "\(r)")
            // The volume itself still has it.
            let v = f.run(["run", "-v", "data:/data", newImg, "cat", "/data/vf"])
            #expect(v.stdout == "vol\n", "\(v)")
            let ids = Array(f.containerIds())
            _ = f.run(["rm"] + ids)
            f.expectLifecycleClean(removed: ids)
        }
    }
}
