import BockerCore

extension MountSpec {
    /// Docker's `--mount` syntax: comma-separated KEY[=VALUE]: type=bind|volume|tmpfs (default
    /// volume), source/src, target/dst/destination, readonly/ro[=true|false],
    /// bind-propagation (only private/rprivate: bocker's mounts never propagate), tmpfs-size,
    /// tmpfs-mode. Any other key is refused.
    public static func parseMount(_ text: String) throws -> MountSpec {
        func bad(_ why: String) -> BockerError { BockerError(.invalidArgument, "invalid --mount '\(text)': \(why)") }
        var type = "volume", source: String?, target: String?, readOnly = false
        var size: Int64?, mode: UInt32?, propagation: String?
        for field in text.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            let kv = field.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let key = kv[0].lowercased(), value = kv.count == 2 ? kv[1] : nil
            func need() throws -> String {
                guard let v = value, !v.isEmpty else { throw bad("\(key) needs a value") }
                return v
            }
            switch key {
            case "type": type = try need()
            case "source", "src": source = try need()
            case "target", "dst", "destination": target = try need()
            case "readonly", "ro":
                switch value?.lowercased() {
                case nil, "true", "1": readOnly = true
                case "false", "0": readOnly = false
                default: throw bad("readonly takes true or false")
                }
            case "bind-propagation": propagation = try need()
            case "tmpfs-size":
                guard let n = parseSize(try need()) else { throw bad("tmpfs-size '\(value!)' is not a size (64m, 1g)") }
                size = n
            case "tmpfs-mode":
                guard let m = UInt32(try need(), radix: 8), m <= 0o7777 else { throw bad("tmpfs-mode '\(value!)' is not an octal mode") }
                mode = m
            default: throw bad(field.isEmpty ? "an empty field" : "unknown key '\(key)'")
            }
        }
        guard let t = Kind(rawValue: type) else { throw bad("type must be bind, volume or tmpfs") }
        guard let dst = target else { throw bad("target is required") }
        try checkDestination(dst, text)
        if let p = propagation {
            guard t == .bind else { throw bad("bind-propagation is for type=bind") }
            guard p == "private" || p == "rprivate" else {
                throw bad("bind-propagation=\(p) is not supported: bocker's mounts are private (rprivate)")
            }
        }
        if (size != nil || mode != nil) && t != .tmpfs { throw bad("tmpfs-size and tmpfs-mode are for type=tmpfs") }
        switch t {
        case .bind:
            guard let src = source, src.hasPrefix("/") else { throw bad("a bind mount needs an absolute source") }
            return MountSpec(type: .bind, source: src, destination: dst, readOnly: readOnly)
        case .volume:
            guard let src = source else { throw bad("a volume mount needs a source (the volume's name)") }
            guard Identifier.isSafeComponent(src) else {
                throw BockerError(.invalidArgument, "invalid volume name '\(src)': use letters, digits, '_', '.' and '-'")
            }
            return MountSpec(type: .volume, source: src, destination: dst, readOnly: readOnly)
        case .tmpfs:
            if source != nil { throw bad("a tmpfs mount has no source") }
            var m = MountSpec(type: .tmpfs, source: "", destination: dst, readOnly: readOnly)
            m.tmpfsSize = size
            m.tmpfsMode = mode
            return m
        }
    }

    /// Bytes from 512, 64k, 64m, 1g (binary units, as Docker); nil when not a size.
    static func parseSize(_ s: String) -> Int64? {
        let lower = s.lowercased()
        var digits = lower
        var mult: Int64 = 1
        for (suffix, m) in [("kb", Int64(1) << 10), ("mb", Int64(1) << 20), ("gb", Int64(1) << 30), ("k", Int64(1) << 10),
                            ("m", Int64(1) << 20), ("g", Int64(1) << 30), ("b", 1)] where lower.hasSuffix(suffix) {
            digits = String(lower.dropLast(suffix.count))
            mult = m
            break
        }
        guard let n = Int64(digits), n > 0, n <= Int64.max / mult else { return nil }
        return n * mult
    }
}
