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
