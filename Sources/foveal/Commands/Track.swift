import ArgumentParser
import Foundation
import FovealCalibration
import FovealGeometry
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
                CHI 2012) with min cutoff 1 Hz, beta 0.05 per cm/s, derivative cutoff 1 Hz. \
                With --user, gaze is also reported on the user's screen, corrected by their active \
                calibration when it was made with these weights.
                """)

        enum Format: String, ExpressibleByArgument, CaseIterable { case text, jsonl, csv }
        enum Smoothing: String, ExpressibleByArgument, CaseIterable { case oneEuro = "one-euro", none }

        @OptionGroup var sources: FrameSourceOptions
        @OptionGroup var model: ModelOptions
        @OptionGroup var reuse: SaliencyReuseOptions
        @Option(help: "Output format.") var format: Format = .text
        @Option(help: "Stop after N frames.") var count: Int?
        @Option(help: "Stop after S seconds.") var duration: Double?
        @Option(help: "Smoothing.") var smooth: Smoothing = .none
        @Flag(help: "For a recording: all frames, not only those with face and eyes detected.") var allFrames = false
        @Option(help: "Apply this user's active calibration and report gaze on the screen (cm from its top-left, pixels).") var user: String?
        @Option(help: "The user's screen (default: the screen of their latest calibration); repeat it for more screens around the same camera, each reported by name.")
        var screen: [String] = []
        @OptionGroup var database: DatabaseOptions

        func validate() throws {
            if let count, count < 1 { throw ValidationError("--count must be positive") }
            if let duration, !(duration > 0 && duration.isFinite) { throw ValidationError("--duration must be a positive number of seconds") }
            if !screen.isEmpty && user == nil { throw ValidationError("--screen needs --user") }
        }

        func run() throws {
            try reportingErrors {
                Engine.setUp()
                let net = try model.load()
                let display = try userDisplay(database.open(), user: user, screens: screen, model: net)
                stopOnSignals()
                if format == .csv {
                    emit("frame,time_s,x_cm,y_cm,latency_ms,label_x_cm,label_y_cm" + (display == nil ? "" : ",screen_x_cm,screen_y_cm,screen_x_px,screen_y_px")
                         + (display?.display.otherScreens.isEmpty == false ? ",screen" : ""))
                }
                var light = LowLightNotice()
                let total = try trackLive(sources, model: net, smoothing: smooth == .oneEuro ? OneEuroFilter() : nil,
                                          calibration: display?.correction.calibration, saliencyReuse: reuse, count: count, duration: duration,
                                          allFrames: allFrames, opened: { printError("tracking \($0.description)") }) {
                    if let notice = light.line(for: $0) { printError("foveal: " + notice) }
                    emit(line($0, display?.display))
                }
                if total.frames == 0 && !interruption.isCancelled {
                    throw CommandFailure("no frames were tracked: the source gave none" + (allFrames ? "" : " (for a recording: none with face and eyes detected; see --all-frames)"))
                }
                var report = String(format: "%d frames in %.1f s (%.1f fps), latency p50 %.1f ms p99 %.1f ms, dropped %d",
                                    total.frames, total.seconds, total.framesPerSecond, total.latencyP50Ms, total.latencyP99Ms, total.dropped)
                if total.framesWithoutFace > 0 {
                    let nobody = net.faceInView == nil ? "" : ", \(total.framesNobodyInView) with nobody in view"
                    report += ", \(total.framesWithoutFace) without a face with open eyes (\(total.blinks) blink\(total.blinks == 1 ? "" : "s")\(nobody))"
                }
                if total.lowLightFrames > 0 { report += ", \(total.lowLightFrames) in low light" }
                if total.saliencyReused + total.saliencyComputed > 0 {
                    report += String(format: ", saliency map reused on %d of %d frames (%.0f%%)", total.saliencyReused,
                                     total.saliencyReused + total.saliencyComputed,
                                     100 * Double(total.saliencyReused) / Double(total.saliencyReused + total.saliencyComputed))
                }
                if let e = total.meanErrorCm { report += String(format: ", mean error %.3f cm against the labels", e) }
                printError(report)
            }
        }

        func line(_ p: TrackPoint, _ display: Display?) -> String {
            // One resolution of the gaze onto the user's screens, whatever the format.
            let report = display.map { GazeReport(p, layout: $0.layout) } ?? GazeReport(p)
            let named = (display?.otherScreens.isEmpty == false)
            switch format {
            case .jsonl:
                return report.jsonLine
            case .csv where !p.face:
                let label = p.label.map { String(format: "%.4f,%.4f", $0.xCm, $0.yCm) } ?? ","
                return String(format: "%d,%.6f,,,%.2f,", p.frame, p.captureTime, p.latencyMs) + label + (display == nil ? "" : ",,,,") + (named ? "," : "")
            case .csv:
                let label = p.label.map { String(format: "%.4f,%.4f", $0.xCm, $0.yCm) } ?? ","
                var screenPart = ""
                if let cm = report.screenCm, let px = report.screenPx {
                    screenPart = String(format: ",%.3f,%.3f,%.1f,%.1f", cm[0], cm[1], px[0], px[1]) + (named ? "," + (report.screen ?? "") : "")
                }
                return String(format: "%d,%.6f,%.4f,%.4f,%.2f,", p.frame, p.captureTime, p.gaze.xCm, p.gaze.yCm, p.latencyMs) + label + screenPart
            case .text where !p.face:
                let faceInView = p.faceInView.map { String(format: ", face in view %.2f", $0) } ?? ""
                return String(format: "frame %5d  t %.3f s  %@ (presence %.2f%@)%@  latency %6.1f ms",
                              p.frame, p.captureTime, p.faceState.rawValue, p.presence ?? 0, faceInView, p.lowLight ? ", low light" : "", p.latencyMs)
            case .text:
                var screenPart = ""
                if let cm = report.screenCm, let px = report.screenPx {
                    screenPart = String(format: "  screen %6.2f, %6.2f cm (%5.0f, %5.0f px)", cm[0], cm[1], px[0], px[1])
                    if named { screenPart += report.screen.map { " on \($0)" } ?? " off the screens" }
                }
                return String(format: "frame %5d  t %.3f s  gaze x %7.2f cm  y %7.2f cm  latency %6.1f ms",
                              p.frame, p.captureTime, p.gaze.xCm, p.gaze.yCm, p.latencyMs) + screenPart + (p.lowLight ? "  low light" : "")
            }
        }
    }
}
