import Foundation
import Glibc
import Testing
import BockerCore
@testable import BockerRegistry

/// A registry on 127.0.0.1 started through scripts/dev/registry/registry.sh for one suite, with
/// its images built by make-image.py and pushed by skopeo. `stop()` kills what it started (by the
/// pids the script recorded) and removes its directory; a watchdog does the same if the test
/// process dies first.
final class RegistryHarness: @unchecked Sendable {
    let dir: String
    let port: Int
    let tokenPort: Int?
    let user: String?
    let password: String?
    /// make-image.py summaries by tag name given to `build`.
    var images: [String: ImageSummary] = [:]

    static let repoRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()
    static let scripts = repoRoot + "/scripts/dev/registry"

    struct ImageSummary: Decodable {
        struct Layer: Decodable { var digest: String; var size: Int64; var mediaType: String; var diffID: String }
        struct Config: Decodable { var digest: String; var size: Int64 }
        struct Image: Decodable { var platform: String; var digest: String; var size: Int64; var config: Config; var layers: [Layer] }
        var tag: String
        var digest: String
        var mediaType: String
        var images: [Image]
    }

    private init(dir: String, env: [String: String]) {
        self.dir = dir
        port = Int(env["PORT"]!)!
        tokenPort = env["TOKEN_PORT"].flatMap { Int($0) }
        user = env["USER"]
        password = env["PASSWORD"]
    }

    static func start(auth: String = "none") throws -> RegistryHarness {
        // Never let a developer's real credentials into these tests.
        setenv("BOCKER_CONFIG", "/nonexistent/bocker-registry-tests", 1)
        setenv("DOCKER_CONFIG", "/nonexistent/bocker-registry-tests", 1)
        var template = Array("/tmp/bocker-regtest-XXXXXX".utf8CString)
        let base = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(base != nil, "mkdtemp failed")
        let dir = String(cString: template)
        rmdir(dir)   // registry.sh makes it (and marks it as a harness dir)
        let out: String
        do {
            out = try run([scripts + "/registry.sh", "start", dir, "--auth", auth, "--watch", String(getpid())])
        } catch {
            _ = try? run([scripts + "/registry.sh", "stop", dir])
            throw error
        }
        var env: [String: String] = [:]
        for line in out.split(separator: "\n") {
            let kv = line.split(separator: "=", maxSplits: 1).map(String.init)
            if kv.count == 2 { env[kv[0]] = kv[1] }
        }
        return RegistryHarness(dir: dir, env: env)
    }

    func stop() {
        _ = try? Self.run([Self.scripts + "/registry.sh", "stop", dir])
    }

    var credentials: Credentials? {
        guard let user, let password else { return nil }
        return Credentials(username: user, password: password)
    }

    func ref(_ s: String, port: Int? = nil) throws -> ImageReference {
        try ImageReference.parse("127.0.0.1:\(port ?? self.port)/" + s)
    }

    /// Runs make-image.py into DIR/layouts/LAYOUT with tag `tag`; remembers the summary under `tag`.
    @discardableResult
    func build(layout: String = "images", tag: String, _ args: [String]) throws -> ImageSummary {
        let out = try Self.run([Self.scripts + "/make-image.py", dir + "/layouts/" + layout, "--tag", tag] + args)
        let s = try JSONDecoder().decode(ImageSummary.self, from: Data(out.utf8))
        images[tag] = s
        return s
    }

    func push(layout: String = "images", tag: String, to dest: String, v2s2: Bool = false) throws {
        try Self.run([Self.scripts + "/registry.sh", "push", dir, dir + "/layouts/" + layout + ":" + tag, dest]
                     + (v2s2 ? ["--v2s2"] : []))
    }

    /// Starts a fault shim; returns its port (and the redirect target's).
    func shim(_ name: String, mode: String) throws -> (port: Int, cdnPort: Int?) {
        let out = try Self.run([Self.scripts + "/registry.sh", "shim", dir, name, mode])
        var port = 0, cdn: Int?
        for line in out.split(separator: "\n") {
            if line.hasPrefix("SHIM_PORT=") { port = Int(line.dropFirst(10))! }
            if line.hasPrefix("CDN_PORT=") { cdn = Int(line.dropFirst(9))! }
        }
        return (port, cdn)
    }

    /// JSON lines of a harness log (token-requests.log, shim-NAME.log).
    func logEntries(_ file: String) -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: dir + "/" + file, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    func fileText(_ file: String) -> String? {
        try? String(contentsOfFile: dir + "/" + file, encoding: .utf8)
    }

    /// A scratch directory inside the harness dir (removed with it).
    func scratch(_ name: String) -> String {
        let p = dir + "/scratch/" + name + "-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        try? FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        return p
    }

    /// Runs a program (posix_spawn: Foundation's Process can hang in waitUntilExit when several
    /// run at once), returns its stdout; throws with its stderr when it fails.
    @discardableResult
    static func run(_ argv: [String]) throws -> String {
        // Pipe creation and spawn under one lock, so no other test's child inherits our write end.
        spawnLock.lock()
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { spawnLock.unlock(); throw HarnessError(message: "pipe failed") }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        let errFile = "/tmp/bocker-regtest-stderr-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        defer { unlink(errFile) }
        var fa = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fa)
        defer { posix_spawn_file_actions_destroy(&fa) }
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&fa, fds[1], 1)
        posix_spawn_file_actions_addopen(&fa, 2, errFile, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cargs { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &fa, nil, &cargs, environ)
        close(fds[1])
        spawnLock.unlock()
        defer { close(fds[0]) }
        guard rc == 0 else { throw HarnessError(message: "cannot run \(argv[0]): \(String(cString: strerror(rc)))") }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        if status != 0 {
            let err = (try? String(contentsOfFile: errFile, encoding: .utf8)) ?? ""
            let name = argv.prefix(2).map { URL(fileURLWithPath: $0).lastPathComponent }.joined(separator: " ")
            throw HarnessError(message: "\(name) failed (wait status \(status)): \(err)")
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static let spawnLock = NSLock()

    struct HarnessError: Error, CustomStringConvertible { var message: String; var description: String { message } }

    @TaskLocal static var current: RegistryHarness?
}

/// Runs a suite against its own registry: started (and its images built and pushed by `setup`)
/// before the first test, stopped and removed after the last, whatever happened.
struct RegistryScope: SuiteTrait, TestScoping {
    let auth: String
    let setup: @Sendable (RegistryHarness) throws -> Void

    func provideScope(for test: Test, testCase: Test.Case?,
                      performing function: @Sendable () async throws -> Void) async throws {
        let h = try RegistryHarness.start(auth: auth)
        defer { h.stop() }
        try setup(h)
        try await RegistryHarness.$current.withValue(h) { try await function() }
    }
}

extension Trait where Self == RegistryScope {
    static func registry(auth: String = "none", _ setup: @escaping @Sendable (RegistryHarness) throws -> Void) -> Self {
        RegistryScope(auth: auth, setup: setup)
    }
}

/// The sha256 of a file, "sha256:<hex>".
func fileDigest(_ path: String) throws -> String {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    return sha256Digest(Array(data))
}

func directoryEntries(_ path: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
}

/// The BockerError a throwing call produced (fails the test if it did not throw one).
func bockerError(_ body: () throws -> Void) -> BockerError? {
    do {
        try body()
        Issue.record("expected an error")
        return nil
    } catch let e as BockerError {
        return e
    } catch {
        Issue.record("unexpected error \(error)")
        return nil
    }
}
