import CKernels

/// A batch of 8-bit RGB frames of one size, interleaved R, G, B, with the per-channel affine map
/// x = byte * scale + offset that normalises them (for ImageNet statistics, scale = 1/(255 std),
/// offset = -mean/std).
///
/// The network only ever reads a full-resolution frame twice: area-averaged down to the saliency
/// input, and bilinearly sampled on the grid. Both read the bytes directly and normalise on the
/// way, so a frame never becomes a 4-byte-per-channel tensor: a batch of 64 VGA frames is 59 MB
/// instead of 236 MB, and each read touches one cache line instead of three planes.
public struct PixelBatch: Sendable {
    public let count: Int, height: Int, width: Int
    public let bytes: [UInt8]
    public let scale: [Float], offset: [Float]

    public init(count: Int, height: Int, width: Int, bytes: [UInt8], scale: [Float], offset: [Float]) {
        precondition(bytes.count == count * height * width * 3, "\(bytes.count) bytes for \(count) frames of \(width)x\(height)")
        (self.count, self.height, self.width, self.bytes, self.scale, self.offset) = (count, height, width, bytes, scale, offset)
    }

    /// The normalised frames as a (N, 3, H, W) tensor (what the ops below compute without).
    public var tensor: Tensor {
        var t = Tensor(uninitialized: [count, 3, height, width])
        let plane = height * width
        t.withUnsafeMutableBufferPointer { dst in
            bytes.withUnsafeBufferPointer { px in
                for b in 0..<count {
                    for i in 0..<plane {
                        for c in 0..<3 { dst[(b * 3 + c) * plane + i] = Float(px[(b * plane + i) * 3 + c]) * scale[c] + offset[c] }
                    }
                }
            }
        }
        return t
    }
}

extension AdaptiveAvgPool2D {
    /// Adaptive average pooling of the normalised frames: (N, 3, OH, OW), windows as PyTorch's.
    public static func forward(_ frames: PixelBatch, outputHeight oh: Int, outputWidth ow: Int) -> Tensor {
        let (n, h, w) = (frames.count, frames.height, frames.width)
        let rows = (0..<oh).map { window($0, input: h, output: oh) }
        let cols = (0..<ow).map { window($0, input: w, output: ow) }
        let scale = (frames.scale[0], frames.scale[1], frames.scale[2]), offset = (frames.offset[0], frames.offset[1], frames.offset[2])
        var output = Tensor(uninitialized: [n, 3, oh, ow])
        frames.bytes.withUnsafeBufferPointer { px in
            output.withUnsafeMutableBufferPointer { y in
                let (src, dst) = (UncheckedSendable(px.baseAddress!), UncheckedSendable(y.baseAddress!))
                parallelChunks(n * oh, minimumChunk: 4) { range in
                    // The window's rows summed as integers, exact (a column of a window holds at
                    // most 8192 rows), in CKernels with AVX2 where the processor has it: this is
                    // the one full pass over a 1080p frame's bytes the saliency input costs.
                    let line = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: w * 3)
                    defer { line.deallocate() }
                    for task in range {
                        let b = task / oh, oy = task % oh
                        let frame = src.value + b * h * w * 3
                        line.update(repeating: 0)
                        let window = rows[oy]
                        foveal_add_rows_u8(frame + window.lowerBound * w * 3, w * 3, window.count, w * 3, line.baseAddress!,
                                           ProcessorFeatures.avx2 ? 1 : 0)
                        // Each window's three channel sums in one pass along the line: on a
                        // 1080p frame this was a fifth of the saliency input's cost as three
                        // strided passes. The sums are exact, so the result is unchanged.
                        let out = dst.value + (b * 3 * oh + oy) * ow, plane = oh * ow
                        for ox in 0..<ow {
                            let columns = cols[ox]
                            var sum: (UInt64, UInt64, UInt64) = (0, 0, 0)
                            var p = line.baseAddress! + columns.lowerBound * 3
                            for _ in columns {
                                sum.0 &+= UInt64(p[0]); sum.1 &+= UInt64(p[1]); sum.2 &+= UInt64(p[2])
                                p += 3
                            }
                            let count = Float(window.count * columns.count)
                            out[ox] = Float(sum.0) / count * scale.0 + offset.0
                            out[plane + ox] = Float(sum.1) / count * scale.1 + offset.1
                            out[2 * plane + ox] = Float(sum.2) / count * scale.2 + offset.2
                        }
                    }
                }
            }
        }
        return output
    }
}

