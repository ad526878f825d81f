import Foundation
import FovealIO
import FovealCalibration
import Hummingbird
import HTTPTypes

/// A request the service refuses: the HTTP status and one line saying why, sent as
/// `{"error": "...", "status": 404}`.
public struct ServiceError: Error, CustomStringConvertible, HTTPResponseError {
    public let status: HTTPResponse.Status
    public let description: String

    public init(_ status: HTTPResponse.Status, _ description: String) { (self.status, self.description) = (status, description) }

    /// The store's errors, by what they mean to a client.
    init(_ error: StoreError) {
        switch error.kind {
        case .invalid: self.init(.badRequest, error.description)
        case .notFound: self.init(.notFound, error.description)
        case .conflict: self.init(.conflict, error.description)
        case .storage: self.init(.serviceUnavailable, error.description)
        }
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        ServiceJSON.response(ErrorBody(error: description, status: status.code), status: status)
    }
}

struct ErrorBody: Codable {
    var error: String
    var status: Int
}

/// The service's JSON: `JSONOutput` with snake_case keys.
package enum ServiceJSON {
    static func encode(_ value: some Encodable) -> String { JSONOutput.line(value, snakeCaseKeys: true) }

    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        response(json: encode(value), status: status)
    }

    static func response(json: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(string: json)))
    }

    /// Largest request body the API reads: its bodies are a few names and numbers.
    static let maxBodyBytes = 64 * 1024

    /// Reads and decodes a JSON request body; errors say what is wrong with it.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maxBodyBytes)
        } catch {
            throw ServiceError(.contentTooLarge, "request body over \(maxBodyBytes / 1024) KiB")
        }
        return try decode(type, from: Data(buffer.readableBytesView))
    }

    /// Decodes a request body already read (the fuzz harness's way in).
    package static func decode<T: Decodable>(_ type: T.Type, from body: Data) throws -> T {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(T.self, from: body)
        } catch DecodingError.keyNotFound(let key, _) {
            throw ServiceError(.badRequest, "malformed body: missing '\(key.stringValue.snakeCased)'")
        } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
            let field = context.codingPath.map { $0.stringValue.snakeCased }.joined(separator: ".")
            throw ServiceError(.badRequest, "malformed body: '\(field)' has the wrong type")
        } catch {
            throw ServiceError(.badRequest, "malformed body: not a JSON object of the documented shape")
        }
    }
}

extension String {
    /// "widthMm" -> "width_mm", to name fields in errors as clients spell them.
    var snakeCased: String {
        var out = ""
        for c in self {
            if c.isUppercase { out += "_" + c.lowercased() } else { out.append(c) }
        }
        return out
    }
}
