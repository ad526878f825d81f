import Foundation
import FovealCalibration
import FovealCapture
import FovealModel
import FovealTensor
import FovealTracking

/// Ctrl-C and SIGTERM: the request to stop that a command's runs watch.
let interruption = Cancellation()

/// Routes SIGINT and SIGTERM to `interruption`.
func stopOnSignals() {
    _ = interruption.isCancelled  // initialise the global before a handler can touch it
    signal(SIGINT) { _ in interruption.cancel() }
    signal(SIGTERM) { _ in interruption.cancel() }
}

/// Attempts to reopen a camera that disconnected or stalled before giving up.
private let reconnectAttempts = 30

/// Tracks frames from `sources` until the source ends, `count` frames or `duration` seconds, or
/// a stop (Ctrl-C, SIGTERM, `stop`); with `--reconnect`, a camera that disconnects or stalls
/// is reopened and tracking goes on. `output` sees every tracked frame.
func trackLive(_ sources: FrameSourceOptions, model: GazeNet, smoothing: OneEuroFilter? = nil, calibration: Calibration? = nil,
               saliencyReuse: SaliencyReuseOptions? = nil,
               count: Int? = nil, duration: Double? = nil, allFrames: Bool = false, stop: Cancellation = interruption,
               opened: ((FrameSource) -> Void)? = nil, output: (TrackPoint) throws -> Void) throws -> TrackSummary {
    var total = TrackSummary()
    var source = try sources.open(allFrames: allFrames)
    defer { source.close() }
    FrameSourceOptions.announce(source)
    opened?(source)
    var attempts = 0
    while true {
        let tracker = Tracker(model: model, source: source, smoothing: smoothing, calibration: calibration,
                              saliencyReuse: saliencyReuse?.make())
        do {
            total.merge(try tracker.run(count: count.map { $0 - total.frames }, duration: duration.map { $0 - total.seconds },
                                        cancellation: stop, output: output))
            return total
        } catch let e as CaptureError where sources.reconnect && sources.camera != nil && (e.kind == .disconnected || e.kind == .stalled) {
            var partial = TrackSummary()
            partial.frames = tracker.processedFrames
            total.merge(partial)
            printError("foveal: \(e); reconnecting")
            source.close()
            while true {
                attempts += 1
                do {
                    source = try sources.open(allFrames: allFrames)
                    FrameSourceOptions.announce(source)
                    break
                } catch let e as CaptureError where attempts < reconnectAttempts && !stop.isCancelled {
                    printError("foveal: \(e); retrying in 1 s")
                    sleep(1)
                }
            }
        }
    }
}

/// Where `user` looks (the first of `screens`, else the screen of their latest calibration, then
/// the other `screens` around the same camera) and the correction to apply to `model`'s output
/// there, told on stderr; nil without a user.
func userDisplay(_ store: @autoclosure () throws -> CalibrationDatabase, user: String?, screens: [String],
                 model: GazeNet) throws -> (display: Display, correction: Correction)? {
    guard let user else { return nil }
    let database = try store()
    guard var display = try database.display(user: user, screen: screens.first) else {
        throw CommandFailure("user '\(user)' has no calibration yet: name a screen with --screen or run `foveal calibrate`")
    }
    display.otherScreens = try screens.dropFirst().map { try database.screen($0) }
    if screens.count > 1 { printError("screens around the camera: " + display.layout.screens.map(\.name).joined(separator: ", ")) }
    let correction = try display.correction(model: model.identity(), featureCount: model.config.hidden)
    printError(correction.summary)
    return (display, correction)
}
