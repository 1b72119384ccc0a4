import Glibc
import Testing

/// The storage drivers the core workflow tests run over.
let allDrivers = ["overlay", "btrfs", "copy"]

struct FixtureError: Error, CustomStringConvertible {
    let description: String
}

/// One test's private bocker world: a temporary directory `/tmp/bocker-e2e-XXXXXX` whose `root`
/// is `$BOCKER_ROOT` (for the btrfs driver a loop-mounted btrfs filesystem), the shared busybox
/// rootfs, and a LIFO list of cleanups that runs even when the test fails.
///
///     try BockerFixture.with(driver: "btrfs") { f in
///         let img = try f.initImage()
///         let r = f.run(["run", img, "echo", "hi"])
///         #expect(r.stdout == "hi\n")
///     }
final class BockerFixture: @unchecked Sendable {
    let driver: String
    private(set) var tmp = ""
    var root: String { tmp + "/root" }
    private(set) var rootfs = ""
    private var cleanups: [(String, () -> Void)] = []
    private var children: [ChildProcess] = []
    private(set) var seenContainers: Set<String> = []
    private(set) var loopFile: String?
    private(set) var loopDevice: String?
    /// Words put before the bocker binary in every `run`/`start` of this fixture: by default
    /// `["nsenter", "--net=/run/netns/NAME", "--"]` for the fixture's own network namespace
    /// (NetworkFixture points it at one of its own).
    var commandPrefix: [String] = []

    private init(driver: String) {
        self.driver = driver
    }

    // MARK: - Locating things

