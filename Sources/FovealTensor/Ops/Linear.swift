import CKernels

/// A fully connected layer, as PyTorch's `linear`: input (N, IN), weight (OUT, IN), bias (OUT)
/// -> output (N, OUT) = input * weight^T + bias.
///
/// Workers split the output features, each reading its own rows of the weight matrix: at batch 1
/// the layer is a matrix-vector product bound by reading the weights, so both cores stream
/// (`CKernels/gemv.h` where the processor has AVX2 and FMA, else BLAS).
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
                        block(features, n: n, inFeatures: inFeatures, outFeatures: outFeatures, x: xs.value,
                              weight: ws.value + features.lowerBound * inFeatures, bias: bs.value, y: ys.value, relu: relu)
                    }
                }
            }
        }
        return output
    }

    /// Output features `features` of every row: y = x weight^T (+ bias) (then ReLU), `weight`
    /// pointing at those features' rows. A matrix-vector product for one row, else a GEMM.
    static func block(_ features: Range<Int>, n: Int, inFeatures: Int, outFeatures: Int, x: UnsafePointer<Float>,
                      weight w: UnsafePointer<Float>, bias: Tensor?, y: UnsafeMutablePointer<Float>, relu: Bool) {
        if n == 1, ProcessorFeatures.avx2FMA {
            return oneFrame(features, bias: bias, relu: relu, y: y + features.lowerBound) {
                foveal_gemv(w, Int32(FOVEAL_GEMV_F32), x, $0, features.count, inFeatures)
            }
        }
        if let bias {
            bias.withUnsafeBufferPointer { b in
                for row in 0..<n { (y + row * outFeatures + features.lowerBound).update(from: b.baseAddress! + features.lowerBound, count: features.count) }
            }
        }
        let beta: Float = bias == nil ? 0 : 1
        if n == 1 {
            BLAS.gemv(m: features.count, n: inFeatures, a: w, x: x, beta: beta, y: y + features.lowerBound)
        } else {
            BLAS.gemm(transposeB: true, m: n, n: features.count, k: inFeatures, a: x, b: w, ldb: inFeatures,
                      beta: beta, c: y + features.lowerBound, ldc: outFeatures)
        }
        if relu {
            for row in 0..<n {
                let out = y + row * outFeatures + features.lowerBound
                for i in 0..<features.count { out[i] = max(0, out[i]) }
            }
        }
    }

    /// One frame's output features `features` on `CKernels/gemv.h` (float32 or 16-bit weights):
    /// `y`, pointing at the first of them, starts at the bias (0 without one), `accumulate` adds
    /// the weights' product to it, then the ReLU.
    static func oneFrame(_ features: Range<Int>, bias: Tensor?, relu: Bool, y: UnsafeMutablePointer<Float>,
                         accumulate: (UnsafeMutablePointer<Float>) -> Void) {
        if let bias {
            bias.withUnsafeBufferPointer { y.update(from: $0.baseAddress! + features.lowerBound, count: features.count) }
        } else {
            y.update(repeating: 0, count: features.count)
        }
        accumulate(y)
        if relu { for i in 0..<features.count { y[i] = max(0, y[i]) } }
    }
}

extension Linear {
    /// dOutput (N, OUT), input (N, IN), weight (OUT, IN) -> dInput (N, IN), dWeight (OUT, IN), dBias (OUT).
    public static func backward(_ dOutput: Tensor, input: Tensor, weight: Tensor, inputGradient: Bool = true)
        -> (dInput: Tensor?, dWeight: Tensor, dBias: Tensor) {
        let n = input.shape[0], inFeatures = input.count / max(1, n), outFeatures = weight.shape[0]
        var dWeight = Tensor(uninitialized: weight.shape), dBias = Tensor(zeros: [outFeatures])
        var dInput: Tensor? = inputGradient ? Tensor(uninitialized: [n, inFeatures]) : nil
        dOutput.withUnsafeBufferPointer { dy in
            input.withUnsafeBufferPointer { x in
                dWeight.withUnsafeMutableBufferPointer { dw in
                    BLAS.gemm(transposeA: true, m: outFeatures, n: inFeatures, k: n, a: dy.baseAddress!, b: x.baseAddress!, c: dw.baseAddress!)
                }
                weight.withUnsafeBufferPointer { wt in
                    dInput?.withUnsafeMutableBufferPointer { dx in
                        BLAS.gemm(m: n, n: inFeatures, k: outFeatures, a: dy.baseAddress!, b: wt.baseAddress!, c: dx.baseAddress!)
                    }
                }
            }
            dBias.withUnsafeMutableBufferPointer { db in
                for r in 0..<n { for o in 0..<outFeatures { db[o] += dy[r * outFeatures + o] } }
            }
        }
        return (dInput?.reshaped(input.shape), dWeight, dBias)
    }
}
