#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import Testing
import BockerCore
@testable import BockerRuntime

/// A busybox root filesystem built once for a suite (from Debian's static /bin/busybox) and
/// removed when the suite ends, whether its tests pass or not.
struct ContainerProcessBusyboxRoot: SuiteTrait, TestScoping {
    /// The suite's temp dir; the rootfs is `<base>/rootfs`.
    @TaskLocal static var base: String?

    func provideScope(for test: Test, testCase: Test.Case?,
                      performing function: @Sendable () async throws -> Void) async throws {
        let base = ContainerProcessFixture.makeTempDir()
        defer { ContainerProcessFixture.removeTree(base) }
        try ContainerProcessFixture.buildBusyboxRootfs(at: base + "/rootfs")
        try await Self.$base.withValue(base) { try await function() }
    }
}

extension Trait where Self == ContainerProcessBusyboxRoot {
    static var busyboxRootfs: Self { ContainerProcessBusyboxRoot() }
}

enum ContainerProcessFixture {
    static var base: String { ContainerProcessBusyboxRoot.base! }
    static var rootfs: String { base + "/rootfs" }

    static func makeTempDir(_ prefix: String = "bocker-proctest") -> String {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(p != nil, "mkdtemp failed")
        return String(cString: template)
    }

    /// rm -rf that never follows symlinks nor crosses into another mount.
    static func removeTree(_ path: String) {
        var top = stat()
        guard lstat(path, &top) == 0 else { return }
        removeTree(path, device: top.st_dev)
    }

    private static func removeTree(_ path: String, device: dev_t) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            guard st.st_dev == device else { return }  // a mount: never descend into it
            chmod(path, 0o700)
            for name in FS.list(path) { removeTree(path + "/" + name, device: device) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }

    static func buildBusyboxRootfs(at rootfs: String) throws {
        for d in ["bin", "etc", "tmp", "root"] {
            try FS.makeDirectories(rootfs + "/" + d)
        }
        chmod(rootfs + "/tmp", 0o1777)
        let bytes = try FS.read("/bin/busybox")
        let fd = open(rootfs + "/bin/busybox", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o755)
        guard fd >= 0 else { throw BockerError.errno("create busybox") }
        defer { close(fd) }
        try bytes.withUnsafeBytes { try FS.writeAll(fd, $0, what: "busybox") }

        guard let list = popen("/bin/busybox --list", "r") else { throw BockerError.errno("busybox --list") }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), list) != nil {
            let name = trim(String(cString: line))
            if name.isEmpty || name == "busybox" || name.contains("/") { continue }
            symlink("busybox", rootfs + "/bin/" + name)
        }
        pclose(list)
        try FS.writeString(rootfs + "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
        try FS.writeString(rootfs + "/etc/group", "root:x:0:\n")
        try FS.writeString(rootfs + "/marker", "busybox-rootfs\n")
    }

    /// Lines of the host's mountinfo that mention `path`.
    static func hostMounts(mentioning path: String) -> [String] {
        let text = (try? FS.readString("/proc/self/mountinfo")) ?? ""
        return text.split(separator: "\n").map(String.init).filter { $0.contains(path) }
    }

    static func spec(_ argv: [String]) -> ProcessSpec {
        ProcessSpec(rootfs: rootfs, hostname: "bk-test", argv: argv, env: ["PATH=/bin", "HOME=/root"])
    }
}

/// A CLOEXEC pipe.
final class ContainerProcessPipe {
    var r: Int32 = -1
    var w: Int32 = -1

    init() throws {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw BockerError.errno("pipe") }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        r = fds[0]
        w = fds[1]
    }

    func closeWrite() { if w >= 0 { close(w); w = -1 } }
    func closeRead() { if r >= 0 { close(r); r = -1 } }

    func readAll() -> String {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { read(r, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return String(decoding: out, as: UTF8.self)
    }

    func readLine() -> String {
        var out: [UInt8] = []
        var c: UInt8 = 0
        while read(r, &c, 1) == 1 {
            if c == 10 { break }
            out.append(c)
        }
        return String(decoding: out, as: UTF8.self)
    }

    func write(_ s: String) {
        var bytes = Array(s.utf8)
        _ = Glibc.write(w, &bytes, bytes.count)
    }

    deinit { closeRead(); closeWrite() }
}

struct ContainerProcessOutput {
    var out: String
    var err: String
    var code: Int32
}

extension ContainerProcessFixture {
    /// Spawns, releases, collects stdout/stderr to EOF and waits.
    static func run(_ spec: ProcessSpec, stdin: Int32 = -1) throws -> ContainerProcessOutput {
        let o = try ContainerProcessPipe(), e = try ContainerProcessPipe()
        let p = try ContainerProcess.spawn(spec, stdin: stdin, stdout: o.w, stderr: e.w)
        o.closeWrite()
        e.closeWrite()
        try p.release()
        let out = o.readAll()
        let err = e.readAll()
        return ContainerProcessOutput(out: out, err: err, code: p.wait())
    }

    /// Spawns and releases a command that is expected to fail before it runs.
    static func failure(_ spec: ProcessSpec) -> (BockerError?, Int32) {
        do {
            let p = try ContainerProcess.spawn(spec, stdin: -1, stdout: -1, stderr: -1)
            do {
                try p.release()
            } catch let e as BockerError {
                return (e, p.wait())
            } catch {
                return (nil, p.wait())
            }
            return (nil, p.wait())
        } catch let e as BockerError {
            return (e, -1)
        } catch {
            return (nil, -1)
        }
    }

    static func trim(_ s: String) -> String {
        String(s.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }

    /// "Key:\tvalue" lines of /proc/PID/status as a dictionary.
    static func statusFields(_ text: String) -> [String: String] {
        var d: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            d[String(line[..<colon])] = trim(String(line[line.index(after: colon)...]))
        }
        return d
    }
}
