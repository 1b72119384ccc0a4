/// The Lua scripts shipped in the binary (`scripts/` at build time), by relative path: their
/// text, and the bytecode embed-scripts compiled from it.
public enum BundledScripts {
    /// Script text for a path such as "commands/run.lua", or nil.
    public static func text(_ path: String) -> String? { embeddedScripts[path] }

    /// The script compiled to Lua bytecode (chunk name "=bocker:" + path), or nil. Stored one
    /// byte per code point U+0000–U+00FF.
    public static func bytecode(_ path: String) -> [UInt8]? {
        guard var s = embeddedBytecode[path] else { return nil }
        // Straight from the UTF-8: a byte below 0x80 is itself, U+0080–U+00FF is two bytes.
        return s.withUTF8 { utf8 in
            [UInt8](unsafeUninitializedCapacity: utf8.count) { out, n in
                var i = 0
                while i < utf8.count {
                    let b = utf8[i]
                    if b < 0x80 || i + 1 == utf8.count {
                        out[n] = b
                        i += 1
                    } else {
                        out[n] = (b & 0x1f) &<< 6 | (utf8[i + 1] & 0x3f)
                        i += 2
                    }
                    n += 1
                }
            }
        }
    }

    /// Every bundled path, sorted.
    public static var paths: [String] { embeddedScripts.keys.sorted() }
}
