import FovealTensor
import FovealTestSupport
import Testing

/// Every op's backward against central finite differences of L(x) = sum(f(x) * R), R random.
@Suite struct FiniteDifferenceGradients {
    /// Checks `analytic` = dL/dx at `probes` coordinates of x.
    func check(_ x: Tensor, _ analytic: Tensor, _ r: Tensor, eps: Float = 1e-2, tolerance: Double = 2e-2,
               probes: Int = 24, _ f: (Tensor) -> Tensor, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(analytic.shape == x.shape, sourceLocation: sourceLocation)
        func loss(_ t: Tensor) -> Double {
            let y = f(t)
            var s = 0.0
            for i in 0..<y.count { s += Double(y[flat: i]) * Double(r[flat: i]) }
            return s
        }
        var worst = 0.0
        for k in 0..<probes {
            let i = (k * 7919 + 13) % x.count
            var plus = x, minus = x
            plus[flat: i] += eps
            minus[flat: i] -= eps
            let numeric = (loss(plus) - loss(minus)) / Double(2 * eps)
            let error = abs(numeric - Double(analytic[flat: i])) / max(1, abs(numeric))
            worst = max(worst, error)
        }
        #expect(worst < tolerance, "worst relative error \(worst)", sourceLocation: sourceLocation)
    }

    @Test(arguments: [(3, 4, 3, 1, 1), (2, 3, 5, 2, 2), (4, 2, 1, 1, 0), (3, 2, 1, 2, 0)])
    func conv2d(_ s: (Int, Int, Int, Int, Int)) {
        let (c, m, k, stride, pad) = s
        let x = randomTensor([2, c, 9, 8], seed: 1), w = randomTensor([m, c, k, k], seed: 2), b = randomTensor([m], seed: 3)
        let y = Conv2D.forward(x, weight: w, bias: b, stride: stride, padding: pad)
        let r = randomTensor(y.shape, seed: 4)
        let g = Conv2D.backward(r, input: x, weight: w, stride: stride, padding: pad)
        check(x, g.dInput!, r) { Conv2D.forward($0, weight: w, bias: b, stride: stride, padding: pad) }
        check(w, g.dWeight, r) { Conv2D.forward(x, weight: $0, bias: b, stride: stride, padding: pad) }
        check(b, g.dBias, r) { Conv2D.forward(x, weight: w, bias: $0, stride: stride, padding: pad) }
    }

    @Test func batchNormTraining() {
        let x = randomTensor([3, 4, 5, 3], seed: 5, in: -2...2), w = randomTensor([4], seed: 6, in: 0.5...1.5)
        let b = randomTensor([4], seed: 7)
        var rm = Tensor(zeros: [4]), rv = Tensor(repeating: 1, shape: [4])
        let (y, cache) = BatchNorm2D.forwardTraining(x, runningMean: &rm, runningVar: &rv, weight: w, bias: b)
        let r = randomTensor(y.shape, seed: 8)
        let g = BatchNorm2D.backward(r, input: x, weight: w, cache: cache)
        func f(_ x: Tensor, _ w: Tensor, _ b: Tensor) -> Tensor {
            var m = Tensor(zeros: [4]), v = Tensor(repeating: 1, shape: [4])
            return BatchNorm2D.forwardTraining(x, runningMean: &m, runningVar: &v, weight: w, bias: b).output
        }
        check(x, g.dInput, r, eps: 1e-2) { f($0, w, b) }
        check(w, g.dWeight, r) { f(x, $0, b) }
        check(b, g.dBias, r) { f(x, w, $0) }
        // Running statistics: momentum 0.1 towards the batch mean and the unbiased variance.
        var mean = 0.0, squares = 0.0
        for n in 0..<3 { for i in 0..<15 { mean += Double(x[flat: n * 60 + i]) } }
        mean /= 45
        for n in 0..<3 { for i in 0..<15 { squares += (Double(x[flat: n * 60 + i]) - mean) * (Double(x[flat: n * 60 + i]) - mean) } }
        #expect(abs(Double(rm[flat: 0]) - 0.1 * mean) < 1e-6)
        #expect(abs(Double(rv[flat: 0]) - (0.9 + 0.1 * squares / 44)) < 1e-5)
    }