extension GridSample {
    /// `forward` on the normalised frames (zeros padding in normalised values, as on a tensor).
    public static func forward(_ frames: PixelBatch, grid: Tensor) -> Tensor {
        let (n, h, w) = (frames.count, frames.height, frames.width)
        let (oh, ow) = (grid.shape[1], grid.shape[2])
        precondition(grid.shape == [n, oh, ow, 2], "grid_sample: grid \(grid.shape) for \(n) frames")
        var output = Tensor(uninitialized: [n, 3, oh, ow])
        let (s0, s1, s2) = (frames.scale[0], frames.scale[1], frames.scale[2])
        let (b0, b1, b2) = (frames.offset[0], frames.offset[1], frames.offset[2])
        frames.bytes.withUnsafeBufferPointer { px in
            grid.withUnsafeBufferPointer { gp in
                output.withUnsafeMutableBufferPointer { y in
                    let (src, gr, dst) = (UncheckedSendable(px.baseAddress!), UncheckedSendable(gp.baseAddress!), UncheckedSendable(y.baseAddress!))
                    parallelChunks(n * oh, minimumChunk: 8) { range in
                        // A row's taps first, then its reads: the reads (cache misses over a 1080p
                        // frame) then issue back to back instead of each behind its own arithmetic.
                        let rowTaps = UnsafeMutableBufferPointer<BilinearTaps>.allocate(capacity: ow)
                        defer { rowTaps.deallocate() }
                        for row in range {
                            let b = row / oh, oy = row % oh
                            let frame = src.value + b * h * w * 3
                            for ox in 0..<ow {
                                let taps = BilinearTaps(gr.value + (row * ow + ox) * 2, height: h, width: w)
                                rowTaps[ox] = taps
                                // On an HD frame most taps miss the cache: ask for both rows' lines now.
                                if taps.o0 >= 0 { foveal_prefetch(frame + taps.o0 * 3) }
                                if taps.o2 >= 0 { foveal_prefetch(frame + taps.o2 * 3) }
                            }
                            for ox in 0..<ow {
                                let taps = rowTaps[ox]
                                var v: (Float, Float, Float) = (0, 0, 0), weight: Float = 0
                                if taps.o0 >= 0 && taps.o1 >= 0 && taps.o2 >= 0 && taps.o3 >= 0 {
                                    // Inside the frame, as nearly every point is: the loop below
                                    // unrolled, the same sums in the same order.
                                    let (p0, p1) = (frame + taps.o0 * 3, frame + taps.o1 * 3)
                                    let (p2, p3) = (frame + taps.o2 * 3, frame + taps.o3 * 3)
                                    let (w0, w1, w2, w3) = (taps.w0, taps.w1, taps.w2, taps.w3)
                                    v.0 = Float(p0[0]) * w0 + Float(p1[0]) * w1 + Float(p2[0]) * w2 + Float(p3[0]) * w3
                                    v.1 = Float(p0[1]) * w0 + Float(p1[1]) * w1 + Float(p2[1]) * w2 + Float(p3[1]) * w3
                                    v.2 = Float(p0[2]) * w0 + Float(p1[2]) * w1 + Float(p2[2]) * w2 + Float(p3[2]) * w3
                                    weight = w0 + w1 + w2 + w3
                                } else {
                                    for k in 0..<4 {
                                        let offset = taps.offset(k)
                                        guard offset >= 0 else { continue }
                                        let (p, wt) = (frame + offset * 3, taps.weight(k))
                                        v.0 += Float(p[0]) * wt; v.1 += Float(p[1]) * wt; v.2 += Float(p[2]) * wt
                                        weight += wt
                                    }
                                }
                                let out = dst.value + (b * 3 * oh + oy) * ow + ox
                                out[0] = v.0 * s0 + weight * b0
                                out[oh * ow] = v.1 * s1 + weight * b1
                                out[2 * oh * ow] = v.2 * s2 + weight * b2
                            }
                        }
                    }
                }
            }
        }
        return output
    }

