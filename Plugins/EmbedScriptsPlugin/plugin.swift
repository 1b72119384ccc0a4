import PackagePlugin
import Foundation

/// Compiles every `.lua` file under the package's top-level `scripts/` into the target as Swift
/// string literals, so an installed `bocker` needs no files beside it.
@main
struct EmbedScriptsPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let scripts = context.package.directoryURL.appending(path: "scripts")
        var inputs: [URL] = []
        if let walker = FileManager.default.enumerator(at: scripts, includingPropertiesForKeys: nil) {
            for case let url as URL in walker where url.pathExtension == "lua" {
                inputs.append(url)
            }
        }
        inputs.sort { $0.path < $1.path }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedScripts.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(inputs.count) Lua scripts",
                executable: try context.tool(named: "embed-scripts").url,
                arguments: [scripts.path, output.path] + inputs.map(\.path),
                inputFiles: inputs,
                outputFiles: [output]
            )
        ]
    }
}
