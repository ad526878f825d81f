import Foundation
import FovealGeometry
import FovealIO
import FovealModel
import FovealTensor
import GazeCapture

/// Error statistics over frames, in cm (Euclidean distance in camera space).
public struct ErrorStatistics: Codable, Sendable, Equatable {
    public var frames: Int
    public var meanCm: Double
    public var medianCm: Double
    /// Population standard deviation.
    public var stdCm: Double

    public init(_ errors: [Double]) {
        frames = errors.count
        guard !errors.isEmpty else {
            (meanCm, medianCm, stdCm) = (.nan, .nan, .nan)
            return
        }
        let mean = errors.reduce(0, +) / Double(errors.count)
        let sorted = errors.sorted()
        let mid = sorted.count / 2
        meanCm = mean
        medianCm = sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
        stdCm = (errors.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(errors.count)).squareRoot()
    }

    enum CodingKeys: String, CodingKey {
        case frames, meanCm = "mean_cm", medianCm = "median_cm", stdCm = "std_cm"
    }

    /// Statistics of each family's errors, and of all of them under "all".
    public static func perFamily(_ errors: [String: [Double]]) -> [String: ErrorStatistics] {
        var out = errors.mapValues(ErrorStatistics.init)
        out["all"] = ErrorStatistics(errors.values.flatMap { $0 })
        return out
    }
}

/// Angular error statistics over frames, in degrees (the same statistics as `ErrorStatistics`).
public struct AngularStatistics: Codable, Sendable, Equatable {
    public var frames: Int
    public var meanDegrees: Double
    public var medianDegrees: Double
    public var stdDegrees: Double

    public init(_ errors: [Double]) { self.init(ErrorStatistics(errors)) }

    /// The same statistics, read as degrees.
    init(_ s: ErrorStatistics) { (frames, meanDegrees, medianDegrees, stdDegrees) = (s.frames, s.meanCm, s.medianCm, s.stdCm) }

    enum CodingKeys: String, CodingKey {
        case frames, meanDegrees = "mean_deg", medianDegrees = "median_deg", stdDegrees = "std_deg"
    }

    /// Statistics of each family's errors, and of all of them under "all".
    public static func perFamily(_ errors: [String: [Double]]) -> [String: AngularStatistics] {
        ErrorStatistics.perFamily(errors).mapValues(AngularStatistics.init(_:))
    }
}

/// How well the presence head tells frames with a face with open eyes (GazeCapture's valid
/// frames) from the rest (nobody in view, eyes closed), at a threshold of one half; or the
/// face-in-view head, among the frames without a face with open eyes, those with a face (eyes
/// closed: GazeCapture found the face, not the eyes) from those without (nobody there).
public struct PresenceStatistics: Codable, Sendable, Equatable {
    public var frames = 0, correct = 0
    public var faceFrames = 0, faceCorrect = 0
    public var noFaceFrames = 0, noFaceCorrect = 0

    public init() {}

    public mutating func add(sawFace: Bool, hasFace: Bool) {
        frames += 1
        if hasFace { faceFrames += 1 } else { noFaceFrames += 1 }
        guard sawFace == hasFace else { return }
        correct += 1
        if hasFace { faceCorrect += 1 } else { noFaceCorrect += 1 }
    }

    /// Adds another part's counts (a shard of the same evaluation).
    public mutating func merge(_ p: PresenceStatistics) {
        (frames, correct) = (frames + p.frames, correct + p.correct)
        (faceFrames, faceCorrect) = (faceFrames + p.faceFrames, faceCorrect + p.faceCorrect)
        (noFaceFrames, noFaceCorrect) = (noFaceFrames + p.noFaceFrames, noFaceCorrect + p.noFaceCorrect)
    }

    /// Share of frames classified right.
    public var accuracy: Double { frames > 0 ? Double(correct) / Double(frames) : .nan }
    public var faceAccuracy: Double { faceFrames > 0 ? Double(faceCorrect) / Double(faceFrames) : .nan }
    public var noFaceAccuracy: Double { noFaceFrames > 0 ? Double(noFaceCorrect) / Double(noFaceFrames) : .nan }

    enum CodingKeys: String, CodingKey {
        case frames, correct, faceFrames = "face_frames", faceCorrect = "face_correct"
        case noFaceFrames = "no_face_frames", noFaceCorrect = "no_face_correct", accuracy
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        (frames, correct) = (try c.decode(Int.self, forKey: .frames), try c.decode(Int.self, forKey: .correct))
        (faceFrames, faceCorrect) = (try c.decode(Int.self, forKey: .faceFrames), try c.decode(Int.self, forKey: .faceCorrect))
        (noFaceFrames, noFaceCorrect) = (try c.decode(Int.self, forKey: .noFaceFrames), try c.decode(Int.self, forKey: .noFaceCorrect))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(frames, forKey: .frames); try c.encode(correct, forKey: .correct)
        try c.encode(faceFrames, forKey: .faceFrames); try c.encode(faceCorrect, forKey: .faceCorrect)
        try c.encode(noFaceFrames, forKey: .noFaceFrames); try c.encode(noFaceCorrect, forKey: .noFaceCorrect)
        try c.encode(accuracy, forKey: .accuracy)
    }
}

