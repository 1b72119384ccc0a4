import Foundation
import Glibc
import Testing

/// Helpers for the tests of detached containers, the lifecycle commands and volumes.
///
///     try LifecycleFixture.with { f in
///         let img = try f.initImage()
///         let id = try f.runDetached([img, "sleep", "1000"])
///         …
///         f.expectLifecycleClean(removed: [id])
///     }
enum LifecycleFixture {
    /// A `BockerFixture` whose containers are removed with `bocker rm -f` when the body ends, even
    /// when it fails, and whose background bocker processes (container monitors) still alive after
    /// that are killed by pid.
    static func with(driver: String = "overlay", _ body: (BockerFixture) throws -> Void) throws {
        try BockerFixture.with(driver: driver) { f in
            defer { f.removeAllContainers() }
            try body(f)
        }
    }
}

/// A command that prints "started", then waits (inside the container) until /tmp/go exists —
/// which the test creates with `f.release(ID)` — removes it (so that a restart waits again),
/// prints "finished" and exits with `code`.
func lcUntilGo(exit code: Int) -> [String] {
    ["sh", "-c", "echo started; while [ ! -e /tmp/go ]; do sleep 0.05; done; rm /tmp/go; echo finished; exit \(code)"]
}

/// Whether `s` is an RFC 3339 timestamp (fractional seconds optional).
func isRFC3339(_ s: String) -> Bool {
    s.wholeMatch(of: #/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})/#) != nil
}

/// A container id: `ps_` + 12 hex digits.
func isContainerId(_ s: String) -> Bool {
    s.wholeMatch(of: #/ps_[0-9a-f]{12}/#) != nil
}

/// Walks nested JSON dictionaries: `lcJSON(obj, "State", "Status")`.
func lcJSON(_ obj: Any?, _ path: String...) -> Any? {
    var cur = obj
    for key in path {
        guard let d = cur as? [String: Any] else { return nil }
        cur = d[key]
    }
    return cur
}

func lcString(_ obj: Any?, _ path: String...) -> String? {
    var cur = obj
    for key in path { cur = (cur as? [String: Any])?[key] }
    return cur as? String
}

/// True when a JSONSerialization value came from a JSON `true`/`false` (not from a number).
func lcIsJSONBool(_ v: Any) -> Bool {
    v is Bool && String(describing: type(of: v)).contains("Bool")
}

func lcInt(_ obj: Any?, _ path: String...) -> Int? {
    var cur = obj
    for key in path { cur = (cur as? [String: Any])?[key] }
    guard let v = cur, !lcIsJSONBool(v) else { return nil }
    return v as? Int
}

func lcBool(_ obj: Any?, _ path: String...) -> Bool? {
    var cur = obj
    for key in path { cur = (cur as? [String: Any])?[key] }
    guard let v = cur, lcIsJSONBool(v) else { return nil }
    return v as? Bool
}

/// Parses a JSON document (array or object); nil when it is not valid JSON.
func parseJSON(_ text: String) -> Any? {
    guard let data = text.data(using: .utf8) else { return nil }
    return try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
}

/// One JSON object per non-empty line; nil when some line is not a JSON object.
func parseJSONLines(_ text: String) -> [[String: Any]]? {
    var out: [[String: Any]] = []
    for line in splitLines(text) {
        guard let obj = parseJSON(line) as? [String: Any] else { return nil }
        out.append(obj)
    }
    return out
}

extension Host {
    /// The parent pid of a process: field 4 of /proc/PID/stat.
    static func parentPid(of pid: pid_t) -> pid_t? {
        guard let stat = readFile("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
        let rest = stat[stat.index(after: close)...].split(separator: " ")
        guard rest.count >= 2 else { return nil }
        return pid_t(rest[1])
    }

    /// The target of /proc/PID/exe.
    static func executable(of pid: pid_t) -> String? {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/\(pid)/exe", &buf, buf.count - 1)
        if n <= 0 { return nil }
        buf[n] = 0
        return String(cString: buf)
    }

    /// The NUL-separated entries of /proc/PID/environ (or /proc/PID/cmdline).
    static func nulSeparated(_ path: String) -> [String] {
        guard let text = readFile(path) else { return [] }
        return text.split(separator: "\0").map(String.init)
    }

    static func realPath(_ path: String) -> String {
        guard let p = realpath(path, nil) else { return path }
        defer { free(p) }
        return String(cString: p)
    }
}

extension BockerFixture {
    // MARK: - Running containers

    /// `bocker run -d ARGS…`: expects success and the new id alone on stdout; returns the id.
    func runDetached(_ args: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let (r, id) = runNew(["run", "-d"] + args, timeout: 30)
        #expect(r.status == 0, "bocker run -d \(args.joined(separator: " ")): \(r)", sourceLocation: sourceLocation)
        #expect(!r.timedOut, "bocker run -d did not return while its container runs: \(r)", sourceLocation: sourceLocation)
        let cid = try #require(id, "bocker run -d did not create exactly one container: \(r)", sourceLocation: sourceLocation)
        #expect(r.stdout == cid + "\n", "run -d must print the id alone on stdout: \(r)", sourceLocation: sourceLocation)
        #expect(isContainerId(cid), "id \(cid)", sourceLocation: sourceLocation)
        return cid
    }

    /// `bocker exec ID touch /tmp/go`: lets a container running `lcUntilGo` finish. The exec may
    /// be killed (137) when the container ends before it has exited itself: its pid namespace dies.
    func release(_ ref: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let r = run(["exec", ref, "touch", "/tmp/go"])
        #expect(r.status == 0 || r.status == 137, "bocker exec \(ref) touch /tmp/go: \(r)", sourceLocation: sourceLocation)
    }

    /// `bocker wait ID` → the exit code it printed (nil when it failed or printed something else).
    func waitExit(_ ref: String, timeout: Double = 60, sourceLocation: SourceLocation = #_sourceLocation) -> Int? {
        let r = run(["wait", ref], timeout: timeout)
        #expect(r.status == 0 && !r.timedOut, "bocker wait \(ref): \(r)", sourceLocation: sourceLocation)
        #expect(r.stdoutLines.count == 1, "bocker wait \(ref) must print one line: \(r)", sourceLocation: sourceLocation)
        return r.stdoutLines.count == 1 ? Int(trimmed(r.stdoutLines[0])) : nil
    }

    /// A container in state `created` (made through the Lua API; the CLI has no `create`).
    func createContainer(image: String, cmd: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let list = cmd.map { "[==[\($0)]==]" }.joined(separator: ", ")
        let script = try writeFile("create-\(UInt32.random(in: 0...UInt32.max)).lua", """
            local c = bocker.container.create{ image = arg[1], cmd = { \(list) } }
            print(c.id)

            """)
        let (r, id) = runNew(["script", script, image])
        #expect(r.status == 0, "create through Lua: \(r)", sourceLocation: sourceLocation)
        let cid = try #require(id, "no container created: \(r)", sourceLocation: sourceLocation)
        #expect(r.stdoutLines == [cid], "\(r)", sourceLocation: sourceLocation)
        return cid
    }

    /// Starts `bocker logs -f ID` and waits until it has printed `text` (the container's own
    /// "ready" output), then ends that `logs -f` (by its pid). False, with the output, on failure.
    func waitForLog(_ ref: String, containing text: String, timeout: Double = 30) throws -> (Bool, String) {
        let p = try start(["logs", "-f", ref])
        let ok = p.waitForStdout(containing: text, timeout: timeout)
        p.signal(SIGKILL)
        let r = p.finish(timeout: 10, eofGrace: 1)
        return (ok, "bocker logs -f \(ref): \(r)")
    }

    /// Runs `/bin/sh -c SCRIPT` with this fixture's environment and `$BOCKER` set to the bocker
    /// command line (network-namespace prefix included).
    func shell(_ script: String, timeout: Double = 30) -> RunResult {
        let bocker = (commandPrefix + [BockerFixture.binary]).joined(separator: " ")
        defer { _ = containerIds() }
        do {
            let p = try ChildProcess(argv: ["/bin/sh", "-c", script], environment: environment(["BOCKER": bocker]),
                                     stdin: nil)
            return p.finish(timeout: timeout, eofGrace: 2)
        } catch {
            return RunResult(status: -1, stdout: "", stderr: "could not start sh: \(error)")
        }
    }

    // MARK: - inspect

    /// `bocker inspect REFS…` and its parsed array (nil when it is not a JSON array of objects).
    func inspect(_ refs: [String]) -> (RunResult, [[String: Any]]?) {
        let r = run(["inspect"] + refs)
        return (r, parseJSON(r.stdout) as? [[String: Any]])
    }

    /// The one object of `bocker inspect REF`.
    func inspectOne(_ ref: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        let (r, arr) = inspect([ref])
        #expect(r.status == 0, "bocker inspect \(ref): \(r)", sourceLocation: sourceLocation)
        let a = try #require(arr, "bocker inspect \(ref) did not print a JSON array of objects: \(r)",
                             sourceLocation: sourceLocation)
        try #require(a.count == 1, "bocker inspect \(ref): \(a.count) objects: \(r)", sourceLocation: sourceLocation)
        return a[0]
    }

    /// `State` of `bocker inspect REF` (empty when it cannot be read; the failure is recorded).
    func state(_ ref: String, sourceLocation: SourceLocation = #_sourceLocation) -> [String: Any] {
        guard let obj = try? inspectOne(ref, sourceLocation: sourceLocation) else { return [:] }
        let s = obj["State"] as? [String: Any]
        #expect(s != nil, "no State object in inspect \(ref): \(obj)", sourceLocation: sourceLocation)
        return s ?? [:]
    }

    // MARK: - Cleanup and leftovers

    /// Live bocker processes of this fixture's store other than the ones the test itself holds
    /// (`excluding`): processes running the bocker binary whose environment names this fixture's
    /// root or whose command line names one of its containers — container monitors, in practice.
    func bockerProcesses(excluding: Set<pid_t> = []) -> [pid_t] {
        let bin = Host.realPath(BockerFixture.binary)
        let me = getpid()
        let ids = Set(Host.listDirectory(root + "/containers")).union(seenContainers)
        var out: [pid_t] = []
        for name in Host.listDirectory("/proc") {
            guard let pid = pid_t(name), pid != me, !excluding.contains(pid), Host.processExists(pid) else { continue }
            guard let exe = Host.executable(of: pid) else { continue }
            guard exe == bin || exe == bin + " (deleted)" else { continue }
            let env = Host.nulSeparated("/proc/\(pid)/environ")
            let argv = Host.nulSeparated("/proc/\(pid)/cmdline")
            if env.contains("BOCKER_ROOT=" + root) || argv.contains(where: { a in ids.contains(where: { a.contains($0) }) }) {
                out.append(pid)
            }
        }
        return out
    }

    /// `bocker rm -f` of every container of the store, then SIGKILL (by pid) to any bocker process
    /// of this store still running.
    func removeAllContainers() {
        let ids = containerIds().sorted()
        if !ids.isEmpty { _ = run(["rm", "-f"] + ids, timeout: 60) }
        for pid in bockerProcesses() { kill(pid, SIGKILL) }
    }

    /// Waits (bounded) until no bocker process of this store runs and expects that.
    func expectNoBockerLeft(timeout: Double = 10, sourceLocation: SourceLocation = #_sourceLocation) {
        // A monitor exits on its own after it recorded its container's end; no bocker command
        // waits for that process itself, so poll /proc (bounded) for it to go.
        var left = bockerProcesses()
        var waited = 0.0
        while !left.isEmpty && waited < timeout {
            usleep(20_000)
            waited += 0.02
            left = bockerProcesses()
        }
        let desc = left.map { "\($0): \(Host.nulSeparated("/proc/\($0)/cmdline").joined(separator: " "))" }
        #expect(left.isEmpty, "bocker processes of this store still running: \(desc)", sourceLocation: sourceLocation)
    }

    /// `expectNothingLeftBehind` plus: no monitor (or other bocker process) of this store left.
    func expectLifecycleClean(removed: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        expectNothingLeftBehind(removed: removed, sourceLocation: sourceLocation)
        expectNoBockerLeft(sourceLocation: sourceLocation)
    }
}
