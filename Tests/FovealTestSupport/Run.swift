import Foundation

/// The `foveal` executable as a user runs it: exit codes, stdout lines, one-line errors.
public struct Run {
    public let status: Int32
    public let stdout: String
    public let stderr: String

    public var stdoutLines: [String] { stdout.split(separator: "\n").map(String.init) }
    public var stderrLines: [String] { stderr.split(separator: "\n").map(String.init) }

    /// The built binary: $FOVEAL_BIN, else beside the test bundle, else .build/debug.
    public static let binary: String = {
        if let path = ProcessInfo.processInfo.environment["FOVEAL_BIN"] { return path }
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("foveal").path,
            Bundle.main.bundleURL.appendingPathComponent("foveal").path,
            Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("foveal").path,
            URL(fileURLWithPath: Fixtures.directory).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent(".build/debug/foveal").path,
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates.last!
    }()

    /// Runs `foveal ARGUMENTS`, in `directory` when given (for relative paths).
    public init(_ arguments: [String], in directory: String? = nil) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Run.binary)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        status = process.terminationStatus
        stdout = String(decoding: o, as: UTF8.self)
        stderr = String(decoding: e, as: UTF8.self)
    }
}

