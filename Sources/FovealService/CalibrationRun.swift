import Foundation
import FovealCalibration
import FovealCapture
import FovealGeometry
import FovealTracking
import Synchronization

/// One calibration run driven through the API: which target is up, how far it got, and its result.
/// Its JSON is what `GET /v1/calibrations/run` answers and, with a `type`, what the events
/// WebSocket pushes.
public struct CalibrationRunStatus: Codable, Sendable {
    public enum State: String, Codable, Sendable { case running, done, failed }

    public struct Target: Codable, Sendable {
        public var index: Int
        public var screenCm: [Double]
        public var screenPx: [Double]
        public var cameraCm: [Double]
    }

    public struct Result: Codable, Sendable {
        public var calibrationId: Int64
        public var method: String
        public var uncalibratedErrorCm: Double
        public var calibratedErrorCm: Double
        public var samples: Int
    }

    public var id: Int
    public var user: String
    public var screen: String
    public var script: String
    public var state: State
    public var targetCount: Int
    /// Targets shown so far, the current one last.
    public var targets: [Target] = []
    public var samples = 0
    public var result: Result?
    public var error: String?
}

/// Runs calibrations against the live pipeline, one at a time, the way `foveal calibrate` does:
/// for each target, tell the page (events), let the eyes settle, collect the dwell's frames;
/// then fit, compare by leave-one-target-out error, store both fits and activate the better.
///
/// When the pipeline replays a recording, the recording's own dots are the targets (the first
/// `targetCount` dots after the run starts), as with `foveal calibrate --source`.
public final class CalibrationRunner: Sendable {
    /// Events for pages: one JSON object per change of the run.
    public let events = Broadcast<String>(capacity: 1024)
    private let current = Mutex<CalibrationRunStatus?>(nil)
    private let store: CalibrationDatabase
    private let pipeline: GazePipeline

    public init(store: CalibrationDatabase, pipeline: GazePipeline) {
        (self.store, self.pipeline) = (store, pipeline)
    }

    /// The running or the last finished run.
    public var status: CalibrationRunStatus? { current.withLock { $0 } }

    /// Starts a run in the background; throws `ServiceError.conflict` while another one runs.
    public func start(user: User, screen: Screen, script: CalibrationScript, scriptName: String) throws -> CalibrationRunStatus {
        let run = try current.withLock { now -> CalibrationRunStatus in
            if let now, now.state == .running { throw ServiceError(.conflict, "calibration run \(now.id) is still running") }
            let run = CalibrationRunStatus(id: (now?.id ?? 0) + 1, user: user.name, screen: screen.name, script: scriptName,
                                           state: .running, targetCount: script.targets.count)
            now = run
            return run
        }
        let subscription = pipeline.frames.subscribe()
        announce("started")
        Task.detached { [self] in
            defer { subscription.cancel() }
            do {
                let samples = pipeline.replaysRecording
                    ? try await collectReplay(subscription, count: script.targets.count, screen: screen)
                    : try await collectScripted(subscription, script: script, screen: screen)
                try finish(samples, user: user, screen: screen, scriptName: scriptName)
            } catch {
                update { $0.state = .failed; $0.error = "\(error)" }
                announce("failed")
            }
        }
        return run
    }

    /// Replay: each new dot label is a target; the dot already showing when the run starts is
    /// skipped, since its first frames have gone by.
    private func collectReplay(_ subscription: Broadcast<TrackPoint>.Subscription, count: Int, screen: Screen) async throws -> [CalibrationSample] {
        var samples: [CalibrationSample] = []
        var currentLabel: CameraSpacePoint?, seen = 0
        for await point in subscription.messages {
            guard let label = point.label else { continue }
            if label != currentLabel {
                currentLabel = label
                seen += 1
                if seen == 1 { continue }
                if seen - 1 > count { return samples }
                showTarget(index: seen - 2, camera: label, screen: screen)
            }
            guard seen > 1 else { continue }
            samples.append(CalibrationSample(targetIndex: seen - 2, target: label, prediction: point.uncalibrated, features: point.features))
            update { $0.samples = samples.count }
        }
        let shown = max(0, seen - 1)
        throw ServiceError(.serviceUnavailable, "the source ended after \(shown) of \(count) targets (\(pipeline.sourceDescription))")
    }

    /// Camera: the script's targets, with its settle and dwell times measured on frame timestamps.
    private func collectScripted(_ subscription: Broadcast<TrackPoint>.Subscription, script: CalibrationScript, screen: Screen) async throws -> [CalibrationSample] {
        var samples: [CalibrationSample] = []
        var iterator = subscription.messages.makeAsyncIterator()
        let geometry = screen.geometry, o = screen.screenOrientation
        for (index, target) in script.targets.enumerated() {
            let camera = geometry.cameraSpace(target.position(on: geometry, o), o)
            showTarget(index: index, camera: camera, screen: screen)
            let settleEnd = MonotonicClock.now() + (target.settleSeconds ?? script.settleSeconds)
            let dwellEnd = settleEnd + (target.dwellSeconds ?? script.dwellSeconds)
            while let point = await iterator.next() {
                if point.captureTime < settleEnd { continue }
                if point.captureTime > dwellEnd { break }
                samples.append(CalibrationSample(targetIndex: index, target: camera, prediction: point.uncalibrated, features: point.features))
                update { $0.samples = samples.count }
            }
            if MonotonicClock.now() < dwellEnd {
                throw ServiceError(.serviceUnavailable, "the camera stopped during target \(index + 1) of \(script.targets.count)")
            }
        }
        return samples
    }

    private func finish(_ samples: [CalibrationSample], user: User, screen: Screen, scriptName: String) throws {
        let fits = CalibrationFitter.fitAll(samples)
        guard let best = fits.first else {
            throw ServiceError(.serviceUnavailable, "too few samples to fit a calibration (\(samples.count))")
        }
        let session = CalibrationSession(userId: user.id!, screenId: screen.id!, script: scriptName, camera: pipeline.sourceDescription)
        let stored = try store.saveSession(session, samples: samples, fits: fits)
        let active = stored.first(where: \.active)
        if let display = pipeline.display, display.user.id == user.id, display.screen.id == screen.id {
            pipeline.setCalibration(active)
        }
        update {
            $0.state = .done
            $0.result = .init(calibrationId: active?.id ?? stored[0].id ?? 0, method: best.method.rawValue,
                              uncalibratedErrorCm: best.uncalibratedErrorCm, calibratedErrorCm: best.leaveOneOutErrorCm, samples: samples.count)
        }
        announce("done")
    }

    private func showTarget(index: Int, camera: CameraSpacePoint, screen: Screen) {
        let geometry = screen.geometry, o = screen.screenOrientation
        let cm = geometry.screenPoint(camera, o), px = geometry.units(cm, o)
        update {
            $0.targets.append(.init(index: index, screenCm: [cm.xCm, cm.yCm], screenPx: [px.x, px.y], cameraCm: [camera.xCm, camera.yCm]))
        }
        announce("target")
    }

    private func update(_ change: (inout CalibrationRunStatus) -> Void) {
        current.withLock { if $0 != nil { change(&$0!) } }
    }

    /// Pushes the run's status with `type` (started, target, done, failed) to the events socket.
    private func announce(_ type: String) {
        guard let status else { return }
        events.publish(ServiceJSON.encode(CalibrationEvent(type: type, run: status)))
    }
}

/// An events-socket message: what happened, and the run as it stands.
struct CalibrationEvent: Encodable {
    var type: String
    var run: CalibrationRunStatus
}
