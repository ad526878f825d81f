/// Adaptive average pooling over (N, C, H, W) to (N, C, OH, OW), exactly as PyTorch's
/// `adaptive_avg_pool2d`: output cell i averages input rows floor(i*H/OH) ..< ceil((i+1)*H/OH),
/// likewise columns. Downsampling by it is area averaging; upsampling repeats cells.
public enum AdaptiveAvgPool2D {
    /// The input index range averaged into output index `i`.
    @inlinable
    public static func window(_ i: Int, input: Int, output: Int) -> Range<Int> {
        (i * input / output) ..< ((i + 1) * input + output - 1) / output
    }

    public static func forward(_ input: Tensor, outputHeight oh: Int, outputWidth ow: Int) -> Tensor {
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        var output = Tensor(zeros: [n, c, oh, ow])
        let rows = (0..<oh).map { window($0, input: h, output: oh) }
        let cols = (0..<ow).map { window($0, input: w, output: ow) }
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                let src = UncheckedSendable(x.baseAddress!), dst = UncheckedSendable(y.baseAddress!)
                parallelChunks(n * c * oh, minimumChunk: 16) { range in
                    for row in range {
                        let nc = row / oh, oy = row % oh
                        let plane = src.value + nc * h * w, out = dst.value + row * ow
                        let ys = rows[oy]
                        for ox in 0..<ow {
                            let xs = cols[ox]
                            var sum: Float = 0
                            for iy in ys {
                                for ix in xs { sum += plane[iy * w + ix] }
                            }
                            out[ox] = sum / Float(ys.count * xs.count)
                        }
                    }
                }
            }
        }
        return output
    }
}

extension AdaptiveAvgPool2D {
    /// Spreads each output gradient evenly over its window: dOutput (N, C, OH, OW) -> (N, C, H, W).
    public static func backward(_ dOutput: Tensor, inputHeight h: Int, inputWidth w: Int) -> Tensor {
        let (n, c, oh, ow) = (dOutput.shape[0], dOutput.shape[1], dOutput.shape[2], dOutput.shape[3])
        var dInput = Tensor(zeros: [n, c, h, w])
        let rows = (0..<oh).map { window($0, input: h, output: oh) }
        let cols = (0..<ow).map { window($0, input: w, output: ow) }
        dOutput.withUnsafeBufferPointer { dy in
            dInput.withUnsafeMutableBufferPointer { dx in
                let (dys, dxs) = (UncheckedSendable(dy.baseAddress!), UncheckedSendable(dx.baseAddress!))
                parallelChunks(n * c, minimumChunk: 1) { range in
                    for nc in range {
                        let grad = dys.value + nc * oh * ow, out = dxs.value + nc * h * w
                        for oy in 0..<oh {
                            for ox in 0..<ow {
                                let g = grad[oy * ow + ox] / Float(rows[oy].count * cols[ox].count)
                                for iy in rows[oy] {
                                    for ix in cols[ox] { out[iy * w + ix] += g }
                                }
                            }
                        }
                    }
                }
            }
        }
        return dInput
    }
}
