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
