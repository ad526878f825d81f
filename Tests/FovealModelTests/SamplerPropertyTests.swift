import FovealModel
import FovealTensor
import FovealTestSupport
import Testing

@Suite struct SaliencySamplerProperties {
    let sampler = SaliencySampler()

    func uniformMap(batch: Int = 1) -> Tensor { Tensor(repeating: 1 / 961, shape: [batch, 1, 31, 31]) }

    func softmaxMap(seed: UInt64, sharpness: Float) -> Tensor {
        var logits = randomTensor([1, 961], seed: seed, in: -sharpness...sharpness)
        // A few strong peaks, as a trained map has on the eyes.
        for k in 0..<3 { logits[flat: Int((seed &* 97 &+ UInt64(k) &* 331) % 961)] += sharpness * 2 }
        return Softmax.forward(logits).reshaped([1, 1, 31, 31])
    }

    /// With a uniform map, Eqs. 2-3 move no point: the grid is the uniform grid from edge to edge,
    /// and resampling is plain bilinear interpolation at evenly spaced points.
    @Test func uniformSaliencyIsPlainBilinearResampling() {
        let grid = sampler.grid(uniformMap(), outputHeight: 31, outputWidth: 31)
        for i in 0..<31 {
            for j in 0..<31 {
                #expect(abs(grid[flat: (i * 31 + j) * 2] - (Float(j) / 15 - 1)) < 1e-6)
                #expect(abs(grid[flat: (i * 31 + j) * 2 + 1] - (Float(i) / 15 - 1)) < 1e-6)
            }
        }
        let (h, w) = (20, 26)
        let image = randomTensor([1, 2, h, w], seed: 3)
        let (j, _) = sampler(image, saliency: uniformMap(), outputHeight: 31, outputWidth: 31)
        for c in 0..<2 {
            for oy in 0..<31 {
                for ox in 0..<31 {
                    // Edge-to-edge sampling: grid -1 is the outer edge of pixel 0 (align_corners=False).
                    let x = Float(ox) / 30 * Float(w) - 0.5, y = Float(oy) / 30 * Float(h) - 0.5
                    let expected = bilinear(image, channel: c, x: x, y: y, h: h, w: w)
                    #expect(abs(j[flat: (c * 31 + oy) * 31 + ox] - expected) < 1e-5)
                }
            }
        }
    }

    /// No fold-overs: for any map the grid's x grows along rows and its y down columns.
    @Test(arguments: 0..<12) func gridIsMonotone(_ seed: Int) {
        let map = softmaxMap(seed: UInt64(seed), sharpness: Float(seed % 4) * 2 + 1)
        let t = 53
        let g = sampler.grid(map, outputHeight: t, outputWidth: t)
        var folds = 0
        for i in 0..<t {
            for j in 1..<t where g[flat: (i * t + j) * 2] < g[flat: (i * t + j - 1) * 2] - 1e-6 { folds += 1 }
        }
        for i in 1..<t {
            for j in 0..<t where g[flat: (i * t + j) * 2 + 1] < g[flat: ((i - 1) * t + j) * 2 + 1] - 1e-6 { folds += 1 }
        }
        #expect(folds == 0)
        #expect(g.values.allSatisfy { $0 >= -1 && $0 <= 1 })
    }

    /// A peak pulls sampling points towards it: more of them land near it than a uniform grid puts there.
    @Test func peakAttractsSamples() {
        var logits = Tensor(zeros: [1, 961])
        logits[flat: 10 * 31 + 20] = 8  // row 10, column 20
        let map = Softmax.forward(logits).reshaped([1, 1, 31, 31])
        let t = 64
        let g = sampler.grid(map, outputHeight: t, outputWidth: t)
        let (px, py) = (Float(20) / 15 - 1, Float(10) / 15 - 1)
        func near(_ grid: Tensor) -> Int {
            (0..<(t * t)).filter { abs(grid[flat: $0 * 2] - px) < 0.15 && abs(grid[flat: $0 * 2 + 1] - py) < 0.15 }.count
        }
        let uniform = sampler.grid(uniformMap(), outputHeight: t, outputWidth: t)
        #expect(near(g) > 2 * near(uniform))
    }

    func bilinear(_ x: Tensor, channel c: Int, x px: Float, y py: Float, h: Int, w: Int) -> Float {
        let x0 = Int(px.rounded(.down)), y0 = Int(py.rounded(.down))
        let fx = px - Float(x0), fy = py - Float(y0)
        func at(_ yy: Int, _ xx: Int) -> Float {
            (yy >= 0 && yy < h && xx >= 0 && xx < w) ? x[flat: (c * h + yy) * w + xx] : 0
        }
        return at(y0, x0) * (1 - fx) * (1 - fy) + at(y0, x0 + 1) * fx * (1 - fy)
            + at(y0 + 1, x0) * (1 - fx) * fy + at(y0 + 1, x0 + 1) * fx * fy
    }
}
