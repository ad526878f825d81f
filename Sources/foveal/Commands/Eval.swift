import ArgumentParser
import Foundation
import FovealIO
import FovealModel
import FovealTensor
import FovealCalibration
import FovealGeometry
import FovealEvaluation
import GazeCapture
import MPIIFaceGaze

extension Foveal {
    /// `eval` evaluates (its default subcommand, `eval run`); `eval merge` combines shards.
    struct Eval: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Evaluate a model on a GazeCapture-layout dataset, as the paper's Table 1.",
            subcommands: [Evaluate.self, Merge.self],
            defaultSubcommand: Evaluate.self)
    }
}

extension Foveal.Eval {
    struct Evaluate: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Evaluate a model on a GazeCapture-layout dataset, as the paper's Table 1 (the default of `foveal eval`).",
            discussion: """
                Mean Euclidean error in cm between predicted and true (XCam, YCam), per device family \
                and overall, with median, standard deviation and frame counts. Valid frames are those \
                with face, both eyes and face grid detected (the frames the published results use). \
                Unreadable recordings and frames are skipped, counted and named. \
                --shard I/N evaluates the I-th of N disjoint parts of the recordings and keeps every \
                frame's error in its --json report; `foveal eval merge` combines the N reports into \
                the report of one run over all of them.
                """)

        enum FrameChoice: String, ExpressibleByArgument, CaseIterable { case valid, all }
        /// A constant predictor instead of a model (the baselines of the paper's Table 1).
        enum Baseline: String, ExpressibleByArgument, CaseIterable {
            /// The train split's mean label.
            case mean
            /// Each device family's mean train label.
            case familyMean = "family-mean"
            /// Each family's mean label over the evaluated split itself: the best any constant
            /// can do there (an oracle, the yardstick a model's error is a ratio of).
            case ownFamilyMean = "own-family-mean"
        }
        enum Split: String, ExpressibleByArgument, CaseIterable { case train, val, test, all }

        @Option(help: "Dataset folder: GazeCapture's layout (or `foveal synth`'s), or MPIIFaceGaze's (told apart by its contents).")
        var dataset: String

        @Option(help: "MPIIFaceGaze: the held-out participant (pXX) whose frames are evaluated (leave-one-person-out); default: every participant.")
        var testPerson: String?

        @OptionGroup var model: ModelOptions

        @Option(help: "Instead of a model, a constant baseline: 'mean' predicts the train split's mean label, 'family-mean' each family's, 'own-family-mean' each family's mean label over the evaluated split itself (the best constant).")
        var baseline: Baseline?

        @Option(help: "Split.")
        var split: Split = .test

        @Option(help: "Which frames: valid (face, eyes and face grid detected) or all.")
        var frames: FrameChoice = .valid

        @Option(help: "Evaluate at most N frames.")
        var limit: Int?

        @Option(help: "Frames per forward pass.")
        var batch = 16

        @Flag(help: "Write the report as JSON to standard output.")
        var json = false

        @Option(help: ArgumentHelp("Evaluate only part I of N (1-based) of the recordings, split by recording; needs --json, and keeps every frame's error for `foveal eval merge`.", valueName: "I/N"))
        var shard: String?

        @Option(help: "Per recording, calibrate on the frames of K dots and report errors on the other dots (iTracker's protocol).")
        var calibrate: Int?

        @Option(help: "With --calibrate, which dots calibrate: 'first' (the first K in time; default) or 'spread' (every other dot, interleaved with the test dots).")
        var calibrationDots: CalibratedEvaluation.DotChoice?

        @Option(help: "Also write each frame's prediction as a JSON line to FILE: recording, frame, split, family, orientation, dot, target and prediction (cm); add --with-features for AlexNet's penultimate features.")
        var predictions: String?

        @Flag(help: "With --predictions: include the penultimate features of each frame.")
        var withFeatures = false

        func validate() throws {
            if calibrationDots != nil && calibrate == nil { throw ValidationError("--calibration-dots needs --calibrate K") }
            if withFeatures && predictions == nil { throw ValidationError("--with-features needs --predictions FILE") }
            if predictions != nil && calibrate != nil { throw ValidationError("--predictions writes uncalibrated predictions: leave out --calibrate") }
            if let limit, limit < 1 { throw ValidationError("--limit must be positive") }
            if batch < 1 { throw ValidationError("--batch must be positive") }
            if let shard {
                guard Shard(shard) != nil else { throw ValidationError("--shard must be I/N with 1 <= I <= N, as in 2/8") }
                guard json else { throw ValidationError("--shard writes a report for `foveal eval merge`: add --json") }
                if limit != nil || predictions != nil { throw ValidationError("--shard cannot be combined with --limit or --predictions") }
            }
            if model.weights != nil && baseline != nil { throw ValidationError("give --weights or --baseline, not both") }
        }

        func run() throws {
            try reportingErrors {
                Engine.setUp()
                let opened = try Dataset(dataset, testPerson: testPerson)
                let data = opened.frames
                let selection = FrameSelection(split: split == .all ? nil : split.rawValue, validOnly: frames == .valid, limit: limit,
                                               shard: shard.flatMap(Shard.init))
                if let calibrate {
                    guard baseline == nil else { throw CommandFailure("--calibrate needs a model, not --baseline") }
                    try evaluateWithCalibration(try model.load(), opened, selection, dots: calibrate)
                    return
                }
                var evaluator: Evaluator
                if let baseline {
                    // The train split's means, or (own-family-mean) the evaluated split's own.
                    let meanSplit = baseline == .ownFamilyMean ? selection.split : "train"
                    let perFamily = baseline != .mean
                    let means = Evaluator.meanLabels(data, split: meanSplit, perFamily: perFamily)
                    let source = meanSplit.map { "\($0) split" } ?? "all splits"
                    guard !means.isEmpty else { throw CommandFailure("\(dataset): no valid frames in the \(source) for the mean label") }
                    for (family, m) in means.sorted(by: { $0.key < $1.key }) {
                        printError(String(format: "baseline: mean label of %@ over the %@: (%.3f, %.3f) cm", family, source, m.xCm, m.yCm))
                    }
                    guard let predictor: Evaluator.Predictor = perFamily ? .constantPerFamily(means) : means["all"].map(Evaluator.Predictor.constant) else {
                        throw CommandFailure("\(dataset): no valid frames in the \(source) for the mean label")
                    }
                    evaluator = Evaluator(predictor: predictor)
                } else {
                    evaluator = Evaluator(model: try model.load())
                }
                evaluator.batchSize = batch
                let perFrame = try predictions.map { try PredictionWriter(path: $0) }
                let bar = ProgressBar(label: "eval")
                var degrees: [String: [Double]] = [:]
                var report = try evaluator.run(data, selection, features: withFeatures, onFrame: { frame, predicted, features in
                    perFrame?.write(frame, predicted, features)
                    if let d = opened.mpii?.angularErrorDegrees(frame, predicted: predicted) { degrees[frame.family, default: []].append(d) }
                }, progress: { p in
                    bar.update(done: p.framesSeen, total: max(p.framesTotal, p.framesSeen),
                               extra: "(\(p.framesEvaluated) evaluated)")
                })
                bar.finish()
                try perFrame?.close()
                if opened.mpii != nil {
                    report.problems = opened.readProblems + report.problems
                    let perFamily = AngularStatistics.perFamily(degrees)
                    report.overallDegrees = perFamily["all"]
                    report.familiesDegrees = perFamily.filter { $0.key != "all" }
                }
                if report.shard != nil, opened.mpii != nil { report.frameErrorsDegrees = degrees }
                printSkipped(report.problems)
                if json {
                    emit(String(decoding: try JSONOutput.encoder().encode(report), as: UTF8.self))
                } else {
                    printEvaluation(report, participants: opened.mpii != nil)
                }
                if report.overall.frames == 0, report.shard == nil { throw CommandFailure("\(dataset): no frames to evaluate in split '\(split.rawValue)'") }
            }
        }
    
        private func evaluateWithCalibration(_ net: GazeNet, _ opened: Dataset, _ selection: FrameSelection, dots: Int) throws {
            guard dots >= 2 else { throw ValidationError("--calibrate needs at least 2 dots") }
            var protocolRun = CalibratedEvaluation(model: net, dots: dots, choice: calibrationDots ?? .first)
            if let mpii = opened.mpii { protocolRun.angularError = { mpii.angularErrorDegrees($0, predicted: $1) } }
            printSkipped(opened.readProblems)
            let report = try protocolRun.run(opened.frames, selection)
            if report.recordings == 0, report.shard == nil {
                throw CommandFailure("\(dataset): no recording in split '\(split.rawValue)' has more than \(dots) dots of usable frames to calibrate on and test ("
                                     + "\(report.skippedRecordings) skipped)")
            }
            if json {
                emit(String(decoding: try JSONOutput.encoder().encode(report), as: UTF8.self))
            } else {
                printCalibratedEvaluation(report)
            }
        }
    }
}

