/// 2-D convolution (cross-correlation, as PyTorch's `conv2d`) by im2col and one GEMM per image.
///
/// input (N, C, H, W), weight (M, C, KH, KW), bias (M) or nil -> output (N, M, OH, OW) with
/// OH = (H + 2 * padding - KH) / stride + 1, likewise OW; zero padding.
public enum Conv2D {
    public static func outputSize(_ size: Int, kernel: Int, stride: Int, padding: Int) -> Int {
        (size + 2 * padding - kernel) / stride + 1
    }

    public static func forward(_ input: Tensor, weight: Tensor, bias: Tensor?,
                               stride: Int = 1, padding: Int = 0) -> Tensor {
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (m, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3])
        precondition(input.shape.count == 4 && weight.shape[1] == c,
                     "conv2d: input \(input.shape) does not fit weight \(weight.shape)")
        let oh = outputSize(h, kernel: kh, stride: stride, padding: padding)
        let ow = outputSize(w, kernel: kw, stride: stride, padding: padding)
        let k = c * kh * kw, spatial = oh * ow
        var output = Tensor(zeros: [n, m, oh, ow])
        // A 1x1, stride-1, unpadded convolution is already a matrix product over the input itself.
        let direct = kh == 1 && kw == 1 && stride == 1 && padding == 0
        var columns = Tensor(zeros: direct ? [0] : [k, spatial])
        input.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { wt in
                output.withUnsafeMutableBufferPointer { y in
                    columns.withUnsafeMutableBufferPointer { col in
                        for b in 0..<n {
                            let image = x.baseAddress! + b * c * h * w
                            let out = y.baseAddress! + b * m * spatial
                            if !direct {
                                im2col(image, channels: c, height: h, width: w, kernelH: kh, kernelW: kw,
                                       stride: stride, padding: padding, outH: oh, outW: ow, into: col.baseAddress!)
                            }
                            BLAS.gemm(m: m, n: spatial, k: k, a: wt.baseAddress!,
                                      b: direct ? image : UnsafePointer(col.baseAddress!), c: out)
                        }
                    }
                }
            }
        }
        if let bias { addChannelBias(&output, bias) }
        return output
    }

    /// Unfolds one image (C, H, W) into rows (C*KH*KW, OH*OW): row (c, i, j) holds, for every
    /// output position, the input pixel under kernel tap (i, j) of channel c (0 outside the image).
    @inlinable
    public static func im2col(_ image: UnsafePointer<Float>, channels: Int, height: Int, width: Int,
                              kernelH: Int, kernelW: Int, stride: Int, padding: Int,
                              outH: Int, outW: Int, into col: UnsafeMutablePointer<Float>) {
        let rows = channels * kernelH * kernelW
        let src = UncheckedSendable(image), dst = UncheckedSendable(col)
        parallelChunks(rows, minimumChunk: 8) { range in
            for row in range {
                let ch = row / (kernelH * kernelW)
                let ki = (row / kernelW) % kernelH
                let kj = row % kernelW
                let plane = src.value + ch * height * width
                let out = dst.value + row * outH * outW
                // Output columns whose tap lands inside the image: lo ..< hi.
                let lo = max(0, (padding - kj + stride - 1) / stride)
                let hi = min(outW, max(lo, (width - 1 + padding - kj) / stride + 1))
                for oy in 0..<outH {
                    let iy = oy * stride - padding + ki
                    let line = out + oy * outW
                    if iy < 0 || iy >= height {
                        line.update(repeating: 0, count: outW)
                        continue
                    }
                    let srcLine = plane + iy * width - padding + kj
                    if lo > 0 { line.update(repeating: 0, count: lo) }
                    if stride == 1 {
                        (line + lo).update(from: srcLine + lo, count: hi - lo)
                    } else {
                        for ox in lo..<hi { line[ox] = srcLine[ox * stride] }
                    }
                    if hi < outW { (line + hi).update(repeating: 0, count: outW - hi) }
                }
            }
        }
    }

    /// output (N, M, ...) += bias (M) broadcast over everything after the channel.
    public static func addChannelBias(_ output: inout Tensor, _ bias: Tensor) {
        let (n, m) = (output.shape[0], output.shape[1])
        precondition(bias.count == m, "bias of \(bias.count) for \(m) channels")
        let plane = output.count / max(1, n * m)
        bias.withUnsafeBufferPointer { bp in
            output.withUnsafeMutableBufferPointer { y in
                for b in 0..<n {
                    for ch in 0..<m {
                        let p = y.baseAddress! + (b * m + ch) * plane
                        let v = bp[ch]
                        for i in 0..<plane { p[i] += v }
                    }
                }
            }
        }
    }
}
