import Foundation
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1

/// The service's door, right after the HTTP decoder, for what the router never sees or sees too
/// late: every refusal is the service's JSON (`{"error", "status"}`) and closes the connection.
///
/// - A request that is not HTTP (a parse error: garbage, `HTTP/9.9`, a header line without a
///   colon, `Content-Length: -5`) gets 400; headers past the decoder's limit get 431.
/// - A body over `ServiceJSON.maxBodyBytes` gets 413 as soon as its length is declared or
///   exceeded, whether or not the client asked `Expect: 100-continue`; the rest is dropped.
/// - A client that takes longer than `headTimeout` to send a request's head (from connecting, or
///   from the end of its previous request) or twice that to send its body gets 408 and a close
///   (slowloris); a kept-alive connection that sent nothing of a next request is closed quietly.
/// - A WebSocket upgrade gets 400 unless its `Sec-WebSocket-Key` is 16 bytes in base64 (RFC 6455),
///   and 401 without the token when one is required. Upgrades are decided before the router's
///   responses exist (HummingbirdWebSocket answers every refusal with a bare 400), so this is
///   where they get the service's answers. Once an upgrade passes, the handler leaves the
///   pipeline: what follows is WebSocket frames, not HTTP.
final class RequestGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let headTimeout: TimeAmount, bodyTimeout: TimeAmount
    private let token: String?
    private let arrivals: ByteArrivals
    private var refusing = false
    private var bodyBytes = 0
    private var deadline: Scheduled<Void>?

    init(token: String?, arrivals: ByteArrivals, headTimeout: TimeAmount) {
        (self.token, self.arrivals, self.headTimeout, self.bodyTimeout) = (token, arrivals, headTimeout, headTimeout * 2)
    }

    func handlerAdded(context: ChannelHandlerContext) { arm(context, headTimeout, "the request head") }

    func handlerRemoved(context: ChannelHandlerContext) { deadline?.cancel() }

    /// Closes the connection if `limit` passes before the next part of the request arrives.
    private func arm(_ context: ChannelHandlerContext, _ limit: TimeAmount, _ what: String) {
        deadline?.cancel()
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: limit) {
            let (handler, context) = loopBound.value
            guard !handler.refusing else { return }
            if what == "the request head", handler.arrivals.sinceRequestEnd == 0 {
                context.close(promise: nil)  // an idle kept-alive connection: nothing to answer
            } else {
                handler.refuse(context, .requestTimeout, "\(what) took longer than \(limit.nanoseconds / 1_000_000_000) s", version: .http1_1)
            }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if refusing { return }  // the rest of a refused request
        switch unwrapInboundIn(data) {
        case .head(let head):
            arm(context, bodyTimeout, "the request body")
            bodyBytes = 0
            if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > ServiceJSON.maxBodyBytes {
                return refuse(context, .payloadTooLarge, "request body over \(ServiceJSON.maxBodyBytes / 1024) KiB", version: head.version)
            }
            if head.headers.contains(name: "upgrade") {
                if let problem = Self.upgradeProblem(head) { return refuse(context, .badRequest, problem, version: head.version) }
                if let token {
                    let query = URLComponents(string: head.uri)?.queryItems?.first { $0.name == "token" }?.value
                    let given = ServiceToken.given(query: query, authorization: head.headers.first(name: "authorization"))
                    guard let given, ServiceToken.matches(given, token) else {
                        return refuse(context, .unauthorized, given == nil ? ServiceToken.missing : "wrong token", version: head.version)
                    }
                }
                deadline?.cancel()
                context.fireChannelRead(data)
                context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
                if let counter = try? context.pipeline.syncOperations.handler(type: ByteArrivals.self) {
                    context.pipeline.syncOperations.removeHandler(counter, promise: nil)
                }
                return
            }
        case .body(let buffer):
            bodyBytes += buffer.readableBytes
            if bodyBytes > ServiceJSON.maxBodyBytes {
                return refuse(context, .payloadTooLarge, "request body over \(ServiceJSON.maxBodyBytes / 1024) KiB", version: .http1_1)
            }
        case .end:
            bodyBytes = 0
            arrivals.sinceRequestEnd = 0
            arm(context, headTimeout, "the request head")
        }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parse = error as? HTTPParserError, !refusing else {
            context.fireErrorCaught(error)
            return
        }
        if case .headerOverflow = parse {
            refuse(context, .requestHeaderFieldsTooLarge, "request headers too large", version: .http1_1)
        } else {
            refuse(context, .badRequest, "malformed HTTP request (\(parse))", version: .http1_1)
        }
    }

    /// Why an upgrade request is not a WebSocket handshake Foveal accepts, or nil.
    static func upgradeProblem(_ head: HTTPRequestHead) -> String? {
        guard head.headers.first(name: "upgrade")?.lowercased() == "websocket" else { return "only WebSocket upgrades are served" }
        guard let key = head.headers.first(name: "sec-websocket-key") else { return "a WebSocket upgrade needs Sec-WebSocket-Key" }
        guard let bytes = Data(base64Encoded: key.trimmingCharacters(in: .whitespaces)), bytes.count == 16 else {
            return "Sec-WebSocket-Key must be 16 bytes in base64"
        }
        return nil
    }

    /// How long a refused connection still reads (and drops) what the client sends after the answer.
    static let lingering = TimeAmount.seconds(2)

    /// Answers with the service's JSON error and closes; what else the client sends is dropped.
    ///
    /// The close lingers: the service stops writing, then reads and drops the rest of the request
    /// for up to `lingering` before it closes. Closing a socket with unread bytes makes the kernel
    /// reset the connection, and a client still sending its body (curl, URLSession: 3 POSTs in 300
    /// of 200 KB under load) then reports "connection reset" instead of the answer.
    private func refuse(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ message: String, version: HTTPVersion) {
        refusing = true
        let body = context.channel.allocator.buffer(string: ServiceJSON.encode(ErrorBody(error: message, status: Int(status.code))))
        let headers = HTTPHeaders([("content-type", "application/json; charset=utf-8"),
                                   ("content-length", "\(body.readableBytes)"), ("connection", "close")])
        let answerVersion = version.major == 1 ? version : .http1_1
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: answerVersion, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            context.close(mode: .output).whenComplete { halfClosed in
                guard case .success = halfClosed else { return context.close(promise: nil) }
                context.eventLoop.scheduleTask(in: Self.lingering) { context.close(promise: nil) }
            }
        }
    }
}

/// Counts the raw bytes a connection receives after its last complete request, ahead of the
/// HTTP decoder, so that `RequestGuard` can tell a slow client from an idle one.
final class ByteArrivals: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    var sinceRequestEnd = 0

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        sinceRequestEnd += unwrapInboundIn(data).readableBytes
        context.fireChannelRead(data)
    }
}

/// HummingbirdWebSocket's HTTP/1 + upgrade channel with `RequestGuard` right after its decoder.
struct GuardedUpgradeChannel: ServerChildChannel {
    let inner: HTTP1WebSocketUpgradeChannel
    let token: String?
    let headTimeout: TimeAmount

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<HTTP1WebSocketUpgradeChannel.Value> {
        inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let decoder = try channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            let arrivals = ByteArrivals()
            try channel.pipeline.syncOperations.addHandler(arrivals, position: .before(decoder))
            try channel.pipeline.syncOperations.addHandler(RequestGuard(token: token, arrivals: arrivals, headTimeout: headTimeout), position: .after(decoder))
            return value
        }
    }

    func handle(value: HTTP1WebSocketUpgradeChannel.Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}
