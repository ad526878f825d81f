import Foundation
import FovealCalibration
import FovealCapture
import FovealGeometry
import FovealModel
import FovealTensor
import FovealTracking
import ServiceLifecycle
import Synchronization

/// The service's one camera-to-gaze loop: it owns the frame source and the model, runs the
/// `Tracker` on a thread of its own, and publishes every processed frame twice: as the JSON line
/// stream clients receive (`reports`) and as the `TrackPoint` a calibration run collects (`frames`).
///
/// It never waits on a consumer (see `Broadcast`). The model and the source are touched by the
/// pipeline thread only; everything other threads read is behind `state`'s lock.
public final class GazePipeline: Service, @unchecked Sendable {
    public enum Phase: String, Codable, Sendable { case waiting, running, ended, failed, stopped }

    /// What `/v1/health` reports about the source.
    public struct Status: Codable, Sendable {
        public var source: String
        public var phase: Phase
        public var frames: Int
        public var framesPerSecond: Double
        public var dropped: Int
        public var error: String?
        /// The newest frame's mean brightness (BT.601 luma, 0-255), and whether it is too dark
        /// for the model (`LowLight`).
        public var luma: Double?
        public var lowLight: Bool?
    }

    struct State {
        var phase = Phase.waiting
        var frames = 0
        var dropped = 0
        var error: String?
        var latest: String?
        var luma: Double?
        var lowLightNotice = LowLightNotice()
        var recentTimes: [Double] = []
        var display: Display?
        /// What is applied to the network's output: the display's calibration when it was made
        /// with this pipeline's model.
        var correction: Correction?
    }

    public let reports: Broadcast<String>
    /// Frames a calibration run may fall behind: far more than a run's whole length (a 60 s
    /// script at 30 fps is 1,800), so a run never loses a sample to a slow consumer.
    public let frames = Broadcast<TrackPoint>(capacity: GazePipeline.calibrationQueueFrames)
    static let calibrationQueueFrames = 100_000
    public let sourceDescription: String
    /// Whether the frames carry gaze labels (a recording): a calibration then uses its dots as targets.
    public let replaysRecording: Bool

    private let model: GazeNet
    /// `model.identity()`, computed once: calibrations are checked against it.
    public let modelIdentity: String
    private let openSource: () throws -> FrameSource
    private let stop = Cancellation()
    private let isCamera: Bool
    private let waitForClients: Int
    private let onNotice: @Sendable (String) -> Void
    private let saliencyReuse: @Sendable () -> SaliencyReuse?
    private let state: Mutex<State>
    private let finished = DispatchSemaphore(value: 0)

    /// - Parameters:
    ///   - openSource: opens the camera or file; called again to reconnect a camera.
    ///   - waitForClients: start processing only once this many stream clients are connected.
    ///   - onNotice: told what a person should know, rate-limited (low light starting and ending).
    ///   - saliencyReuse: a fresh reuse state for each opened source (nil: the saliency network runs on every frame).
    public init(model: GazeNet, sourceDescription: String, replaysRecording: Bool, isCamera: Bool,
                display: Display?, clientQueue: Int, waitForClients: Int = 0, onNotice: @escaping @Sendable (String) -> Void = { _ in },
                saliencyReuse: @escaping @Sendable () -> SaliencyReuse? = { nil },
                openSource: @escaping () throws -> FrameSource) throws {
        self.onNotice = onNotice
        self.saliencyReuse = saliencyReuse
        self.model = model
        self.modelIdentity = model.identity()
        self.sourceDescription = sourceDescription
        self.replaysRecording = replaysRecording
        self.isCamera = isCamera
        self.openSource = openSource
        self.waitForClients = waitForClients
        self.reports = Broadcast(capacity: clientQueue)
        var initial = State()
        initial.display = display
        initial.correction = try display?.correction(model: modelIdentity, featureCount: model.config.hidden)
        self.state = Mutex(initial)
    }

