import Foundation
import FovealCalibration
import Hummingbird
import Logging

/// Every failure leaves as `{"error": ..., "status": ...}`: the service's own errors, the store's,
/// Hummingbird's (unknown route, wrong method) and anything unexpected (logged, 500). The
/// service itself never goes down on a request.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as ServiceError {
            throw error
        } catch let error as StoreError {
            throw ServiceError(error)
        } catch let error as HTTPError {
            let reason = error.body ?? error.status.reasonPhrase
            throw ServiceError(error.status, error.status == .notFound ? "no such endpoint: \(request.method) \(request.uri.path)" : reason)
        } catch let error as any HTTPResponseError {
            throw ServiceError(error.status, error.status.reasonPhrase)
        } catch {
            context.logger.error("\(request.method) \(request.uri.path): \(error)")
            throw ServiceError(.internalServerError, "\(error)")
        }
    }
}

/// When the service listens beyond loopback, every request carries the token: an
/// `Authorization: Bearer TOKEN` header, or `?token=TOKEN` (browsers cannot set headers on a
/// WebSocket, so the page passes it on in the URL it was opened with).
struct TokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var given = request.uri.queryParameters.get("token")
        if let header = request.headers[.authorization], header.hasPrefix("Bearer ") {
            given = String(header.dropFirst("Bearer ".count))
        }
        guard let given, Self.equal(Array(given.utf8), Array(token.utf8)) else {
            throw ServiceError(.unauthorized, given == nil
                ? "this service needs a token: send 'Authorization: Bearer TOKEN' or add ?token=TOKEN"
                : "wrong token")
        }
        return try await next(request, context)
    }

    /// Compares in time independent of where the first difference is.
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
