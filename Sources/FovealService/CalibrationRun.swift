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

/// Runs calibrations against the live pipeline, one at a time, each a `CalibrationSession` as
/// `foveal calibrate` runs it: the session picks the targets and samples from the pipeline's
/// frames; this type tells the page (events), stores the result and applies it.
///
/// When the pipeline replays a recording, the recording's own dots are the targets (the first
/// as many as the script has), from the recording's first frame, exactly as `foveal calibrate
/// --source`: a looping replay is waited on until it starts over.
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
        let targets: CalibrationSession.Targets = pipeline.replaysRecording ? .recordingDots(limit: script.targets.count) : .script(script)
        let subscription = pipeline.frames.subscribe()
        announce("started")
        Task.detached { [self] in
            defer { subscription.cancel() }
            let session = CalibrationSession(user: user, screen: screen, targets: targets)
            do {
                for await point in subscription.messages {
                    if let target = session.observe(point) { showTarget(target) }
                    update { $0.samples = session.samples.count }
                    if session.isComplete { break }
                }
                let result = try session.finish(store: store, model: pipeline.modelIdentity, scriptName: scriptName,
                                                camera: pipeline.sourceDescription)
                try finish(result, user: user, screen: screen)
            } catch {
                update { $0.state = .failed; $0.error = "\(error)" }
                announce("failed")
            }
        }
        return run
    }

    private func finish(_ result: CalibrationSession.Result, user: User, screen: Screen) throws {
        let active = result.stored.first(where: \.active)
        if let display = pipeline.display, display.user.id == user.id, display.screen.id == screen.id {
            try pipeline.setCalibration(active)
        }
        update {
            $0.state = .done
            $0.result = .init(calibrationId: active?.id ?? result.stored.first?.id ?? 0, method: result.best.method.rawValue,
                              uncalibratedErrorCm: result.best.uncalibratedErrorCm, calibratedErrorCm: result.best.leaveOneOutErrorCm,
                              samples: result.samples)
        }
        announce("done")
    }

    private func showTarget(_ t: CalibrationSession.Target) {
        update {
            $0.targets.append(.init(index: t.index, screenCm: [t.screenCm.xCm, t.screenCm.yCm], screenPx: [t.screenPx.x, t.screenPx.y],
                                    cameraCm: [t.camera.xCm, t.camera.yCm]))
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
