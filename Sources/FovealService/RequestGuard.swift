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
///   exceeded, whether or not the client asked `Expect: 100-continue`, and the rest is not read.
/// - A WebSocket upgrade gets 400 unless its `Sec-WebSocket-Key` is 16 bytes in base64 (RFC 6455),
///   and 401 without the token when one is required. Upgrades are decided before the router's
///   responses exist (HummingbirdWebSocket answers every refusal with a bare 400), so this is
///   where they get the service's answers. Once an upgrade passes, the handler leaves the
///   pipeline: what follows is WebSocket frames, not HTTP.
final class RequestGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let token: String?
    private var refusing = false
    private var bodyBytes = 0

    init(token: String?) { self.token = token }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if refusing { return }  // the rest of a refused request
        switch unwrapInboundIn(data) {
        case .head(let head):
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
                context.fireChannelRead(data)
                context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
                return
            }
        case .body(let buffer):
            bodyBytes += buffer.readableBytes
            if bodyBytes > ServiceJSON.maxBodyBytes {
                return refuse(context, .payloadTooLarge, "request body over \(ServiceJSON.maxBodyBytes / 1024) KiB", version: .http1_1)
            }
        case .end:
            bodyBytes = 0
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

    /// Answers with the service's JSON error and closes; what else the client sends is dropped.
    private func refuse(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ message: String, version: HTTPVersion) {
        refusing = true
        let body = context.channel.allocator.buffer(string: ServiceJSON.encode(ErrorBody(error: message, status: Int(status.code))))
        let headers = HTTPHeaders([("content-type", "application/json; charset=utf-8"),
                                   ("content-length", "\(body.readableBytes)"), ("connection", "close")])
        let answerVersion = version.major == 1 ? version : .http1_1
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: answerVersion, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }
}

/// HummingbirdWebSocket's HTTP/1 + upgrade channel with `RequestGuard` right after its decoder.
struct GuardedUpgradeChannel: ServerChildChannel {
    let inner: HTTP1WebSocketUpgradeChannel
    let token: String?

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<HTTP1WebSocketUpgradeChannel.Value> {
        inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let decoder = try channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try channel.pipeline.syncOperations.addHandler(RequestGuard(token: token), position: .after(decoder))
            return value
        }
    }

    func handle(value: HTTP1WebSocketUpgradeChannel.Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}
