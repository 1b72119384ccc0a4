import Testing

@Suite("commit, rm and rmi")
struct CommitRmTests {
    @Test("commit into an existing image replaces its content, keeping its id", arguments: allDrivers)
    func commitIntoExistingImage(driver: String) throws {
        try BockerFixture.with(driver: driver) { f in
            let img = try f.initImage()
            let (w, wid) = f.runNew(["run", img, "sh", "-c", "echo committed > /marker"])
            #expect(w.status == 0, "\(w)")
            let cid = try #require(wid)

            let c = f.run(["commit", cid, img])
            #expect(c.status == 0, "\(c)")
            #expect(c.stdoutLines == ["Removed: \(img)", "Created: \(img)"], "\(c)")

            let (r, rid) = f.runNew(["run", img, "cat", "/marker"])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout == "committed\n", "\(r)")
            // The rest of the image is still there.
            let os = f.run(["run", img, "cat", "/etc/os-release"])
            #expect(os.stdout.contains("bocker busybox"), "\(os)")

            let images = f.run(["images"])
            #expect(images.stdoutLines.count == 2, "\(images)")
            #expect(row(img, in: images.stdout) != nil, "\(images)")

            let ids = Array(f.containerIds())
            #expect(rid != nil)
            let rm = f.run(["rm"] + ids)
            #expect(rm.status == 0, "\(rm)")
            f.expectNothingLeftBehind(removed: ids)
        }
    }

    @Test("commit into a new name creates a new image whose SOURCE is that name", arguments: allDrivers)
    func commitIntoNewImage(driver: String) throws {
        try BockerFixture.with(driver: driver) { f in
            let img = try f.initImage()
            let (w, wid) = f.runNew(["run", img, "sh", "-c", "echo new > /marker"])
            #expect(w.status == 0, "\(w)")
            let cid = try #require(wid)

            let c = f.run(["commit", cid, "myimage"])
            #expect(c.status == 0, "\(c)")
            let newId = try #require(firstImageId(in: c.stdout), "\(c)")
            #expect(c.stdoutLines == ["Created: \(newId)"], "\(c)")
            #expect(newId != img)

            let images = f.run(["images"])
            let line = try #require(row(newId, in: images.stdout), "\(images)")
            #expect(fields(line).dropFirst().first == "myimage", "row: \(line)")
            #expect(row(img, in: images.stdout) != nil, "the original image is gone: \(images)")

            let fromNew = f.run(["run", newId, "cat", "/marker"])
            #expect(fromNew.stdout == "new\n", "\(fromNew)")
            let fromOld = f.run(["run", img, "ls", "/marker"])
            #expect(fromOld.status != 0, "commit changed the original image: \(fromOld)")

            // The new image is independent of the container it came from.
            let rm = f.run(["rm", cid])
            #expect(rm.status == 0, "\(rm)")
            let again = f.run(["run", newId, "cat", "/marker"])
            #expect(again.stdout == "new\n", "\(again)")

            let ids = Array(f.containerIds())
            _ = f.run(["rm"] + ids)
            f.expectNothingLeftBehind(removed: ids + [cid])
        }
    }

    @Test("commit of an unknown container")
    func commitUnknown() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let before = f.storeListing()
            let r = f.run(["commit", "ps_000000000000", img])
            #expect(r.status != 0, "\(r)")
            #expect(r.allLines == ["No container named 'ps_000000000000' exists"], "\(r)")
            #expect(f.storeListing() == before, "the store changed")
        }
    }

    @Test("rm removes every known container, reports unknown ones and exits 1", arguments: allDrivers)
    func rmSeveral(driver: String) throws {
        try BockerFixture.with(driver: driver) { f in
            let img = try f.initImage()
            let (_, a) = f.runNew(["run", img, "true"])
            let (_, b) = f.runNew(["run", img, "sh", "-c", "echo x > /x"])
            let ida = try #require(a)
            let idb = try #require(b)
            #expect(!Host.cgroupDirectories(forContainer: ida).isEmpty, "no cgroups for \(ida) before rm")

            let rm = f.run(["rm", ida, "ps_nope", idb])
            #expect(rm.status == 1, "\(rm)")
            #expect(rm.stdoutLines == ["Removed: \(ida)", "Removed: \(idb)"], "\(rm)")
            #expect(rm.stderrLines == ["No container named 'ps_nope' exists"], "\(rm)")
            #expect(f.containerIds().isEmpty)
            let ps = f.run(["ps"])
            #expect(ps.stdoutLines.count == 1, "\(ps)")
            // The image survives.
            let images = f.run(["images"])
            #expect(row(img, in: images.stdout) != nil, "\(images)")
            f.expectNothingLeftBehind(removed: [ida, idb])

            let again = f.run(["rm", ida])
            #expect(again.status == 1, "\(again)")
            #expect(again.allLines == ["No container named '\(ida)' exists"], "\(again)")
        }
    }

    @Test("rmi removes an unused image", arguments: allDrivers)
    func rmiUnused(driver: String) throws {
        try BockerFixture.with(driver: driver) { f in
            let img = try f.initImage()
            let keep = try f.initImage()
            let r = f.run(["rmi", img])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdoutLines == ["Removed: \(img)"], "\(r)")
            let images = f.run(["images"])
            #expect(row(img, in: images.stdout) == nil, "\(images)")
            #expect(row(keep, in: images.stdout) != nil, "\(images)")
            let run = f.run(["run", img, "true"])
            #expect(run.status == 125, "\(run)")
            f.expectNothingLeftBehind(removed: [])
        }
    }

    @Test("rmi refuses an image a container uses, unless -f")
    func rmiInUse() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let (_, c) = f.runNew(["run", img, "true"])
            let cid = try #require(c)

            let before = f.storeListing()
            let refused = f.run(["rmi", img])
            #expect(refused.status != 0, "\(refused)")
            #expect(refused.allLines.count == 1, "\(refused)")
            #expect(refused.allLines.first.map { $0.contains(img) && $0.contains(cid) } == true,
                    "the message must name the image and the container: \(refused)")
            #expect(row(img, in: f.run(["images"]).stdout) != nil, "image gone after a refused rmi")
            #expect(f.storeListing() == before, "a refused rmi changed the store")

            let forced = f.run(["rmi", "-f", img])
            #expect(forced.status == 0, "\(forced)")
            #expect(forced.stdoutLines.contains("Removed: \(img)"), "\(forced)")
            #expect(row(img, in: f.run(["images"]).stdout) == nil)

            // The container can still be removed cleanly afterwards.
            let rm = f.run(["rm", cid])
            #expect(rm.status == 0, "\(rm)")
            f.expectNothingLeftBehind(removed: [cid])
        }
    }

    @Test("rmi of an unknown image")
    func rmiUnknown() throws {
        try BockerFixture.with { f in
            _ = try f.initImage()
            let before = f.storeListing()
            let r = f.run(["rmi", "img_000000000000"])
            #expect(r.status != 0, "\(r)")
            #expect(r.allLines.count == 1 && r.allLines.first?.contains("img_000000000000") == true, "\(r)")
            #expect(f.storeListing() == before)
        }
    }

    @Test("rm with an image id removes the image, as in the original")
    func rmImage() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let r = f.run(["rm", img])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdoutLines == ["Removed: \(img)"], "\(r)")
            let images = f.run(["images"])
            #expect(images.stdoutLines.count == 1, "\(images)")
        }
    }

    @Test("removing everything leaves no layers, images or containers behind", arguments: allDrivers)
    func storeEmptiesOut(driver: String) throws {
        try BockerFixture.with(driver: driver) { f in
            let img = try f.initImage()
            let (_, c) = f.runNew(["run", img, "sh", "-c", "echo 1 > /one"])
            let cid = try #require(c)
            let commit = f.run(["commit", cid, img])
            #expect(commit.status == 0, "\(commit)")
            #expect(f.run(["rm", cid]).status == 0)
            #expect(f.run(["rmi", img]).status == 0)
            let left = f.storeListing().filter { path in
                ["/layers/", "/images/", "/containers/"].contains { path.contains(f.root + $0) }
            }
            #expect(left.isEmpty, "left in the store: \(left)")
            f.expectNothingLeftBehind(removed: [cid])
        }
    }
}
