import ArgumentParser
import Foundation
import FovealCalibration
import FovealCapture
import FovealModel
import FovealService
import FovealTensor

extension Foveal {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the gaze-tracking service: HTTP API, WebSocket gaze stream and the browser page.",
            discussion: """
                One process owns the camera and the model; programs read gaze from \
                ws://HOST:PORT/v1/gaze/stream (one JSON message per frame, the fields of `track --format \
                jsonl`) or GET /v1/gaze/latest, and a browser at http://HOST:PORT/ shows the live gaze and \
                runs calibrations. Listens on 127.0.0.1 unless --host says otherwise; then every request \
                needs the token (--token or $FOVEAL_TOKEN) as 'Authorization: Bearer TOKEN' or ?token=. \
                Prints one JSON line with the URL once listening. SIGTERM or Ctrl-C: the camera is \
                released, stream clients get close 1001, the database is closed.
                """)

        @Option(help: "V4L2 camera: a path such as /dev/video0, or an index.") var camera: String?
        @Option(help: "A recording folder, a folder or glob of images, or a .y4m file, replayed as a camera.") var source: String?
        @Flag(help: "Replay --source endlessly.") var loop = false
        @Option(help: "Frame rate: the camera's, or the replay's (default 30; 0: as fast as the model runs).") var fps: Double?
        @Option(help: "Camera frame size WIDTHxHEIGHT.") var size: String?
        @Option(help: "Camera pixel format: RGB3 or YUYV.") var pixelFormat = "RGB3"
        @Option(help: "Model weights (default: the shipped model).") var weights: String?
        @Option(help: "Report gaze on this user's screen with their active calibration.") var user: String?
        @Option(help: "The user's screen (default: the screen of their latest calibration).") var screen: String?
        @Option(help: "Address to listen on.") var host = "127.0.0.1"
        @Option(help: "Port (0: any free port; the URL is printed).") var port = 7077
        @Option(help: "Token every request must carry (default: $FOVEAL_TOKEN); required off loopback.") var token: String?
        @Option(help: "Messages a stream client may fall behind before it is dropped.") var clientQueue = 256
        @Option(help: "Start processing once this many stream clients are connected (for replays).") var waitForClients = 0
        @OptionGroup var database: DatabaseOptions

        func validate() throws {
            if (camera == nil) == (source == nil) { throw ValidationError("give exactly one of --camera and --source") }
            if loop && source == nil { throw ValidationError("--loop replays a --source") }
            if let fps, !(fps >= 0) { throw ValidationError("--fps must be 0 or more") }
            if let size, parseSize(size) == nil { throw ValidationError("--size must look like 640x480") }
            if !(0...65535).contains(port) { throw ValidationError("--port must be 0-65535") }
            if clientQueue < 1 { throw ValidationError("--client-queue must be positive") }
            if screen != nil && user == nil { throw ValidationError("--screen needs --user") }
        }

        func run() async throws {
            try await reportingErrors {
                BLAS.configure()
                var configuration = ServiceConfiguration()
                configuration.host = host
                configuration.port = port
                configuration.token = token ?? ProcessInfo.processInfo.environment["FOVEAL_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
                if !configuration.isLoopback && configuration.token == nil {
                    throw CommandFailure("--host \(host) exposes gaze beyond this machine: give --token or set FOVEAL_TOKEN")
                }
                let weightsPath = try ShippedModel.resolve(weights)
                let model = try GazeNet(weightsAt: weightsPath)
                configuration.modelPath = weightsPath
                let c = model.config
                configuration.modelConfig = "\(c.sampler ? "AlexNet + saliency sampler" : "AlexNet"), task input \(c.taskSize) px"
                    + (c.sampler ? ", saliency input \(c.saliencySize) px" : "")
                configuration.scriptsDirectory = ShippedModel.find("calibration/9-point.json").map { ($0 as NSString).deletingLastPathComponent }

                let store = try database.open()
                let display = try loadDisplay(store)
                let opener = sourceOpener()
                let first = try opener()  // fail now, not in the background, on a missing camera or file
                let description = first.description
                first.close()
                let pipeline = GazePipeline(model: model, sourceDescription: description, replaysRecording: source.map(isRecording) ?? false,
                                            isCamera: camera != nil, display: display, clientQueue: clientQueue,
                                            waitForClients: waitForClients, openSource: opener)
                let service = GazeService(configuration: configuration, pipeline: pipeline, store: store)
                if let display {
                    printError("user \(display.user.name) on screen '\(display.screen.name)': "
                               + (display.calibration.map { "\($0.method) calibration" } ?? "no calibration yet, uncorrected"))
                }
                printError("serving \(description) with \(configuration.modelConfig)")
                let tokenRequired = configuration.token != nil
                try await service.run { url in
                    emit(jsonLine(["event": "listening", "url": url, "token_required": tokenRequired]))
                    printError("foveal serve: open \(url) in a browser")
                }
                let status = pipeline.status
                printError("foveal serve stopped: \(status.frames) frames processed, \(pipeline.reports.droppedCount) slow clients dropped")
            }
        }

        /// Opens the source afresh each time the pipeline asks (a camera reconnecting, a replay looping).
        func sourceOpener() -> () throws -> FrameSource {
            let (camera, source, size, pixelFormat, loop) = (camera, source, size, pixelFormat, loop)
            // A replay plays like a camera at 30 fps unless told otherwise; 0 means unpaced (and,
            // for a camera, its own rate).
            let rate = (fps ?? (camera == nil ? 30 : nil)).flatMap { $0 > 0 ? $0 : nil }
            let open = { try openFrameSource(camera: camera, source: source, size: size, fps: rate, pixelFormat: pixelFormat, allFrames: false) }
            guard loop else { return open }
            return { try LoopingSource(open) }
        }

        func loadDisplay(_ store: CalibrationDatabase) throws -> Display? {
            guard let user else { return nil }
            guard let display = try store.display(user: user, screen: screen) else {
                throw CommandFailure("user '\(user)' has no calibration yet: name a screen with --screen")
            }
            return display
        }
    }
}
