import Foundation
import PackagePlugin

/// Embeds every `Stdlib/**/*.lua` file into the DodeLua module as a Swift string table, so the
/// `dode` binary is relocatable and tracebacks still name `Stdlib/<module>.lua:<line>`.
@main
struct EmbedStdlib: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let stdlib = context.package.directoryURL.appendingPathComponent("Stdlib")
        // The folders are inputs too: adding a module changes their modification time, which
        // re-runs the command even when the plugin's own evaluation is cached.
        var inputs: [URL] = [stdlib]
        if let e = FileManager.default.enumerator(at: stdlib, includingPropertiesForKeys: nil) {
            for case let url as URL in e {
                if url.pathExtension == "lua" || url.hasDirectoryPath { inputs.append(url) }
            }
        }
        inputs.sort { $0.path < $1.path }
        let output = context.pluginWorkDirectoryURL.appendingPathComponent("EmbeddedStdlib.swift")
        return [.buildCommand(
            displayName: "Embedding \(inputs.count) Stdlib modules",
            executable: try context.tool(named: "DodeEmbed").url,
            arguments: [stdlib.path, output.path],
            inputFiles: inputs,
            outputFiles: [output])]
    }
}
