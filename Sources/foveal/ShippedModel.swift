import Foundation

/// The model Foveal ships (`data/foveal-compact.safetensors`), for commands run without `--weights`.
enum ShippedModel {
    static let fileName = "foveal-compact.safetensors"

    /// $FOVEAL_MODEL, else data/ in the working directory, else data/ of the checkout the binary
    /// was built in (the binary lives in .build/<triple>/<configuration>/).
    static func path() throws -> String {
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["FOVEAL_MODEL"] { candidates.append(env) }
        candidates.append(FileManager.default.currentDirectoryPath + "/data/" + fileName)
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            dir = dir.deletingLastPathComponent()
            candidates.append(dir.appendingPathComponent("data/" + fileName).path)
        }
        if let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) { return found }
        throw CommandFailure("no --weights given and the shipped model \(fileName) was not found (set FOVEAL_MODEL or pass --weights)")
    }

    /// `weights` if given, else the shipped model.
    static func resolve(_ weights: String?) throws -> String { try weights ?? path() }
}
