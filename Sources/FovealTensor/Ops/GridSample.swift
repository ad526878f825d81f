/// Bilinear sampling of (N, C, H, W) at the points of a grid (N, OH, OW, 2) -> (N, C, OH, OW),
/// as PyTorch's `grid_sample(mode="bilinear", padding_mode="zeros", align_corners=False)`.
///
/// Grid entries are (x, y) in [-1, 1] across the image's outer pixel edges: x = -1 is the left
/// edge of pixel 0, so the pixel coordinate is ((x + 1) W - 1) / 2. Taps outside the image read 0.
/// The pixel coordinate is formed in Double: in Float, (x + 1) W alone loses ~1e-4 px on a
/// 640-pixel frame, which moves the samples of a detailed image visibly past 1e-4.
public enum GridSample {
    public static func forward(_ input: Tensor, grid: Tensor) -> Tensor {
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (oh, ow) = (grid.shape[1], grid.shape[2])
        precondition(grid.shape == [n, oh, ow, 2], "grid_sample: grid \(grid.shape) for input \(input.shape)")
        var output = Tensor(zeros: [n, c, oh, ow])
        input.withUnsafeBufferPointer { x in
            grid.withUnsafeBufferPointer { gp in
                output.withUnsafeMutableBufferPointer { y in
                    let src = UncheckedSendable(x.baseAddress!), dst = UncheckedSendable(y.baseAddress!)
                    let gr = UncheckedSendable(gp.baseAddress!)
                    parallelChunks(n * oh, minimumChunk: 8) { range in
                        for row in range {
                            let b = row / oh, oy = row % oh
                            for ox in 0..<ow {
                                let g = gr.value + (row * ow + ox) * 2
                                let ix = ((Double(g[0]) + 1) * Double(w) - 1) / 2
                                let iy = ((Double(g[1]) + 1) * Double(h) - 1) / 2
                                guard abs(ix) < 1e9, abs(iy) < 1e9 else {  // NaN or far outside: all taps read 0
                                    for ch in 0..<c { dst.value[((b * c + ch) * oh + oy) * ow + ox] = 0 }
                                    continue
                                }
                                let x0f = ix.rounded(.down), y0f = iy.rounded(.down)
                                let (x0, y0) = (Int(x0f), Int(y0f))
                                let (fx, fy) = (Float(ix - x0f), Float(iy - y0f))
                                // PyTorch's corner weights: products of distances to the far corner.
                                let wNW = (1 - fx) * (1 - fy), wNE = fx * (1 - fy)
                                let wSW = (1 - fx) * fy, wSE = fx * fy
                                let inX0 = x0 >= 0 && x0 < w, inX1 = x0 + 1 >= 0 && x0 + 1 < w
                                let inY0 = y0 >= 0 && y0 < h, inY1 = y0 + 1 >= 0 && y0 + 1 < h
                                for ch in 0..<c {
                                    let plane = src.value + (b * c + ch) * h * w
                                    var v: Float = 0
                                    if inY0 && inX0 { v += plane[y0 * w + x0] * wNW }
                                    if inY0 && inX1 { v += plane[y0 * w + x0 + 1] * wNE }
                                    if inY1 && inX0 { v += plane[(y0 + 1) * w + x0] * wSW }
                                    if inY1 && inX1 { v += plane[(y0 + 1) * w + x0 + 1] * wSE }
                                    dst.value[((b * c + ch) * oh + oy) * ow + ox] = v
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

extension GridSample {
    /// Gradients of bilinear `grid_sample` with respect to the image (if asked) and the grid.
    /// dOutput (N, C, OH, OW), input (N, C, H, W), grid (N, OH, OW, 2) -> dInput, dGrid.
    public static func backward(_ dOutput: Tensor, input: Tensor, grid: Tensor, inputGradient: Bool = true)
        -> (dInput: Tensor?, dGrid: Tensor) {
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (oh, ow) = (grid.shape[1], grid.shape[2])
        var dGrid = Tensor(zeros: grid.shape)
        var dInput = inputGradient ? Tensor(zeros: input.shape) : Tensor(zeros: [0])
        input.withUnsafeBufferPointer { x in
            grid.withUnsafeBufferPointer { gp in
                dOutput.withUnsafeBufferPointer { dy in
                    dGrid.withUnsafeMutableBufferPointer { dg in
                        dInput.withUnsafeMutableBufferPointer { dx in
                            // The image gradient scatters: one batch item per worker keeps writes disjoint.
                            let (xs, gs, dys) = (UncheckedSendable(x.baseAddress!), UncheckedSendable(gp.baseAddress!), UncheckedSendable(dy.baseAddress!))
                            let (dgs, dxs) = (UncheckedSendable(dg.baseAddress!), UncheckedSendable(inputGradient ? dx.baseAddress : nil))
                            parallelFor(n) { b in
                                for oy in 0..<oh {
                                    for ox in 0..<ow {
                                        let at = (b * oh + oy) * ow + ox
                                        let g = gs.value + at * 2
                                        let ix = ((Double(g[0]) + 1) * Double(w) - 1) / 2
                                        let iy = ((Double(g[1]) + 1) * Double(h) - 1) / 2
                                        guard abs(ix) < 1e9, abs(iy) < 1e9 else { continue }
                                        let x0f = ix.rounded(.down), y0f = iy.rounded(.down)
                                        let (x0, y0) = (Int(x0f), Int(y0f))
                                        let (fx, fy) = (Float(ix - x0f), Float(iy - y0f))
                                        let inX0 = x0 >= 0 && x0 < w, inX1 = x0 + 1 >= 0 && x0 + 1 < w
                                        let inY0 = y0 >= 0 && y0 < h, inY1 = y0 + 1 >= 0 && y0 + 1 < h
                                        var gx: Float = 0, gy: Float = 0
                                        for ch in 0..<c {
                                            let plane = xs.value + (b * c + ch) * h * w
                                            let d = dys.value[((b * c + ch) * oh + oy) * ow + ox]
                                            let nw = inY0 && inX0 ? plane[y0 * w + x0] : 0
                                            let ne = inY0 && inX1 ? plane[y0 * w + x0 + 1] : 0
                                            let sw = inY1 && inX0 ? plane[(y0 + 1) * w + x0] : 0
                                            let se = inY1 && inX1 ? plane[(y0 + 1) * w + x0 + 1] : 0
                                            gx += d * ((ne - nw) * (1 - fy) + (se - sw) * fy)
                                            gy += d * ((sw - nw) * (1 - fx) + (se - ne) * fx)
                                            if let base = dxs.value {
                                                let out = base + (b * c + ch) * h * w
                                                if inY0 && inX0 { out[y0 * w + x0] += d * (1 - fx) * (1 - fy) }
                                                if inY0 && inX1 { out[y0 * w + x0 + 1] += d * fx * (1 - fy) }
                                                if inY1 && inX0 { out[(y0 + 1) * w + x0] += d * (1 - fx) * fy }
                                                if inY1 && inX1 { out[(y0 + 1) * w + x0 + 1] += d * fx * fy }
                                            }
                                        }
                                        // d(pixel coordinate)/d(grid) = size / 2.
                                        dgs.value[at * 2] = gx * Float(w) / 2
                                        dgs.value[at * 2 + 1] = gy * Float(h) / 2
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (inputGradient ? dInput : nil, dGrid)
    }
}
