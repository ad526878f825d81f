import Foundation
import Testing
import FovealIO
import FovealTensor

/// Shared by the test targets: where the committed fixtures are, the tolerance they are held
/// to, and seeded random tensors.
public enum Fixtures {
    /// Tests/Fixtures.
    public static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures").path

    public static func path(_ relative: String) -> String { directory + "/" + relative }

    /// The golden op cases made by make_fixtures.py: `<case>.<tensor>`.
    public static let ops: SafeTensorsFile = try! SafeTensorsFile(path: path("ops.safetensors"))

    /// A fresh temporary directory.
    public static func temporaryDirectory() -> String {
        let dir = NSTemporaryDirectory() + "foveal-tests-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }
}

/// The largest error between two tensors, absolute below 1 and relative above (the parity
/// contract: within 1e-4 that way).
public func maxError(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.shape == b.shape, "shapes differ: \(a.shape) vs \(b.shape)")
    var worst: Float = 0
    a.withUnsafeBufferPointer { x in
        b.withUnsafeBufferPointer { y in
            for i in 0..<x.count {
                let e = abs(x[i] - y[i]) / max(1, abs(y[i]))
                if !(e <= worst) { worst = e.isNaN ? .infinity : e }
            }
        }
    }
    return worst
}

/// A tensor of uniform values in [lo, hi) from a seeded generator.
public func randomTensor(_ shape: [Int], seed: UInt64, in range: ClosedRange<Float> = -1...1) -> Tensor {
    var state = seed &* 0x9e37_79b9_7f4a_7c15 | 1
    let values = (0..<shape.reduce(1, *)).map { _ -> Float in
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return range.lowerBound + (range.upperBound - range.lowerBound) * Float(state >> 40) * 0x1p-24
    }
    return Tensor(shape: shape, values: values)
}

/// Expects `actual` within `tolerance` of `expected` (see `maxError`) and reports the error seen.
public func expectClose(_ actual: Tensor, _ expected: Tensor, _ tolerance: Float,
                        _ what: String = "", sourceLocation: SourceLocation = #_sourceLocation) {
    guard actual.shape == expected.shape else {
        Issue.record("\(what) shape \(actual.shape), expected \(expected.shape)", sourceLocation: sourceLocation)
        return
    }
    let e = maxError(actual, expected)
    #expect(e <= tolerance, "\(what) max error \(e) above \(tolerance)", sourceLocation: sourceLocation)
}

/// Copies a safetensors file to `destination` with its float tensors and metadata changed by
/// `edit` (integer tensors, BatchNorm's counters, are left out): how tests make bad weight and
/// checkpoint files.
public func rewriteSafeTensors(_ source: String, to destination: String,
                               _ edit: (inout [(name: String, tensor: Tensor)], inout [String: String]) -> Void) throws {
    let file = try SafeTensorsFile(path: source)
    var tensors = try file.names.filter { file.entries[$0]!.dtype != .i64 }.map { (name: $0, tensor: try file.tensor($0)) }
    var metadata = file.metadata
    edit(&tensors, &metadata)
    try SafeTensorsWriter.write(tensors, metadata: metadata, to: destination)
}