    public var status: Status {
        state.withLock { s in
            let span = (s.recentTimes.last ?? 0) - (s.recentTimes.first ?? 0)
            let fps = s.recentTimes.count > 1 && span > 0 ? Double(s.recentTimes.count - 1) / span : 0
            return Status(source: sourceDescription, phase: s.phase, frames: s.frames, framesPerSecond: fps, dropped: s.dropped, error: s.error,
                          luma: s.luma.map { ($0 * 10).rounded() / 10 }, lowLight: s.luma.map { LowLight.isLow(luma: $0) })
        }
    }

    /// The newest frame's report, as streamed.
    public var latest: String? { state.withLock { $0.latest } }
    public var display: Display? { state.withLock { $0.display } }
    /// The correction applied now, and what it is.
    public var correction: Correction? { state.withLock { $0.correction } }

    /// Applies a newly activated calibration from the next frame on, if it was made with this
    /// pipeline's model; a stored row that does not validate throws, naming it.
    public func setCalibration(_ calibration: StoredCalibration?) throws {
        guard var display else { return }
        display.calibration = calibration
        let correction = try display.correction(model: modelIdentity, featureCount: model.config.hidden)
        state.withLock { $0.display = display; $0.correction = correction }
    }

    /// Runs until graceful shutdown (SIGTERM, SIGINT): the source ending or failing does not end
    /// the service, whose API stays up; `/v1/health` says what happened.
    public func run() async throws {
        let thread = Thread { [self] in
            loop()
            finished.signal()
        }
        thread.name = "foveal-pipeline"
        thread.start()
        try? await gracefulShutdown()
        stop.cancel()
        // The camera's poll times out within a couple of seconds; do not hang shutdown beyond that.
        _ = await Task.detached { [finished, shutdownWaitSeconds] in finished.wait(timeout: .now() + shutdownWaitSeconds) }.value
        state.withLock { if $0.phase == .running || $0.phase == .waiting { $0.phase = .stopped } }
        reports.finish()
        frames.finish()
    }

    private func loop() {
        while waitForClients > 0 && reports.subscriberCount < waitForClients && !stop.isCancelled { usleep(clientPollMicroseconds) }
        while !stop.isCancelled {
            do {
                let source = try openSource()
                defer { source.close() }
                state.withLock { $0.phase = .running; $0.error = nil }
                let tracker = Tracker(model: model, source: source, saliencyReuse: saliencyReuse())
                let summary = try tracker.run(cancellation: stop, calibrationNow: { [self] in state.withLock { $0.correction?.calibration } }) {
                    publish($0)
                }
                let phase: Phase = stop.isCancelled ? .stopped : .ended
                state.withLock { $0.phase = phase; $0.dropped += summary.dropped }
                return
            } catch {
                state.withLock { $0.phase = .failed; $0.error = "\(error)" }
                // A camera may come back (unplugged, busy); a file will not.
                guard isCamera else { return }
                for _ in 0..<cameraRetryWaitSteps where !stop.isCancelled { usleep(cameraRetryWaitMicroseconds) }
            }
        }
    }

    /// A camera that failed is reopened after 20 waits of 100 ms (2 s), cut short by shutdown.
    private let cameraRetryWaitSteps = 20
    private let cameraRetryWaitMicroseconds: useconds_t = 100_000
    /// How long shutdown waits for the pipeline thread: a camera's poll times out within 2 s.
    private let shutdownWaitSeconds = 5.0
    /// Frames over which `/v1/health` measures fps.
    private let fpsWindowFrames = 60
    /// How often the pipeline looks for its first stream clients (`waitForClients`).
    private let clientPollMicroseconds: useconds_t = 10_000

    private func publish(_ point: TrackPoint) {
        let layout = state.withLock { $0.display?.layout }
        let line = (layout.map { GazeReport(point, layout: $0) } ?? GazeReport(point)).jsonLine
        let notice = state.withLock { s in
            s.frames += 1
            s.latest = line
            s.luma = point.luma
            s.recentTimes.append(MonotonicClock.now())
            if s.recentTimes.count > fpsWindowFrames { s.recentTimes.removeFirst(s.recentTimes.count - fpsWindowFrames) }
            return s.lowLightNotice.line(for: point)
        }
        if let notice { onNotice(notice) }
        reports.publish(line)
        frames.publish(point)
    }
}
