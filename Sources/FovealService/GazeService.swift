import Foundation
import FovealCalibration
import FovealGeometry
import FovealTracking
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import ServiceLifecycle

/// How `foveal serve` listens and what it tells clients about itself.
public struct ServiceConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 7077
    /// Required on every request when set (always set when `host` is not loopback).
    public var token: String?
    public var modelPath = ""
    public var modelConfig = ""
    /// Where `calibration/*.json` scripts are, for `POST /v1/calibrations {"script": "9-point"}`.
    public var scriptsDirectory: String?
    /// How long a client may take to send a request's head; its body may take twice as long
    /// (`RequestGuard`).
    public var requestTimeoutSeconds: Int64 = 15

    public init() {}

    public var isLoopback: Bool { ["127.0.0.1", "::1", "localhost"].contains(host) }
}

/// `foveal serve`: the HTTP API, the gaze and calibration WebSockets and the page, over one
/// pipeline and one calibration store.
///
///     GET  /                         the page (live view, calibration)
///     GET  /v1/health                source, model, fps, clients, uptime
///     GET  /v1/gaze/latest           the newest frame's report
///     GET  /v1/gaze/stream           WebSocket: one report per processed frame
///     GET  /v1/users                 POST /v1/users {"name"}
///     GET  /v1/screens               POST /v1/screens {"name", "preset"} or measured values
///     GET  /v1/calibrations[?user=]  POST /v1/calibrations {"user", "screen", "script"}
///     POST /v1/calibrations/{id}/activate
///     GET  /v1/calibrations/run      the running or last calibration run
///     GET  /v1/calibrations/events   WebSocket: the run's targets and result
///     GET  /v1/calibration-scripts   the scripts a run can use
public final class GazeService: Sendable {
    public let configuration: ServiceConfiguration
    public let pipeline: GazePipeline
    public let store: CalibrationDatabase
    public let runner: CalibrationRunner
    private let startedAt = Date()

    public init(configuration: ServiceConfiguration, pipeline: GazePipeline, store: CalibrationDatabase) {
        self.configuration = configuration
        self.pipeline = pipeline
        self.store = store
        self.runner = CalibrationRunner(store: store, pipeline: pipeline)
    }

    /// Serves until SIGTERM or SIGINT, then stops the pipeline (camera released), tells stream
    /// clients (close 1001, going away) and returns. `onListening` gets the bound URL.
    public func run(onListening: @escaping @Sendable (String) async -> Void) async throws {
        let router = Router(context: BasicWebSocketRequestContext.self)
        router.middlewares.add(JSONErrorMiddleware())
        if let token = configuration.token { router.middlewares.add(TokenMiddleware(token: token)) }
        addRoutes(to: router)
        var logger = Logger(label: "foveal.serve")
        logger.logLevel = .warning
        let host = configuration.host, token = configuration.token, requestTimeout = configuration.requestTimeoutSeconds
        let upgrades = router.buildResponder()
        // A client that does not answer the close handshake holds up shutdown 2 s at most.
        let channelConfiguration = HTTP1WebSocketUpgradeChannel.Configuration(ws: .init(closeTimeout: .seconds(2)))
        let server = HTTPServerBuilder { responder in
            let channel = HTTP1WebSocketUpgradeChannel(responder: responder, webSocketResponder: upgrades, configuration: channelConfiguration)
            return GuardedUpgradeChannel(inner: channel, token: token, headTimeout: .seconds(requestTimeout))
        }
        let app = Application(
            router: router,
            server: server,
            configuration: .init(address: .hostname(host, port: configuration.port), serverName: "foveal"),
            services: [pipeline],
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                await onListening("http://\(host.contains(":") ? "[\(host)]" : host):\(port)/")
            },
            logger: logger)
        try await app.runService()
    }

    func addRoutes(to router: Router<BasicWebSocketRequestContext>) {
        router.get("/") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                     body: .init(byteBuffer: ByteBuffer(bytes: PackageResources.index_html)))
        }
        router.get("/v1/health") { [self] _, _ in ServiceJSON.response(health()) }
        router.get("/v1/gaze/latest") { [pipeline] _, _ in
            guard let latest = pipeline.latest else { throw ServiceError(.notFound, "no frame processed yet") }
            return ServiceJSON.response(json: latest)
        }
        router.ws("/v1/gaze/stream") { [pipeline] inbound, outbound, _ in
            try await Self.stream(pipeline.reports, from: inbound, to: outbound)
        }
        router.ws("/v1/calibrations/events") { [runner] inbound, outbound, _ in
            try await Self.stream(runner.events, from: inbound, to: outbound)
        }
        addStoreRoutes(to: router)
    }

    /// Writes a broadcast's messages to one WebSocket client until the client goes, falls behind
    /// (close 1008) or the service stops (close 1001).
    static func stream(_ broadcast: Broadcast<String>, from inbound: WebSocketInboundStream, to outbound: WebSocketOutboundWriter) async throws {
        let subscription = broadcast.subscribe()
        defer { subscription.cancel() }
        // At shutdown the server waits for its connections: end this one (close 1001) at once,
        // even for a client that never reads.
        try await withGracefulShutdownHandler {
          try await withThrowingTaskGroup(of: Void.self) { group in
            // Reading is what notices a client that closed; what it sends is ignored.
            group.addTask { for try await _ in inbound {} }
            group.addTask {
                for await message in subscription.messages {
                    try await outbound.write(.text(message))
                }
                if Task.isCancelled { return }
                if subscription.wasDropped {
                    try await outbound.close(.policyViolation, reason: "client too slow: fell \(broadcast.capacity) messages behind")
                } else {
                    try await outbound.close(.goingAway, reason: "foveal serve is stopping")
                }
            }
            try await group.next()
            group.cancelAll()
          }
        } onGracefulShutdown: {
            subscription.cancel()
        }
    }

    struct Health: Encodable {
        struct Model: Encodable { var path: String, config: String }
        struct Clients: Encodable { var connected: Int, dropped: Int, queue: Int }
        var status = "ok"
        var uptimeS: Double
        var source: GazePipeline.Status
        var model: Model
        var clients: Clients
        var user: String?
        var screen: Screen?
        /// More screens around the camera (`serve --screen A --screen B`), by name.
        var otherScreens: [String]?
        /// The method of the calibration applied, if any, and what is applied in words.
        var calibration: String?
        var correction: String?
        var calibrationRun: CalibrationRunStatus.State?
        var tokenRequired: Bool
    }

    func health() -> Health {
        let display = pipeline.display
        return Health(uptimeS: Date().timeIntervalSince(startedAt), source: pipeline.status,
                      model: .init(path: configuration.modelPath, config: configuration.modelConfig),
                      clients: .init(connected: pipeline.reports.subscriberCount, dropped: pipeline.reports.droppedCount,
                                     queue: pipeline.reports.capacity),
                      user: display?.user.name, screen: display?.screen,
                      otherScreens: display.flatMap { $0.otherScreens.isEmpty ? nil : $0.otherScreens.map(\.name) },
                      calibration: pipeline.correction?.calibration?.method.rawValue, correction: pipeline.correction?.summary,
                      calibrationRun: runner.status?.state, tokenRequired: configuration.token != nil)
    }
}
