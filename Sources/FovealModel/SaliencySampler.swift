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
    /// The whole computation runs in Double and is rounded to Float once: the grid addresses a
    /// full-resolution frame, where a grid error of 1e-7 is already ~1e-4 px at 640 pixels.
    ///
    /// saliency (N, 1, G, G), summing to 1 per item -> grid (N, outH, outW, 2) of (x, y).
    public func grid(_ saliency: Tensor, outputHeight: Int, outputWidth: Int) -> Tensor {
        gridWithCache(saliency, outputHeight: outputHeight, outputWidth: outputWidth).grid
    }

    /// What the grid's backward needs: the three filtered planes per item.
    public struct GridCache: Sendable {
        let filtered: [Double]
        let batch: Int, outputHeight: Int, outputWidth: Int
    }

    /// `grid`, keeping what `gridBackward` needs.
    public func gridWithCache(_ saliency: Tensor, outputHeight: Int, outputWidth: Int) -> (grid: Tensor, cache: GridCache) {
        let n = saliency.shape[0], g = gridSize
        precondition(saliency.shape == [n, 1, g, g], "saliency map \(saliency.shape), expected (N,1,\(g),\(g))")
        let padded = ReplicationPad2D.forward(saliency, pad: padding)
        let side = g + 2 * padding
        // Coordinates as the reference's Float32 basis holds them.
        let coordinate = (0..<side).map { Double(Float(($0 - padding)) / Float(g - 1)) }
        // Three planes per item to filter: S, S * x', S * y'.
        var weighted = [Double](repeating: 0, count: n * 3 * side * side)
        padded.withUnsafeBufferPointer { s in
            for b in 0..<n {
                for y in 0..<side {
                    for x in 0..<side {
                        let v = Double(s[(b * side + y) * side + x])
                        weighted[((b * 3 + 0) * side + y) * side + x] = v
                        weighted[((b * 3 + 1) * side + y) * side + x] = coordinate[x] * v
                        weighted[((b * 3 + 2) * side + y) * side + x] = coordinate[y] * v
                    }
                }
            }
        }
        let filtered = GaussianFilter.filter(weighted, planes: n * 3, height: side, width: side,
                                             size: 2 * padding + 1, fwhm: fwhm)  // (N, 3, G, G)
        let cells = g * g
        var coarse = [Double](repeating: 0, count: n * 2 * cells)
        for b in 0..<n {
            let denominator = b * 3 * cells
            for c in 0..<2 {
                let numerator = denominator + (c + 1) * cells
                for i in 0..<cells {
                    coarse[(b * 2 + c) * cells + i] = min(1, max(-1, filtered[numerator + i] / filtered[denominator + i] * 2 - 1))
                }
            }
        }
        let rows = BilinearResize.Taps<Double>(input: g, output: outputHeight)
        let columns = BilinearResize.Taps<Double>(input: g, output: outputWidth)
        var fine = [Double](repeating: 0, count: outputHeight * outputWidth)
        var out = Tensor(uninitialized: [n, outputHeight, outputWidth, 2])
        out.withUnsafeMutableBufferPointer { dst in
            for b in 0..<n {
                for c in 0..<2 {
                    coarse.withUnsafeBufferPointer { src in
                        fine.withUnsafeMutableBufferPointer { f in
                            BilinearResize.resizePlane(src.baseAddress! + (b * 2 + c) * cells, width: g,
                                                       rows: rows, columns: columns, into: f.baseAddress!)
                        }
                    }
                    for i in 0..<(outputHeight * outputWidth) {
                        dst[(b * outputHeight * outputWidth + i) * 2 + c] = Float(fine[i])
                    }
                }
            }
        }
        return (out, GridCache(filtered: filtered, batch: n, outputHeight: outputHeight, outputWidth: outputWidth))
    }

    /// The gradient of Eqs. 2-3 (and the clamp and resize after them) with respect to the
    /// saliency map: dGrid (N, outH, outW, 2) -> dSaliency (N, 1, G, G). In Double throughout.
    public func gridBackward(_ dGrid: Tensor, _ cache: GridCache) -> Tensor {
        let (n, g, oh, ow) = (cache.batch, gridSize, cache.outputHeight, cache.outputWidth)
        let cells = g * g, side = g + 2 * padding
        let rows = BilinearResize.Taps<Double>(input: g, output: oh)
        let columns = BilinearResize.Taps<Double>(input: g, output: ow)
        let coordinate = (0..<side).map { Double(Float(($0 - padding)) / Float(g - 1)) }
        var dFiltered = [Double](repeating: 0, count: n * 3 * cells)
        var fine = [Double](repeating: 0, count: oh * ow), coarse = [Double](repeating: 0, count: cells)
        let f = cache.filtered
        for b in 0..<n {
            let den = b * 3 * cells
            for c in 0..<2 {
                for i in 0..<(oh * ow) { fine[i] = Double(dGrid[flat: (b * oh * ow + i) * 2 + c]) }
                for i in 0..<cells { coarse[i] = 0 }
                fine.withUnsafeBufferPointer { src in
                    coarse.withUnsafeMutableBufferPointer { dst in
                        BilinearResize.backwardPlane(src.baseAddress!, width: g, rows: rows, columns: columns, into: dst.baseAddress!)
                    }
                }
                let num = den + (c + 1) * cells
                for i in 0..<cells {
                    let u = f[num + i] / f[den + i] * 2 - 1
                    guard u >= -1, u <= 1 else { continue }  // clamped: no gradient, as torch.clamp
                    dFiltered[num + i] += coarse[i] * 2 / f[den + i]
                    dFiltered[den + i] -= coarse[i] * 2 * f[num + i] / (f[den + i] * f[den + i])
                }
            }
        }
        let dWeighted = GaussianFilter.filterBackward(dFiltered, planes: n * 3, height: side, width: side,
                                                      size: 2 * padding + 1, fwhm: fwhm)
        var dPadded = Tensor(zeros: [n, 1, side, side])
        dPadded.withUnsafeMutableBufferPointer { d in
            for b in 0..<n {
                for y in 0..<side {
                    for x in 0..<side {
                        let at = y * side + x
                        d[b * side * side + at] = Float(dWeighted[(b * 3) * side * side + at]
                            + coordinate[x] * dWeighted[(b * 3 + 1) * side * side + at]
                            + coordinate[y] * dWeighted[(b * 3 + 2) * side * side + at])
                    }
                }
            }
        }
        return ReplicationPad2D.backward(dPadded, pad: padding)
    }

    /// Resamples `image` (N, C, H, W) on the grid the saliency map makes: (N, C, outH, outW).
    public func callAsFunction(_ image: Tensor, saliency: Tensor, outputHeight: Int, outputWidth: Int)
        -> (resampled: Tensor, grid: Tensor) {
        let grid = grid(saliency, outputHeight: outputHeight, outputWidth: outputWidth)
        return (GridSample.forward(image, grid: grid), grid)
    }
}
