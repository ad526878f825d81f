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