    @Test func maxPoolAndAdaptivePool() {
        let x = randomTensor([2, 3, 9, 10], seed: 9)
        let y = MaxPool2D.forward(x, kernel: 3, stride: 2, padding: 1)
        let r = randomTensor(y.shape, seed: 10)
        check(x, MaxPool2D.backward(r, input: x, kernel: 3, stride: 2, padding: 1), r, eps: 1e-3) {
            MaxPool2D.forward($0, kernel: 3, stride: 2, padding: 1)
        }
        for (oh, ow) in [(4, 3), (6, 6), (13, 17)] {
            let r2 = randomTensor([2, 3, oh, ow], seed: 11)
            check(x, AdaptiveAvgPool2D.backward(r2, inputHeight: 9, inputWidth: 10), r2) {
                AdaptiveAvgPool2D.forward($0, outputHeight: oh, outputWidth: ow)
            }
        }
    }

    @Test(arguments: [1, 3]) func linear(_ n: Int) {
        let x = randomTensor([n, 7], seed: 12), w = randomTensor([5, 7], seed: 13), b = randomTensor([5], seed: 14)
        let r = randomTensor([n, 5], seed: 15)
        let g = Linear.backward(r, input: x, weight: w)
        check(x, g.dInput!, r) { Linear.forward($0, weight: w, bias: b) }
        check(w, g.dWeight, r) { Linear.forward(x, weight: $0, bias: b) }
        check(b, g.dBias, r) { Linear.forward(x, weight: w, bias: $0) }
    }

    @Test(arguments: [(5, 7, 31, 31), (31, 31, 8, 9), (6, 6, 6, 6)]) func bilinearResize(_ s: (Int, Int, Int, Int)) {
        let (h, w, oh, ow) = s
        let x = randomTensor([2, 2, h, w], seed: 16), r = randomTensor([2, 2, oh, ow], seed: 17)
        check(x, BilinearResize.backward(r, inputHeight: h, inputWidth: w), r) {
            BilinearResize.forward($0, outputHeight: oh, outputWidth: ow)
        }
    }

    @Test func softmaxPadGaussianSigmoidDropout() {
        let x = randomTensor([2, 1, 5, 5], seed: 18, in: -3...3)
        let y = Softmax.forward(x), r = randomTensor(x.shape, seed: 19)
        check(x, Softmax.backward(r, output: y), r, eps: 1e-3) { Softmax.forward($0) }
        let r2 = randomTensor([2, 1, 11, 11], seed: 20)
        check(x, ReplicationPad2D.backward(r2, pad: 3), r2) { ReplicationPad2D.forward($0, pad: 3) }
        let big = randomTensor([1, 2, 15, 16], seed: 21)
        let r3 = randomTensor([1, 2, 5, 6], seed: 22)
        check(big, GaussianFilter.backward(r3, size: 11, fwhm: 4), r3, tolerance: 1e-3) { GaussianFilter.forward($0, size: 11, fwhm: 4) }
        let s = Elementwise.sigmoid(x)
        let ds = Elementwise.map(s) { $0 * (1 - $0) }
        check(x, Elementwise.multiply(r, ds), r, eps: 1e-3) { Elementwise.sigmoid($0) }
        var rng = SplitMix64(seed: 3)
        let (_, mask) = Elementwise.dropout(x, p: 0.5, rng: &rng)
        #expect(mask.values.allSatisfy { $0 == 0 || $0 == 2 })
        check(x, Elementwise.multiply(r, mask), r) { Elementwise.multiply($0, mask) }
    }

    @Test func gridSampleImageAndGrid() {
        let x = randomTensor([2, 3, 7, 9], seed: 23)
        let grid = randomTensor([2, 5, 4, 2], seed: 24, in: -1.1...1.1)
        let y = GridSample.forward(x, grid: grid), r = randomTensor(y.shape, seed: 25)
        let g = GridSample.backward(r, input: x, grid: grid)
        check(x, g.dInput!, r) { GridSample.forward($0, grid: grid) }
        check(grid, g.dGrid, r, eps: 1e-3, tolerance: 3e-2) { GridSample.forward(x, grid: $0) }
        #expect(GridSample.backward(r, input: x, grid: grid, inputGradient: false).dInput == nil)
    }
}
