import FovealCalibration
import FovealGeometry

/// One calibration of a user on a screen, fed tracked frames one at a time: it decides which
/// target is up, which frames are samples of it, and when the session is complete; then it fits
/// and stores. `foveal calibrate` and the service's calibration runs both drive this one type, so
/// a script, or a replayed recording, calibrates the same way in both.
///
/// Times are the frames' capture times, never the wall clock, so a session replays the same way
/// at any speed and can be tested with made-up frames.
public final class CalibrationSession {
    /// Where the targets come from.
    public enum Targets: Sendable {
        /// The script's targets in order: each is shown, the eyes get its settle time, and the
        /// frames captured during its dwell time are its samples.
        case script(CalibrationScript)
        /// A replayed recording's own dots, from the recording's first frame (a looping replay is
        /// waited on until it starts over): each new dot label is a target, and every frame of
        /// it a sample. At most `limit` dots, else all of the recording's.
        case recordingDots(limit: Int?)
    }

    /// A target as shown: its index, and where it is in camera space, on the screen in cm and
    /// in the screen's pixels (or points).
    public struct Target: Sendable {
        public var index: Int
        public var camera: CameraSpacePoint
        public var screenCm: ScreenPoint
        public var screenPx: (x: Double, y: Double)
    }

    /// What a finished session stored.
    public struct Result: Sendable {
        /// Every fit, best first, as stored (the first is active) and as fitted.
        public var stored: [StoredCalibration]
        public var fits: [Calibration]
        public var best: Calibration { fits[0] }
        public var samples: Int
        public var targets: Int
    }

    public let user: User
    public let screen: Screen
    public let targets: Targets
    /// The targets shown so far, the current one last.
    public private(set) var shown: [Target] = []
    public private(set) var samples: [CalibrationSample] = []
    /// Every target has had its frames: `finish` may fit.
    public private(set) var isComplete = false

    private var settleEnd = 0.0, dwellEnd = 0.0
    private var replayStarted = false
    private var currentLabel: CameraSpacePoint?

    public init(user: User, screen: Screen, targets: Targets) {
        (self.user, self.screen, self.targets) = (user, screen, targets)
    }

    /// How many targets the session will show (nil: all of a recording's dots).
    public var targetCount: Int? {
        switch targets {
        case .script(let script): script.targets.count
        case .recordingDots(let limit): limit
        }
    }

    /// Takes one tracked frame; returns the target this frame brings up, for the caller to show.
    public func observe(_ point: TrackPoint) -> Target? {
        guard !isComplete else { return nil }
        switch targets {
        case .script(let script): return observeScripted(point, script)
        case .recordingDots(let limit): return observeReplay(point, limit: limit)
        }
    }

    /// Starts the current target's settle time at `time` instead of at the frame that brought
    /// it up: for a caller that took a while to show it (a command run for each target).
    public func targetShown(at time: Double) {
        guard case .script(let script) = targets, let target = shown.last else { return }
        let t = script.targets[target.index]
        settleEnd = time + (t.settleSeconds ?? script.settleSeconds)
        dwellEnd = settleEnd + (t.dwellSeconds ?? script.dwellSeconds)
    }

    private func observeScripted(_ point: TrackPoint, _ script: CalibrationScript) -> Target? {
        if shown.isEmpty || point.captureTime > dwellEnd {
            let next = shown.count
            guard next < script.targets.count else {
                isComplete = true
                return nil
            }
            let geometry = screen.geometry, o = screen.screenOrientation
            let target = show(camera: geometry.cameraSpace(script.targets[next].position(on: geometry, o), o))
            targetShown(at: point.captureTime)
            return target
        }
        if point.captureTime >= settleEnd { collect(point, target: shown.count - 1) }
        return nil
    }

    private func observeReplay(_ point: TrackPoint, limit: Int?) -> Target? {
        if !replayStarted {
            guard point.startsRecording else { return nil }
            replayStarted = true
        } else if point.startsRecording {
            isComplete = true  // the recording started over: every dot of it has been a target
            return nil
        }
        guard let label = point.label else { return nil }
        var target: Target?
        if label != currentLabel {
            currentLabel = label
            if let limit, shown.count == limit {
                isComplete = true
                return nil
            }
            target = show(camera: label)
        }
        collect(point, target: shown.count - 1)
        return target
    }

    private func show(camera: CameraSpacePoint) -> Target {
        let geometry = screen.geometry, o = screen.screenOrientation
        let cm = geometry.screenPoint(camera, o)
        let target = Target(index: shown.count, camera: camera, screenCm: cm, screenPx: geometry.units(cm, o))
        shown.append(target)
        return target
    }

    /// Frames without a face with open eyes (a blink, nobody there) are no sample.
    private func collect(_ point: TrackPoint, target: Int) {
        guard point.face else { return }
        samples.append(CalibrationSample(targetIndex: target, target: shown[target].camera, prediction: point.uncalibrated,
                                         features: point.features))
    }

    /// Fits every method, stores the session with its samples and fits (the best active) in one
    /// transaction, and returns what was stored. Called when the session is complete or its
    /// frames ran out: a session that had not shown all its targets then fails, naming how far
    /// it got.
    public func finish(store: CalibrationDatabase, model: String, scriptName: String, camera: String) throws -> Result {
        let expected = targetCount.map { " of \($0)" } ?? ""
        if !isComplete {
            switch targets {
            case .script:
                throw CalibrationSessionError("the source ended during target \(shown.count)\(expected)")
            case .recordingDots(let limit):
                if !replayStarted {
                    throw CalibrationSessionError("the replay did not start over: a replayed calibration begins at the recording's first frame")
                }
                if let limit, shown.count < limit {
                    throw CalibrationSessionError("the recording ended after \(shown.count)\(expected) targets")
                }
                isComplete = true
            }
        }
        let fits = CalibrationFitter.fitAll(samples)
        guard !fits.isEmpty else {
            throw CalibrationSessionError("too few samples to fit a calibration (\(samples.count) on \(shown.count) targets)")
        }
        guard let userId = user.id, let screenId = screen.id else {
            throw CalibrationSessionError("user '\(user.name)' or screen '\(screen.name)' is not stored")
        }
        let stored = try store.saveSession(StoredSession(userId: userId, screenId: screenId, script: scriptName, camera: camera),
                                           samples: samples, fits: fits, model: model)
        return Result(stored: stored, fits: fits, samples: samples.count, targets: shown.count)
    }
}

/// Why a calibration session could not be fitted: one line.
public struct CalibrationSessionError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
