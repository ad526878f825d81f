import Foundation

/// The model Foveal ships (`data/foveal-compact.safetensors`), for commands run without `--weights`.
enum ShippedModel {
    static let fileName = "foveal-compact.safetensors"

    /// $FOVEAL_MODEL, else data/ in the working directory, else data/ of the checkout the binary
    /// was built in (the binary lives in .build/<triple>/<configuration>/).
    static func path() throws -> String {
        if let found = find("data/" + fileName, environment: "FOVEAL_MODEL") { return found }
        throw CommandFailure("no --weights given and the shipped model \(fileName) was not found (set FOVEAL_MODEL or pass --weights)")
    }

    /// A file of the checkout: $VARIABLE, else `relative` under the working directory, else under
    /// the checkout the binary was built in.
    static func find(_ relative: String, environment variable: String? = nil) -> String? {
        var candidates: [String] = []
        if let variable, let env = ProcessInfo.processInfo.environment[variable] { candidates.append(env) }
        candidates.append(FileManager.default.currentDirectoryPath + "/" + relative)
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            dir = dir.deletingLastPathComponent()
            candidates.append(dir.appendingPathComponent(relative).path)
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }

    /// `weights` if given, else the shipped model.
    static func resolve(_ weights: String?) throws -> String { try weights ?? path() }
}
