import FovealTensor

/// Textbook loops: the definitions the engine's fast paths are checked against.
enum Naive {
    static func conv2d(_ x: Tensor, _ w: Tensor, _ b: Tensor?, stride s: Int, padding p: Int) -> Tensor {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (m, kh, kw) = (w.shape[0], w.shape[2], w.shape[3])
        let oh = (h + 2 * p - kh) / s + 1, ow = (wd + 2 * p - kw) / s + 1
        var out = Tensor(zeros: [n, m, oh, ow])
        for b0 in 0..<n { for o in 0..<m { for y in 0..<oh { for xx in 0..<ow {
            var sum = Double(b?[flat: o] ?? 0)
            for ch in 0..<c { for i in 0..<kh { for j in 0..<kw {
                let iy = y * s - p + i, ix = xx * s - p + j
                guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                sum += Double(x[flat: ((b0 * c + ch) * h + iy) * wd + ix]) * Double(w[flat: ((o * c + ch) * kh + i) * kw + j])
            } } }
            out[flat: ((b0 * m + o) * oh + y) * ow + xx] = Float(sum)
        } } } }
        return out
    }

    static func linear(_ x: Tensor, _ w: Tensor, _ b: Tensor) -> Tensor {
        let (n, i, o) = (x.shape[0], x.shape[1], w.shape[0])
        var out = Tensor(zeros: [n, o])
        for r in 0..<n { for k in 0..<o {
            var sum = Double(b[flat: k])
            for j in 0..<i { sum += Double(x[flat: r * i + j]) * Double(w[flat: k * i + j]) }
            out[flat: r * o + k] = Float(sum)
        } }
        return out
    }

    static func maxPool(_ x: Tensor, kernel k: Int, stride s: Int, padding p: Int) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1
        var out = Tensor(zeros: [n, c, oh, ow])
        for nc in 0..<(n * c) { for y in 0..<oh { for xx in 0..<ow {
            var best = -Float.infinity
            for i in 0..<k { for j in 0..<k {
                let iy = y * s - p + i, ix = xx * s - p + j
                if iy >= 0, iy < h, ix >= 0, ix < w { best = max(best, x[flat: (nc * h + iy) * w + ix]) }
            } }
            out[flat: (nc * oh + y) * ow + xx] = best
        } } }
        return out
    }

    /// The dense 2-D Gaussian filter (valid), as the reference's 61x61 convolution.
    static func gaussian(_ x: Tensor, size: Int, fwhm: Double) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let oh = h - size + 1, ow = w - size + 1, centre = size / 2
        var out = Tensor(zeros: [n, c, oh, ow])
        for nc in 0..<(n * c) { for y in 0..<oh { for xx in 0..<ow {
            var sum = 0.0
            for i in 0..<size { for j in 0..<size {
                let r2 = Double((i - centre) * (i - centre) + (j - centre) * (j - centre))
                sum += exp(-4 * log(2.0) * r2 / (fwhm * fwhm)) * Double(x[flat: (nc * h + y + i) * w + xx + j])
            } }
            out[flat: (nc * oh + y) * ow + xx] = Float(sum)
        } } }
        return out
    }
}

#if canImport(Glibc)
import Glibc
#endif

extension Naive {
    /// PyTorch's adaptive average pool, by its definition: cell i averages floor(i*H/OH) ..< ceil((i+1)*H/OH).
    static func adaptiveAverage(_ x: Tensor, _ oh: Int, _ ow: Int) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        var out = Tensor(zeros: [n, c, oh, ow])
        for nc in 0..<(n * c) { for i in 0..<oh { for j in 0..<ow {
            let y0 = Int((Double(i * h) / Double(oh)).rounded(.down)), y1 = Int((Double((i + 1) * h) / Double(oh)).rounded(.up))
            let x0 = Int((Double(j * w) / Double(ow)).rounded(.down)), x1 = Int((Double((j + 1) * w) / Double(ow)).rounded(.up))
            var sum = 0.0
            for y in y0..<y1 { for xx in x0..<x1 { sum += Double(x[flat: (nc * h + y) * w + xx]) } }
            out[flat: (nc * oh + i) * ow + j] = Float(sum / Double((y1 - y0) * (x1 - x0)))
        } } }
        return out
    }
}
