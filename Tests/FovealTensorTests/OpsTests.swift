import CKernels
import FovealIO
import FovealTensor
import FovealTestSupport
import Testing

/// Every op against PyTorch (committed fixtures) and against a textbook loop on random shapes.
@Suite struct OpsAgainstPyTorch {
    let ops = Fixtures.ops

    func t(_ name: String) throws -> Tensor { try ops.tensor(name) }
    func params(_ name: String) throws -> [Int] { try t("\(name).params").values.map { Int($0) } }

    @Test(arguments: 0..<5) func conv2d(_ i: Int) throws {
        let p = try params("conv\(i)")
        let out = Conv2D.forward(try t("conv\(i).input"), weight: try t("conv\(i).weight"), bias: try t("conv\(i).bias"),
                                 stride: p[0], padding: p[1])
        expectClose(out, try t("conv\(i).output"), 5e-5)
    }

    @Test(arguments: 0..<3) func maxPool(_ i: Int) throws {
        let p = try params("maxpool\(i)")
        let out = MaxPool2D.forward(try t("maxpool\(i).input"), kernel: p[0], stride: p[1], padding: p[2])
        expectClose(out, try t("maxpool\(i).output"), 0)
    }

    @Test(arguments: 0..<4) func adaptiveAveragePool(_ i: Int) throws {
        let p = try params("adaptive\(i)")
        let out = AdaptiveAvgPool2D.forward(try t("adaptive\(i).input"), outputHeight: p[0], outputWidth: p[1])
        expectClose(out, try t("adaptive\(i).output"), 1e-6)
    }

    @Test(arguments: 0..<5) func bilinearResize(_ i: Int) throws {
        let p = try params("resize\(i)")
        let out = BilinearResize.forward(try t("resize\(i).input"), outputHeight: p[0], outputWidth: p[1])
        // PyTorch's vectorised kernel rounds the source coordinate (up to ~30 here, where a Float
        // ulp is 2e-6) differently: a few 1e-6 is the float precision of the op itself.
        expectClose(out, try t("resize\(i).output"), 1e-5)
    }

    @Test(arguments: 0..<2) func gridSample(_ i: Int) throws {
        let out = GridSample.forward(try t("gridsample\(i).input"), grid: try t("gridsample\(i).grid"))
        expectClose(out, try t("gridsample\(i).output"), 1e-5)
    }

    @Test func softmax() throws {
        let x = try t("softmax0.input")
        let out = Softmax.forward(x)
        expectClose(out, try t("softmax0.output"), 1e-6)
    }

    @Test func replicationPad() throws {
        let out = ReplicationPad2D.forward(try t("replicate0.input"), pad: 3)
        expectClose(out, try t("replicate0.output"), 0)
    }
}

@Suite struct OpsAgainstNaiveLoops {
    static let convShapes: [(c: Int, m: Int, k: Int, s: Int, p: Int, h: Int, w: Int)] = [
        (3, 4, 3, 1, 1, 7, 9), (2, 5, 5, 2, 2, 11, 8), (4, 3, 1, 1, 0, 6, 5), (4, 3, 1, 2, 0, 9, 9),
        (3, 8, 11, 4, 2, 35, 27), (1, 2, 7, 2, 3, 16, 13), (5, 2, 3, 3, 0, 10, 14), (2, 70, 3, 1, 1, 12, 12),
        // Strides 2 and 4 with rows of 23, 31 and 19 outputs: the vector gather's blocks of 8 and their tails.
        (3, 4, 7, 2, 3, 40, 45), (2, 3, 3, 2, 1, 20, 61), (3, 4, 11, 4, 2, 20, 80),
        // 576 steps of k (the packed kernel's three slabs of at most 256) and 13 filters (two tiles of 6 and one row).
        (64, 13, 3, 1, 1, 9, 11),
        // Winograd's F(2x2, 3x3) (3x3, stride 1, padding 1): a 1x1 and a 2x17 image, odd sizes whose
        // last tile overhangs the output, rows of 8, 9 and 17 tiles (vectors of 8 and their tails),
        // and several tile rows a block.
        (3, 5, 3, 1, 1, 1, 1), (4, 6, 3, 1, 1, 2, 17), (7, 9, 3, 1, 1, 33, 5), (5, 8, 3, 1, 1, 16, 34),
        (6, 7, 3, 1, 1, 13, 13),
        // F(2x2, 5x5) (5x5, stride 1, padding 2): odd sizes, a 1x1 image, rows of 9 and 17 tiles.
        (5, 7, 5, 1, 2, 13, 17), (3, 6, 5, 1, 2, 1, 1), (4, 8, 5, 1, 2, 20, 34),
    ]

