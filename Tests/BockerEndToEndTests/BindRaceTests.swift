import Glibc
import Testing

/// CVE-2021-30465: a bind mount's target is checked, then mounted. If a component of the
/// target lies in a volume another container can write, that container can swap it for a
/// symlink to a host path between the check and the mount. The target is opened once with
/// openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS) and mounted through that fd: the mount lands
/// inside the root or the start is refused.
@Suite("bind-mount targets cannot be swapped for symlinks")
struct BindRaceTests {
    @Test("a nested mount target swapped for a symlink to a host path in a loop")
    func nestedTargetSwap() throws {
        try BockerFixture.with { f in
            let probe = try f.compileProbe(named: "swap_loop")
            let img = try f.imageWith([probe: "/swap"])
            let shared = f.tmp + "/shared", vol = f.tmp + "/vol", hostDir = f.tmp + "/hostdir"
            for d in [shared, vol, hostDir, hostDir + "/sub"] { try Host.makeDirectory(d) }
            try Host.writeFile(vol + "/marker", "volume\n")
            try Host.writeFile(hostDir + "/sub/sentinel", "host\n")
            // The attacker: swaps /v/d (a directory with sub/) and /v/x (a link to the host's
            // hostdir, which has a sub/ too) in the shared volume, forever.
            let before = f.containerIds()
            let a = try f.start(["run", "-v", shared + ":/v", img, "/swap", hostDir, "/v"])
            try #require(a.waitForStdout(containing: "ready", timeout: 30), "\(a.finish(timeout: 5))")
            let attacker = try #require(f.containerIds().subtracting(before).first)

            // The victim mounts vol on /v/d/sub, below the shared volume. Its mount must be in
            // its mount table at /v/d/sub (or /v/x/sub once renamed), or it must not start.
            var inside = 0, refused = 0
            for _ in 0..<60 {
                let r = f.run(["run", "--rm", "-v", shared + ":/v", "-v", vol + ":/v/d/sub", img, "sh", "-c",
                               "if grep -qE ' /v/[dx]/sub ' /proc/self/mountinfo; then echo MOUNTED-INSIDE; else echo MOUNT-MISSING; fi"])
                if r.status == 0 {
                    #expect(r.stdout == "MOUNTED-INSIDE\n", "the victim started without its mount inside the root: \(r)")
                    inside += 1
                } else {
                    #expect(r.status == 125 && r.allLines.count == 1 && r.stderr.contains("/v/d"), "\(r)")
                    refused += 1
                }
            }
            print("bind race: \(inside) mounted inside, \(refused) refused")
            #expect(Host.readFile(hostDir + "/sub/sentinel") == "host\n")
            #expect(Host.listDirectory(hostDir + "/sub") == ["sentinel"])
            #expect(Host.listDirectory(vol) == ["marker"])
            let rm = f.run(["rm", "-f", attacker])
            #expect(rm.status == 0, "\(rm)")
            _ = a.finish(timeout: 30, eofGrace: 1)
        }
    }
}
