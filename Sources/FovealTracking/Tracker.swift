import Foundation
import FovealCalibration
import FovealCapture
import FovealGeometry
import FovealIO
import FovealModel
import FovealTensor

/// One tracked frame.
public struct TrackPoint: Sendable {
    public var frame: Int
    public var name: String?
    /// Capture time, seconds on the monotonic clock.
    public var captureTime: Double
    public var gaze: CameraSpacePoint
    /// The network's own output, before calibration (equal to `gaze` without one).
    public var uncalibrated: CameraSpacePoint
    /// Whether a calibration corrected `gaze`.
    public var calibrated = false
    /// From capture to result.
    public var latencyMs: Double
    public var label: CameraSpacePoint?
    /// The network's penultimate features: what a feature-based calibration needs.
    public var features: [Float] = []
    /// The first frame of a pass through a replayed recording (see `Frame.startsRecording`).
    public var startsRecording = false
    /// The probability that a face with open eyes is in view (nil: the model cannot tell).
    public var presence: Double?
    /// The probability that a face is in view, eyes open or closed (nil: the model cannot tell).
    public var faceInView: Double?
    /// The frame's mean BT.601 luma, 0-255 (nil where not measured).
    public var luma: Double?

    public init(frame: Int, name: String? = nil, captureTime: Double, gaze: CameraSpacePoint, uncalibrated: CameraSpacePoint,
                calibrated: Bool = false, latencyMs: Double, label: CameraSpacePoint? = nil, features: [Float] = [],
                startsRecording: Bool = false, presence: Double? = nil, faceInView: Double? = nil, luma: Double? = nil) {
        (self.frame, self.name, self.captureTime, self.gaze, self.uncalibrated) = (frame, name, captureTime, gaze, uncalibrated)
        (self.calibrated, self.latencyMs, self.label, self.features, self.startsRecording) = (calibrated, latencyMs, label, features, startsRecording)
        (self.presence, self.faceInView, self.luma) = (presence, faceInView, luma)
    }

    /// Whether the frame is too dark for the model to read (`LowLight`).
    public var lowLight: Bool { luma.map { LowLight.isLow(luma: $0) } ?? false }

    /// Whether a face with open eyes is in view, so that `gaze` means something: the frames
    /// without are reported without a gaze point and never calibrate.
    public var face: Bool { GazeEstimate.seesFace(presence) }

    /// A face with open eyes, or why not: closed eyes, nobody there (`FaceState`).
    public var faceState: FaceState { FaceState(presence: presence, faceInView: faceInView) }
}

/// What a tracking run did.
public struct TrackSummary: Sendable {
    public var frames = 0
    public var seconds = 0.0
    public var dropped = 0
    /// Frames in which the model saw no face with open eyes (nobody there, or a blink).
    public var framesWithoutFace = 0
    /// Of those, the frames in which the model saw no face at all (nobody there), for a model
    /// with the face-in-view head; the rest had the eyes closed.
    public var framesNobodyInView = 0
    /// Frames too dark to read (`LowLight`).
    public var lowLightFrames = 0
    /// Gaps without a face with open eyes short enough to be blinks (`Tracker.longestBlinkSeconds`),
    /// the face there before and after.
    public var blinks = 0
    /// Frames that reused a recent frame's saliency grid, of those that could (`SaliencyReuse`).
    public var saliencyReused = 0, saliencyComputed = 0
    public var latencyP50Ms = 0.0, latencyP99Ms = 0.0
    /// Mean error against the source's labels, when it has them (frames with a face only).
    public var meanErrorCm: Double?
    public var framesPerSecond: Double { seconds > 0 ? Double(frames) / seconds : 0 }

    public init() {}

    /// Adds a later run's counts (a camera reconnected mid-session); latencies keep the worse.
    public mutating func merge(_ s: TrackSummary) {
        let n = frames + s.frames
        if let e = s.meanErrorCm { meanErrorCm = ((meanErrorCm ?? 0) * Double(frames) + e * Double(s.frames)) / Double(max(1, n)) }
        frames = n
        seconds += s.seconds
        dropped += s.dropped
        framesWithoutFace += s.framesWithoutFace
        framesNobodyInView += s.framesNobodyInView
        lowLightFrames += s.lowLightFrames
        blinks += s.blinks
        saliencyReused += s.saliencyReused
        saliencyComputed += s.saliencyComputed
        latencyP50Ms = max(latencyP50Ms, s.latencyP50Ms)
        latencyP99Ms = max(latencyP99Ms, s.latencyP99Ms)
    }
}

/// The live loop: newest frame in, gaze out, one frame at a time.
public final class Tracker {
    public let model: GazeNet
    public let source: FrameSource
    public var smoothing: (x: OneEuroFilter, y: OneEuroFilter)?
    /// The filters as they start: a gap without a face starts them again, so that the first
    /// gaze point after it is not pulled towards the last one before it.
    private let freshSmoothing: (x: OneEuroFilter, y: OneEuroFilter)?
    /// A user's calibration, applied to the network's output and penultimate features. It must
    /// have been made with `model` (see `Display.correction`).
    public var calibration: Calibration?
    /// Reuses saliency grids across frames while the scene has not moved (nil: every frame its own).
    public let saliencyReuse: SaliencyReuse?