/// `eval --predictions`: one JSON object per frame, for analyses of the model's errors outside Foveal.
private final class PredictionWriter {
    let path: String
    let handle: FileHandle
    private let encoder = JSONOutput.encoder()
    private var buffer = Data()
    private var failure: Error?

    /// Rows go to a temporary file beside `path`, renamed over it when all are written.
    private let temporary: String

    init(path: String) throws {
        try checkWritableRegularFile(path)
        temporary = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: nil), let handle = FileHandle(forWritingAtPath: temporary) else {
            throw CommandFailure("\(path): cannot create the predictions file")
        }
        (self.path, self.handle) = (path, handle)
    }

    private struct Row: Encodable {
        var recording: String, frame: Int, image: String, split: String, family: String, orientation: Int, dot: Int
        var targetCm: [Double], predictedCm: [Double], features: [Float]?

        enum CodingKeys: String, CodingKey {
            case recording, frame, image, split, family, orientation, dot, features
            case targetCm = "target_cm", predictedCm = "predicted_cm"
        }
    }

    /// Buffers the row; the first failure (encoding or writing) stops the writing and is reported by `close`.
    func write(_ frame: GazeCaptureFrame, _ predicted: CameraSpacePoint, _ features: [Float]?) {
        guard failure == nil else { return }
        let row = Row(recording: frame.recordingID, frame: frame.index, image: frame.imagePath, split: frame.split, family: frame.family,
                      orientation: frame.orientation.rawValue, dot: frame.dot.number,
                      targetCm: [frame.gaze.xCm, frame.gaze.yCm], predictedCm: [predicted.xCm, predicted.yCm], features: features)
        do {
            buffer.append(try encoder.encode(row))
            buffer.append(UInt8(ascii: "\n"))
            if buffer.count > 1 << 20 { try flush() }
        } catch { failure = error }
    }

    private func flush() throws {
        defer { buffer.removeAll(keepingCapacity: true) }
        try handle.write(contentsOf: buffer)
    }

    func close() throws {
        if failure == nil { do { try flush() } catch { failure = error } }
        try? handle.close()
        if failure == nil, rename(temporary, path) != 0 { failure = CommandFailure(String(cString: strerror(errno))) }
        if let failure {
            unlink(temporary)
            throw CommandFailure("\(path): cannot write the predictions: \(failure.localizedDescription)")
        }
    }
}

extension CalibratedEvaluation.DotChoice: ExpressibleByArgument {}