    /// The gradient with respect to the grid of `forward(frames, grid)`.
    public static func backward(_ dOutput: Tensor, frames: PixelBatch, grid: Tensor) -> Tensor {
        let (n, h, w) = (frames.count, frames.height, frames.width)
        let (oh, ow) = (grid.shape[1], grid.shape[2])
        var dGrid = Tensor(uninitialized: grid.shape)
        let scale = (frames.scale[0], frames.scale[1], frames.scale[2]), shift = (frames.offset[0], frames.offset[1], frames.offset[2])
        frames.bytes.withUnsafeBufferPointer { px in
            grid.withUnsafeBufferPointer { gp in
                dOutput.withUnsafeBufferPointer { dy in
                    dGrid.withUnsafeMutableBufferPointer { dg in
                        let (src, gr, dys, dgs) = (UncheckedSendable(px.baseAddress!), UncheckedSendable(gp.baseAddress!),
                                                   UncheckedSendable(dy.baseAddress!), UncheckedSendable(dg.baseAddress!))
                        parallelChunks(n * oh, minimumChunk: 8) { range in
                            for row in range {
                                let b = row / oh, oy = row % oh
                                let frame = src.value + b * h * w * 3
                                for ox in 0..<ow {
                                    let at = row * ow + ox
                                    let t = BilinearTaps(gr.value + at * 2, height: h, width: w)
                                    var gx: Float = 0, gy: Float = 0
                                    for c in 0..<3 {
                                        let d = dys.value[((b * 3 + c) * oh + oy) * ow + ox]
                                        let (sc, sh) = c == 0 ? (scale.0, shift.0) : c == 1 ? (scale.1, shift.1) : (scale.2, shift.2)
                                        let nw: Float = t.o0 < 0 ? 0 : Float(frame[t.o0 * 3 + c]) * sc + sh
                                        let ne: Float = t.o1 < 0 ? 0 : Float(frame[t.o1 * 3 + c]) * sc + sh
                                        let sw: Float = t.o2 < 0 ? 0 : Float(frame[t.o2 * 3 + c]) * sc + sh
                                        let se: Float = t.o3 < 0 ? 0 : Float(frame[t.o3 * 3 + c]) * sc + sh
                                        gx += d * ((ne - nw) * (1 - t.fy) + (se - sw) * t.fy)
                                        gy += d * ((sw - nw) * (1 - t.fx) + (se - ne) * t.fx)
                                    }
                                    dgs.value[at * 2] = gx * Float(w) / 2
                                    dgs.value[at * 2 + 1] = gy * Float(h) / 2
                                }
                            }
                        }
                    }
                }
            }
        }
        return dGrid
    }
}

/// The four bilinear taps of one grid point: pixel offsets (-1 outside the image) in the order
/// NW, NE, SW, SE, their weights, and the fractional position. Pixel coordinates are formed in
/// Double, as in `forward` on tensors. Plain stored values: this runs once per sample point.
struct BilinearTaps {
    var o0 = -1, o1 = -1, o2 = -1, o3 = -1
    var w0: Float = 0, w1: Float = 0, w2: Float = 0, w3: Float = 0
    var fx: Float = 0, fy: Float = 0

    @inline(__always)
    init(_ g: UnsafePointer<Float>, height h: Int, width w: Int) {
        let ix = ((Double(g[0]) + 1) * Double(w) - 1) / 2, iy = ((Double(g[1]) + 1) * Double(h) - 1) / 2
        guard abs(ix) < 1e9, abs(iy) < 1e9 else { return }
        let x0f = ix.rounded(.down), y0f = iy.rounded(.down)
        let (x0, y0) = (Int(x0f), Int(y0f))
        (fx, fy) = (Float(ix - x0f), Float(iy - y0f))
        (w0, w1, w2, w3) = ((1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy)
        let inX0 = x0 >= 0 && x0 < w, inX1 = x0 + 1 >= 0 && x0 + 1 < w
        let inY0 = y0 >= 0 && y0 < h, inY1 = y0 + 1 >= 0 && y0 + 1 < h
        if inY0 && inX0 { o0 = y0 * w + x0 }
        if inY0 && inX1 { o1 = y0 * w + x0 + 1 }
        if inY1 && inX0 { o2 = (y0 + 1) * w + x0 }
        if inY1 && inX1 { o3 = (y0 + 1) * w + x0 + 1 }
    }

    @inline(__always) func offset(_ k: Int) -> Int {
        switch k { case 0: o0; case 1: o1; case 2: o2; default: o3 }
    }

    @inline(__always) func weight(_ k: Int) -> Float {
        switch k { case 0: w0; case 1: w1; case 2: w2; default: w3 }
    }
}
