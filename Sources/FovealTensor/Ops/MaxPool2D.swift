/// Max pooling over (N, C, H, W), as PyTorch's `max_pool2d` (padding counts as -infinity,
/// floor mode): output (N, C, (H + 2p - k) / s + 1, (W + 2p - k) / s + 1).
public enum MaxPool2D {
    public static func forward(_ input: Tensor, kernel: Int, stride: Int, padding: Int = 0) -> Tensor {
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let oh = (h + 2 * padding - kernel) / stride + 1
        let ow = (w + 2 * padding - kernel) / stride + 1
        var output = Tensor(zeros: [n, c, oh, ow])
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                let src = UncheckedSendable(x.baseAddress!), dst = UncheckedSendable(y.baseAddress!)
                parallelChunks(n * c, minimumChunk: 4) { range in
                    for nc in range {
                        let plane = src.value + nc * h * w, out = dst.value + nc * oh * ow
                        for oy in 0..<oh {
                            let y0 = max(0, oy * stride - padding), y1 = min(h, oy * stride - padding + kernel)
                            for ox in 0..<ow {
                                let x0 = max(0, ox * stride - padding), x1 = min(w, ox * stride - padding + kernel)
                                var best = -Float.infinity
                                for iy in y0..<y1 {
                                    for ix in x0..<x1 { best = max(best, plane[iy * w + ix]) }
                                }
                                out[oy * ow + ox] = best
                            }
                        }
                    }
                }
            }
        }
        return output
    }
}
