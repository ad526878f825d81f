import ArgumentParser
import Foundation

/// The `foveal` command: gaze tracking with a saliency-sampler gaze regressor.
@main
struct Foveal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "foveal",
        abstract: "Gaze tracking on Linux: Learning to Zoom's saliency sampler + AlexNet, in Swift.",
        subcommands: [Track.self, Cameras.self, Calibrate.self, UserCommand.self, ScreenCommand.self, CalibrationCommand.self, Predict.self, Eval.self, Train.self, Visualize.self, Synth.self, Bench.self, Serve.self]
    )
}

/// Prints one line to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Writes one line to standard output and flushes at once, so that pipes see it immediately.
func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// A run-time failure the user must see: printed as one line, exit status 1.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension ParsableCommand {
    /// Runs `body`, turning any error into a one-line message on stderr and exit status 1
    /// (argument errors keep argument-parser's usage output).
    func reportingErrors(_ body: () throws -> Void) throws {
        do { try body() } catch { throw reported(error) }
    }

    /// `reportingErrors` for async commands.
    func reportingErrors(_ body: () async throws -> Void) async throws {
        do { try await body() } catch { throw reported(error) }
    }

    private func reported(_ error: any Error) -> any Error {
        if error is ValidationError || error is ExitCode { return error }
        printError("foveal: \(error)")
        return ExitCode.failure
    }
}
