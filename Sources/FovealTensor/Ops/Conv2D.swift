/// 2-D convolution (cross-correlation, as PyTorch's `conv2d`) by im2col and GEMM.
///
/// input (N, C, H, W), weight (M, C, KH, KW), bias (M) or nil -> output (N, M, OH, OW) with
/// OH = (H + 2 * padding - KH) / stride + 1, likewise OW; zero padding.
///
/// Each worker takes a block of output positions: it unfolds just those columns (C*KH*KW rows)
/// into its own buffer and multiplies, so the unfolded block stays in cache and the workers never
/// wait on one another. Bias and an optional ReLU are applied to the block while it is hot.
public enum Conv2D {
    public static func outputSize(_ size: Int, kernel: Int, stride: Int, padding: Int) -> Int {
        (size + 2 * padding - kernel) / stride + 1
    }

    public static func forward(_ input: Tensor, weight: Tensor, bias: Tensor?,
                               stride: Int = 1, padding: Int = 0, relu: Bool = false) -> Tensor {
        precondition(input.shape.count == 4 && weight.shape.count == 4 && weight.shape[1] == input.shape[1],
                     "conv2d: input \(input.shape) does not fit weight \(weight.shape)")
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (m, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3])
        let oh = outputSize(h, kernel: kh, stride: stride, padding: padding)
        let ow = outputSize(w, kernel: kw, stride: stride, padding: padding)
        let k = c * kh * kw, spatial = oh * ow
        let geometry = Im2Col(channels: c, height: h, width: w, kernelH: kh, kernelW: kw,
                              stride: stride, padding: padding, outH: oh, outW: ow)
        // A 1x1, stride-1, unpadded convolution multiplies the input itself.
        let direct = kh == 1 && kw == 1 && stride == 1 && padding == 0
        let blocks = max(1, min(Engine.threads, spatial / 64))
        var output = Tensor(uninitialized: [n, m, oh, ow])
        let biasValues = bias?.values
        input.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { wt in
                output.withUnsafeMutableBufferPointer { y in
                    let (xs, ws, ys) = (UncheckedSendable(x.baseAddress!), UncheckedSendable(wt.baseAddress!),
                                        UncheckedSendable(y.baseAddress!))
                    parallelFor(n * blocks) { task in
                        let b = task / blocks, blk = task % blocks
                        let columns = (spatial * blk / blocks)..<(spatial * (blk + 1) / blocks)
                        let image = xs.value + b * c * h * w
                        let out = ys.value + b * m * spatial + columns.lowerBound
                        if direct {
                            BLAS.gemm(m: m, n: columns.count, k: k, a: ws.value,
                                      b: image + columns.lowerBound, ldb: spatial, c: out, ldc: spatial)
                        } else {
                            let col = UnsafeMutablePointer<Float>.allocate(capacity: k * columns.count)
                            defer { col.deallocate() }
                            geometry.unfold(image, columns: columns, into: col)
                            BLAS.gemm(m: m, n: columns.count, k: k, a: ws.value, b: col, c: out, ldc: spatial)
                        }
                        if biasValues != nil || relu {
                            for ch in 0..<m {
                                let row = out + ch * spatial, add = biasValues?[ch] ?? 0
                                if relu {
                                    for i in 0..<columns.count { row[i] = max(0, row[i] + add) }
                                } else {
                                    for i in 0..<columns.count { row[i] += add }
                                }
                            }
                        }
                    }
                }
            }
        }
        return output
    }
}

/// The unfolding of one image (C, H, W) for a convolution: row (c, i, j) of the unfolded matrix
/// holds, for each output position, the input pixel under kernel tap (i, j) of channel c (0 in the
/// padding). Rows have OH*OW entries; `unfold` writes any contiguous block of those columns.
public struct Im2Col: Sendable {
    public let channels, height, width, kernelH, kernelW, stride, padding, outH, outW: Int

    public init(channels: Int, height: Int, width: Int, kernelH: Int, kernelW: Int,
                stride: Int, padding: Int, outH: Int, outW: Int) {
        (self.channels, self.height, self.width) = (channels, height, width)
        (self.kernelH, self.kernelW, self.stride, self.padding) = (kernelH, kernelW, stride, padding)
        (self.outH, self.outW) = (outH, outW)
    }

    /// Writes columns `columns` of every row into `col`, rows `columns.count` long.
    @inlinable
    public func unfold(_ image: UnsafePointer<Float>, columns: Range<Int>, into col: UnsafeMutablePointer<Float>) {
        let length = columns.count
        for row in 0..<(channels * kernelH * kernelW) {
            let ch = row / (kernelH * kernelW), ki = (row / kernelW) % kernelH, kj = row % kernelW
            let plane = image + ch * height * width
            // Output columns whose tap lands inside the image: lo ..< hi.
            let lo = min(outW, max(0, (padding - kj + stride - 1) / stride))
            let hi = min(outW, max(lo, (width - 1 + padding - kj) / stride + 1))
            var p = columns.lowerBound
            var dst = col + row * length
            while p < columns.upperBound {
                let oy = p / outW, x0 = p - oy * outW
                let x1 = min(outW, x0 + columns.upperBound - p)
                let iy = oy * stride - padding + ki
                if iy < 0 || iy >= height {
                    dst.update(repeating: 0, count: x1 - x0)
                } else {
                    let line = plane + iy * width - padding + kj
                    let (a, z) = (max(x0, lo), min(x1, hi))
                    if a > x0 { dst.update(repeating: 0, count: min(a, x1) - x0) }
                    if z > a {
                        if stride == 1 {
                            (dst + (a - x0)).update(from: line + a, count: z - a)
                        } else {
                            for ox in a..<z { dst[ox - x0] = line[ox * stride] }
                        }
                    }
                    let tail = max(z, a, x0)
                    if x1 > tail { (dst + (tail - x0)).update(repeating: 0, count: x1 - tail) }
                }
                dst += x1 - x0
                p += x1 - x0
            }
        }
    }
}
