import Glibc
import CBocker

/// Small read-only views of the host: files, directories, mounts, cgroups, processes.
enum Host {
    static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { return nil }
        defer { close(fd) }
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 { data.append(contentsOf: buf[0..<n]); continue }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return nil }
            break
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func writeFile(_ path: String, _ text: String, mode: mode_t = 0o644) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        if fd < 0 { throw SubprocessError(description: "open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SubprocessError(description: "write \(path): \(String(cString: strerror(errno)))")
            }
            off += n
        }
    }

    static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func makeDirectory(_ path: String) throws {
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw SubprocessError(description: "mkdir \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Entry names of a directory (without . and ..), sorted; [] when it cannot be read.
    static func listDirectory(_ path: String) -> [String] {
        guard let d = opendir(path) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafePointer(to: e.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Undoes the octal escapes of /proc/self/mountinfo (\040 for space etc.).
    private static func unescapeMountField(_ s: Substring) -> String {
        var out: [UInt8] = []
        let b = Array(s.utf8)
        var i = 0
        while i < b.count {
            if b[i] == 0x5c, i + 3 < b.count,
               let v = UInt8(String(decoding: b[(i + 1)...(i + 3)], as: UTF8.self), radix: 8) {
                out.append(v); i += 4
            } else {
                out.append(b[i]); i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    struct Mount {
        let mountPoint: String
        let majorMinor: String
        let fsType: String
        let source: String
    }

    /// The mounts of this process's mount namespace.
    static func mounts() -> [Mount] {
        guard let text = readFile("/proc/self/mountinfo") else { return [] }
        var result: [Mount] = []
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count >= 10, let dash = parts.firstIndex(of: "-"), dash + 2 < parts.count else { continue }
            result.append(Mount(mountPoint: unescapeMountField(parts[4]), majorMinor: String(parts[2]),
                                fsType: String(parts[dash + 1]), source: unescapeMountField(parts[dash + 2])))
        }
        return result
    }

    /// Mount points at or below `dir`.
    static func mountPoints(under dir: String) -> [String] {
        mounts().map(\.mountPoint).filter { $0 == dir || $0.hasPrefix(dir + "/") }
    }

    /// The cgroup v1 (and v2) hierarchies mounted below /sys/fs/cgroup.
    static func cgroupHierarchies() -> [String] {
        mounts().filter { ($0.fsType == "cgroup" || $0.fsType == "cgroup2") && $0.mountPoint.hasPrefix("/sys/fs/cgroup/") }
            .map(\.mountPoint)
    }

    /// Existing `/sys/fs/cgroup/<hierarchy>/bocker/<id>` directories.
    static func cgroupDirectories(forContainer id: String) -> [String] {
        cgroupHierarchies().map { "\($0)/bocker/\(id)" }.filter { isDirectory($0) }
    }

    /// Pids of every process whose /proc/PID/cgroup names `/bocker/<id>` in some hierarchy.
    static func processes(inContainer id: String) -> [pid_t] {
        var pids: [pid_t] = []
        for name in listDirectory("/proc") {
            guard let pid = pid_t(name) else { continue }
            guard let cg = readFile("/proc/\(name)/cgroup") else { continue }
            for line in cg.split(separator: "\n") where line.hasSuffix("/bocker/\(id)") || line.contains("/bocker/\(id)/") {
                pids.append(pid)
                break
            }
        }
        return pids
    }

    /// Pids listed in a cgroup.procs file (empty when the file is missing).
    static func cgroupProcs(_ dir: String) -> [pid_t] {
        guard let text = readFile(dir + "/cgroup.procs") else { return [] }
        return text.split(separator: "\n").compactMap { pid_t(trimmed(String($0))) }
    }

    /// The monitors of a state root: processes whose command line is `bocker __monitor ROOT ID`.
    static func monitors(ofRoot root: String) -> [pid_t] {
        listDirectory("/proc").compactMap { name -> pid_t? in
            guard let pid = pid_t(name), let raw = readFile("/proc/\(name)/cmdline") else { return nil }
            let argv = raw.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
            return argv.count >= 4 && argv[1] == "__monitor" && argv[2] == root ? pid : nil
        }
    }

    /// SIGKILL to each pid and a wait (through pidfds, at most `timeoutMs`) until they ended.
    static func killAndWait(_ pids: [pid_t], timeoutMs: Int32 = 5000) {
        guard !pids.isEmpty else { return }
        let list: [Int32] = pids.map { Int32($0) }
        list.withUnsafeBufferPointer { buf in
            _ = bk_kill_and_wait(buf.baseAddress, Int32(buf.count), timeoutMs)
        }
    }

    static func processExists(_ pid: pid_t) -> Bool {
        // A zombie still has a /proc entry; it counts as gone.
        guard let stat = readFile("/proc/\(pid)/stat") else { return false }
        guard let close = stat.lastIndex(of: ")") else { return true }
        let rest = stat[stat.index(after: close)...].split(separator: " ")
        return rest.first != "Z" && rest.first != "X"
    }

    static var pageSize: Int { Int(sysconf(Int32(_SC_PAGESIZE))) }

    /// major:minor of the host's root filesystem device (from mountinfo).
    static func rootDevice() -> (major: Int, minor: Int)? {
        guard let m = mounts().last(where: { $0.mountPoint == "/" }) else { return nil }
        let p = m.majorMinor.split(separator: ":")
        guard p.count == 2, let a = Int(p[0]), let b = Int(p[1]) else { return nil }
        return (a, b)
    }
}
