/// Pointwise ops: ReLU, sigmoid, the residual sum, an affine map, clamping.
public enum Elementwise {
    /// max(0, x).
    public static func relu(_ x: Tensor) -> Tensor { map(x) { max(0, $0) } }

    /// 1 / (1 + exp(-x)).
    public static func sigmoid(_ x: Tensor) -> Tensor { map(x) { 1 / (1 + expf(-$0)) } }

    /// a + b, same shapes; with `relu`, max(0, a + b) in the same pass (a residual block's end).
    public static func add(_ a: Tensor, _ b: Tensor, relu: Bool = false) -> Tensor {
        precondition(a.shape == b.shape, "add: \(a.shape) vs \(b.shape)")
        var out = Tensor(uninitialized: a.shape)
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                out.withUnsafeMutableBufferPointer { op in
                    if relu {
                        for i in 0..<op.count { op[i] = max(0, ap[i] + bp[i]) }
                    } else {
                        for i in 0..<op.count { op[i] = ap[i] + bp[i] }
                    }
                }
            }
        }
        return out
    }

    /// f(x) element by element.
    @inlinable
    public static func map(_ x: Tensor, _ f: (Float) -> Float) -> Tensor {
        var out = Tensor(uninitialized: x.shape)
        x.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { op in
                for i in 0..<op.count { op[i] = f(xp[i]) }
            }
        }
        return out
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension Elementwise {
    /// ReLU's backward from its output: dx = dy where y > 0, else 0.
    public static func reluBackward(_ dOutput: Tensor, output: Tensor) -> Tensor {
        var dx = dOutput
        output.withUnsafeBufferPointer { y in
            dx.withUnsafeMutableBufferPointer { d in
                for i in 0..<d.count where y[i] <= 0 { d[i] = 0 }
            }
        }
        return dx
    }

    /// Inverted dropout: zeroes each element with probability p and scales the rest by 1/(1-p).
    /// Returns the output and the mask (0 or 1/(1-p)) that backward multiplies by.
    public static func dropout(_ x: Tensor, p: Float, rng: inout SplitMix64) -> (output: Tensor, mask: Tensor) {
        var mask = Tensor(zeros: x.shape)
        let keep = 1 / (1 - p)
        mask.withUnsafeMutableBufferPointer { m in
            for i in 0..<m.count { m[i] = rng.uniform(0, 1) >= p ? keep : 0 }
        }
        return (multiply(x, mask), mask)
    }

    /// a * b, same shapes.
    public static func multiply(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.shape == b.shape, "multiply: \(a.shape) vs \(b.shape)")
        var out = a
        b.withUnsafeBufferPointer { bp in
            out.withUnsafeMutableBufferPointer { op in
                for i in 0..<op.count { op[i] *= bp[i] }
            }
        }
        return out
    }

    /// a += b, same shapes (gradient accumulation).
    public static func accumulate(_ a: inout Tensor, _ b: Tensor) {
        precondition(a.shape == b.shape, "accumulate: \(a.shape) vs \(b.shape)")
        b.withUnsafeBufferPointer { bp in
            a.withUnsafeMutableBufferPointer { ap in
                for i in 0..<ap.count { ap[i] += bp[i] }
            }
        }
    }
}
