/// A fully connected layer, as PyTorch's `linear`: input (N, IN), weight (OUT, IN), bias (OUT)
/// -> output (N, OUT) = input * weight^T + bias.
///
/// Workers split the output features, each reading its own rows of the weight matrix: at batch 1
/// the layer is a matrix-vector product bound by reading the weights, so both cores stream.
public enum Linear {
    public static func forward(_ input: Tensor, weight: Tensor, bias: Tensor?, relu: Bool = false) -> Tensor {
        let n = input.shape[0], inFeatures = input.count / max(1, n), outFeatures = weight.shape[0]
        precondition(weight.shape.count == 2 && weight.shape[1] == inFeatures,
                     "linear: input \(input.shape) vs weight \(weight.shape)")
        var output = Tensor(uninitialized: [n, outFeatures])
        input.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { wt in
                output.withUnsafeMutableBufferPointer { y in
                    let (xs, ws, ys) = (UncheckedSendable(x.baseAddress!), UncheckedSendable(wt.baseAddress!),
                                        UncheckedSendable(y.baseAddress!))
                    let bs = UncheckedSendable(bias)
                    parallelChunks(outFeatures, minimumChunk: 64) { features in
                        let w = ws.value + features.lowerBound * inFeatures
                        for row in 0..<n {
                            let out = ys.value + row * outFeatures + features.lowerBound
                            if let b = bs.value {
                                b.withUnsafeBufferPointer { out.update(from: $0.baseAddress! + features.lowerBound, count: features.count) }
                            }
                            if n == 1 {
                                BLAS.gemv(m: features.count, n: inFeatures, a: w, x: xs.value,
                                          beta: bs.value == nil ? 0 : 1, y: out)
                            }
                        }
                        if n > 1 {
                            BLAS.gemm(transposeB: true, m: n, n: features.count, k: inFeatures,
                                      a: xs.value, b: w, ldb: inFeatures,
                                      beta: bs.value == nil ? 0 : 1, c: ys.value + features.lowerBound, ldc: outFeatures)
                        }
                        if relu {
                            for row in 0..<n {
                                let out = ys.value + row * outFeatures + features.lowerBound
                                for i in 0..<features.count { out[i] = max(0, out[i]) }
                            }
                        }
                    }
                }
            }
        }
        return output
    }
}
