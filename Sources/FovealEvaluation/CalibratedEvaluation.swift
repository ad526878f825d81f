import FovealCalibration
import FovealGeometry
import FovealModel
import GazeCapture

/// The iTracker protocol: per recording, calibrate on the frames of K dots and report errors on
/// the frames of the other dots, calibrated and not, per device family.
public struct CalibratedEvaluation {
    /// Which of a recording's dots calibrate.
    public enum DotChoice: String, Codable, Sendable, CaseIterable {
        /// The first K in time: the calibration is used after it was made, as a user's is.
        case first
        /// Every other dot from the start (then the first unused ones if K is more than half):
        /// calibration and test dots interleaved in time, as fixed calibration locations shown
        /// among random ones would be. Neighbouring dots share part of their error, so this
        /// protocol is the more forgiving one.
        case spread

        /// The choice in words, for reports ("the first" or "every other" dot in time).
        public var inWords: String { self == .first ? "the first" : "every other" }

        /// The calibration dots among `dots` (sorted by time).
        public func pick(_ k: Int, of dots: [Int]) -> Set<Int> {
            switch self {
            case .first: return Set(dots.prefix(k))
            case .spread:
                let alternate = stride(from: 0, to: dots.count, by: 2).map { dots[$0] }
                let rest = stride(from: 1, to: dots.count, by: 2).map { dots[$0] }
                return Set((alternate + rest).prefix(k))
            }
        }
    }

    public struct Report: Codable, Sendable {
        public var calibrationDots: Int
        public var dotChoice: DotChoice
        public var recordings: Int
        public var skippedRecordings: Int
        public var uncalibrated: [String: ErrorStatistics]
        public var calibrated: [String: ErrorStatistics]
        /// How often each method was the better one by leave-one-target-out error.
        public var methodsChosen: [String: Int]
        /// The same in degrees, where the dataset knows the 3-D geometry (see `angularError`).
        public var uncalibratedDegrees: [String: AngularStatistics]?
        public var calibratedDegrees: [String: AngularStatistics]?
        public var dataset: String?
        public var split: String?
        /// The model's identity (`GazeNet.identity()`).
        public var model: String?
        /// The part of the dataset evaluated, with every scored frame's errors kept, so that
        /// `ShardMerge` gives exact statistics.
        public var shard: Shard?
        public var frameErrors: FrameErrors?

        /// Every scored frame's error per family, before and after calibration (cm, and degrees
        /// where the dataset knows them).
        public struct FrameErrors: Codable, Sendable {
            public var uncalibrated: [String: [Double]], calibrated: [String: [Double]]
            public var uncalibratedDegrees: [String: [Double]]?, calibratedDegrees: [String: [Double]]?

            enum CodingKeys: String, CodingKey {
                case uncalibrated, calibrated, uncalibratedDegrees = "uncalibrated_degrees", calibratedDegrees = "calibrated_degrees"
            }
        }

        enum CodingKeys: String, CodingKey {
            case calibrationDots = "calibration_dots", dotChoice = "dot_choice", recordings, skippedRecordings = "skipped_recordings"
            case uncalibrated, calibrated, methodsChosen = "methods_chosen"
            case uncalibratedDegrees = "uncalibrated_degrees", calibratedDegrees = "calibrated_degrees"
            case dataset, split, model, shard, frameErrors = "frame_errors"
        }
    }

    public let model: GazeNet
    public let dots: Int
    public let choice: DotChoice
    /// A frame's angular error in degrees for a prediction, where the dataset can tell (MPIIFaceGaze).
    public var angularError: ((GazeCaptureFrame, CameraSpacePoint) -> Double?)?

    public init(model: GazeNet, dots: Int, choice: DotChoice = .first) { (self.model, self.dots, self.choice) = (model, dots, choice) }

    public func run(_ dataset: GazeCaptureDataset, _ selection: FrameSelection) throws -> Report {
        var perRecording: [String: [(GazeCaptureFrame, CameraSpacePoint, [Float])]] = [:]
        var evaluator = Evaluator(model: model)
        evaluator.presenceStatistics = false
        let predictions = try evaluator.run(dataset, selection, features: true, onFrame: { frame, predicted, features in
            perRecording[frame.recordingID, default: []].append((frame, predicted, features ?? []))
        })
        var before: [String: [Double]] = [:], after: [String: [Double]] = [:]
        var beforeDegrees: [String: [Double]] = [:], afterDegrees: [String: [Double]] = [:]
        var chosen: [String: Int] = [:]
        var used = 0, skipped = 0
        for (_, frames) in perRecording.sorted(by: { $0.key < $1.key }) {
            let dotOrder = Array(Set(frames.map(\.0.dot.number))).sorted()
            guard dotOrder.count > dots else { skipped += 1; continue }
            let calibrationDots = choice.pick(dots, of: dotOrder)
            let samples = frames.filter { calibrationDots.contains($0.0.dot.number) }.map {
                CalibrationSample(targetIndex: $0.0.dot.number, target: $0.0.gaze, prediction: $0.1, features: $0.2)
            }
            guard let fitted = CalibrationFitter.fitAll(samples).first else { skipped += 1; continue }
            // No correction at all when none beats the network on the calibration targets.
            let best = fitted.leaveOneOutErrorCm < fitted.uncalibratedErrorCm ? fitted : nil
            chosen[best?.method.rawValue ?? "none", default: 0] += 1
            used += 1
            for (frame, predicted, features) in frames where !calibrationDots.contains(frame.dot.number) {
                let corrected = best?.apply(predicted, features: features) ?? predicted
                before[frame.family, default: []].append(predicted.distance(to: frame.gaze))
                after[frame.family, default: []].append(corrected.distance(to: frame.gaze))
                if let angularError, let b = angularError(frame, predicted), let a = angularError(frame, corrected) {
                    beforeDegrees[frame.family, default: []].append(b)
                    afterDegrees[frame.family, default: []].append(a)
                }
            }
        }
        var report = Report(calibrationDots: dots, dotChoice: choice, recordings: used, skippedRecordings: skipped,
                            uncalibrated: ErrorStatistics.perFamily(before), calibrated: ErrorStatistics.perFamily(after),
                            methodsChosen: chosen)
        if angularError != nil {
            report.uncalibratedDegrees = AngularStatistics.perFamily(beforeDegrees)
            report.calibratedDegrees = AngularStatistics.perFamily(afterDegrees)
        }
        (report.dataset, report.split, report.model, report.shard) = (dataset.root, selection.split ?? "all", predictions.model, selection.shard)
        if selection.shard != nil {
            report.frameErrors = Report.FrameErrors(uncalibrated: before, calibrated: after,
                                                    uncalibratedDegrees: angularError == nil ? nil : beforeDegrees,
                                                    calibratedDegrees: angularError == nil ? nil : afterDegrees)
        }
        return report
    }
}
