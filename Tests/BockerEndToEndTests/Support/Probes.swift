import Glibc

/// Attack probes kept as files (Tests/Probes/*.c), compiled with `StaticProbe.build` and
/// installed into a copy of the busybox rootfs, which becomes an image of the fixture's store.
extension BockerFixture {
    /// Compiles `source` into `<tmp>/probes/<name>` and returns that path.
    func compileProbe(_ name: String, _ source: String) throws -> String {
        let dir = tmp + "/probes"
        runTool(["mkdir", "-p", dir])
        try StaticProbe.build(source, name: name, into: dir, tmp: tmp)
        return dir + "/" + name
    }

    /// `bocker init` of a copy of the busybox rootfs with `files` (host path → absolute path in
    /// the image) added, after `prepare` ran on the copy's directory; returns the image id.
    func imageWith(_ files: [String: String] = [:], name: String = "probe-rootfs",
                   prepare: (String) throws -> Void = { _ in }) throws -> String {
        let dir = tmp + "/" + name
        let cp = runTool(["cp", "-a", rootfs, dir])
        guard cp.status == 0 else { throw FixtureError(description: "cp -a rootfs failed: \(cp)") }
        for (host, inImage) in files {
            let c = runTool(["install", "-D", "-m", "0755", host, dir + inImage])
            guard c.status == 0 else { throw FixtureError(description: "install \(host) failed: \(c)") }
        }
        try prepare(dir)
        return try initImage(dir)
    }
}

/// Waits, bounded, until none of `pids` exists any more (SIGKILL and reparenting are
/// asynchronous); true when they are all gone.
func waitUntilGone(_ pids: [pid_t], timeout: Double = 10) -> Bool {
    var left = Int(timeout * 100)
    while pids.contains(where: { Host.processExists($0) }) {
        if left == 0 { return false }
        left -= 1
        usleep(10_000)
    }
    return true
}

extension BockerFixture {
    /// Compiles `Tests/Probes/<name>.c`.
    func compileProbe(named name: String) throws -> String {
        let path = BockerFixture.packageRoot + "/Tests/Probes/\(name).c"
        guard let source = Host.readFile(path) else { throw FixtureError(description: "cannot read \(path)") }
        return try compileProbe(name, source)
    }
}
