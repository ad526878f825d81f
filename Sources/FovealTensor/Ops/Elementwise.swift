/// Pointwise ops: ReLU, sigmoid, the residual sum, an affine map, clamping.
public enum Elementwise {
    /// max(0, x).
    public static func relu(_ x: Tensor) -> Tensor { map(x) { max(0, $0) } }

    /// 1 / (1 + exp(-x)).
    public static func sigmoid(_ x: Tensor) -> Tensor { map(x) { 1 / (1 + expf(-$0)) } }

    /// a + b, same shapes; with `relu`, max(0, a + b) in the same pass (a residual block's end).
    public static func add(_ a: Tensor, _ b: Tensor, relu: Bool = false) -> Tensor {
        precondition(a.shape == b.shape, "add: \(a.shape) vs \(b.shape)")
        var out = Tensor(zeros: a.shape)
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
        var out = Tensor(zeros: x.shape)
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
