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
        var rows = [Double](repeating: 0, count: h * ow)  // after the horizontal pass
        for p in 0..<planes {
            let plane = p * h * w, out = p * oh * ow
            for iy in 0..<h {
                for ox in 0..<ow {
                    var s = 0.0
                    for k in 0..<size { s += g[k] * input[plane + iy * w + ox + k] }
                    rows[iy * ow + ox] = s
                }
            }
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var s = 0.0
                    for k in 0..<size { s += g[k] * rows[(oy + k) * ow + ox] }
                    output[out + oy * ow + ox] = s
                }
            }
        }
        return output
    }
}