    /// Every matrix product the processor runs (all but OpenBLAS's need AVX2 and FMA).
    static let products = ConvolutionProduct.allCases.filter { $0 == .openBLAS || ProcessorFeatures.avx2FMA }

    @Test(arguments: 0..<20, [1, 2]) func conv2d(_ i: Int, threads: Int) {
        let (c, m, k, s, p, h, w) = Self.convShapes[i]
        let saved = Engine.threads
        Engine.threads = threads
        defer { Engine.threads = saved }
        let x = randomTensor([2, c, h, w], seed: UInt64(i)), wt = randomTensor([m, c, k, k], seed: UInt64(i + 100))
        let b = randomTensor([m], seed: UInt64(i + 200))
        let naive = Naive.conv2d(x, wt, b, stride: s, padding: p)
        // Winograd's F(4x4, 3x3) rounds to about 1e-5 of the output's scale (its transforms'
        // coefficients reach 8); the direct products to about 1e-6. A wrong tap or tile is off by O(1).
        let scale = max(1, naive.values.map(abs).max() ?? 0)
        for product in Self.products {
            let tolerance: Float = product == .winograd ? 2e-5 * scale : 1e-5
            let fast = Conv2D.forward(x, weight: wt, bias: b, stride: s, padding: p, product: product)
            expectClose(fast, naive, tolerance)
            let fused = Conv2D.forward(x, weight: wt, bias: b, stride: s, padding: p, relu: true, product: product)
            expectClose(fused, Elementwise.relu(naive), tolerance)
            #expect(maxError(Conv2D.forward(x, weight: wt, bias: nil, stride: s, padding: p, product: product),
                             Naive.conv2d(x, wt, nil, stride: s, padding: p)) < tolerance, "\(product)")
            // Winograd also where the product would leave a layer this small to im2col (`winogradPays`).
            if product == .winograd && (k == 3 || k == 5) && s == 1 && p == (k - 1) / 2 {
                let filters = PackedFilters(weight: wt, bias: b, layout: .winograd)
                expectClose(Conv2D.forward(x, filters: filters, stride: 1, padding: p, relu: true), Elementwise.relu(naive),
                            tolerance)
            }
        }
    }

    /// Where Winograd runs: every 3x3 and 5x5 stride-1 layer of the paper model, none of the
    /// shipped one's (measured slower there), and no 1x1 image.
    @Test func winogradRunsWhereItPays() {
        for (k, c, size) in [(3, 64, 57), (3, 128, 29), (3, 192, 13), (3, 256, 13), (3, 384, 13), (5, 64, 27)] {
            #expect(Conv2D.winogradPays(kernel: k, channels: c, height: size, width: size), "\(k)x\(k), \(c) channels, \(size)x\(size)")
        }
        for (k, c, size) in [(3, 16, 24), (3, 32, 12), (3, 48, 9), (3, 64, 9), (3, 64, 12), (3, 64, 1), (5, 24, 19), (5, 64, 1)] {
            #expect(!Conv2D.winogradPays(kernel: k, channels: c, height: size, width: size), "\(k)x\(k), \(c) channels, \(size)x\(size)")
        }
    }

    /// Winograd's kernel itself, F(2x2, 3x3), F(4x4, 3x3) and F(2x2, 5x5), against the textbook sum:
    /// blocks of one and several tile rows, filter ranges on panels of 6 and a last one cut short,
    /// odd sizes whose last tiles overhang the output, a 1x1 image. Its buffers and output start as
    /// NaN: every column the product reads must be written or zeroed, every output written.
    @Test(arguments: [(3, 13, 17, 33, 3, 6), (5, 12, 9, 30, 1, 12), (40, 8, 11, 9, 2, 6), (2, 7, 1, 1, 1, 6)])
    func winogradKernel(_ shape: (Int, Int, Int, Int, Int, Int)) {
        guard ProcessorFeatures.avx2FMA else { return }
        let (c, k, h, w, rows, range) = shape
        for (m, r): (Int32, Int32) in [(2, 3), (4, 3), (2, 5)] {
            let kernel = Int(r)
            let x = randomTensor([1, c, h, w], seed: 5), wt = randomTensor([k, c, kernel, kernel], seed: 6)
            let b = randomTensor([k], seed: 7), naive = Naive.conv2d(x, wt, b, stride: 1, padding: kernel / 2)
            let scale = max(1, naive.values.map(abs).max() ?? 0)
            let tile = Int(m), points = Int(foveal_winograd_points(m, r))
            let tilesH = (h + tile - 1) / tile, tilesW = (w + tile - 1) / tile, ldv = (rows * tilesW + 15) / 16 * 16
            var packed = [Float](repeating: .nan, count: foveal_winograd_filters_count(m, r, k, c))
            foveal_winograd_pack_filters(m, r, wt.values, k, c, &packed)
            var v = [Float](repeating: .nan, count: points * foveal_winograd_plane(c, ldv))
            var mm = [Float](repeating: .nan, count: points * foveal_winograd_plane(k, ldv))
            var split = [Float](repeating: .nan, count: foveal_winograd_split_count(m, r, tilesW))
            var out = [Float](repeating: .nan, count: k * h * w)
            for ty0 in stride(from: 0, to: tilesH, by: rows) {
                for k0 in stride(from: 0, to: k, by: range) {
                    foveal_winograd_block(m, r, x.values, c, h, w, packed, k, k0, min(k, k0 + range), b.values, 0,
                                          ty0, min(tilesH, ty0 + rows), &v, &mm, ldv, &split, &out)
                }
            }
            let error = zip(out, naive.values).map { abs($0 - $1) }.max() ?? 0
            #expect(error <= (m == 2 && r == 3 ? 1e-5 : 2e-5) * scale, "F(\(m)x\(m), \(r)x\(r)) \(shape): \(error)")
        }
    }

    /// The packed product's AVX2 tile and its portable twin against the textbook sum, on tiles cut
    /// short in both directions, several slabs of k, with and without bias and ReLU, into a C whose
    /// rows are longer than n (the columns past n untouched).
    @Test(arguments: [(6, 16, 256), (7, 17, 257), (13, 5, 600), (1, 33, 3), (20, 48, 513)])
    func packedProductKernels(_ shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        let a = randomTensor([m, k], seed: 1).values
        let ldb = (n + 15) / 16 * 16 + 16, ldc = n + 3
        var b = randomTensor([k, ldb], seed: 2).values
        for r in 0..<k { for j in n..<ldb { b[r * ldb + j] = 0 } }
        let bias = randomTensor([m], seed: 3).values
        var packed = [Float](repeating: .nan, count: foveal_packed_filters_count(m, k))
        foveal_pack_filters(a, m, k, k, &packed)
        for useBias in [false, true] {
            for relu in [false, true] {
                var expected = [Float](repeating: 7, count: m * ldc)
                for i in 0..<m {
                    for j in 0..<n {
                        var sum = useBias ? Double(bias[i]) : 0
                        for t in 0..<k { sum += Double(a[i * k + t]) * Double(b[t * ldb + j]) }
                        expected[i * ldc + j] = Float(relu ? max(0, sum) : sum)
                    }
                }
                for avx2: Int32 in ProcessorFeatures.avx2FMA ? [0, 1] : [0] {
                    var c = [Float](repeating: 7, count: m * ldc)
                    bias.withUnsafeBufferPointer { bp in
                        foveal_gemm_packed(packed, b, ldb, m, n, k, &c, ldc, useBias ? bp.baseAddress : nil, relu ? 1 : 0, avx2)
                    }
                    let error = zip(c, expected).map { abs($0 - $1) }.max() ?? 0
                    #expect(error < 1e-4, "m \(m) n \(n) k \(k), bias \(useBias), relu \(relu), avx2 \(avx2): \(error)")
                }
            }
        }
    }

    /// The matrix-vector kernel against float64 sums, for every element type, at row counts around
    /// its blocks of 4 and column counts around its steps of 16; it adds to what y holds.
    @Test func matrixVectorKernel() {
        guard ProcessorFeatures.avx2FMA else { return }
        var rng = SplitMix64(seed: 11)
        for rows in 1...9 {
            for cols in [1, 7, 15, 16, 17, 40, 100] {
                let w = (0..<(rows * cols)).map { _ in rng.uniform(-1, 1) }, x = (0..<cols).map { _ in rng.uniform(-1, 1) }
                let start = (0..<rows).map { _ in rng.uniform(-1, 1) }
                for format in [nil] + HalfPrecisionMatrix.Format.allCases.map(Optional.some) {
                    // What the kernel multiplies by: the weights themselves, or rounded to 16 bits.
                    let used = format.map { HalfPrecisionMatrix(Tensor(shape: [rows, cols], values: w), format: $0).widened.values } ?? w
                    let want = (0..<rows).map { r in Double(start[r]) + (0..<cols).reduce(0.0) { $0 + Double(used[r * cols + $1]) * Double(x[$1]) } }
                    var y = start
                    switch format {
                    case nil:
                        foveal_gemv(w, Int32(FOVEAL_GEMV_F32), x, &y, rows, cols)
                    case let format?:
                        let bits = used.map { format == .bf16 ? UInt16($0.bitPattern >> 16) : Float16($0).bitPattern }
                        foveal_gemv(bits, format == .bf16 ? Int32(FOVEAL_GEMV_BF16) : Int32(FOVEAL_GEMV_F16), x, &y, rows, cols)
                    }
                    let error = zip(y, want).map { abs(Double($0) - $1) }.max() ?? 0
                    #expect(error < 1e-5, "rows \(rows) cols \(cols) \(format.map { "\($0)" } ?? "f32"): \(error)")
                }
            }
        }
    }

    /// The strided gather's AVX2 build against its definition, at every length around its blocks of 8.
    @Test func stridedGatherKernels() {
        let source = (0..<200).map { Float($0) + 0.5 }
        for stride in 1...4 {
            for n in 0...40 where (n - 1) * stride < source.count {
                let expected = (0..<n).map { source[$0 * stride] }
                for avx2: Int32 in ProcessorFeatures.avx2 ? [0, 1] : [0] {
                    var out = [Float](repeating: -1, count: n + 1)
                    source.withUnsafeBufferPointer { s in
                        out.withUnsafeMutableBufferPointer { o in foveal_gather_strided(s.baseAddress!, stride, o.baseAddress!, n, avx2) }
                    }
                    #expect(Array(out[0..<n]) == expected && out[n] == -1, "stride \(stride), n \(n), avx2 \(avx2)")
                }
            }
        }
    }

    @Test(arguments: [1, 3], [1, 2]) func linear(_ batch: Int, threads: Int) {
        let saved = Engine.threads
        Engine.threads = threads
        defer { Engine.threads = saved }
        let x = randomTensor([batch, 37], seed: 1), w = randomTensor([300, 37], seed: 2), b = randomTensor([300], seed: 3)
        expectClose(Linear.forward(x, weight: w, bias: b), Naive.linear(x, w, b), 1e-5)
        expectClose(Linear.forward(x, weight: w, bias: b, relu: true), Elementwise.relu(Naive.linear(x, w, b)), 1e-5)
        expectClose(Linear.forward(x, weight: w, bias: nil), Naive.linear(x, w, Tensor(zeros: [300])), 1e-5)
    }

    @Test(arguments: [(3, 2, 1, 9, 10), (3, 2, 0, 13, 13), (2, 1, 0, 4, 5), (5, 3, 2, 11, 7)])
    func maxPool(_ shape: (Int, Int, Int, Int, Int)) {
        let (k, s, p, h, w) = shape
        let x = randomTensor([2, 3, h, w], seed: 9)
        expectClose(MaxPool2D.forward(x, kernel: k, stride: s, padding: p), Naive.maxPool(x, kernel: k, stride: s, padding: p), 0)
    }

    /// The separable Gaussian (two 1-D passes) equals the dense 2-D filter.
    @Test(arguments: [(61, 13.0, 91), (7, 2.5, 12), (11, 4.0, 19)])
    func separableGaussianEqualsDense(_ setting: (Int, Double, Int)) {
        let (size, fwhm, side) = setting
        let x = randomTensor([2, 2, side, side + 3], seed: 4, in: 0...0.002)
        let separable = GaussianFilter.forward(x, size: size, fwhm: fwhm)
        let dense = Naive.gaussian(x, size: size, fwhm: fwhm)
        #expect(separable.shape == [2, 2, side - size + 1, side + 3 - size + 1])
        var worst: Float = 0
        for i in 0..<dense.count { worst = max(worst, abs(separable[flat: i] - dense[flat: i]) / abs(dense[flat: i])) }
        #expect(worst < 1e-5)
    }

    @Test(arguments: [(480, 640, 227, 227), (13, 9, 6, 6), (2, 3, 6, 6), (50, 37, 11, 17), (7, 7, 7, 7)])
    func adaptiveAveragePool(_ sizes: (Int, Int, Int, Int)) {
        let (h, w, oh, ow) = sizes
        let x = randomTensor([2, 2, h, w], seed: UInt64(h * w))
        expectClose(AdaptiveAvgPool2D.forward(x, outputHeight: oh, outputWidth: ow), Naive.adaptiveAverage(x, oh, ow), 1e-6)
    }

    @Test func batchNormInference() {
        let x = randomTensor([2, 3, 4, 5], seed: 5)
        let mean = Tensor(shape: [3], values: [0.1, -0.2, 0.3]), variance = Tensor(shape: [3], values: [0.5, 1.5, 2])
        let gamma = Tensor(shape: [3], values: [1.2, 0.7, -1]), beta = Tensor(shape: [3], values: [0, 0.1, -0.3])
        let y = BatchNorm2D.forwardInference(x, runningMean: mean, runningVar: variance, weight: gamma, bias: beta)
        let r = BatchNorm2D.forwardInference(x, runningMean: mean, runningVar: variance, weight: gamma, bias: beta, relu: true)
        for i in 0..<x.count {
            let c = (i / 20) % 3
            let expected = (x[flat: i] - mean[flat: c]) / (variance[flat: c] + 1e-5).squareRoot() * gamma[flat: c] + beta[flat: c]
            #expect(abs(y[flat: i] - expected) < 1e-6)
            #expect(r[flat: i] == max(0, y[flat: i]))
        }
    }

    @Test func sigmoidAndAdd() {
        let a = randomTensor([2, 3], seed: 1, in: -5...5), b = randomTensor([2, 3], seed: 2)
        let s = Elementwise.sigmoid(a), sum = Elementwise.add(a, b), r = Elementwise.add(a, b, relu: true)
        for i in 0..<6 {
            #expect(abs(s[flat: i] - 1 / (1 + Float(exp(Double(-a[flat: i]))))) < 1e-6)
            #expect(sum[flat: i] == a[flat: i] + b[flat: i])
            #expect(r[flat: i] == max(0, a[flat: i] + b[flat: i]))
        }
    }
}

@Suite struct TensorBasics {
    @Test func copiesDoNotShareWrites() {
        let a = Tensor(shape: [2, 2], values: [1, 2, 3, 4])
        var b = a
        b[flat: 0] = 9
        #expect(a.values == [1, 2, 3, 4])
        #expect(b.values == [9, 2, 3, 4])
    }

    @Test func batchItemsAndConcatenation() {
        let a = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        #expect(a.item(1).values == [4, 5, 6])
        #expect(a.item(1).shape == [1, 3])
        let c = Tensor.concatenateBatch([a, a.item(0)])
        #expect(c.shape == [3, 3])
        #expect(c.values == [1, 2, 3, 4, 5, 6, 1, 2, 3])
    }
}

#if canImport(Glibc)
import Glibc
#endif