    public init(model: GazeNet, source: FrameSource, smoothing: OneEuroFilter? = nil, calibration: Calibration? = nil,
                saliencyReuse: SaliencyReuse? = nil) {
        self.model = model
        self.saliencyReuse = saliencyReuse
        self.source = source
        self.smoothing = smoothing.map { ($0, $0) }
        freshSmoothing = self.smoothing
        self.calibration = calibration
    }

    /// Frames processed so far (also after `run` threw, e.g. on a camera unplugged mid-stream).
    public private(set) var processedFrames = 0

    /// A gap without a face that ends within this many seconds is counted as a blink (blinks last
    /// 0.1-0.4 s); a longer one as the person looking away or leaving.
    public static let longestBlinkSeconds = 0.5

    /// Runs until the source ends, `count` frames, `duration` seconds, or `cancellation`.
    /// `calibrationNow`, when given, is asked for the calibration before each frame (a service
    /// whose user recalibrates while it runs).
    public func run(count: Int? = nil, duration: Double? = nil, cancellation: Cancellation = Cancellation(),
                    calibrationNow: (() -> Calibration?)? = nil, output: (TrackPoint) throws -> Void) throws -> TrackSummary {
        var summary = TrackSummary()
        var latencies: [Double] = [], errors: [Double] = []
        // When the current gap without a face began, and whether a face was seen before it.
        var gapStart: Double?, seenFace = false
        // The network's first pass allocates and faults in its buffers and starts the engine's
        // workers: done on a blank desk-webcam frame now, it does not land on the first frame.
        _ = try? model.estimate([RGBImage(width: 1280, height: 720)])
        let start = MonotonicClock.now()
        while !cancellation.isCancelled {
            if let count, summary.frames >= count { break }
            if let duration, MonotonicClock.now() - start >= duration { break }
            guard let frame = try source.next() else { break }
            let estimate = try saliencyReuse.map { try model.estimate(frame.image, reusing: $0) } ?? model.estimate([frame.image])[0]
            // Weights are checked at load; a non-finite answer still never leaves as a gaze point.
            guard estimate.point.xCm.isFinite, estimate.point.yCm.isFinite else {
                throw TrackingError("frame \(frame.index) of \(source.description): the model's output is not a finite number")
            }
            let correction = calibrationNow.map { $0() } ?? calibration
            var gaze = correction?.apply(estimate.point, features: estimate.features) ?? estimate.point
            if !estimate.sawFace {
                smoothing = freshSmoothing
                summary.framesWithoutFace += 1
                if estimate.faceState == .noFace { summary.framesNobodyInView += 1 }
                if gapStart == nil && seenFace { gapStart = frame.timestamp }
            } else if let gapBegan = gapStart {
                if frame.timestamp - gapBegan <= Self.longestBlinkSeconds { summary.blinks += 1 }
                gapStart = nil
            }
            if estimate.sawFace { seenFace = true }
            if estimate.sawFace, var s = smoothing {
                gaze = CameraSpacePoint(xCm: s.x(gaze.xCm, at: frame.timestamp), yCm: s.y(gaze.yCm, at: frame.timestamp))
                smoothing = s
            }
            let luma = frame.image.meanLuma()
            if LowLight.isLow(luma: luma) { summary.lowLightFrames += 1 }
            let latency = (MonotonicClock.now() - frame.timestamp) * 1000
            latencies.append(latency)
            if let label = frame.label, estimate.sawFace { errors.append(gaze.distance(to: label)) }
            try output(TrackPoint(frame: frame.index, name: frame.name, captureTime: frame.timestamp, gaze: gaze,
                                  uncalibrated: estimate.point, calibrated: correction != nil, latencyMs: latency, label: frame.label,
                                  features: estimate.features, startsRecording: frame.startsRecording, presence: estimate.presence,
                                  faceInView: estimate.faceInView, luma: luma))
            summary.frames += 1
            processedFrames = summary.frames
        }
        summary.seconds = MonotonicClock.now() - start
        if let saliencyReuse { (summary.saliencyReused, summary.saliencyComputed) = (saliencyReuse.reused, saliencyReuse.computed) }
        summary.dropped = source.dropped
        latencies.sort()
        if !latencies.isEmpty {
            summary.latencyP50Ms = latencies[(latencies.count - 1) / 2]
            summary.latencyP99Ms = latencies[min(latencies.count - 1, Int(Double(latencies.count) * 0.99))]
        }
        if !errors.isEmpty { summary.meanErrorCm = errors.reduce(0, +) / Double(errors.count) }
        return summary
    }
}

/// Why tracking stopped, other than the source: one line.
public struct TrackingError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