/// What `foveal eval` reports: errors per device family and overall, and what was skipped.
public struct EvaluationReport: Codable, Sendable {
    public var dataset: String
    public var split: String
    public var frameSelection: String
    public var families: [String: ErrorStatistics]
    public var overall: ErrorStatistics
    public var framesPerSecond: Double
    public var seconds: Double
    public var skippedFrames: Int
    public var skippedRecordings: Int
    /// Every file that could not be used, with the reason.
    public var problems: [String]
    /// Angular errors in degrees per family and overall, where the dataset knows the 3-D geometry
    /// (MPIIFaceGaze: at the face centre, between the true target and the prediction on the screen).
    public var familiesDegrees: [String: AngularStatistics]?
    public var overallDegrees: AngularStatistics?
    /// For a model with the presence head: its accuracy on every frame of the split, valid or not.
    public var presence: PresenceStatistics?
    /// For a model with the face-in-view head as well: its accuracy on the frames without a face
    /// with open eyes (the frames it decides for), eyes closed or nobody there.
    public var faceInView: PresenceStatistics? = nil
    /// The model's identity (`GazeNet.identity()`); nil for a constant baseline.
    public var model: String?
    /// The part of the dataset evaluated, with every frame's error kept (per family, in cm and
    /// where known in degrees), so that `ShardMerge` gives exact statistics.
    public var shard: Shard?
    public var frameErrors: [String: [Double]]?
    public var frameErrorsDegrees: [String: [Double]]?

    enum CodingKeys: String, CodingKey {
        case dataset, split, frameSelection = "frames", families, overall, framesPerSecond = "frames_per_second"
        case seconds, skippedFrames = "skipped_frames", skippedRecordings = "skipped_recordings", problems
        case familiesDegrees = "families_degrees", overallDegrees = "overall_degrees", presence, model
        case faceInView = "face_in_view"
        case shard, frameErrors = "frame_errors", frameErrorsDegrees = "frame_errors_degrees"
    }
}

/// Progress of a long run over frames, for a progress bar.
public struct Progress: Sendable {
    /// Frames (valid or not) of the recordings done so far, against the info.json total.
    public var framesSeen: Int
    public var framesTotal: Int
    public var framesEvaluated: Int
    public var seconds: Double
}

/// Offline evaluation as in the paper's Table 1: predict every selected frame, compare with the
/// dot's camera-space position, report per device family.
public struct Evaluator {
    /// What predicts: a model, or one point for every frame (the constant baselines of Table 1).
    public enum Predictor: Sendable {
        case model(GazeNet)
        case constant(CameraSpacePoint)
        /// One point per device family (the best constant predictor of each family).
        case constantPerFamily([String: CameraSpacePoint])
    }

    public let predictor: Predictor
    public var batchSize = 16
    /// With a presence model, also run the frames `selection` leaves out as invalid, for the
    /// presence statistics (off where only the gaze matters).
    public var presenceStatistics = true

    public init(model: GazeNet) { predictor = .model(model) }

    public init(constant: CameraSpacePoint) { predictor = .constant(constant) }

    public init(predictor: Predictor) { self.predictor = predictor }

    /// The mean label of each device family's valid frames in `split` (nil: every split), or of
    /// all of them under "all": the best constant predictor under squared error.
    public static func meanLabels(_ dataset: GazeCaptureDataset, split: String? = "train", perFamily: Bool = true) -> [String: CameraSpacePoint] {
        var walk = FrameWalk(dataset, FrameSelection(split: split, validOnly: true))
        var sums: [String: (Double, Double, Int)] = [:]
        walk.forEachRecording { _, frames in
            for f in frames {
                let key = perFamily ? f.family : "all"
                let s = sums[key] ?? (0, 0, 0)
                sums[key] = (s.0 + f.gaze.xCm, s.1 + f.gaze.yCm, s.2 + 1)
            }
        }
        return sums.mapValues { CameraSpacePoint(xCm: $0.0 / Double($0.2), yCm: $0.1 / Double($0.2)) }
    }

