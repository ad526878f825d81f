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

        @OptionGroup var sources: FrameSourceOptions
        @Flag(help: "Replay --source endlessly.") var loop = false
        @OptionGroup var model: ModelOptions
        @OptionGroup var reuse: SaliencyReuseOptions
        @Option(help: "Report gaze on this user's screen with their active calibration.") var user: String?
        @Option(help: "The user's screen (default: the screen of their latest calibration); repeat it for more screens around the same camera, each reported by name.")
        var screen: [String] = []
        @Option(help: "Address to listen on.") var host = "127.0.0.1"
        @Option(help: "Port (0: any free port; the URL is printed).") var port = 7077
        @Option(help: "Token every request must carry (default: $FOVEAL_TOKEN); required off loopback.") var token: String?
        @Option(help: "Messages a stream client may fall behind before it is dropped.") var clientQueue = 256
        @Option(help: "Start processing once this many stream clients are connected (for replays).") var waitForClients = 0
        @Option(help: "Seconds a client may take to send a request's head (its body: twice that); slower ones get 408 and are disconnected.")
        var requestTimeout: Int64 = 15
        @OptionGroup var database: DatabaseOptions

        func validate() throws {
            if loop && sources.source == nil { throw ValidationError("--loop replays a --source") }
            if !(0...65535).contains(port) { throw ValidationError("--port must be 0-65535") }
            if clientQueue < 1 { throw ValidationError("--client-queue must be positive") }
            if !(1...3600).contains(requestTimeout) { throw ValidationError("--request-timeout must be 1-3600 seconds") }
            if !screen.isEmpty && user == nil { throw ValidationError("--screen needs --user") }
        }

        func run() async throws {
            try await reportingErrors {
                Engine.setUp()
                var configuration = ServiceConfiguration()
                configuration.host = host
                configuration.port = port
                configuration.requestTimeoutSeconds = requestTimeout
                configuration.token = token ?? ProcessInfo.processInfo.environment["FOVEAL_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
                if !configuration.isLoopback && configuration.token == nil {
                    throw CommandFailure("--host \(host) exposes gaze beyond this machine: give --token or set FOVEAL_TOKEN")
                }
                let weightsPath = try model.path()
                let net = try model.load()
                configuration.modelPath = weightsPath
                let c = net.config
                configuration.modelConfig = "\(c.sampler ? "AlexNet + saliency sampler" : "AlexNet"), task input \(c.taskSize) px"
                    + (c.sampler ? ", saliency input \(c.saliencySize) px" : "")
                configuration.scriptsDirectory = ShippedModel.find("calibration/9-point.json").map { ($0 as NSString).deletingLastPathComponent }

                let store = try database.open()
                let display = try userDisplay(store, user: user, screens: screen, model: net)
                let opener = sourceOpener()
                let first = try opener()  // fail now, not in the background, on a missing camera or file
                let description = first.description
                FrameSourceOptions.announce(first)
                first.close()
                let pipeline = try GazePipeline(model: net, sourceDescription: description, replaysRecording: sources.replaysRecording,
                                                isCamera: sources.camera != nil, display: display?.display, clientQueue: clientQueue,
                                                waitForClients: waitForClients, onNotice: { printError("foveal serve: " + $0) },
                                                saliencyReuse: { [reuse] in reuse.make() },
                                                openSource: opener)
                let service = GazeService(configuration: configuration, pipeline: pipeline, store: store)
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
            let (sources, loop) = (sources, loop)
            // A replay plays like a camera at 30 fps unless told otherwise; 0 means unpaced (and,
            // for a camera, its own rate).
            let rate = sources.fps ?? (sources.camera == nil ? Self.replayFramesPerSecond : 0)
            let open = { try sources.open(fps: rate) }
            guard loop else { return open }
            return { try LoopingSource(open) }
        }

        /// A replay's rate unless --fps says otherwise: a webcam's.
        static let replayFramesPerSecond = 30.0
    }
}
