import ArgumentParser
import Foundation
import FovealCalibration
import FovealCapture
import FovealGeometry
import FovealTensor
import FovealTracking

extension Foveal {
    struct Calibrate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Calibrate a user on a screen with a calibration script, and store the result.",
            discussion: """
                For each target it prints a JSON line (target in cm and pixels, phase), runs --on-target \
                with FOVEAL_TARGET_X_PX, FOVEAL_TARGET_Y_PX, FOVEAL_TARGET_X_CM, FOVEAL_TARGET_Y_CM and \
                FOVEAL_TARGET_INDEX in its environment (so any desktop tool can draw the dot, e.g. \
                --on-target 'notify-send "look at $FOVEAL_TARGET_X_PX,$FOVEAL_TARGET_Y_PX"'), waits the \
                settle time, collects frames for the dwell time (both on the frames' capture times), \
                then fits an offset, an affine correction and a ridge regression from the network's \
                features, compares them by leave-one-target-out error, stores them with the identity \
                of the weights and activates the best (the ridge only when it wins by one standard \
                error). With --source RECORDING it replays the recording from its first frame and uses \
                its dots as the targets: all of them, or as many as --script has targets. The service's \
                calibration runs work the same way.
                """)

        @OptionGroup var database: DatabaseOptions
        @Option(help: "The user (see `foveal user add`).") var user: String
        @Option(help: "The screen (see `foveal screen add`).") var screen: String
        @Option(help: "Calibration script (default: calibration/9-point.json; with --source, all of the recording's dots).") var script: String?
        @OptionGroup var sources: FrameSourceOptions
        @Option(help: "Command to run for each target (the target is in its environment).") var onTarget: String?
        @OptionGroup var model: ModelOptions

        func run() throws {
            try reportingErrors {
                Engine.setUp()
                let store = try database.open()
                let person = try store.user(user), display = try store.screen(screen)
                let net = try model.load()
                let scriptPath = try script ?? (sources.replaysRecording ? nil : defaultScript())
                let plan = try scriptPath.map { try CalibrationScript(contentsOf: $0) }
                let targets: CalibrationSession.Targets
                if sources.replaysRecording {
                    targets = .recordingDots(limit: plan?.targets.count)
                } else if let plan {
                    targets = .script(plan)
                } else {
                    throw CommandFailure("--source \(sources.source ?? ""): not a recording folder, so it has no dots to calibrate on: give --script")
                }
                let session = CalibrationSession(user: person, screen: display, targets: targets)
                stopOnSignals()
                let stop = Cancellation()
                var description = ""
                _ = try trackLive(sources, model: net, stop: stop, opened: { description = $0.description }) { point in
                    if interruption.isCancelled { stop.cancel() }
                    if let target = session.observe(point) {
                        emit(jsonLine(["phase": "target", "index": target.index, "screen_cm": [target.screenCm.xCm, target.screenCm.yCm],
                                       "screen_px": [target.screenPx.x, target.screenPx.y], "camera_cm": [target.camera.xCm, target.camera.yCm]]))
                        if let onTarget {
                            try runHook(onTarget, target)
                            session.targetShown(at: MonotonicClock.now())
                        }
                    }
                    if session.isComplete { stop.cancel() }
                }
                if interruption.isCancelled { throw CommandFailure("interrupted: nothing stored") }
                let result = try session.finish(store: store, model: net.identity(),
                                                scriptName: sources.source.map { "replay of \($0)" } ?? scriptPath ?? "",
                                                camera: sources.camera ?? sources.source ?? description)
                for (fit, row) in zip(result.fits, result.stored) {
                    emit(jsonLine(["phase": "fit", "calibration_id": row.id ?? 0, "method": fit.method.rawValue, "active": row.active,
                                   "leave_one_out_error_cm": fit.leaveOneOutErrorCm, "uncalibrated_error_cm": fit.uncalibratedErrorCm]))
                }
                printError(String(format: "calibrated %@ on %@: %d samples on %d targets; error %.2f cm before, %.2f cm after (%@, leave-one-target-out)",
                                  user, screen, result.samples, result.targets,
                                  result.best.uncalibratedErrorCm, result.best.leaveOneOutErrorCm, result.best.method.rawValue))
            }
        }

        func defaultScript() throws -> String {
            guard let path = ShippedModel.find("calibration/9-point.json") else {
                throw CommandFailure("no --script given and calibration/9-point.json was not found")
            }
            return path
        }

        func runHook(_ command: String, _ target: CalibrationSession.Target) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", command]
            var env = ProcessInfo.processInfo.environment
            env["FOVEAL_TARGET_INDEX"] = "\(target.index)"
            env["FOVEAL_TARGET_X_PX"] = String(format: "%.0f", target.screenPx.x)
            env["FOVEAL_TARGET_Y_PX"] = String(format: "%.0f", target.screenPx.y)
            env["FOVEAL_TARGET_X_CM"] = String(format: "%.2f", target.screenCm.xCm)
            env["FOVEAL_TARGET_Y_CM"] = String(format: "%.2f", target.screenCm.yCm)
            process.environment = env
            process.standardOutput = FileHandle.standardError
            try process.run()
            process.waitUntilExit()
        }
    }
}
