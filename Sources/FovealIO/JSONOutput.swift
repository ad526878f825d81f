import Foundation

/// Foveal's JSON, written one way everywhere it leaves the process (command output, reports,
/// the service): keys sorted, slashes unescaped, dates in ISO 8601, and a non-finite number as
/// the string "nan", "inf" or "-inf" rather than a failed encoding and an empty line.
public enum JSONOutput {
    /// The encoder; `snakeCaseKeys` for types without explicit coding keys (the service's records).
    public static func encoder(_ formatting: JSONEncoder.OutputFormatting = [], snakeCaseKeys: Bool = false) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = formatting.union([.sortedKeys, .withoutEscapingSlashes])
        encoder.dateEncodingStrategy = .iso8601
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        if snakeCaseKeys { encoder.keyEncodingStrategy = .convertToSnakeCase }
        return encoder
    }

    /// The decoder for what `encoder` wrote (reports read back, as `eval merge` does): the same
    /// dates and non-finite numbers.
    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return decoder
    }

    /// `value` as one compact line. Plain data always encodes; a value that throws while encoding
    /// itself is a programming error, reported as a JSON error object rather than nothing.
    public static func line(_ value: some Encodable, snakeCaseKeys: Bool = false) -> String {
        do {
            return String(decoding: try encoder(snakeCaseKeys: snakeCaseKeys).encode(value), as: UTF8.self)
        } catch {
            return #"{"error":"unencodable value"}"#
        }
    }
}
