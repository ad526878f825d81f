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
    struct Eval: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Evaluate a model on a GazeCapture-layout dataset, as the paper's Table 1.",
            discussion: """
                Mean Euclidean error in cm between predicted and true (XCam, YCam), per device family \
                and overall, with median, standard deviation and frame counts. Valid frames are those \
                with face, both eyes and face grid detected (the frames the published results use). \
                Unreadable recordings and frames are skipped, counted and named.
                """)

        enum FrameChoice: String, ExpressibleByArgument, CaseIterable { case valid, all }
        /// A constant predictor instead of a model (the baselines of the paper's Table 1).
        enum Baseline: String, ExpressibleByArgument, CaseIterable {
            /// The train split's mean label.
            case mean
            /// Each device family's mean train label.
            case familyMean = "family-mean"
        }
        enum Split: String, ExpressibleByArgument, CaseIterable { case train, val, test, all }

        @Option(help: "Dataset folder: GazeCapture's layout (or `foveal synth`'s), or MPIIFaceGaze's (told apart by its contents).")
        var dataset: String

        @Option(help: "MPIIFaceGaze: the held-out participant (pXX) whose frames are evaluated (leave-one-person-out); default: every participant.")
        var testPerson: String?

        @OptionGroup var model: ModelOptions

        @Option(help: "Instead of a model, a constant baseline: 'mean' predicts the train split's mean label, 'family-mean' each family's.")
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
            if model.weights != nil && baseline != nil { throw ValidationError("give --weights or --baseline, not both") }
        }

        func run() throws {
            try reportingErrors {
                Engine.setUp()
                let opened = try Dataset(dataset, testPerson: testPerson)
                let data = opened.frames
                let selection = FrameSelection(split: split == .all ? nil : split.rawValue, validOnly: frames == .valid, limit: limit)
                if let calibrate {
                    guard baseline == nil else { throw CommandFailure("--calibrate needs a model, not --baseline") }
                    try evaluateWithCalibration(try model.load(), opened, selection, dots: calibrate)
                    return
                }
                var evaluator: Evaluator
                if baseline == nil {
                    evaluator = Evaluator(model: try model.load())
                } else {
                    let means = Evaluator.meanLabels(data, perFamily: baseline == .familyMean)
                    guard !means.isEmpty else { throw CommandFailure("\(dataset): no valid train frames for the mean label") }
                    for (family, m) in means.sorted(by: { $0.key < $1.key }) {
                        printError(String(format: "baseline: mean train label of %@: (%.3f, %.3f) cm", family, m.xCm, m.yCm))
                    }
                    guard let predictor: Evaluator.Predictor = baseline == .familyMean ? .constantPerFamily(means) : means["all"].map(Evaluator.Predictor.constant) else {
                        throw CommandFailure("\(dataset): no valid train frames for the mean label")
                    }
                    evaluator = Evaluator(predictor: predictor)
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
                if let mpii = opened.mpii {
                    report.problems = opened.readProblems + report.problems
                    let perFamily = AngularStatistics.perFamily(degrees)
                    report.overallDegrees = perFamily["all"]
                    report.familiesDegrees = perFamily.filter { $0.key != "all" }
                }
                printSkipped(report.problems)
                if json {
                    emit(String(decoding: try JSONOutput.encoder().encode(report), as: UTF8.self))
                } else {
                    emit("dataset \(dataset), split \(report.split), \(report.frameSelection) frames")
                    let degrees = report.familiesDegrees.map { $0.merging(["all": report.overallDegrees ?? AngularStatistics([])]) { a, _ in a } }
                    emit("family     frames   mean cm  median cm   std cm" + (degrees == nil ? "" : "  mean deg")
                         + (opened.mpii == nil ? "" : "   (MPIIFaceGaze: a family is a participant)"))
                    for (family, s) in report.families.sorted(by: { $0.key < $1.key }) + [("all", report.overall)] {
                        emit(family.padding(toLength: 8, withPad: " ", startingAt: 0)
                             + String(format: " %8d %9.3f %10.3f %8.3f", s.frames, s.meanCm, s.medianCm, s.stdCm)
                             + (degrees?[family].map { String(format: " %9.2f", $0.meanDegrees) } ?? ""))
                    }
                    if let p = report.presence {
                        emit(String(format: "presence: %.2f%% of %d frames right (face with open eyes %.2f%% of %d, none %.2f%% of %d)",
                                    100 * p.accuracy, p.frames, 100 * p.faceAccuracy, p.faceFrames, 100 * p.noFaceAccuracy, p.noFaceFrames))
                    }
                    emit(String(format: "%d frames in %.1f s (%.1f frames/s); skipped %d frames, %d recordings",
                                report.overall.frames, report.seconds, report.framesPerSecond,
                                report.skippedFrames, report.skippedRecordings))
                }
                if report.overall.frames == 0 { throw CommandFailure("\(dataset): no frames to evaluate in split '\(split.rawValue)'") }
            }
        }
    
        private func evaluateWithCalibration(_ net: GazeNet, _ opened: Dataset, _ selection: FrameSelection, dots: Int) throws {
            guard dots >= 2 else { throw ValidationError("--calibrate needs at least 2 dots") }
            var protocolRun = CalibratedEvaluation(model: net, dots: dots, choice: calibrationDots ?? .first)
            if let mpii = opened.mpii { protocolRun.angularError = { mpii.angularErrorDegrees($0, predicted: $1) } }
            printSkipped(opened.readProblems)
            let report = try protocolRun.run(opened.frames, selection)
            if report.recordings == 0 {
                throw CommandFailure("\(dataset): no recording in split '\(split.rawValue)' has more than \(dots) dots of usable frames to calibrate on and test ("
                                     + "\(report.skippedRecordings) skipped)")
            }
            if json {
                emit(String(decoding: try JSONOutput.encoder().encode(report), as: UTF8.self))
                return
            }
            emit("dataset \(dataset): calibrated on \(dots) dots per recording (\(report.dotChoice.inWords) in time), errors on the other dots (\(report.recordings) recordings, \(report.skippedRecordings) skipped)")
            let degrees = report.uncalibratedDegrees != nil
            emit("family     frames  uncalibrated cm  calibrated cm  change" + (degrees ? "  uncalibrated deg  calibrated deg" : ""))
            for family in report.uncalibrated.keys.sorted(by: { ($0 == "all" ? "~" : $0) < ($1 == "all" ? "~" : $1) }) {
                guard let u = report.uncalibrated[family], let c = report.calibrated[family] else { continue }
                let angular = zip(report.uncalibratedDegrees?[family].map { [$0] } ?? [], report.calibratedDegrees?[family].map { [$0] } ?? [])
                    .map { String(format: " %17.2f %15.2f", $0.meanDegrees, $1.meanDegrees) }.first ?? ""
                emit(family.padding(toLength: 8, withPad: " ", startingAt: 0)
                     + String(format: " %8d %16.3f %14.3f %6.1f%%", u.frames, u.meanCm, c.meanCm, (c.meanCm / u.meanCm - 1) * 100) + angular)
            }
            emit("method chosen by leave-one-target-out error: " + report.methodsChosen.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
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
