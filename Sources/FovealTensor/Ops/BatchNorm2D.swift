/// Batch normalisation over the channels of (N, C, H, W), as PyTorch's `BatchNorm2d`.
public enum BatchNorm2D {
    /// PyTorch's default epsilon.
    public static let epsilon: Float = 1e-5

    /// Inference: y = (x - runningMean) / sqrt(runningVar + eps) * weight + bias, all (C).
    /// With `relu`, max(0, y) in the same pass.
    public static func forwardInference(_ input: Tensor, runningMean: Tensor, runningVar: Tensor,
                                        weight: Tensor, bias: Tensor, relu: Bool = false) -> Tensor {
        let (n, c) = (input.shape[0], input.shape[1])
        let plane = input.count / max(1, n * c)
        var scale = [Float](repeating: 0, count: c), shift = [Float](repeating: 0, count: c)
        for ch in 0..<c {
            let inv = 1 / (runningVar[flat: ch] + epsilon).squareRoot()
            scale[ch] = weight[flat: ch] * inv
            shift[ch] = bias[flat: ch] - runningMean[flat: ch] * weight[flat: ch] * inv
        }
        var output = Tensor(zeros: input.shape)
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                let src = UncheckedSendable(x.baseAddress!), dst = UncheckedSendable(y.baseAddress!)
                parallelChunks(n * c, minimumChunk: 4) { range in
                    for nc in range {
                        let (s, t) = (scale[nc % c], shift[nc % c])
                        let xp = src.value + nc * plane, yp = dst.value + nc * plane
                        if relu {
                            for i in 0..<plane { yp[i] = max(0, xp[i] * s + t) }
                        } else {
                            for i in 0..<plane { yp[i] = xp[i] * s + t }
                        }
                    }
                }
            }
        }
        return output
    }
}
