#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Valid (unpadded) filtering of (N, C, H, W) by the unnormalised isotropic Gaussian
/// g(x, y) = exp(-4 ln 2 (x^2 + y^2) / FWHM^2) of odd size K: output (N, C, H-K+1, W-K+1).
///
/// The kernel factors as g(x) g(y), so two 1-D passes give the dense 2-D result at 2K instead of
/// K^2 multiplies per output. Sums are taken in Double: the saliency map's cells are ~1e-3 and
/// the sampler divides two such sums.
public enum GaussianFilter {
    /// The 1-D factor g(x) for x = -K/2 ... K/2, rounded to Float as the reference kernel is.
    public static func kernel1D(size: Int, fwhm: Double) -> [Double] {
        let centre = size / 2
        return (0..<size).map { i in
            let r = Double(i - centre)
            return Double(Float(exp(-4 * log(2.0) * r * r / (fwhm * fwhm))))
        }
    }

    public static func forward(_ input: Tensor, size: Int, fwhm: Double) -> Tensor {
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (oh, ow) = (h - size + 1, w - size + 1)
        let planes = input.values.map(Double.init)
        let filtered = filter(planes, planes: n * c, height: h, width: w, size: size, fwhm: fwhm)
        return Tensor(shape: [n, c, oh, ow], values: filtered.map(Float.init))
    }

    /// The same on Double planes, planes * H * W values -> planes * (H-K+1) * (W-K+1).
    public static func filter(_ input: [Double], planes: Int, height h: Int, width w: Int,
                              size: Int, fwhm: Double) -> [Double] {
        precondition(size % 2 == 1 && size <= h && size <= w, "gaussian \(size) on \(h)x\(w)")
        let g = kernel1D(size: size, fwhm: fwhm)
        let (oh, ow) = (h - size + 1, w - size + 1)
        var output = [Double](repeating: 0, count: planes * oh * ow)
        input.withUnsafeBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                let (x, y) = (UncheckedSendable(src.baseAddress!), UncheckedSendable(dst.baseAddress!))
                parallelChunks(planes) { range in
                    // Taps outermost, positions innermost: each step is a vectorisable a*x+y over a row.
                    let rows = UnsafeMutablePointer<Double>.allocate(capacity: h * ow)  // after the horizontal pass
                    defer { rows.deallocate() }
                    for p in range {
                        let plane = x.value + p * h * w, out = y.value + p * oh * ow
                        rows.update(repeating: 0, count: h * ow)
                        for iy in 0..<h {
                            let row = rows + iy * ow, source = plane + iy * w
                            for k in 0..<size {
                                let gk = g[k], shifted = source + k
                                for ox in 0..<ow { row[ox] += gk * shifted[ox] }
                            }
                        }
                        out.update(repeating: 0, count: oh * ow)
                        for oy in 0..<oh {
                            let line = out + oy * ow
                            for k in 0..<size {
                                let gk = g[k], source = rows + (oy + k) * ow
                                for ox in 0..<ow { line[ox] += gk * source[ox] }
                            }
                        }
                    }
                }
            }
        }
        return output
    }
}

extension GaussianFilter {
    /// The transpose of `filter`: planes * (H-K+1) * (W-K+1) gradients -> planes * H * W.
    public static func filterBackward(_ grad: [Double], planes: Int, height h: Int, width w: Int,
                                      size: Int, fwhm: Double) -> [Double] {
        let g = kernel1D(size: size, fwhm: fwhm)
        let (oh, ow) = (h - size + 1, w - size + 1)
        var input = [Double](repeating: 0, count: planes * h * w)
        grad.withUnsafeBufferPointer { src in
            input.withUnsafeMutableBufferPointer { dst in
                let (dy, dx) = (UncheckedSendable(src.baseAddress!), UncheckedSendable(dst.baseAddress!))
                parallelChunks(planes) { range in
                    let rows = UnsafeMutablePointer<Double>.allocate(capacity: h * ow)
                    defer { rows.deallocate() }
                    for p in range {
                        rows.update(repeating: 0, count: h * ow)
                        for oy in 0..<oh {
                            let d = dy.value + p * oh * ow + oy * ow
                            for k in 0..<size {
                                let gk = g[k], target = rows + (oy + k) * ow
                                for ox in 0..<ow { target[ox] += gk * d[ox] }
                            }
                        }
                        for iy in 0..<h {
                            let d = rows + iy * ow, target = dx.value + p * h * w + iy * w
                            for k in 0..<size {
                                let gk = g[k], shifted = target + k
                                for ox in 0..<ow { shifted[ox] += gk * d[ox] }
                            }
                        }
                    }
                }
            }
        }
        return input
    }

    /// Tensor form of `filterBackward`.
    public static func backward(_ dOutput: Tensor, size: Int, fwhm: Double) -> Tensor {
        let (n, c, oh, ow) = (dOutput.shape[0], dOutput.shape[1], dOutput.shape[2], dOutput.shape[3])
        let (h, w) = (oh + size - 1, ow + size - 1)
        let d = filterBackward(dOutput.values.map(Double.init), planes: n * c, height: h, width: w, size: size, fwhm: fwhm)
        return Tensor(shape: [n, c, h, w], values: d.map(Float.init))
    }
}