    /// Runs over `selection` of `dataset`. `onFrame` sees each prediction (for per-frame output),
    /// with the network's penultimate features when `features` is set;
    /// `progress` is called after each batch. A model with the presence head (and
    /// `presenceStatistics` on) also sees the frames `selection` leaves out as invalid, for the
    /// presence statistics alone.
    public func run(_ dataset: GazeCaptureDataset, _ selection: FrameSelection, features wantFeatures: Bool = false,
                    onFrame: (GazeCaptureFrame, CameraSpacePoint, [Float]?) -> Void = { _, _, _ in },
                    progress: (Progress) -> Void = { _ in }) throws -> EvaluationReport {
        var presence: PresenceStatistics?, faceInView: PresenceStatistics?, identity: String?
        var walkSelection = selection
        if case .model(let model) = predictor {
            identity = model.identity()
            if model.presence != nil, presenceStatistics {
                presence = PresenceStatistics()
                if model.faceInView != nil { faceInView = PresenceStatistics() }
                walkSelection.validOnly = false
            }
        }
        let walk = FrameWalk(dataset, walkSelection)
        let total = walk.recordings.reduce(0) { $0 + $1.totalFrames }
        var errors: [String: [Double]] = [:]
        var unreadable: [FileFormatError] = []
        var evaluated = 0
        let start = Date()
        let batches = decodedBatches(walk)
        defer { batches.close() }
        var finishedWalk: FrameWalk?
        while finishedWalk == nil {
            let batch: [GazeCaptureFrame], images: [Result<RGBImage, FileFormatError>], seen: Int
            switch batches.pop() {
            case .finished(let walk):
                finishedWalk = walk
                continue
            case .batch(let frames, let decoded, let framesSeen):
                (batch, images, seen) = (frames, decoded, framesSeen)
            }
            var good: [(GazeCaptureFrame, RGBImage)] = []
            for (frame, image) in zip(batch, images) {
                switch image {
                case .success(let image): good.append((frame, image))
                case .failure(let problem): unreadable.append(problem)
                }
            }
            // Frames of one batch must share a size (orientation can change mid-recording).
            for group in Dictionary(grouping: good, by: { "\($0.1.width)x\($0.1.height)" }).values {
                let gaze: [CameraSpacePoint]
                var features: [[Float]?] = Array(repeating: nil, count: group.count)
                switch predictor {
                case .model(let model):
                    let estimates = try model.estimate(group.map(\.1))
                    gaze = estimates.map(\.point)
                    if wantFeatures { features = estimates.map(\.features) }
                    for (estimate, (frame, _)) in zip(estimates, group) {
                        presence?.add(sawFace: estimate.sawFace, hasFace: frame.isValid)
                        if !frame.isValid { faceInView?.add(sawFace: (estimate.faceInView ?? 0) >= 0.5, hasFace: frame.face != nil) }
                    }
                case .constant(let point):
                    gaze = Array(repeating: point, count: group.count)
                case .constantPerFamily(let points):
                    gaze = group.map { points[$0.0.family] ?? CameraSpacePoint(xCm: 0, yCm: 0) }
                }
                for (i, (frame, _)) in group.enumerated() where frame.isValid || !selection.validOnly {
                    let predicted = gaze[i]
                    errors[frame.family, default: []].append(predicted.distance(to: frame.gaze))
                    onFrame(frame, predicted, features[i])
                    evaluated += 1
                }
            }
            progress(Progress(framesSeen: seen, framesTotal: total, framesEvaluated: evaluated,
                              seconds: Date().timeIntervalSince(start)))
        }
        guard let walk = finishedWalk else { preconditionFailure("the walk ends with its summary") }
        let seconds = Date().timeIntervalSince(start)
        return EvaluationReport(
            dataset: dataset.root, split: selection.split ?? "all", frameSelection: selection.validOnly ? "valid" : "all",
            families: errors.mapValues(ErrorStatistics.init), overall: ErrorStatistics(errors.values.flatMap { $0 }),
            framesPerSecond: seconds > 0 ? Double(evaluated) / seconds : 0, seconds: seconds,
            skippedFrames: unreadable.count, skippedRecordings: walk.skippedRecordings,
            problems: (walk.problems + unreadable).map(\.description), presence: presence, faceInView: faceInView, model: identity,
            shard: selection.shard, frameErrors: selection.shard == nil ? nil : errors)
    }

    /// What the loader thread of `run` hands over: a batch of one recording's frames, decoded,
    /// with the frames seen so far (for progress); then the walk, with its problems.
    enum LoadedBatch {
        case batch([GazeCaptureFrame], [Result<RGBImage, FileFormatError>], framesSeen: Int)
        case finished(FrameWalk)
    }

    /// Walks the recordings and decodes their batches on a thread of its own, up to two batches
    /// ahead: JPEG decoding overlaps the network instead of taking turns with it (on HD frames,
    /// decoding is about half of the work).
    func decodedBatches(_ walk: FrameWalk) -> BoundedQueue<LoadedBatch> {
        let queue = BoundedQueue<LoadedBatch>(capacity: 2)
        let start = UncheckedSendable(walk)  // the thread's own copy from here on
        struct Closed: Error {}  // the consumer stopped: the walk reads no further recording
        let thread = Thread { [batchSize] in
            var walk = start.value, seen = 0
            do {
                try walk.forEachRecording { recording, frames in
                    for batchStart in stride(from: 0, to: frames.count, by: batchSize) {
                        let batch = Array(frames[batchStart..<min(frames.count, batchStart + batchSize)])
                        guard queue.push(.batch(batch, GazeCaptureDataset.decode(batch), framesSeen: seen + batchStart + batch.count)) else {
                            throw Closed()
                        }
                    }
                    seen += recording.frames.count
                }
                queue.push(.finished(walk))
            } catch {}
        }
        thread.stackSize = 8 << 20
        thread.start()
        return queue
    }
}
