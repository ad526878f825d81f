import ArgumentParser
import Foundation
import FovealCalibration
import FovealCapture
import FovealGeometry
import FovealIO
import FovealModel
import FovealTensor
import GazeCapture

extension Foveal {
    struct Calibrate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Calibrate a user on a screen with a calibration script, and store the result.",
            discussion: """
                For each target it prints a JSON line (target in cm and pixels, phase), runs --on-target \
                with FOVEAL_TARGET_X_PX, FOVEAL_TARGET_Y_PX, FOVEAL_TARGET_X_CM, FOVEAL_TARGET_Y_CM and \
                FOVEAL_TARGET_INDEX in its environment (so any desktop tool can draw the dot, e.g. \
                --on-target 'notify-send "look at $FOVEAL_TARGET_X_PX,$FOVEAL_TARGET_Y_PX"'), waits the \
                settle time, collects frames for the dwell time, then fits an affine correction and a \
                ridge regression from the network's features, compares them by leave-one-target-out \
                error, stores both and activates the better (the ridge only when it wins by one standard \
                error). With --source it replays a recording and \
                uses its dots as the targets.
                """)

        @OptionGroup var database: DatabaseOptions
        @Option(help: "The user (see `foveal user add`).") var user: String
        @Option(help: "The screen (see `foveal screen add`).") var screen: String
        @Option(help: "Calibration script (default: calibration/9-point.json).") var script: String?
        @Option(help: "V4L2 camera.") var camera: String?
        @Option(help: "Replay a recording instead of a camera; its dots are the targets.") var source: String?
        @Option(help: "Command to run for each target (the target is in its environment).") var onTarget: String?
        @Option(help: "Model weights (default: the shipped model).") var weights: String?

        func validate() throws {
            if (camera == nil) == (source == nil) { throw ValidationError("give exactly one of --camera and --source") }
        }

        func run() throws {
            try reportingErrors {
                BLAS.configure()
                let store = try database.open()
                let person = try store.user(user), display = try store.screen(screen)
                let model = try GazeNet(weightsAt: try ShippedModel.resolve(weights))
                let scriptPath = try script ?? defaultScript()
                let plan = try source == nil || script != nil ? CalibrationScript(contentsOf: scriptPath) : nil
                let geometry = display.geometry, o = display.screenOrientation
                var samples: [CalibrationSample] = []
                func announce(_ index: Int, _ point: ScreenPoint, camera c: CameraSpacePoint) throws {
                    let px = geometry.units(point, o)
                    emit(jsonLine(["phase": "target", "index": index, "screen_cm": [point.xCm, point.yCm], "screen_px": [px.x, px.y],
                                   "camera_cm": [c.xCm, c.yCm]]))
                    if let onTarget { try runHook(onTarget, index: index, px: px, cm: point) }
                }
                func predict(_ image: RGBImage) throws -> (CameraSpacePoint, [Float]) {
                    let out = model(try ImageNormalization.pixelBatch([image]))
                    return (CameraSpacePoint(xCm: Double(out.gazeCm[flat: 0]), yCm: Double(out.gazeCm[flat: 1])), out.features?.values ?? [])
                }
                if let source {
                    // Replay: the recording's dots are the targets, its frames the observations.
                    let recording = try RecordingSource(source)
                    var index = -1, lastDot: Int?
                    for frame in recording.frames {
                        if frame.dot.number != lastDot {
                            index += 1
                            lastDot = frame.dot.number
                            try announce(index, geometry.screenPoint(frame.gaze, o), camera: frame.gaze)
                        }
                        let (p, f) = try predict(try RGBImage(contentsOf: frame.imagePath))
                        samples.append(CalibrationSample(targetIndex: index, target: frame.gaze, prediction: p, features: f))
                    }
                } else {
                    let cam = try V4L2Camera(camera!)
                    defer { cam.close() }
                    for (index, target) in plan!.targets.enumerated() {
                        let point = target.position(on: geometry, o), c = geometry.cameraSpace(point, o)
                        try announce(index, point, camera: c)
                        let settle = MonotonicClock.now() + (target.settleSeconds ?? plan!.settleSeconds)
                        while MonotonicClock.now() < settle { _ = try cam.next() }
                        let end = MonotonicClock.now() + (target.dwellSeconds ?? plan!.dwellSeconds)
                        while MonotonicClock.now() < end, let frame = try cam.next() {
                            let (p, f) = try predict(frame.image)
                            samples.append(CalibrationSample(targetIndex: index, target: c, prediction: p, features: f))
                        }
                    }
                }
                let fits = CalibrationFitter.fitAll(samples)
                guard let best = fits.first else { throw CommandFailure("too few samples to fit a calibration (\(samples.count))") }
                let session = CalibrationSession(userId: person.id!, screenId: display.id!,
                                                 script: source == nil ? scriptPath : "replay of \(source!)", camera: camera ?? source!)
                let stored = try store.saveSession(session, samples: samples, fits: fits)
                for (fit, row) in zip(fits, stored) {
                    emit(jsonLine(["phase": "fit", "calibration_id": row.id ?? 0, "method": fit.method.rawValue, "active": row.active,
                                   "leave_one_out_error_cm": fit.leaveOneOutErrorCm, "uncalibrated_error_cm": fit.uncalibratedErrorCm]))
                }
                printError(String(format: "calibrated %@ on %@: %d samples on %d targets; error %.2f cm before, %.2f cm after (%@, leave-one-target-out)",
                                  user, screen, samples.count, Set(samples.map(\.targetIndex)).count,
                                  best.uncalibratedErrorCm, best.leaveOneOutErrorCm, best.method.rawValue))
            }
        }

        func defaultScript() throws -> String {
            guard let path = ShippedModel.find("calibration/9-point.json") else {
                throw CommandFailure("no --script given and calibration/9-point.json was not found")
            }
            return path
        }

        func runHook(_ command: String, index: Int, px: (x: Double, y: Double), cm: ScreenPoint) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", command]
            var env = ProcessInfo.processInfo.environment
            env["FOVEAL_TARGET_INDEX"] = "\(index)"
            env["FOVEAL_TARGET_X_PX"] = String(format: "%.0f", px.x); env["FOVEAL_TARGET_Y_PX"] = String(format: "%.0f", px.y)
            env["FOVEAL_TARGET_X_CM"] = String(format: "%.2f", cm.xCm); env["FOVEAL_TARGET_Y_CM"] = String(format: "%.2f", cm.yCm)
            process.environment = env
            process.standardOutput = FileHandle.standardError
            try process.run()
            process.waitUntilExit()
        }
    }
}
