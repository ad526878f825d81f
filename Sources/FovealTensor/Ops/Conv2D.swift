import CKernels

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
        let blocks = max(1, min(Engine.threads * Engine.chunksPerWorker, spatial / 64))
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
    ///
    /// The block splits into the same pieces of output rows for every row of the unfolded matrix,
    /// so they are worked out once, and so are the columns each kernel column finds inside the
    /// image; the rows then walk channels and taps without a division.
    @inlinable
    public func unfold(_ image: UnsafePointer<Float>, columns: Range<Int>, into col: UnsafeMutablePointer<Float>) {
        guard !columns.isEmpty else { return }
        let pieceCount = (columns.upperBound - 1) / outW - columns.lowerBound / outW + 1
        withUnsafeTemporaryAllocation(of: (oy: Int, x: Range<Int>).self, capacity: pieceCount) { pieces in
            withUnsafeTemporaryAllocation(of: Range<Int>.self, capacity: kernelW) { inside in
                var p = columns.lowerBound
                for i in 0..<pieceCount {
                    let oy = p / outW, x0 = p - oy * outW
                    pieces[i] = (oy, x0..<min(outW, x0 + columns.upperBound - p))
                    p += pieces[i].x.count
                }
                for kj in 0..<kernelW {
                    let lo = min(outW, max(0, (padding - kj + stride - 1) / stride))
                    inside[kj] = lo..<min(outW, max(lo, (width - 1 + padding - kj) / stride + 1))
                }
                let avx2: Int32 = ProcessorFeatures.avx2 ? 1 : 0
                var dst = col
                for ch in 0..<channels {
                    let plane = image + ch * height * width
                    for ki in 0..<kernelH {
                        for kj in 0..<kernelW {
                            for (oy, x) in pieces {
                                unfoldPiece(plane, row: oy &* stride &- padding &+ ki, kj: kj, columns: x,
                                            inside: inside[kj], into: dst, avx2: avx2)
                                dst += x.count
                            }
                        }
                    }
                }
            }
        }
    }

    /// Output columns `x` of one output row for kernel tap (`row` of the input, column `kj`): the
    /// input pixels where the tap lands inside the image (`inside`), zeros in the padding.
    @inlinable @inline(__always)
    func unfoldPiece(_ plane: UnsafePointer<Float>, row iy: Int, kj: Int, columns x: Range<Int>, inside: Range<Int>,
                     into dst: UnsafeMutablePointer<Float>, avx2: Int32) {
        guard iy >= 0 && iy < height else {
            dst.update(repeating: 0, count: x.count)
            return
        }
        let line = plane + (iy &* width &- padding &+ kj)
        let a = max(x.lowerBound, inside.lowerBound), z = min(x.upperBound, inside.upperBound)
        if a > x.lowerBound { dst.update(repeating: 0, count: min(a, x.upperBound) &- x.lowerBound) }
        if z > a {
            if stride == 1 {
                (dst + (a &- x.lowerBound)).update(from: line + a, count: z &- a)
            } else {
                foveal_gather_strided(line + a &* stride, stride, dst + (a &- x.lowerBound), z &- a, avx2)
            }
        }
        let tail = max(z, a, x.lowerBound)
        if x.upperBound > tail { (dst + (tail &- x.lowerBound)).update(repeating: 0, count: x.upperBound &- tail) }
    }
}

