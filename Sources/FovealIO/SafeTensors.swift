import Foundation
import FovealTensor

/// The safetensors format (the Hugging Face format PyTorch `state_dict`s are shared in): an
/// 8-byte little-endian header length, a JSON header naming each tensor's dtype, shape and byte
/// range, then the raw little-endian bytes.
///
/// Reading memory-maps the file and validates the header completely before anything is used:
/// lengths, JSON, dtypes, shape x dtype = byte range, ranges inside the file and not overlapping.
/// F32 tensors borrow the mapped bytes where aligned; F16 and BF16 are widened to F32; I64
/// entries (BatchNorm's `num_batches_tracked`) are listed but not loadable as Float tensors.
public final class SafeTensorsFile: @unchecked Sendable {
    /// A tensor's element type on disk.
    public enum DType: String, Sendable, CaseIterable {
        case f32 = "F32", f16 = "F16", bf16 = "BF16", i64 = "I64"

        public var byteSize: Int {
            switch self {
            case .f32: 4
            case .f16, .bf16: 2
            case .i64: 8
            }
        }

        /// Whether the engine loads this dtype (as Float32).
        public var isFloatingPoint: Bool { self != .i64 }
    }

    /// One tensor's header entry.
    public struct Entry: Sendable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        /// Byte range inside the data section (after the header).
        public let byteRange: Range<Int>
    }

    public let path: String
    /// The header's `__metadata__` map (string to string), empty if absent.
    public let metadata: [String: String]
    /// The entries by name.
    public let entries: [String: Entry]
    private let file: MappedFile
    private let dataStart: Int

    /// Names in file order (by byte offset).
    public var names: [String] { entries.values.sorted { $0.byteRange.lowerBound < $1.byteRange.lowerBound }.map(\.name) }

    public convenience init(path: String) throws {
        try self.init(file: try MappedFile(path: path))
    }

    /// The file's bytes already in memory, named `path` in errors.
    public convenience init(data: Data, path: String) throws {
        try self.init(file: MappedFile(copying: data, path: path))
    }

    private init(file: MappedFile) throws {
        let path = file.path
        self.path = path
        self.file = file
        let bytes = file.bytes
        func fail(_ problem: String) -> FileFormatError { FileFormatError(path, "not a valid safetensors file: \(problem)") }
        guard bytes.count >= 8 else { throw fail("\(bytes.count) bytes, shorter than the 8-byte header length") }
        let headerLength = bytes.loadUnaligned(as: UInt64.self).littleEndian
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw fail("header length \(headerLength) runs past the end of the \(bytes.count)-byte file (truncated?)")
        }
        dataStart = 8 + Int(headerLength)
        let headerData = Data(bytes[8..<dataStart])
        guard let json = try? JSONSerialization.jsonObject(with: headerData),
              let header = json as? [String: Any] else {
            throw fail("the header is not a JSON object")
        }
        var metadata: [String: String] = [:]
        var entries: [String: Entry] = [:]
        let dataSize = bytes.count - dataStart
        for (name, value) in header {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else { throw fail("__metadata__ is not an object") }
                for (k, v) in map {
                    guard let s = v as? String else { throw fail("__metadata__[\(k)] is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let info = value as? [String: Any] else { throw fail("entry '\(name)' is not an object") }
            guard let dtypeName = info["dtype"] as? String else { throw fail("'\(name)' has no dtype") }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw fail("'\(name)' has unsupported dtype \(dtypeName) (Foveal reads F32, F16, BF16, I64)")
            }
            guard let shape = Self.integers(info["shape"]), shape.allSatisfy({ $0 >= 0 }) else {
                throw fail("'\(name)' has no valid shape")
            }
            guard let offsets = Self.integers(info["data_offsets"]), offsets.count == 2 else {
                throw fail("'\(name)' has no valid data_offsets")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= dataSize else {
                throw fail("'\(name)' bytes \(begin)..<\(end) lie outside the \(dataSize)-byte data section (truncated?)")
            }
            let (elements, overflow) = shape.reduce((1, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d)
                return (p, acc.1 || o)
            }
            guard !overflow, elements.multipliedReportingOverflow(by: dtype.byteSize) == (end - begin, false) else {
                throw fail("'\(name)' shape \(shape) of \(dtypeName) needs \(elements) x \(dtype.byteSize) bytes, its range holds \(end - begin)")
            }
            entries[name] = Entry(name: name, dtype: dtype, shape: shape, byteRange: begin..<end)
        }
        let sorted = entries.values.filter { !$0.byteRange.isEmpty }.sorted { $0.byteRange.lowerBound < $1.byteRange.lowerBound }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.byteRange.lowerBound < a.byteRange.upperBound {
            throw fail("the byte ranges of '\(a.name)' and '\(b.name)' overlap")
        }
        self.metadata = metadata
        self.entries = entries
    }

    private static func integers(_ value: Any?) -> [Int]? {
        guard let array = value as? [Any] else { return nil }
        var out: [Int] = []
        for v in array {
            guard let n = v as? Int else { return nil }
            out.append(n)
        }
        return out
    }

    /// The tensor `name` as Float32; throws if it is absent or not a floating-point tensor.
    public func tensor(_ name: String) throws -> Tensor {
        guard let entry = entries[name] else { throw FileFormatError(path, "no tensor named '\(name)'") }
        guard entry.dtype.isFloatingPoint else {
            throw FileFormatError(path, "'\(name)' is \(entry.dtype.rawValue), not a floating-point tensor")
        }
        let start = file.bytes.baseAddress! + dataStart + entry.byteRange.lowerBound
        let count = entry.shape.reduce(1, *)
        if entry.dtype == .f32, Int(bitPattern: start) % MemoryLayout<Float>.alignment == 0 {
            let pointer = UnsafeMutableRawPointer(mutating: start).assumingMemoryBound(to: Float.self)
            return Tensor(shape: entry.shape, borrowing: pointer, owner: file)
        }
        var t = Tensor(zeros: entry.shape)
        t.withUnsafeMutableBufferPointer { dst in
            for i in 0..<count {
                switch entry.dtype {
                case .f32:
                    dst[i] = Float(bitPattern: UInt32(littleEndian: start.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                case .f16:
                    dst[i] = Self.halfToFloat(UInt16(littleEndian: start.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                case .bf16:
                    let bits = UInt16(littleEndian: start.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                    dst[i] = Float(bitPattern: UInt32(bits) << 16)
                case .i64:
                    break
                }
            }
        }
        return t
    }

    /// IEEE binary16 to Float32 (done by hand: Float16 is not available on every x86 toolchain).
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = Int((h >> 10) & 0x1f), mantissa = UInt32(h & 0x3ff)
        if exponent == 0 {  // zero or subnormal: mantissa * 2^-24
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        }
        if exponent == 31 { return Float(bitPattern: sign | 0x7f80_0000 | (mantissa << 13)) }
        return Float(bitPattern: sign | (UInt32(exponent + 112) << 23) | (mantissa << 13))
    }
}

/// Writing safetensors files (F32 only, which is all Foveal writes).
public enum SafeTensorsWriter {
    /// Writes `tensors` in the given order with `metadata` in the header; atomically (a temporary
    /// file renamed into place), so an interrupted write never leaves a half file behind.
    public static func write(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:],
                             to path: String) throws {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for (name, tensor) in tensors {
            header[name] = ["dtype": "F32", "shape": tensor.shape, "data_offsets": [offset, offset + 4 * tensor.count]]
            offset += 4 * tensor.count
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Pad the header with spaces so that the data section starts 8-byte aligned.
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for (_, tensor) in tensors {
            tensor.withUnsafeBufferPointer { out.append(UnsafeBufferPointer(start: $0.baseAddress, count: $0.count)) }
        }
        do {
            try out.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw FileFormatError(path, "cannot write: \(error.localizedDescription)")
        }
    }
}
