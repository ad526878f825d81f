import CZlib
import Foundation

/// A MATLAB level-5 MAT-file (what `save` writes, and `scipy.io.savemat`), read for what
/// calibration files hold: named numeric matrices (double, single or integer classes, real,
/// stored compressed or not). Anything else (cells, structs, strings, sparse or complex arrays,
/// big-endian files) is refused with a one-line error naming the file and the variable.
public struct MATFile: Sendable {
    /// A named real matrix, column-major as MATLAB stores it.
    public struct Matrix: Sendable, Equatable {
        public var name: String
        public var rows: Int, columns: Int
        /// Column-major: element (r, c) is `values[c * rows + r]`.
        public var values: [Double]

        public subscript(r: Int, c: Int) -> Double { values[c * rows + r] }
    }

    public let path: String
    public let variables: [String: Matrix]

    /// The variable `name`, or an error naming the file and what it does hold.
    public func matrix(_ name: String) throws -> Matrix {
        guard let m = variables[name] else {
            throw FileFormatError(path, "no variable '\(name)' (it holds \(variables.keys.sorted().joined(separator: ", ")))")
        }
        return m
    }

    /// The first of `names` the file holds (files of one kind differ in spelling: `rvects`, `rvecs`).
    public func matrix(anyOf names: [String]) throws -> Matrix {
        for name in names { if let m = variables[name] { return m } }
        return try matrix(names[0])
    }

    /// The variable `name` as exactly `count` numbers, finite.
    public func numbers(_ name: String, count: Int) throws -> [Double] {
        try numbers(try matrix(name), count: count)
    }

