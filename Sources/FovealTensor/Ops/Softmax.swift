#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Softmax over everything after the batch dimension: input (N, ...) -> same shape, each item
/// summing to 1. (The saliency map's normalisation over its 31x31 cells.)
public enum Softmax {
    public static func forward(_ input: Tensor) -> Tensor {
        let n = input.shape[0], size = input.count / max(1, n)
        var output = Tensor(zeros: input.shape)
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                for b in 0..<n {
                    let xp = x.baseAddress! + b * size, yp = y.baseAddress! + b * size
                    var peak = -Float.infinity
                    for i in 0..<size { peak = max(peak, xp[i]) }
                    var sum: Float = 0
                    for i in 0..<size { yp[i] = expf(xp[i] - peak); sum += yp[i] }
                    let inv = 1 / sum
                    for i in 0..<size { yp[i] *= inv }
                }
            }
        }
        return output
    }
}

extension Softmax {
    /// dx = y * (dy - sum(dy * y)) per item, from the forward's output y.
    public static func backward(_ dOutput: Tensor, output: Tensor) -> Tensor {
        let n = output.shape[0], size = output.count / max(1, n)
        var dInput = Tensor(uninitialized: output.shape)
        output.withUnsafeBufferPointer { y in
            dOutput.withUnsafeBufferPointer { dy in
                dInput.withUnsafeMutableBufferPointer { dx in
                    for b in 0..<n {
                        var dot: Double = 0
                        for i in 0..<size { dot += Double(dy[b * size + i] * y[b * size + i]) }
                        for i in 0..<size { dx[b * size + i] = y[b * size + i] * (dy[b * size + i] - Float(dot)) }
                    }
                }
            }
        }
        return dInput
    }
}
