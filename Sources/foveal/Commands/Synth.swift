import ArgumentParser
import Foundation
import SyntheticGaze

extension Foveal {
    struct Synth: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Render a synthetic gaze dataset in GazeCapture's layout.",
            discussion: """
                Each recording is a subject (face, eyes with their own kappa, appearance) holding an \
                iPhone or iPad from calibration/devices.csv in one of the four orientations and \
                looking at dots on its screen; frames come from a pinhole front camera (640x480, \
                portrait 480x640), labels are the dots in camera space. Deterministic by seed.
                """)

        @Option(help: "Output folder (created; must not already hold files).")
        var out: String

        @Option(help: "Number of recordings (subjects).")
        var recordings = 20

        @Option(help: "Random seed: the same seed renders the same dataset.")
        var seed: UInt64 = 1

        @Option(help: "Dots per recording.")
        var dots = 24

        @Option(help: "Frames per dot.")
        var framesPerDot = 6

        @Option(help: "Share of recordings on iPads (0-1).")
        var ipadFraction = 0.2

        @Option(help: "Landscape frame size WIDTHxHEIGHT (portrait frames are turned; default GazeCapture's 640x480).")
        var frameSize: String?

        func validate() throws {
            guard (1...100_000).contains(recordings), (1...1000).contains(dots), (1...1000).contains(framesPerDot) else {
                throw ValidationError("--recordings must be 1-100000, --dots and --frames-per-dot 1-1000")
            }
            guard (0...1).contains(ipadFraction) else { throw ValidationError("--ipad-fraction must be in 0...1") }
            if let frameSize, parseSize(frameSize) == nil { throw ValidationError("--frame-size must look like 1280x720") }
        }

        func run() throws {
            try reportingErrors {
                if let existing = try? FileManager.default.contentsOfDirectory(atPath: out), !existing.isEmpty {
                    throw CommandFailure("\(out): folder exists and is not empty; choose a new --out")
                }
                try createDirectory(out)
                var options = SyntheticDataset.Options()
                options.recordings = recordings
                options.seed = seed
                options.dotsPerRecording = dots
                options.framesPerDot = framesPerDot
                options.iPadFraction = ipadFraction
                options.frameSize = frameSize.flatMap(parseSize)
                let bar = ProgressBar(label: "synth")
                let summary = try SyntheticDataset.write(options, to: out) { done, total in
                    bar.update(done: done, total: total)
                }
                bar.finish()
                let splits = summary.framesPerSplit.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                let families = summary.recordingsPerFamily.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                emit("wrote \(summary.recordings) recordings, \(summary.frames) frames to \(out)")
                emit("frames per split: \(splits); recordings per family: \(families)")
                emit(String(format: "%.1f s, %.0f frames/s", summary.seconds, Double(summary.frames) / max(summary.seconds, 1e-9)))
            }
        }
    }
}
