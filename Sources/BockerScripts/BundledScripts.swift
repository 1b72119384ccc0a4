/// The Lua scripts shipped in the binary (`scripts/` at build time), by relative path.
public enum BundledScripts {
    /// Script text for a path such as "commands/run.lua", or nil.
    public static func text(_ path: String) -> String? { embeddedScripts[path] }

    /// Every bundled path, sorted.
    public static var paths: [String] { embeddedScripts.keys.sorted() }
}
