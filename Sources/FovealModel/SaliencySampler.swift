import FovealTensor

/// The saliency sampler g(I, S) of Recasens et al. (ECCV 2018), section 3: a saliency map pulls
/// sampling points towards salient regions, and the full-resolution image is resampled there.
///
/// Constants are those of the authors' code: a 31x31 map, replicate padding of 30 and a 61x61
/// Gaussian of FWHM 13, so that the Gaussian at a border point still sees the whole map.
public struct SaliencySampler: Sendable {
    /// Side of the saliency map and of the coarse grid.
    public let gridSize: Int
    /// Replicate padding around the map (the kernel's half-width).
    public let padding: Int
    public let fwhm: Double

    public init(gridSize: Int = 31, padding: Int = 30, fwhm: Double = 13) {
        self.gridSize = gridSize
        self.padding = padding
        self.fwhm = fwhm
    }

    /// Eqs. 2-3: each grid point (x, y) moves to the saliency-weighted mean of the coordinates
    /// around it, with Gaussian distance weights k:
    ///   u(x, y) = sum S(x', y') k((x, y), (x', y')) x' / sum S(x', y') k((x, y), (x', y')),
    /// likewise v with y'. Coordinates run over [0, 1] inside the map (beyond it in the padding);
    /// the result is mapped to grid_sample's [-1, 1], clamped, and bilinearly resized to the
    /// output size.
    ///
    /// saliency (N, 1, G, G), summing to 1 per item -> grid (N, outH, outW, 2) of (x, y).
    public func grid(_ saliency: Tensor, outputHeight: Int, outputWidth: Int) -> Tensor {
        let n = saliency.shape[0], g = gridSize
        precondition(saliency.shape == [n, 1, g, g], "saliency map \(saliency.shape), expected (N,1,\(g),\(g))")
        let padded = ReplicationPad2D.forward(saliency, pad: padding)
        let side = g + 2 * padding
        // Three maps per item to filter: S, S * x', S * y'.
        var weighted = Tensor(zeros: [n, 3, side, side])
        padded.withUnsafeBufferPointer { s in
            weighted.withUnsafeMutableBufferPointer { out in
                for b in 0..<n {
                    for y in 0..<side {
                        let yc = Float(y - padding) / Float(g - 1)
                        for x in 0..<side {
                            let xc = Float(x - padding) / Float(g - 1)
                            let v = s[(b * side + y) * side + x]
                            out[((b * 3 + 0) * side + y) * side + x] = v
                            out[((b * 3 + 1) * side + y) * side + x] = xc * v
                            out[((b * 3 + 2) * side + y) * side + x] = yc * v
                        }
                    }
                }
            }
        }
        let filtered = GaussianFilter.forward(weighted, size: 2 * padding + 1, fwhm: fwhm)  // (N, 3, G, G)
        var coarse = Tensor(zeros: [n, 2, g, g])
        filtered.withUnsafeBufferPointer { f in
            coarse.withUnsafeMutableBufferPointer { out in
                let cells = g * g
                for b in 0..<n {
                    let denominator = f.baseAddress! + b * 3 * cells
                    for c in 0..<2 {
                        let numerator = denominator + (c + 1) * cells
                        for i in 0..<cells {
                            out[(b * 2 + c) * cells + i] = min(1, max(-1, numerator[i] / denominator[i] * 2 - 1))
                        }
                    }
                }
            }
        }
        let fine = BilinearResize.forward(coarse, outputHeight: outputHeight, outputWidth: outputWidth)
        return Self.channelsLast(fine)
    }

    /// Resamples `image` (N, C, H, W) on the grid the saliency map makes: (N, C, outH, outW).
    public func callAsFunction(_ image: Tensor, saliency: Tensor, outputHeight: Int, outputWidth: Int)
        -> (resampled: Tensor, grid: Tensor) {
        let grid = grid(saliency, outputHeight: outputHeight, outputWidth: outputWidth)
        return (GridSample.forward(image, grid: grid), grid)
    }

    /// (N, 2, H, W) -> (N, H, W, 2).
    static func channelsLast(_ x: Tensor) -> Tensor {
        let (n, h, w) = (x.shape[0], x.shape[2], x.shape[3])
        var out = Tensor(zeros: [n, h, w, 2])
        x.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for b in 0..<n {
                    for c in 0..<2 {
                        for i in 0..<(h * w) { dst[(b * h * w + i) * 2 + c] = src[(b * 2 + c) * h * w + i] }
                    }
                }
            }
        }
        return out
    }
}
