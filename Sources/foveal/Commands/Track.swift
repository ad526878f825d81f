import ArgumentParser
import Foundation
import FovealCalibration
import FovealCapture
import FovealGeometry
import FovealModel
import FovealTensor
import FovealTracking

extension Foveal {
    struct Track: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Track gaze live: one line per processed frame, flushed at once.",
            discussion: """
                Always processes the newest frame (older ones are dropped and counted). On exit \
                (end of source, --count, --duration, Ctrl-C or SIGTERM) prints fps, latency \
                percentiles and drops on stderr. Smoothing: the One Euro filter (Casiez et al., \
                CHI 2012) with min cutoff 1 Hz, beta 0.05 per cm/s, derivative cutoff 1 Hz.
                """)

        enum Format: String, ExpressibleByArgument, CaseIterable { case text, jsonl, csv }
        enum Smoothing: String, ExpressibleByArgument, CaseIterable { case oneEuro = "one-euro", none }

        @Option(help: "V4L2 camera: a path such as /dev/video0, or an index.") var camera: String?
        @Option(help: "A recording folder, a folder or glob of images, or a .y4m file.") var source: String?
        @Option(help: "Model weights (default: the shipped model).") var weights: String?
        @Option(help: "Output: text, jsonl or csv.") var format: Format = .text
        @Option(help: "Stop after N frames.") var count: Int?
        @Option(help: "Stop after S seconds.") var duration: Double?
        @Option(help: "Smoothing: one-euro or none.") var smooth: Smoothing = .none
        @Option(help: "Camera frame size WIDTHxHEIGHT (default 640x480 when offered).") var size: String?
        @Option(help: "Camera frame rate; for a file source, play it in real time at this rate.") var fps: Double?
        @Option(help: "Camera pixel format: RGB3 (libv4l2 converts) or YUYV (Foveal converts).") var pixelFormat = "RGB3"
        @Flag(help: "On a camera that disconnects or stalls, reopen it instead of exiting.") var reconnect = false
        @Flag(help: "For a recording: all frames, not only those with face and eyes detected.") var allFrames = false
        @Option(help: "Apply this user's active calibration and report gaze on the screen (cm from its top-left, pixels).") var user: String?
        @Option(help: "The screen (default: the screen of the user's latest calibration).") var screen: String?
        @OptionGroup var database: DatabaseOptions

        func validate() throws {
            if (camera == nil) == (source == nil) { throw ValidationError("give exactly one of --camera and --source") }
            if let size, parseSize(size) == nil { throw ValidationError("--size must look like 640x480") }
            if let count, count < 1 { throw ValidationError("--count must be positive") }
            if let fps, !(fps > 0) { throw ValidationError("--fps must be positive") }
            if !["RGB3", "YUYV"].contains(pixelFormat) { throw ValidationError("--pixel-format must be RGB3 or YUYV") }
        }

        func run() throws {
            try reportingErrors {
                BLAS.configure()
                let model = try GazeNet(weightsAt: try ShippedModel.resolve(weights))
                let display = try loadDisplay()
                if let display {
                    printError("user \(user!) on screen '\(display.screen.name)': " + (display.calibration.map { "\($0.method) calibration" } ?? "no calibration yet, uncorrected"))
                }
                signal(SIGINT) { _ in Tracker.stopRequested = true }
                signal(SIGTERM) { _ in Tracker.stopRequested = true }
                var total = TrackSummary()
                var opened = try openSource()
                printError("tracking \(opened.description)")
                if format == .csv { emit("frame,time_s,x_cm,y_cm,latency_ms,label_x_cm,label_y_cm" + (display == nil ? "" : ",screen_x_cm,screen_y_cm,screen_x_px,screen_y_px")) }
                var reconnects = 0
                while true {
                    let tracker = Tracker(model: model, source: opened, smoothing: smooth == .oneEuro ? OneEuroFilter() : nil)
                    if let c = display?.calibration?.calibration { tracker.correction = { c.apply($0, features: $1) } }
                    do {
                        let s = try tracker.run(count: count.map { $0 - total.frames }, duration: duration.map { $0 - total.seconds }) { emit(line($0, display)) }
                        merge(s, into: &total)
                        break
                    } catch let e as CaptureError where reconnect && camera != nil && (e.kind == .disconnected || e.kind == .stalled) {
                        var partial = TrackSummary()
                        partial.frames = tracker.processedFrames
                        merge(partial, into: &total)
                        printError("foveal: \(e); reconnecting")
                        opened.close()
                        opened = try reopen(&reconnects)
                    }
                }
                opened.close()
                var report = String(format: "%d frames in %.1f s (%.1f fps), latency p50 %.1f ms p99 %.1f ms, dropped %d",
                                    total.frames, total.seconds, total.framesPerSecond, total.latencyP50Ms, total.latencyP99Ms, total.dropped)
                if let e = total.meanErrorCm { report += String(format: ", mean error %.3f cm against the labels", e) }
                printError(report)
            }
        }

        func openSource() throws -> FrameSource {
            try openFrameSource(camera: camera, source: source, size: size, fps: fps, pixelFormat: pixelFormat, allFrames: allFrames)
        }

        func reopen(_ attempts: inout Int) throws -> FrameSource {
            while true {
                attempts += 1
                do { return try openSource() } catch let e as CaptureError where attempts < 30 && !Tracker.stopRequested {
                    printError("foveal: \(e); retrying in 1 s")
                    sleep(1)
                }
            }
        }

        func merge(_ s: TrackSummary, into total: inout TrackSummary) {
            let n = total.frames + s.frames
            if let e = s.meanErrorCm { total.meanErrorCm = ((total.meanErrorCm ?? 0) * Double(total.frames) + e * Double(s.frames)) / Double(max(1, n)) }
            total.frames = n
            total.seconds += s.seconds
            total.dropped += s.dropped
            total.latencyP50Ms = max(total.latencyP50Ms, s.latencyP50Ms)
            total.latencyP99Ms = max(total.latencyP99Ms, s.latencyP99Ms)
        }

        func loadDisplay() throws -> Display? {
            guard let user else { return nil }
            guard let display = try database.open().display(user: user, screen: screen) else {
                throw CommandFailure("user '\(user)' has no calibration yet: name a screen with --screen or run `foveal calibrate`")
            }
            return display
        }

        func line(_ p: TrackPoint, _ display: Display?) -> String {
            let onScreen = display.map { d -> (cm: ScreenPoint, px: (x: Double, y: Double)) in
                let point = d.screen.geometry.screenPoint(p.gaze, d.screen.screenOrientation)
                return (point, d.screen.geometry.units(point, d.screen.screenOrientation))
            }
            switch format {
            case .jsonl:
                return GazeReport(p, on: display.map { ($0.screen.geometry, $0.screen.screenOrientation) }).jsonLine
            case .csv:
                let label = p.label.map { String(format: "%.4f,%.4f", $0.xCm, $0.yCm) } ?? ","
                let screenPart = onScreen.map { String(format: ",%.3f,%.3f,%.1f,%.1f", $0.cm.xCm, $0.cm.yCm, $0.px.x, $0.px.y) } ?? ""
                return String(format: "%d,%.6f,%.4f,%.4f,%.2f,", p.frame, p.captureTime, p.gaze.xCm, p.gaze.yCm, p.latencyMs) + label + screenPart
            case .text:
                let screenPart = onScreen.map { String(format: "  screen %6.2f, %6.2f cm (%5.0f, %5.0f px)", $0.cm.xCm, $0.cm.yCm, $0.px.x, $0.px.y) } ?? ""
                return String(format: "frame %5d  t %.3f s  gaze x %7.2f cm  y %7.2f cm  latency %6.1f ms",
                              p.frame, p.captureTime, p.gaze.xCm, p.gaze.yCm, p.latencyMs) + screenPart
            }
        }
    }
}
