/// A fully connected layer, as PyTorch's `linear`: input (N, IN), weight (OUT, IN), bias (OUT)
/// -> output (N, OUT) = input * weight^T + bias.
public enum Linear {
    public static func forward(_ input: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        let n = input.shape[0], inFeatures = input.count / max(1, n), outFeatures = weight.shape[0]
        precondition(weight.shape[1] == inFeatures, "linear: input \(input.shape) vs weight \(weight.shape)")
        var output = Tensor(zeros: [n, outFeatures])
        if let bias {
            output.withUnsafeMutableBufferPointer { y in
                bias.withUnsafeBufferPointer { b in
                    for row in 0..<n { (y.baseAddress! + row * outFeatures).update(from: b.baseAddress!, count: outFeatures) }
                }
            }
        }
        input.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { wt in
                output.withUnsafeMutableBufferPointer { y in
                    if n == 1 {  // one row: a matrix-vector product, bound by reading the weights
                        BLAS.gemv(m: outFeatures, n: inFeatures, a: wt.baseAddress!, x: x.baseAddress!,
                                  beta: bias == nil ? 0 : 1, y: y.baseAddress!)
                        return
                    }
                    BLAS.gemm(transposeB: true, m: n, n: outFeatures, k: inFeatures,
                              a: x.baseAddress!, b: wt.baseAddress!, beta: bias == nil ? 0 : 1, c: y.baseAddress!)
                }
            }
        }
        return output
    }
}
