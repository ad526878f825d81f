import Foundation
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1

/// Answers a WebSocket upgrade without the token with 401, like every other request.
///
/// Upgrades are decided before the router's responses exist: HummingbirdWebSocket answers every
/// refused upgrade with a bare 400. This handler sits right after the HTTP decoder, ahead of the
/// upgrade, refuses an upgrade that lacks the token with the service's 401 JSON, and leaves the
/// pipeline once an upgrade is allowed through (what follows is WebSocket frames, not HTTP).
final class UpgradeTokenCheck: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let token: String
    private var refusing = false

    init(token: String) { self.token = token }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if refusing { return }  // the rest of a refused request
        guard case .head(let head) = unwrapInboundIn(data), head.headers.contains(name: "upgrade") else {
            context.fireChannelRead(data)
            return
        }
        let query = URLComponents(string: head.uri)?.queryItems?.first { $0.name == "token" }?.value
        let given = ServiceToken.given(query: query, authorization: head.headers.first(name: "authorization"))
        guard let given, ServiceToken.matches(given, token) else {
            refusing = true
            let body = context.channel.allocator.buffer(string: ServiceJSON.encode(
                ErrorBody(error: given == nil ? ServiceToken.missing : "wrong token", status: 401)))
            let headers = HTTPHeaders([("content-type", "application/json; charset=utf-8"),
                                       ("content-length", "\(body.readableBytes)"), ("connection", "close")])
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .unauthorized, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
            return
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

/// HummingbirdWebSocket's HTTP/1 + upgrade channel with `UpgradeTokenCheck` in its pipeline.
struct TokenCheckedUpgradeChannel: ServerChildChannel {
    let inner: HTTP1WebSocketUpgradeChannel
    let token: String

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<HTTP1WebSocketUpgradeChannel.Value> {
        inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let decoder = try channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try channel.pipeline.syncOperations.addHandler(UpgradeTokenCheck(token: token), position: .after(decoder))
            return value
        }
    }

    func handle(value: HTTP1WebSocketUpgradeChannel.Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}
