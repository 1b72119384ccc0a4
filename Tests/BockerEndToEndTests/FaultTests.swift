import Glibc
import Testing

/// `kill -9` at chosen instants (BOCKER_FAULT makes bocker SIGKILL itself at a named point):
/// after one more bocker command, everything is complete or absent, never half-made.
@Suite("crash consistency at every step")
struct FaultTests {
    /// The ids a crashed command left in `pending/` (markers such as `create-ps_…`).
    func pendingIds(_ f: BockerFixture) -> [String] {
        Host.listDirectory(f.root + "/pending").compactMap { name in
            name.split(separator: "-", maxSplits: 1).last.map(String.init)
        }
    }

    @Test("killed while creating a container: nothing of it remains", arguments: ["create.rootfs", "create.cgroup", "create.record"])
    func killedDuringCreate(point: String) throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let r = f.run(["run", img, "true"], env: ["BOCKER_FAULT": point])
            #expect(r.status == 128 + SIGKILL, "\(r)")
            let ids = pendingIds(f)
            #expect(ids.count == 1 && ids[0].hasPrefix("ps_"), "pending after the crash: \(ids)")

            let ps = f.run(["ps", "-q"])
            #expect(ps.status == 0 && ps.stdout.isEmpty, "\(ps)")
            #expect(Host.listDirectory(f.root + "/containers").isEmpty)
            #expect(Host.listDirectory(f.root + "/pending").isEmpty)
            f.expectNothingLeftBehind(removed: ids)
            // And the store works as before.
            let again = f.run(["run", "--rm", img, "echo", "ok"])
            #expect(again.status == 0 && again.stdout == "ok\n", "\(again)")
        }
    }

    @Test("killed before the container starts: it stays created, and rm cleans it")
    func killedBeforeSpawn() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let (r, id) = f.runNew(["run", img, "true"], env: ["BOCKER_FAULT": "run.before-spawn"])
            #expect(r.status == 128 + SIGKILL, "\(r)")
            let cid = try #require(id)
            let ps = f.run(["ps"])
            let line = try #require(row(cid, in: ps.stdout), "\(ps)")
            #expect(line.contains("Created"), "\(line)")
            let rm = f.run(["rm", cid])
            #expect(rm.status == 0, "\(rm)")
            f.expectNothingLeftBehind(removed: [cid])
        }
    }

    @Test("killed once the container runs: it dies with its bocker, ps says exited")
    func killedWhileRunning() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let (r, id) = f.runNew(["run", img, "sleep", "1000"], env: ["BOCKER_FAULT": "run.running"])
            #expect(r.status == 128 + SIGKILL, "\(r)")
            let cid = try #require(id)
            let ps = f.run(["ps"])
            let line = try #require(row(cid, in: ps.stdout), "\(ps)")
            #expect(line.contains("Exited (137)"), "\(line)")
            #expect(Host.processes(inContainer: cid).isEmpty)
            let rm = f.run(["rm", cid])
            #expect(rm.status == 0, "\(rm)")
            f.expectNothingLeftBehind(removed: [cid])
        }
    }

    @Test("killed while making an image: no image, no layer", arguments: ["init.layer", "init.image"])
    func killedDuringInit(point: String) throws {
        try BockerFixture.with { f in
            let r = f.run(["init", f.rootfs], env: ["BOCKER_FAULT": point])
            #expect(r.status == 128 + SIGKILL, "\(r)")
            let images = f.run(["images", "-q"])
            #expect(images.status == 0 && images.stdout.isEmpty, "\(images)")
            #expect(Host.listDirectory(f.root + "/layers").isEmpty, "layers: \(Host.listDirectory(f.root + "/layers"))")
            #expect(Host.listDirectory(f.root + "/images").isEmpty)
        }
    }

    @Test("killed while committing: the old image or the new one, and no stray layer", arguments: ["commit.layer", "commit.image"])
    func killedDuringCommit(point: String) throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let (r, id) = f.runNew(["run", img, "touch", "/committed"])
            #expect(r.status == 0)
            let cid = try #require(id)
            let layersBefore = Set(Host.listDirectory(f.root + "/layers"))
            let c = f.run(["commit", cid, img], env: ["BOCKER_FAULT": point])
            #expect(c.status == 128 + SIGKILL, "\(c)")
            let check = f.run(["run", "--rm", img, "ls", "/committed"])
            #expect(check.status != 0, "the image changed although commit was killed: \(check)")
            #expect(Set(Host.listDirectory(f.root + "/layers")) == layersBefore)
            let done = f.run(["commit", cid, img])
            #expect(done.status == 0, "\(done)")
            let after = f.run(["run", "--rm", img, "ls", "/committed"])
            #expect(after.status == 0, "\(after)")
        }
    }

    @Test("killed while removing a container: the next command finishes the removal")
    func killedDuringRemove() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let (_, id) = f.runNew(["run", img, "true"])
            let cid = try #require(id)
            let rm = f.run(["rm", cid], env: ["BOCKER_FAULT": "remove.cgroup"])
            #expect(rm.status == 128 + SIGKILL, "\(rm)")
            let ps = f.run(["ps", "-q"])
            #expect(ps.status == 0 && !ps.stdout.contains(cid), "\(ps)")
            f.expectNothingLeftBehind(removed: [cid])
        }
    }

    @Test("several runs at once get distinct ids and all finish")
    func concurrentRuns() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let children = try (0..<6).map { i in try f.start(["run", img, "echo", "n\(i)"]) }
            var outputs: [String] = []
            for c in children {
                let r = c.finish(timeout: 60, eofGrace: 5, closingStdin: true)
                #expect(r.status == 0, "\(r)")
                outputs.append(r.stdout)
            }
            #expect(Set(outputs) == Set((0..<6).map { "n\($0)\n" }))
            let ids = f.containerIds()
            #expect(ids.count == 6)
            let rm = f.run(["rm"] + ids.sorted())
            #expect(rm.status == 0, "\(rm)")
            f.expectNothingLeftBehind(removed: Array(ids))
        }
    }
}
