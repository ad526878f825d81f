import ArgumentParser
import Foundation

// What every command shares: how it prints, how it fails, and the small parsers of its options.

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

/// Seconds on a monotonic clock.
func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// "640x480" -> (640, 480).
func parseSize(_ text: String) -> (width: Int, height: Int)? {
    let parts = text.split(separator: "x").compactMap { Int($0) }
    guard parts.count == 2, parts.allSatisfy({ $0 > 0 && $0 <= 8192 }) else { return nil }
    return (parts[0], parts[1])
}

func jsonObject(_ text: String) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(text.utf8))
}

/// One output file name (without extension) per input image: its name without the extension, or,
/// where two inputs share that name (`a/frames/00030.jpg`, `b/frames/00030.jpg`), the path's
/// folders joined in front of it (`a_frames_00030`), so that no output overwrites another.
func outputStems(for paths: [String]) -> [String] {
    let withoutExtensions = paths.map { ($0 as NSString).deletingPathExtension }
    let stems = withoutExtensions.map { ($0 as NSString).lastPathComponent }
    let counts = Dictionary(stems.map { ($0, 1) }, uniquingKeysWith: +)
    return zip(withoutExtensions, stems).map { path, stem in
        counts[stem, default: 0] > 1 ? path.split(separator: "/").filter { $0 != "." && $0 != ".." }.joined(separator: "_") : stem
    }
}

/// Creates a directory (and its parents) or explains why it cannot.
func createDirectory(_ path: String) throws {
    do {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    } catch {
        throw CommandFailure("\(path): cannot create directory: \(error.localizedDescription)")
    }
}

/// One compact JSON object, keys sorted, on one line.
func jsonLine(_ object: [String: Any]) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
    return String(decoding: data, as: UTF8.self)
}

/// Prints `rows` as JSON or as an aligned table.
func printRows(_ rows: [[String: Any]], columns: [String], json: Bool) {
    if json {
        let data = (try? JSONSerialization.data(withJSONObject: rows, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        emit(String(decoding: data, as: UTF8.self))
        return
    }
    let widths = columns.map { c in max(c.count, rows.map { "\($0[c] ?? "")".count }.max() ?? 0) }
    emit(zip(columns, widths).map { $0.0.padding(toLength: $0.1, withPad: " ", startingAt: 0) }.joined(separator: "  "))
    for row in rows {
        emit(zip(columns, widths).map { "\(row[$0.0] ?? "")".padding(toLength: $0.1, withPad: " ", startingAt: 0) }.joined(separator: "  "))
    }
}
