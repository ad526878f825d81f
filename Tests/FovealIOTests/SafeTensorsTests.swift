import Foundation
import FovealIO
import FovealTensor
import FovealTestSupport
import Testing

@Suite struct SafeTensorsFormat {
    /// Bytes already in memory read as the file does (the fuzz harness's entry point).
    @Test func bytesInMemoryReadAsTheFile() throws {
        let path = Fixtures.path("model/depth6.weights.safetensors")
        let fromDisk = try SafeTensorsFile(path: path)
        let fromMemory = try SafeTensorsFile(data: try Data(contentsOf: URL(fileURLWithPath: path)), path: "memory")
        #expect(fromMemory.names == fromDisk.names && fromMemory.metadata == fromDisk.metadata)
        for name in fromDisk.names where fromDisk.entries[name]!.dtype.isFloatingPoint {
            #expect(try fromMemory.tensor(name).values == fromDisk.tensor(name).values, "\(name)")
        }
        #expect { try SafeTensorsFile(data: Data([1, 2, 3]), path: "memory") } throws: { "\($0)".contains("memory: not a valid safetensors file") }
    }

    let dir = Fixtures.temporaryDirectory()

    /// A file of the given header JSON and data bytes, exactly as written.
    func raw(_ header: String, data: [UInt8] = [], lengthOverride: UInt64? = nil, name: String = "f.safetensors") -> String {
        var bytes = [UInt8]()
        let h = Array(header.utf8)
        withUnsafeBytes(of: (lengthOverride ?? UInt64(h.count)).littleEndian) { bytes += $0 }
        bytes += h + data
        let path = dir + "/" + name
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    func error(_ path: String) -> String {
        do { _ = try SafeTensorsFile(path: path); return "opened" } catch { return "\(error)" }
    }

    @Test func roundTripKeepsNamesShapesValuesAndMetadata() throws {
        let a = randomTensor([2, 3, 4], seed: 1), b = Tensor(shape: [5], values: [1, 2, 3, 4, 5])
        let path = dir + "/rt.safetensors"
        try SafeTensorsWriter.write([("layer.weight", a), ("bias", b)], metadata: ["config": "{\"x\": 1}"], to: path)
        let file = try SafeTensorsFile(path: path)
        #expect(file.metadata == ["config": "{\"x\": 1}"])
        #expect(file.names == ["layer.weight", "bias"])
        #expect(try file.tensor("layer.weight").shape == [2, 3, 4])
        #expect(try file.tensor("layer.weight").values == a.values)
        #expect(try file.tensor("bias").values == b.values)
        // Borrowed from the mapping, yet writable by copy-on-write without touching the file.
        var t = try file.tensor("bias")
        t[flat: 0] = 42
        #expect(try file.tensor("bias")[flat: 0] == 1)
    }

    @Test func halfPrecisionAndIntegersAreHandled() throws {
        // F16: 1.0 = 0x3c00, -2.0 = 0xc000, 65504 = 0x7bff, smallest subnormal 0x0001;
        // BF16: 1.0 = 0x3f80, -0.5 = 0xbf00; I64: one counter.
        let f16: [UInt8] = [0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00]
        let bf16: [UInt8] = [0x80, 0x3f, 0x00, 0xbf]
        let i64: [UInt8] = [7, 0, 0, 0, 0, 0, 0, 0]
        let header = """
            {"h":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]},\
            "n":{"dtype":"I64","shape":[],"data_offsets":[12,20]}}
            """
        let file = try SafeTensorsFile(path: raw(header, data: f16 + bf16 + i64))
        #expect(try file.tensor("h").values == [1, -2, 65504, 0x1p-24])
        #expect(try file.tensor("b").values == [1, -0.5])
        #expect(file.entries["n"]?.dtype == .i64)
        #expect(throws: FileFormatError.self) { try file.tensor("n") }
    }

    @Test func unalignedF32IsCopied() throws {
        // A 2-byte header puts the data at offset 10: not 4-byte aligned.
        var values: [UInt8] = []
        for v: Float in [1.5, -3] { withUnsafeBytes(of: v.bitPattern.littleEndian) { values += $0 } }
        let path = raw("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}  ".trimmingCharacters(in: .whitespaces), data: values)
        #expect(try SafeTensorsFile(path: path).tensor("x").values == [1.5, -3])
        let odd = raw("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}} ", data: values, name: "odd.safetensors")
        #expect(try SafeTensorsFile(path: odd).tensor("x").values == [1.5, -3])
    }

    @Test(arguments: [
        ("", nil, "shorter than the 8-byte header length"),
        ("{}", 1000, "runs past the end"),
        ("[1, 2]", nil, "not a JSON object"),
        ("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}", nil, "not a JSON object"),
        ("{\"a\": {\"dtype\": \"Q4\", \"shape\": [2], \"data_offsets\": [0, 8]}}", nil, "unsupported dtype Q4"),
        ("{\"a\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}", nil, "shape [3] of F32 needs 3 x 4 bytes"),
        ("{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}", nil, "outside the 8-byte data section"),
        ("{\"a\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 8]}}", nil, "no valid shape"),
        ("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 0]}}", nil, "outside"),
        ("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}, \"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [2, 6]}}", nil, "overlap"),
        ("{\"__metadata__\": {\"k\": 3}}", nil, "__metadata__[k] is not a string"),
        ("{\"a\": {\"dtype\": \"F32\", \"shape\": [2]}}", nil, "no valid data_offsets"),
    ] as [(String, UInt64?, String)])
    func malformedFilesAreExplained(_ header: String, _ length: UInt64?, _ expected: String) {
        let path = header.isEmpty ? dir + "/empty" : raw(header, data: Array(repeating: 0, count: 8), lengthOverride: length)
        if header.isEmpty { FileManager.default.createFile(atPath: path, contents: Data([1, 2, 3])) }
        let e = error(path)
        #expect(e.hasPrefix(path + ": not a valid safetensors file") && e.contains(expected), "\(e)")
    }

    @Test func truncatedWeightFileIsRefused() throws {
        let path = dir + "/full.safetensors"
        try SafeTensorsWriter.write([("w", randomTensor([64, 64], seed: 2))], to: path)
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let cut = dir + "/cut.safetensors"
        FileManager.default.createFile(atPath: cut, contents: data.prefix(data.count - 100))
        #expect(error(cut).contains("outside the"))
    }

    @Test func missingFileAndDirectoryAreExplained() {
        #expect(error(dir + "/nope.safetensors") == "\(dir)/nope.safetensors: No such file or directory")
        #expect(error(dir) == "\(dir): not a regular file")
    }
}