    public func numbers(_ m: Matrix, count: Int) throws -> [Double] {
        guard m.values.count == count else {
            throw FileFormatError(path, "'\(m.name)' has \(m.values.count) numbers (\(m.rows)x\(m.columns)), expected \(count)")
        }
        guard m.values.allSatisfy(\.isFinite) else { throw FileFormatError(path, "'\(m.name)' holds a non-finite number") }
        return m.values
    }

    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw FileFormatError(path, "cannot read the MAT-file") }
        try self.init(data: data, path: path)
    }

    public init(data: Data, path: String) throws {
        self.path = path
        let bytes = [UInt8](data)
        guard bytes.count >= 128 else { throw FileFormatError(path, "not a MAT-file (shorter than its 128-byte header)") }
        if bytes[0] == 0 || bytes[1] == 0 || bytes[2] == 0 || bytes[3] == 0 {
            throw FileFormatError(path, "a MATLAB level-4 or version 7.3 (HDF5) file: save it with -v7 or -v6")
        }
        guard bytes[126] == UInt8(ascii: "I") && bytes[127] == UInt8(ascii: "M") else {
            if bytes[126] == UInt8(ascii: "M") && bytes[127] == UInt8(ascii: "I") {
                throw FileFormatError(path, "a big-endian MAT-file, which Foveal does not read")
            }
            throw FileFormatError(path, "not a level-5 MAT-file (no endian indicator)")
        }
        var variables: [String: Matrix] = [:]
        var reader = ElementReader(bytes: bytes, position: 128, path: path)
        while let element = try reader.next() {
            var (type, body) = element
            if type == Self.miCOMPRESSED {
                let inflated = try Self.inflate(body, path: path)
                var inner = ElementReader(bytes: inflated, position: 0, path: path)
                guard let e = try inner.next() else { throw FileFormatError(path, "an empty compressed element") }
                (type, body) = e
            }
            guard type == Self.miMATRIX else { throw FileFormatError(path, "a top-level element of type \(type), not a matrix") }
            let m = try Self.matrix(body, path: path)
            variables[m.name] = m
        }
        self.variables = variables
    }

    // MARK: The format

    static let miINT8: UInt32 = 1, miUINT8: UInt32 = 2, miINT16: UInt32 = 3, miUINT16: UInt32 = 4
    static let miINT32: UInt32 = 5, miUINT32: UInt32 = 6, miSINGLE: UInt32 = 7, miDOUBLE: UInt32 = 9
    static let miINT64: UInt32 = 12, miUINT64: UInt32 = 13, miMATRIX: UInt32 = 14, miCOMPRESSED: UInt32 = 15
    /// mxCLASS codes of numeric arrays (double, single, int8 ... uint64).
    static let numericClasses: ClosedRange<UInt8> = 6...15
    static let classNames: [UInt8: String] = [1: "a cell array", 2: "a struct", 3: "an object", 4: "a character array", 5: "a sparse array"]
    /// Largest matrix read: calibration files hold a few numbers; this keeps a corrupt size from
    /// asking for gigabytes.
    static let maxElements = 1 << 24

    /// Walks data elements (tag, then body padded to 8 bytes; or the small format, where a body
    /// of up to 4 bytes shares the tag's 8).
    struct ElementReader {
        let bytes: [UInt8]
        var position: Int
        let path: String

        func uint32(_ at: Int) -> UInt32 {
            UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
        }

        mutating func next() throws -> (type: UInt32, body: ArraySlice<UInt8>)? {
            guard position < bytes.count else { return nil }
            guard bytes.count - position >= 8 else { throw FileFormatError(path, "truncated: a data element's tag is cut off at byte \(position)") }
            let first = uint32(position)
            if first >> 16 != 0 {
                let (type, size) = (first & 0xffff, Int(first >> 16))
                guard size <= 4 else { throw FileFormatError(path, "a small data element of \(size) bytes at byte \(position)") }
                defer { position += 8 }
                return (type, bytes[(position + 4)..<(position + 4 + size)])
            }
            let size = Int(uint32(position + 4))
            let start = position + 8
            guard size <= bytes.count - start else {
                throw FileFormatError(path, "truncated: an element of \(size) bytes at byte \(position) runs past the end (\(bytes.count) bytes)")
            }
            // Compressed elements are not padded; the others end on an 8-byte boundary.
            let padded = first == MATFile.miCOMPRESSED ? size : (size + 7) / 8 * 8
            position = min(bytes.count, start + padded)
            return (first, bytes[start..<(start + size)])
        }
    }

    /// A miMATRIX element's body: array flags, dimensions, name, real part.
    static func matrix(_ body: ArraySlice<UInt8>, path: String) throws -> Matrix {
        var reader = ElementReader(bytes: Array(body), position: 0, path: path)
        func part(_ what: String) throws -> (type: UInt32, body: ArraySlice<UInt8>) {
            guard let e = try reader.next() else { throw FileFormatError(path, "a matrix without its \(what)") }
            return e
        }
        let flags = try part("array flags")
        guard flags.type == miUINT32, flags.body.count == 8 else { throw FileFormatError(path, "a matrix with malformed array flags") }
        let flagWord = UInt32(flags.body[flags.body.startIndex]) | UInt32(flags.body[flags.body.startIndex + 1]) << 8
        let mxClass = UInt8(flagWord & 0xff), complex = flagWord & 0x0800 != 0
        let dims = try integers(try part("dimensions"), path: path)
        let nameBytes = try part("name")
        let name = String(decoding: nameBytes.body, as: UTF8.self)
        let label = name.isEmpty ? "a variable" : "'\(name)'"
        guard numericClasses.contains(mxClass) else {
            throw FileFormatError(path, "\(label) is \(classNames[mxClass] ?? "of class \(mxClass)"), not a numeric matrix")
        }
        guard !complex else { throw FileFormatError(path, "\(label) is complex, not a real matrix") }
        guard dims.count == 2, dims.allSatisfy({ $0 >= 0 && $0 <= maxElements }), dims[0] * dims[1] <= maxElements else {
            throw FileFormatError(path, "\(label) has dimensions \(dims), not a matrix of at most \(maxElements) numbers")
        }
        let values = try numbers(try part("real part"), path: path, label: label)
        guard values.count == dims[0] * dims[1] else {
            throw FileFormatError(path, "\(label) is \(dims[0])x\(dims[1]) but holds \(values.count) numbers")
        }
        return Matrix(name: name, rows: dims[0], columns: dims[1], values: values)
    }

    static func integers(_ e: (type: UInt32, body: ArraySlice<UInt8>), path: String) throws -> [Int] {
        guard e.type == miINT32, e.body.count % 4 == 0 else { throw FileFormatError(path, "a matrix with malformed dimensions") }
        let b = Array(e.body)
        return stride(from: 0, to: b.count, by: 4).map {
            Int(Int32(bitPattern: UInt32(b[$0]) | UInt32(b[$0 + 1]) << 8 | UInt32(b[$0 + 2]) << 16 | UInt32(b[$0 + 3]) << 24))
        }
    }

    /// The numbers of a numeric element, whatever type MATLAB stored them as, as doubles.
    static func numbers(_ e: (type: UInt32, body: ArraySlice<UInt8>), path: String, label: String) throws -> [Double] {
        let b = Array(e.body)
        func word(_ i: Int, _ size: Int) -> UInt64 {
            var v: UInt64 = 0
            for k in 0..<size { v |= UInt64(b[i * size + k]) << (8 * UInt64(k)) }
            return v
        }
        let size: Int, convert: (UInt64) -> Double
        switch e.type {
        case miDOUBLE: (size, convert) = (8, { Double(bitPattern: $0) })
        case miSINGLE: (size, convert) = (4, { Double(Float(bitPattern: UInt32($0))) })
        case miINT8: (size, convert) = (1, { Double(Int8(bitPattern: UInt8($0))) })
        case miUINT8: (size, convert) = (1, { Double($0) })
        case miINT16: (size, convert) = (2, { Double(Int16(bitPattern: UInt16($0))) })
        case miUINT16: (size, convert) = (2, { Double($0) })
        case miINT32: (size, convert) = (4, { Double(Int32(bitPattern: UInt32($0))) })
        case miUINT32: (size, convert) = (4, { Double($0) })
        case miINT64: (size, convert) = (8, { Double(Int64(bitPattern: $0)) })
        case miUINT64: (size, convert) = (8, { Double($0) })
        default: throw FileFormatError(path, "\(label) stores its numbers as type \(e.type), which is not numeric")
        }
        guard b.count % size == 0 else { throw FileFormatError(path, "\(label) has \(b.count) bytes of \(size)-byte numbers") }
        return (0..<(b.count / size)).map { convert(word($0, size)) }
    }

    /// zlib-inflates a miCOMPRESSED element's body, refusing a corrupt stream or one that would
    /// grow past the size limit.
    static func inflate(_ input: ArraySlice<UInt8>, path: String) throws -> [UInt8] {
        var stream = z_stream()
        guard inflateInit_(&stream, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw FileFormatError(path, "cannot start zlib")
        }
        defer { inflateEnd(&stream) }
        let limit = maxElements * 8 + 4096
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var source = Array(input)
        return try source.withUnsafeMutableBufferPointer { src -> [UInt8] in
            stream.next_in = src.baseAddress
            stream.avail_in = UInt32(src.count)
            while true {
                let status = chunk.withUnsafeMutableBufferPointer { out -> Int32 in
                    stream.next_out = out.baseAddress
                    stream.avail_out = UInt32(out.count)
                    return CZlib.inflate(&stream, Z_NO_FLUSH)
                }
                let produced = chunk.count - Int(stream.avail_out)
                output.append(contentsOf: chunk[0..<produced])
                if output.count > limit { throw FileFormatError(path, "a compressed element inflates past \(limit) bytes") }
                if status == Z_STREAM_END { return output }
                if status != Z_OK {
                    throw FileFormatError(path, "a compressed element is corrupt or truncated (zlib status \(status))")
                }
                if produced == 0 && stream.avail_in == 0 {
                    throw FileFormatError(path, "a compressed element is truncated")
                }
            }
        }
    }
}