extension Conv2D {
    /// Gradients of a convolution given the gradient of its output (before any fused ReLU: mask
    /// with `Elementwise.reluBackward` first). Recomputes the unfolded input instead of caching it.
    ///
    /// dOutput (N, M, OH, OW), input (N, C, H, W), weight (M, C, KH, KW)
    /// -> dInput (N, C, H, W) if asked, dWeight (M, C, KH, KW), dBias (M).
    public static func backward(_ dOutput: Tensor, input: Tensor, weight: Tensor, stride: Int = 1, padding: Int = 0,
                                inputGradient: Bool = true) -> (dInput: Tensor?, dWeight: Tensor, dBias: Tensor) {
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (m, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3])
        let (oh, ow) = (dOutput.shape[2], dOutput.shape[3])
        let k = c * kh * kw, spatial = oh * ow
        let geometry = Im2Col(channels: c, height: h, width: w, kernelH: kh, kernelW: kw,
                              stride: stride, padding: padding, outH: oh, outW: ow)
        let direct = kh == 1 && kw == 1 && stride == 1 && padding == 0
        let workers = max(1, min(Engine.threads, n))
        // Each worker sums its images' weight gradients into its own buffer; the buffers are added at the end.
        var partialWeight = [Float](repeating: 0, count: workers * m * k)
        var dBias = Tensor(zeros: [m])
        var dInput = inputGradient ? Tensor(zeros: input.shape) : nil
        var dInputStorage = dInput ?? Tensor(zeros: [0])
        input.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { wt in
                dOutput.withUnsafeBufferPointer { dy in
                    partialWeight.withUnsafeMutableBufferPointer { pw in
                        dInputStorage.withUnsafeMutableBufferPointer { dx in
                            let (xs, ws, dys) = (UncheckedSendable(x.baseAddress!), UncheckedSendable(wt.baseAddress!), UncheckedSendable(dy.baseAddress!))
                            let (pws, dxs) = (UncheckedSendable(pw.baseAddress!), UncheckedSendable(dx.baseAddress))
                            parallelFor(workers) { worker in
                                let col = direct ? nil : UnsafeMutablePointer<Float>.allocate(capacity: k * spatial)
                                let dCol = inputGradient && !direct ? UnsafeMutablePointer<Float>.allocate(capacity: k * spatial) : nil
                                defer { col?.deallocate(); dCol?.deallocate() }
                                for b in (n * worker / workers)..<(n * (worker + 1) / workers) {
                                    let image = xs.value + b * c * h * w, grad = dys.value + b * m * spatial
                                    if let col { geometry.unfold(image, columns: 0..<spatial, into: col) }
                                    let unfolded = col.map { UnsafePointer($0) } ?? image
                                    BLAS.gemm(transposeB: true, m: m, n: k, k: spatial, a: grad, b: unfolded,
                                              beta: 1, c: pws.value + worker * m * k)
                                    guard inputGradient, let dxBase = dxs.value else { continue }
                                    let target = dxBase + b * c * h * w
                                    if let dCol {
                                        BLAS.gemm(transposeA: true, m: k, n: spatial, k: m, a: ws.value, b: grad, c: dCol)
                                        geometry.fold(dCol, into: target)
                                    } else {
                                        BLAS.gemm(transposeA: true, m: k, n: spatial, k: m, a: ws.value, b: grad, beta: 1, c: target)
                                    }
                                }
                            }
                        }
                    }
                }
                dBias.withUnsafeMutableBufferPointer { db in
                    dOutput.withUnsafeBufferPointer { dy in
                        for b in 0..<n {
                            for ch in 0..<m {
                                let row = dy.baseAddress! + (b * m + ch) * spatial
                                var s: Float = 0
                                for i in 0..<spatial { s += row[i] }
                                db[ch] += s
                            }
                        }
                    }
                }
            }
        }
        var dWeight = Tensor(zeros: weight.shape)
        dWeight.withUnsafeMutableBufferPointer { dw in
            for worker in 0..<workers {
                for i in 0..<(m * k) { dw[i] += partialWeight[worker * m * k + i] }
            }
        }
        if inputGradient { dInput = dInputStorage }
        return (dInput, dWeight, dBias)
    }
}

extension Im2Col {
    /// The transpose of `unfold` over all columns: adds each unfolded entry back onto the input
    /// pixel it came from (the input gradient of a convolution). `image` is accumulated into.
    public func fold(_ col: UnsafePointer<Float>, into image: UnsafeMutablePointer<Float>) {
        let spatial = outH * outW
        for row in 0..<(channels * kernelH * kernelW) {
            let ch = row / (kernelH * kernelW), ki = (row / kernelW) % kernelH, kj = row % kernelW
            let plane = image + ch * height * width
            let src = col + row * spatial
            let lo = min(outW, max(0, (padding - kj + stride - 1) / stride))
            let hi = min(outW, max(lo, (width - 1 + padding - kj) / stride + 1))
            for oy in 0..<outH {
                let iy = oy * stride - padding + ki
                guard iy >= 0, iy < height else { continue }
                let line = plane + iy * width - padding + kj, values = src + oy * outW
                for ox in lo..<hi { line[ox * stride] += values[ox] }
            }
        }
    }
}
