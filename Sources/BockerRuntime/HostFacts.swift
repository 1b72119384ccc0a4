import Glibc
import BockerCore

/// What `bocker version` and `bocker info` report about this build and this host: the
/// version, the binary's GNU build id, the Swift compiler it was built with, the kernel, the
/// OS, CPUs and memory. Only facts read from the binary or the kernel; nothing is guessed.
public enum HostFacts {
    /// bocker's own version.
    public static let version = "0.1.0"

    /// The Swift compiler the binary was built with (compile-time checks).
    public static let swiftVersion: String = {
        #if compiler(>=6.4)
        return "6.4 or later"
        #elseif compiler(>=6.3)
        return "6.3"
        #elseif compiler(>=6.2)
        return "6.2"
        #elseif compiler(>=6.1)
        return "6.1"
        #elseif compiler(>=6.0)
        return "6.0"
        #else
        return "5.x"
        #endif
    }()

    /// The first 7 hex digits of the executable's GNU build id (the linker's
    /// `.note.gnu.build-id`), or "unknown" when it has none.
    public static func buildID(executable: String = "/proc/self/exe") -> String {
        guard let id = gnuBuildID(executable), !id.isEmpty else { return "unknown" }
        return String(id.prefix(7))
    }

    /// The full GNU build id of an ELF64 little-endian file, read from its PT_NOTE segments.
    public static func gnuBuildID(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        func bytes(_ offset: Int, _ count: Int) -> [UInt8]? {
            guard count > 0, count <= 1 << 20 else { return nil }
            var buf = [UInt8](repeating: 0, count: count)
            let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
            return n == count ? buf : nil
        }
        func le(_ b: [UInt8], _ at: Int, _ size: Int) -> Int {
            var v = 0
            for i in (0..<size).reversed() { v = v << 8 | Int(b[at + i]) }
            return v
        }
        guard let h = bytes(0, 64), h[0] == 0x7f, h[1] == 0x45, h[2] == 0x4c, h[3] == 0x46,
              h[4] == 2, h[5] == 1 else { return nil }   // ELF, 64-bit, little-endian
        let phoff = le(h, 32, 8), phentsize = le(h, 54, 2), phnum = le(h, 56, 2)
        guard phentsize >= 56, phnum < 256 else { return nil }
        for i in 0..<phnum {
            guard let ph = bytes(phoff + i * phentsize, 56), le(ph, 0, 4) == 4 else { continue }   // PT_NOTE
            guard let notes = bytes(le(ph, 8, 8), le(ph, 32, 8)) else { continue }
            var at = 0
            while at + 12 <= notes.count {
                let namesz = le(notes, at, 4), descsz = le(notes, at + 4, 4), type = le(notes, at + 8, 4)
                let name = at + 12, desc = name + (namesz + 3) & ~3
                guard desc + descsz <= notes.count else { break }
                if type == 3, namesz == 4, notes[name..<name + 3] == [0x47, 0x4e, 0x55] {   // "GNU"
                    return notes[desc..<desc + descsz].map { String(format2: $0) }.joined()
                }
                at = desc + (descsz + 3) & ~3
            }
        }
        return nil
    }

    /// uname(2): the kernel release and the machine ("6.1.0-13-amd64", "x86_64").
    public static func kernel() -> (release: String, machine: String, system: String) {
        var u = utsname()
        uname(&u)
        func str<T>(_ field: T) -> String {
            withUnsafeBytes(of: field) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
        }
        return (str(u.release), str(u.machine), str(u.sysname))
    }

    /// PRETTY_NAME from /etc/os-release, or nil.
    public static func operatingSystem() -> String? {
        guard let text = try? FS.readString("/etc/os-release") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("PRETTY_NAME=") {
            return String(line.dropFirst("PRETTY_NAME=".count)).trimmingQuotes()
        }
        return nil
    }

    /// The host's name (gethostname).
    public static func hostname() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count - 1) == 0 else { return "localhost" }
        return String(cString: buf)
    }

    /// Online CPUs.
    public static func cpus() -> Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    /// Total memory in bytes.
    public static func memoryBytes() -> Int {
        Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Whether the kernel has seccomp filtering (the Seccomp line of /proc/self/status).
    public static func kernelHasSeccomp() -> Bool {
        guard let text = try? FS.readString("/proc/self/status") else { return false }
        return text.split(separator: "\n").contains { $0.hasPrefix("Seccomp:") }
    }
}

extension String {
    init(format2 byte: UInt8) {
        let digits = Array("0123456789abcdef")
        self = String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
    }

    func trimmingQuotes() -> String {
        var s = Substring(self)
        if s.hasPrefix("\""), s.hasSuffix("\""), s.count >= 2 { s = s.dropFirst().dropLast() }
        return String(s)
    }
}