    /// The package root, three directories up from this file (Tests/BockerEndToEndTests/Support).
    static let packageRoot: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        parts.removeLast(4)
        return parts.joined(separator: "/")
    }()

    /// `$BOCKER_BIN`, else `<package root>/.build/debug/bocker`.
    static var binary: String {
        if let env = getenv("BOCKER_BIN"), let s = String(validatingCString: env), !s.isEmpty { return s }
        return packageRoot + "/.build/debug/bocker"
    }

    /// The busybox root filesystem, built once per process by scripts/dev/make-rootfs.sh and
    /// removed at exit. Tests must treat it as read-only.
    private static let sharedRootfs: Result<String, FixtureError> = {
        var template = Array("/tmp/bocker-e2e-rootfs-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else {
            return .failure(FixtureError(description: "mkdtemp failed: \(String(cString: strerror(errno)))"))
        }
        let dir = String(cString: p)
        rootfsParent = dir
        atexit {
            if let d = BockerFixture.rootfsParent { _ = runTool(["rm", "-rf", "--one-file-system", d]) }
        }
        let script = packageRoot + "/scripts/dev/make-rootfs.sh"
        let r = runTool(["/bin/sh", script, dir + "/rootfs"])
        if r.status != 0 {
            return .failure(FixtureError(description: "\(script) failed: \(r)"))
        }
        return .success(dir + "/rootfs")
    }()
    nonisolated(unsafe) private static var rootfsParent: String?

    // MARK: - Lifecycle

    /// Runs `body` with a fresh fixture; cleans up afterwards whatever happened.
    static func with(driver: String = "overlay", _ body: (BockerFixture) throws -> Void) throws {
        let f = BockerFixture(driver: driver)
        defer { f.cleanUp() }
        try f.setUp()
        try body(f)
    }

    private func addCleanup(_ what: String, _ action: @escaping () -> Void) {
        cleanups.append((what, action))
    }

    private func cleanUp() {
        while let (_, action) = cleanups.popLast() { action() }
    }

    private func setUp() throws {
        let bin = BockerFixture.binary
        guard access(bin, X_OK) == 0 else {
            throw FixtureError(description: "bocker binary not found or not executable at \(bin). Build it (`swift build --product bocker`) or set BOCKER_BIN to its path.")
        }
        rootfs = try BockerFixture.sharedRootfs.get()

        var template = Array("/tmp/bocker-e2e-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else {
            throw FixtureError(description: "mkdtemp failed: \(String(cString: strerror(errno)))")
        }
        tmp = String(cString: p)
        let tmpDir = tmp
        addCleanup("remove \(tmpDir)") {
            // --one-file-system: never follow a mount that cleanup failed to remove.
            _ = runTool(["rm", "-rf", "--one-file-system", tmpDir])
        }

        if driver == "btrfs" {
            let image = tmp + "/btrfs.img"
            loopFile = image
            // Detach the loop device if autoclear did not free it (runs after the unmount below).
            addCleanup("detach loop device of \(image)") { [weak self] in
                self?.detachLoopDevices()
            }
            try Host.makeDirectory(root)
            let steps: [[String]] = [
                ["truncate", "-s", "300M", image],
                ["mkfs.btrfs", "-q", image],
                ["mount", "-o", "loop", image, root],
            ]
            for step in steps {
                let r = runTool(step)
                if r.status != 0 { throw FixtureError(description: "\(step.joined(separator: " ")) failed: \(r)") }
            }
            let l = runTool(["losetup", "-j", image])
            loopDevice = l.stdoutLines.first.flatMap { $0.split(separator: ":").first.map(String.init) }
        }

        // Every fixture's bocker runs in a network namespace of its own, so that its default
        // bridge, NAT rules and veths never touch the machine's network (and vanish with it).
        let ns = "bocker-e2e-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let add = runTool(["ip", "netns", "add", ns])
        guard add.status == 0 else { throw FixtureError(description: "ip netns add \(ns) failed: \(add)") }
        addCleanup("delete network namespace \(ns)") { _ = runTool(["ip", "netns", "del", ns]) }
        _ = runTool(["ip", "-n", ns, "link", "set", "lo", "up"])
        commandPrefix = ["nsenter", "--net=/run/netns/" + ns, "--"]

        addCleanup("unmount everything under \(tmpDir)") { [weak self] in
            self?.unmountAll()
        }
        addCleanup("remove cgroups and processes of the test's containers") { [weak self] in
            self?.removeContainerCgroups()
        }
        addCleanup("end background bocker processes") { [weak self] in
            self?.endChildren()
        }
    }

    private func endChildren() {
        for c in children where !c.isReaped {
            c.signal(SIGKILL)
            _ = c.finish(timeout: 10, eofGrace: 1)
        }
        children = []
    }

    private func removeContainerCgroups() {
        // The store's monitors first: one that outlived its container would write its record
        // (and the records token) into the test's root while it is being removed.
        Host.killAndWait(Host.monitors(ofRoot: root))
        var ids = seenContainers
        for id in Host.listDirectory(root + "/containers") { ids.insert(id) }
        for id in ids where !id.isEmpty && !id.contains("/") {
            // Only this test's containers: their cgroups are named by ids from this test's store.
            for pid in Host.processes(inContainer: id) { kill(pid, SIGKILL) }
            for dir in Host.cgroupDirectories(forContainer: id) {
                for pid in Host.cgroupProcs(dir) { kill(pid, SIGKILL) }
                var tries = 0
                while rmdir(dir) != 0 && errno == EBUSY && tries < 50 {
                    tries += 1
                    usleep(UInt32(20_000))
                }
            }
        }
    }

    private func unmountAll() {
        for _ in 0..<20 {
            let points = Host.mountPoints(under: tmp).sorted { $0.count > $1.count }
            if points.isEmpty { return }
            for m in points { umount2(m, Int32(MNT_DETACH)) }
        }
    }

    private func detachLoopDevices() {
        guard let image = loopFile else { return }
        for line in runTool(["losetup", "-j", image]).stdoutLines {
            if let dev = line.split(separator: ":").first {
                runTool(["losetup", "-d", String(dev)])
            }
        }
    }

    // MARK: - Running bocker

    /// The environment bocker runs with: ours without any BOCKER_* variable, plus BOCKER_ROOT,
    /// BOCKER_DRIVER and `extra`.
    func environment(_ extra: [String: String] = [:]) -> [String] {
        var env = currentEnvironment().filter { !$0.key.hasPrefix("BOCKER_") }
        env["BOCKER_ROOT"] = root
        env["BOCKER_DRIVER"] = driver
        for (k, v) in extra { env[k] = v }
        return environmentList(env)
    }

    /// Runs `bocker ARGS…` to completion.
    func run(_ args: [String], env: [String: String] = [:], stdin: String? = nil, cwd: String? = nil,
             extraFDs: [(Int32, Int32)] = [], timeout: Double = 30) -> RunResult {
        defer { noteContainers() }
        do {
            let p = try ChildProcess(argv: commandPrefix + [BockerFixture.binary] + args, environment: environment(env),
                                     stdin: stdin, cwd: cwd, extraFDs: extraFDs)
            return p.finish(timeout: timeout)
        } catch {
            return RunResult(status: -1, stdout: "", stderr: "could not start bocker: \(error)")
        }
    }

    /// Starts `bocker ARGS…` in the background with a stdin pipe kept open.
    func start(_ args: [String], env: [String: String] = [:]) throws -> ChildProcess {
        let p = try ChildProcess(argv: commandPrefix + [BockerFixture.binary] + args, environment: environment(env),
                                 stdin: nil, keepStdinOpen: true)
        children.append(p)
        return p
    }

    /// Starts `bocker run -i IMAGE sh -c '…echo ready; read line'`, waits for "ready" and
    /// returns the process and the new container's id.
    func startWaiting(image: String, options: [String] = [], prelude: String = "",
                      env: [String: String] = [:]) throws -> (ChildProcess, String) {
        let before = containerIds()
        let p = try start(["run", "-i"] + options + [image, "sh", "-c", prelude + "echo ready; read line"], env: env)
        guard p.waitForStdout(containing: "ready", timeout: 30) else {
            p.signal(SIGKILL)
            let r = p.finish(timeout: 10, eofGrace: 1)
            throw FixtureError(description: "the background container never printed 'ready': \(r)")
        }
        let new = containerIds().subtracting(before)
        guard new.count == 1, let id = new.first else {
            throw FixtureError(description: "expected exactly one new container in \(root)/containers, got \(new.sorted())")
        }
        return (p, id)
    }

    // MARK: - Store helpers

    /// `bocker init <rootfs>` and the new image id.
    func initImage(_ dir: String? = nil) throws -> String {
        let r = run(["init", dir ?? rootfs])
        guard r.status == 0, let id = firstImageId(in: r.stdout) else {
            throw FixtureError(description: "bocker init \(dir ?? rootfs) failed: \(r)")
        }
        return id
    }

    /// Container ids the store knows (`$ROOT/containers/ps_*`).
    func containerIds() -> Set<String> {
        let ids = Set(Host.listDirectory(root + "/containers").filter { $0.hasPrefix("ps_") })
        seenContainers.formUnion(ids)
        return ids
    }

    private func noteContainers() { _ = containerIds() }

    /// Runs bocker and returns the id of the one container it created (nil when not exactly one).
    func runNew(_ args: [String], env: [String: String] = [:], stdin: String? = nil,
                extraFDs: [(Int32, Int32)] = [], timeout: Double = 30) -> (RunResult, String?) {
        let before = containerIds()
        let r = run(args, env: env, stdin: stdin, extraFDs: extraFDs, timeout: timeout)
        let new = containerIds().subtracting(before)
        return (r, new.count == 1 ? new.first : nil)
    }

    /// Every path under `$ROOT`, sorted, without the lock file and the cache (compiled seccomp
    /// programs) — to compare a store before and after a command that must not change it.
    func storeListing() -> [String] {
        let r = runTool(["find", root, "-mindepth", "1", "!", "-path", root + "/lock",
                         "!", "-path", root + "/cache", "!", "-path", root + "/cache/*"])
        return r.stdoutLines.sorted()
    }

    /// Writes a file in the fixture's temp dir and returns its path.
    @discardableResult
    func writeFile(_ relative: String, _ text: String) throws -> String {
        let path = tmp + "/" + relative
        let parent = String(path[..<path.lastIndex(of: "/")!])
        runTool(["mkdir", "-p", parent])
        try Host.writeFile(path, text)
        return path
    }
}

/// The first `img_<12 hex>` after "Created: " in a text.
func firstImageId(in text: String) -> String? {
    for line in splitLines(text) {
        if let m = line.firstMatch(of: #/^Created: (img_[0-9a-f]{12})$/#) { return String(m.1) }
    }
    return nil
}
