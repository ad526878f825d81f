/// Batch normalisation over the channels of (N, C, H, W), as PyTorch's `BatchNorm2d`.
public enum BatchNorm2D {
    /// PyTorch's default epsilon.
    public static let epsilon: Float = 1e-5

    /// Inference as y = x * scale + shift per channel: scale = weight / sqrt(runningVar + eps),
    /// shift = bias - runningMean * scale. What a convolution before it can absorb.
    public static func inferenceAffine(runningMean: Tensor, runningVar: Tensor, weight: Tensor, bias: Tensor)
        -> (scale: [Float], shift: [Float]) {
        let c = weight.count
        var scale = [Float](repeating: 0, count: c), shift = [Float](repeating: 0, count: c)
        for ch in 0..<c {
            let inv = 1 / (runningVar[flat: ch] + epsilon).squareRoot()
            scale[ch] = weight[flat: ch] * inv
            shift[ch] = bias[flat: ch] - runningMean[flat: ch] * weight[flat: ch] * inv
        }
        return (scale, shift)
    }

    /// Inference: y = (x - runningMean) / sqrt(runningVar + eps) * weight + bias, all (C).
    /// With `relu`, max(0, y) in the same pass.
    public static func forwardInference(_ input: Tensor, runningMean: Tensor, runningVar: Tensor,
                                        weight: Tensor, bias: Tensor, relu: Bool = false) -> Tensor {
        let (n, c) = (input.shape[0], input.shape[1])
        let plane = input.count / max(1, n * c)
        let (scale, shift) = inferenceAffine(runningMean: runningMean, runningVar: runningVar, weight: weight, bias: bias)
        var output = Tensor(uninitialized: input.shape)
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

extension BatchNorm2D {
    /// What training-mode backward needs: the batch statistics forward used.
    public struct Cache: Sendable {
        public let mean: [Float], inverseStd: [Float]
    }

    /// PyTorch's running-average momentum.
    public static let momentum: Float = 0.1

    /// Training mode: normalises with the batch's own mean and (biased) variance per channel and
    /// moves the running statistics towards them (momentum 0.1, unbiased variance, as PyTorch).
    public static func forwardTraining(_ input: Tensor, runningMean: inout Tensor, runningVar: inout Tensor,
                                       weight: Tensor, bias: Tensor) -> (output: Tensor, cache: Cache) {
        let (n, c) = (input.shape[0], input.shape[1])
        let plane = input.count / max(1, n * c), count = n * plane
        var mean = [Float](repeating: 0, count: c), inverseStd = [Float](repeating: 0, count: c)
        var output = Tensor(uninitialized: input.shape)
        input.withUnsafeBufferPointer { x in
            for ch in 0..<c {
                var sum = 0.0, squares = 0.0
                for b in 0..<n {
                    let p = x.baseAddress! + (b * c + ch) * plane
                    for i in 0..<plane { sum += Double(p[i]) }
                }
                let mu = sum / Double(count)
                for b in 0..<n {
                    let p = x.baseAddress! + (b * c + ch) * plane
                    for i in 0..<plane { let d = Double(p[i]) - mu; squares += d * d }
                }
                let variance = squares / Double(count)
                mean[ch] = Float(mu)
                inverseStd[ch] = Float(1 / (variance + Double(epsilon)).squareRoot())
                let unbiased = count > 1 ? variance * Double(count) / Double(count - 1) : variance
                runningMean[flat: ch] = (1 - momentum) * runningMean[flat: ch] + momentum * Float(mu)
                runningVar[flat: ch] = (1 - momentum) * runningVar[flat: ch] + momentum * Float(unbiased)
            }
            output.withUnsafeMutableBufferPointer { y in
                for b in 0..<n {
                    for ch in 0..<c {
                        let scale = weight[flat: ch] * inverseStd[ch], shift = bias[flat: ch] - mean[ch] * scale
                        let xp = x.baseAddress! + (b * c + ch) * plane, yp = y.baseAddress! + (b * c + ch) * plane
                        for i in 0..<plane { yp[i] = xp[i] * scale + shift }
                    }
                }
            }
        }
        return (output, Cache(mean: mean, inverseStd: inverseStd))
    }

    /// dOutput, the forward input and cache -> dInput, dWeight, dBias:
    /// dx = istd / M * (M dxhat - sum dxhat - xhat sum(dxhat xhat)), with dxhat = dy * weight.
    public static func backward(_ dOutput: Tensor, input: Tensor, weight: Tensor, cache: Cache)
        -> (dInput: Tensor, dWeight: Tensor, dBias: Tensor) {
        let (n, c) = (input.shape[0], input.shape[1])
        let plane = input.count / max(1, n * c), count = Float(n * plane)
        var dInput = Tensor(uninitialized: input.shape)
        var dWeight = Tensor(zeros: [c]), dBias = Tensor(zeros: [c])
        input.withUnsafeBufferPointer { x in
            dOutput.withUnsafeBufferPointer { dy in
                dInput.withUnsafeMutableBufferPointer { dx in
                    for ch in 0..<c {
                        let (mu, istd) = (cache.mean[ch], cache.inverseStd[ch])
                        var sumDy: Double = 0, sumDyXhat: Double = 0
                        for b in 0..<n {
                            let xp = x.baseAddress! + (b * c + ch) * plane, gp = dy.baseAddress! + (b * c + ch) * plane
                            for i in 0..<plane {
                                sumDy += Double(gp[i])
                                sumDyXhat += Double(gp[i] * (xp[i] - mu) * istd)
                            }
                        }
                        dBias[flat: ch] = Float(sumDy)
                        dWeight[flat: ch] = Float(sumDyXhat)
                        let g = weight[flat: ch]
                        let (meanDy, meanDyXhat) = (Float(sumDy) / count, Float(sumDyXhat) / count)
                        for b in 0..<n {
                            let xp = x.baseAddress! + (b * c + ch) * plane, gp = dy.baseAddress! + (b * c + ch) * plane
                            let dp = dx.baseAddress! + (b * c + ch) * plane
                            for i in 0..<plane {
                                let xhat = (xp[i] - mu) * istd
                                dp[i] = g * istd * (gp[i] - meanDy - xhat * meanDyXhat)
                            }
                        }
                    }
                }
            }
        }
        return (dInput, dWeight, dBias)
    }
}
