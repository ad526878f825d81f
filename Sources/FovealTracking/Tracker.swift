import Foundation
import FovealCapture
import FovealGeometry
import FovealIO
import FovealModel

/// One tracked frame.
public struct TrackPoint: Sendable {
    public var frame: Int
    public var name: String?
    /// Capture time, seconds on the monotonic clock.
    public var captureTime: Double
    public var gaze: CameraSpacePoint
    /// The network's own output, before calibration (equal to `gaze` without one).
    public var uncalibrated: CameraSpacePoint
    /// From capture to result.
    public var latencyMs: Double
    public var label: CameraSpacePoint?
    /// The network's penultimate features: what a feature-based calibration needs.
    public var features: [Float] = []
}

/// What a tracking run did.
public struct TrackSummary: Sendable {
    public var frames = 0
    public var seconds = 0.0
    public var dropped = 0
    public var latencyP50Ms = 0.0, latencyP99Ms = 0.0
    /// Mean error against the source's labels, when it has them.
    public var meanErrorCm: Double?
    public var framesPerSecond: Double { seconds > 0 ? Double(frames) / seconds : 0 }

    public init() {}
}

/// The live loop: newest frame in, gaze out, one frame at a time.
public final class Tracker {
    public let model: GazeNet
    public let source: FrameSource
    public var smoothing: (x: OneEuroFilter, y: OneEuroFilter)?
    /// A user's calibration: the network's output and penultimate features -> corrected gaze.
    public var correction: ((CameraSpacePoint, [Float]) -> CameraSpacePoint)?
    nonisolated(unsafe) public static var stopRequested = false

    public init(model: GazeNet, source: FrameSource, smoothing: OneEuroFilter? = nil) {
        self.model = model
        self.source = source
        self.smoothing = smoothing.map { ($0, $0) }
    }

    /// Frames processed so far (also after `run` threw, e.g. on a camera unplugged mid-stream).
    public private(set) var processedFrames = 0

    /// Runs until the source ends, `count` frames, `duration` seconds, or a stop request.
    public func run(count: Int? = nil, duration: Double? = nil, output: (TrackPoint) throws -> Void) throws -> TrackSummary {
        var summary = TrackSummary()
        var latencies: [Double] = [], errors: [Double] = []
        let start = MonotonicClock.now()
        while !Self.stopRequested {
            if let count, summary.frames >= count { break }
            if let duration, MonotonicClock.now() - start >= duration { break }
            guard let frame = try source.next() else { break }
            let out = model(try ImageNormalization.pixelBatch([frame.image]))
            let raw = CameraSpacePoint(xCm: Double(out.gazeCm[flat: 0]), yCm: Double(out.gazeCm[flat: 1]))
            let features = out.features?.values ?? []
            var gaze = correction?(raw, features) ?? raw
            if var s = smoothing {
                gaze = CameraSpacePoint(xCm: s.x(gaze.xCm, at: frame.timestamp), yCm: s.y(gaze.yCm, at: frame.timestamp))
                smoothing = s
            }
            let latency = (MonotonicClock.now() - frame.timestamp) * 1000
            latencies.append(latency)
            if let label = frame.label { errors.append(gaze.distance(to: label)) }
            try output(TrackPoint(frame: frame.index, name: frame.name, captureTime: frame.timestamp, gaze: gaze,
                                  uncalibrated: raw, latencyMs: latency, label: frame.label, features: features))
            summary.frames += 1
            processedFrames = summary.frames
        }
        summary.seconds = MonotonicClock.now() - start
        summary.dropped = (source as? V4L2Camera)?.dropped ?? (source as? PacedSource)?.dropped ?? 0
        latencies.sort()
        if !latencies.isEmpty {
            summary.latencyP50Ms = latencies[(latencies.count - 1) / 2]
            summary.latencyP99Ms = latencies[min(latencies.count - 1, Int(Double(latencies.count) * 0.99))]
        }
        if !errors.isEmpty { summary.meanErrorCm = errors.reduce(0, +) / Double(errors.count) }
        return summary
    }
}
