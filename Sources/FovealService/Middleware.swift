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
        let given = ServiceToken.given(query: request.uri.queryParameters.get("token"), authorization: request.headers[.authorization])
        guard let given, ServiceToken.matches(given, token) else {
            throw ServiceError(.unauthorized, given == nil ? ServiceToken.missing : "wrong token")
        }
        return try await next(request, context)
    }
}

/// Reading and comparing the service token.
enum ServiceToken {
    static let missing = "this service needs a token: send 'Authorization: Bearer TOKEN' or add ?token=TOKEN"

    /// The header's bearer token, else the query's.
    static func given(query: String?, authorization: String?) -> String? {
        if let authorization, authorization.hasPrefix("Bearer ") { return String(authorization.dropFirst("Bearer ".count)) }
        return query
    }

    /// Compares in time independent of where the first difference is.
    static func matches(_ given: String, _ token: String) -> Bool {
        let (a, b) = (Array(given.utf8), Array(token.utf8))
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
