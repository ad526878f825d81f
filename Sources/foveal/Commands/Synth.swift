import ArgumentParser
import Foundation
import SyntheticGaze

extension Foveal {
    struct Synth: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Render a synthetic gaze dataset in GazeCapture's layout.",
            discussion: """
                Each recording is a subject (face, eyes with their own kappa, appearance) looking at \
                dots on a screen of calibration/devices.csv, in one of four setups: \
                phone and tablet: an iPhone or iPad held in the hand in any of the four orientations, \
                its front camera giving 640x480 frames (480x640 in portrait), as in GazeCapture; \
                laptop: a laptop's built-in camera above its 13-16 inch screen; \
                desktop: a webcam on the top edge of a 22-32 inch monitor. At a desk the subject sits \
                40-90 cm away and moves (shifts, leans, turns the head up to about 25 degrees), the \
                webcam (65-80 degree diagonal field of view) gives 1280x720 frames, and the light may \
                be an office's, a dim room's lit by the screen, or a window's behind the user; now and \
                then the subject is away or has the eyes closed, and those frames are marked invalid \
                in the detection files as GazeCapture marks them. Labels are the dots in camera \
                space; DeviceName is the screen's row, so eval reports the families iPhone, iPad, \
                laptop and monitor. Deterministic by seed.
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

        @Option(help: ArgumentHelp(
            "Setups, each with an optional whole-number weight: phone, tablet, laptop, desktop (e.g. laptop, or phone=2,tablet=1,laptop=2,desktop=2).",
            valueName: "list"))
        var setup = SetupMix.handHeld.description

        @Option(help: "Landscape frame size WIDTHxHEIGHT (portrait frames are turned; default 640x480 for phones and tablets, 1280x720 at a desk).")
        var frameSize: String?

        /// The split every recording goes to (`--split`).
        enum Split: String, ExpressibleByArgument, CaseIterable { case train, val, test }

        @Option(help: "Put every recording in this split, e.g. test for a held-out seed evaluated whole (default: GazeCapture's mix, 75% train, 10% val, 15% test, the same subjects and frames either way).")
        var split: Split?

        func validate() throws {
            guard (1...100_000).contains(recordings), (1...1000).contains(dots), (1...1000).contains(framesPerDot) else {
                throw ValidationError("--recordings must be 1-100000, --dots and --frames-per-dot 1-1000")
            }
            do { _ = try SetupMix(parsing: setup) } catch { throw ValidationError("--setup: \(error)") }
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
                options.setups = try SetupMix(parsing: setup)
                options.frameSize = frameSize.flatMap(parseSize)
                options.split = split?.rawValue
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
