import CKernels

/// 2-D convolution (cross-correlation, as PyTorch's `conv2d`) by im2col and a matrix product.
///
/// input (N, C, H, W), weight (M, C, KH, KW), bias (M) or nil -> output (N, M, OH, OW) with
/// OH = (H + 2 * padding - KH) / stride + 1, likewise OW; zero padding.
///
/// Each worker takes a block of output positions: it unfolds just those columns (C*KH*KW rows)
/// into its own buffer and multiplies, so the unfolded block stays in cache and the workers never
/// wait on one another. Bias and an optional ReLU are applied to the block while it is hot.
public enum Conv2D {
    /// The most a block's unfolded input may take: it stays in L2 (512 KB on Zen 3, 1 MB on Zen 4)
    /// between its unfolding and its product, beside the filters' slab. With 8 blocks a frame, the
    /// paper model's 7x7 first layer unfolded 0.96 MB a block and took 1.75-2.05 ms; in blocks of
    /// 128 KB, 1.58-1.69 ms (2 threads, Zen 4, `foveal bench --config paper`).
    static let blockBytes = 128 << 10

    public static func outputSize(_ size: Int, kernel: Int, stride: Int, padding: Int) -> Int {
        (size + 2 * padding - kernel) / stride + 1
    }

    /// How a convolution with weights of `shape` (M, C, KH, KW), on an input of `height` x `width`,
    /// lays out its filters with `product`: nil where it multiplies with OpenBLAS (that product, or
    /// a 1x1, stride-1, unpadded convolution, which multiplies its input where it lies);
    /// transformed for Winograd where the product is `.winograd`, the convolution 3x3 or 5x5,
    /// stride 1, padded to keep its size, and Winograd pays (`winogradPays`); else for im2col.
    public static func filterLayout(shape: [Int], stride: Int, padding: Int, height: Int, width: Int,
                                    product: ConvolutionProduct = Engine.convolutionProduct) -> PackedFilters.Layout? {
        guard shape.count == 4, product != .openBLAS && ProcessorFeatures.avx2FMA,
              !(shape[2] == 1 && shape[3] == 1 && stride == 1 && padding == 0) else { return nil }
        let kernel = shape[2]
        let winograd = product == .winograd && (kernel == 3 || kernel == 5) && shape[3] == kernel && stride == 1
            && padding == (kernel - 1) / 2
        return winograd && winogradPays(kernel: kernel, channels: shape[1], height: height, width: width) ? .winograd : .unfolded
    }

    /// The output tile Winograd uses for a `kernel` x `kernel` convolution: F(4x4, 3x3) and
    /// F(2x2, 5x5), both on 6x6 input tiles, 2.25 and 9 multiply-adds per output and channel pair
    /// where the direct convolution needs 9 and 25. (F(2x2, 3x3), 4 of them on 4x4 tiles, rounds
    /// less but took 0.57-0.88 of the packed product's time on the paper model's 3x3 layers, where
    /// F(4x4, 3x3) took 0.37-0.54: `Benchmarks/winograd_layers.c`, one thread, Zen 4.)
    static func winogradTile(kernel: Int) -> Int32 { kernel == 3 ? 4 : 2 }

    /// Whether Winograd beats im2col on a `kernel` x `kernel` layer of `channels` inputs and an
    /// output of this size. Its 36 products cover the tiles and im2col's taps the positions, each
    /// in whole strips of 16: where that saves less than 2.5x (3x3) or 2x (5x5), the transforms and
    /// the filters' read (4x and 1.4x their size) take the rest; under 64 channels the products are
    /// too shallow. Measured against the packed product without its unfolding (one thread): 3x3,
    /// the shipped model's layers (16-64 channels, 9x9 to 24x24) 1.11-1.60x its time, a 64-channel
    /// 12x12 one (2.25x fewer) 1.14x, 13x13 (2.75x) 0.77x, the paper model's 0.37-0.54x; 5x5 with
    /// 64 channels, 9x9 and 12x12 (2.1x fewer) 0.83x and 0.72x, the paper model's conv2 0.44-0.51x.
    public static func winogradPays(kernel: Int, channels: Int, height: Int, width: Int) -> Bool {
        let tile = Int(winogradTile(kernel: kernel))
        let tiles = ((height + tile - 1) / tile) * ((width + tile - 1) / tile)
        let winograd = 36 * ((tiles + 15) / 16 * 16), direct = kernel * kernel * ((height * width + 15) / 16 * 16)
        return channels >= 64 && direct * 2 >= winograd * (kernel == 3 ? 5 : 4)
    }

    public static func forward(_ input: Tensor, weight: Tensor, bias: Tensor?,
                               stride: Int = 1, padding: Int = 0, relu: Bool = false,
                               product: ConvolutionProduct = Engine.convolutionProduct) -> Tensor {
        precondition(weight.shape.count == 4, "conv2d: weight \(weight.shape) is not (M, C, KH, KW)")
        if input.shape.count == 4,
           let layout = filterLayout(shape: weight.shape, stride: stride, padding: padding,
                                     height: input.shape[2], width: input.shape[3], product: product) {
            return forward(input, filters: PackedFilters(weight: weight, bias: bias, layout: layout),
                           stride: stride, padding: padding, relu: relu)
        }
        let (m, k) = (weight.shape[0], weight.shape[1] * weight.shape[2] * weight.shape[3])
        let biasValues = bias?.values
        return forward(input, shape: weight.shape, stride: stride, padding: padding, relu: relu) { b, ldb, n, out, ldc in
            weight.withUnsafeBufferPointer { wt in
                BLAS.gemm(m: m, n: n, k: k, a: wt.baseAddress!, b: b, ldb: ldb, c: out, ldc: ldc)
            }
            if biasValues != nil || relu { addBias(biasValues, relu: relu, rows: m, columns: n, out, ldc) }
        }
    }

    /// The convolution on filters packed beforehand (a layer keeps them between frames), with
    /// their bias; the same output as `forward(_:weight:bias:...)` up to rounding.
    public static func forward(_ input: Tensor, filters: PackedFilters, stride: Int = 1, padding: Int = 0,
                               relu: Bool = false) -> Tensor {
        if filters.layout == .winograd {
            precondition(stride == 1 && padding == (filters.shape[2] - 1) / 2,
                         "conv2d: Winograd's filters need stride 1 and the padding that keeps the size")
            return winograd(input, filters: filters, relu: relu)
        }
        let (m, k) = (filters.shape[0], filters.shape[1] * filters.shape[2] * filters.shape[3])
        return forward(input, shape: filters.shape, stride: stride, padding: padding, relu: relu, strips: true) { b, ldb, n, out, ldc in
            foveal_gemm_packed(filters.panels, b, ldb, m, n, k, out, ldc, filters.bias, relu ? 1 : 0, 1)
        }
    }

    /// The blocks, their unfolding and the product each gets: `multiply(B, B's row stride, the
    /// block's columns, output, output row stride)`, with B the unfolded block (k rows), or the
    /// image itself for a 1x1, stride-1, unpadded convolution. With `strips` every block is
    /// unfolded, laid out for the packed kernel: blocks start on a 16-column strip, rows are
    /// `PackedFilters.rowStride` apart and 64-byte aligned, and a partial last strip is padded with zeros.
    private static func forward(_ input: Tensor, shape: [Int], stride: Int, padding: Int, relu: Bool, strips: Bool = false,
                                multiply: (UnsafePointer<Float>, Int, Int, UnsafeMutablePointer<Float>, Int) -> Void) -> Tensor {
        precondition(input.shape.count == 4 && shape.count == 4 && shape[1] == input.shape[1],
                     "conv2d: input \(input.shape) does not fit weight \(shape)")
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (m, kh, kw) = (shape[0], shape[2], shape[3])
        let oh = outputSize(h, kernel: kh, stride: stride, padding: padding)
        let ow = outputSize(w, kernel: kw, stride: stride, padding: padding)
        let k = c * kh * kw, spatial = oh * ow
        let geometry = Im2Col(channels: c, height: h, width: w, kernelH: kh, kernelW: kw,
                              stride: stride, padding: padding, outH: oh, outW: ow)
        // A 1x1, stride-1, unpadded convolution multiplies the input where it lies (OpenBLAS only).
        let direct = !strips && kh == 1 && kw == 1 && stride == 1 && padding == 0
        // At least `chunksPerWorker` blocks a worker, of at most `blockBytes` unfolded, and of 64
        // columns or more.
        let blocks = max(1, min(max(Engine.threads * Engine.chunksPerWorker, (k * spatial * 4 + blockBytes - 1) / blockBytes),
                                spatial / 64))
        let stripCount = (spatial + 15) / 16
        var output = Tensor(uninitialized: [n, m, oh, ow])
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                let (xs, ys) = (UncheckedSendable(x.baseAddress!), UncheckedSendable(y.baseAddress!))
                parallelFor(n * blocks) { task in
                    let b = task / blocks, blk = task % blocks
                    let columns = strips ? min(spatial, stripCount * blk / blocks * 16)..<min(spatial, stripCount * (blk + 1) / blocks * 16)
                        : (spatial * blk / blocks)..<(spatial * (blk + 1) / blocks)
                    guard !columns.isEmpty else { return }
                    let image = xs.value + b * c * h * w
                    let out = ys.value + b * m * spatial + columns.lowerBound
                    if direct { return multiply(image + columns.lowerBound, spatial, columns.count, out, spatial) }
                    let rowStride = strips ? PackedFilters.rowStride(columns.count) : columns.count
                    let raw = UnsafeMutableRawPointer.allocate(byteCount: k * rowStride * 4, alignment: 64)
                    defer { raw.deallocate() }
                    let col = raw.bindMemory(to: Float.self, capacity: k * rowStride)
                    // The kernel reads a partial strip's 16 columns whole: zeros past the block's end,
                    // so that what it multiplies and never stores is finite.
                    let tail = strips ? (16 - columns.count % 16) % 16 : 0
                    if tail > 0 {
                        for r in 0..<k { (col + r * rowStride + columns.count).update(repeating: 0, count: tail) }
                    }
                    geometry.unfold(image, columns: columns, into: col, rowStride: rowStride)
                    multiply(col, rowStride, columns.count, out, spatial)
                }
            }
        }
        return output
    }

    /// A 3x3 or 5x5, stride-1 convolution that keeps its size, by Winograd's F(4x4, 3x3) or
    /// F(2x2, 5x5) (CKernels/winograd.h). Each task takes a block of tile rows of one image, and a
    /// range of the filters: it transforms the block's input into its own buffers, multiplies and
    /// writes the block's output, as im2col's blocks do. The filters are split only where the
    /// blocks alone would leave workers idle (a 13x13 3x3 layer is one block of 16 tiles).
    private static func winograd(_ input: Tensor, filters: PackedFilters, relu: Bool) -> Tensor {
        precondition(input.shape.count == 4 && input.shape[1] == filters.shape[1],
                     "conv2d: input \(input.shape) does not fit weight \(filters.shape)")
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let r = Int32(filters.shape[2]), tileM = winogradTile(kernel: filters.shape[2])
        let m = filters.shape[0], tile = Int(tileM), points = Int(foveal_winograd_points(tileM, r))
        var output = Tensor(uninitialized: [n, m, h, w])
        guard n > 0 && h > 0 && w > 0 else { return output }
        let tilesH = (h + tile - 1) / tile, tilesW = (w + tile - 1) / tile
        let plan = WinogradPlan(images: n, tilesH: tilesH, tilesW: tilesW, points: points, channels: c, filters: m)
        let blocks = (tilesH + plan.rows - 1) / plan.rows
        let ldv = PackedFilters.rowStride(plan.rows * tilesW)
        let (vCount, mCount) = (points * foveal_winograd_plane(c, ldv), points * foveal_winograd_plane(m, ldv))
        let splitCount = foveal_winograd_split_count(tileM, r, tilesW)
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                let (xs, ys) = (UncheckedSendable(x.baseAddress!), UncheckedSendable(y.baseAddress!))
                parallelFor(n * blocks * plan.filterRanges) { task in
                    let b = task / (blocks * plan.filterRanges), ty0 = task / plan.filterRanges % blocks * plan.rows
                    let range = task % plan.filterRanges
                    // Filter ranges start on gemm.h's panels of 6.
                    let k0 = (m * range / plan.filterRanges) / 6 * 6
                    let k1 = range + 1 == plan.filterRanges ? m : (m * (range + 1) / plan.filterRanges) / 6 * 6
                    guard k1 > k0 else { return }
                    let raw = UnsafeMutableRawPointer.allocate(byteCount: (vCount + mCount + splitCount) * 4, alignment: 64)
                    defer { raw.deallocate() }
                    let v = raw.bindMemory(to: Float.self, capacity: vCount + mCount + splitCount)
                    foveal_winograd_block(tileM, r, xs.value + b * c * h * w, c, h, w, filters.panels, m, k0, k1,
                                          filters.bias, relu ? 1 : 0, ty0, min(tilesH, ty0 + plan.rows),
                                          v, v + vCount, ldv, v + vCount + mCount, ys.value + b * m * h * w)
                }
            }
        }
        return output
    }

    /// How a Winograd convolution is cut into tasks: blocks of `rows` tile rows, each split into
    /// `filterRanges` ranges of filters. The kernel multiplies whole strips of 16 tiles and reads
    /// the transformed filters once a task, so blocks should fill their last strip and be few, but
    /// enough for every worker, and their V and M should stay near L2 (2 MB at most). Each choice
    /// is costed as the tasks a worker runs times a task's work: its filters times its columns
    /// plus 4 (the filters' read), plus the input transform (about 6 filters' worth a column, done
    /// once per task). On two workers, at 57x57 (15 tiles a row) that is blocks of 4 rows (60
    /// tiles); at 29x29, two blocks of 32 tiles; at 13x13, one block of 16 tiles whose filters the
    /// workers split; the 5x5 layer at 27x27, blocks of 2 rows (28 tiles), their filters split in two.
    struct WinogradPlan {
        var rows = 1, filterRanges = 1

        init(images: Int, tilesH: Int, tilesW: Int, points: Int, channels c: Int, filters m: Int) {
            var best = Int.max
            for rows in 1...tilesH {
                let ldv = PackedFilters.rowStride(rows * tilesW)
                if rows > 1 && points * (c + m) * ldv * 4 > 2 << 20 { break }
                let columns = (rows * tilesW + 15) / 16 * 16, blocks = (tilesH + rows - 1) / rows
                for ranges in 1...max(1, min(Engine.threads * Engine.chunksPerWorker, m / 24)) {
                    let tasks = images * blocks * ranges, perWorker = (tasks + Engine.threads - 1) / Engine.threads
                    let cost = perWorker * ((m + ranges - 1) / ranges * (columns + 4) + 6 * columns)
                    if cost < best { (best, self.rows, filterRanges) = (cost, rows, ranges) }
                }
            }
        }
    }

    /// Adds each row's bias to a block of `rows` rows (`stride` apart), then the ReLU if asked.
    private static func addBias(_ bias: [Float]?, relu: Bool, rows: Int, columns: Int, _ out: UnsafeMutablePointer<Float>,
                                _ stride: Int) {
        for ch in 0..<rows {
            let row = out + ch * stride, add = bias?[ch] ?? 0
            if relu {
                for i in 0..<columns { row[i] = max(0, row[i] + add) }
            } else {
                for i in 0..<columns { row[i] += add }
            }
        }
    }
}

/// A convolution's filters (M, C, KH, KW) packed for the kernel of `CKernels/gemm.h`, in panels of
/// 6 filters, with their bias: one pass over the weights, which a layer pays once per change of its
/// weights instead of once per frame (`foveal_pack_filters`).
public final class PackedFilters: @unchecked Sendable {
    /// What the panels hold.
    public enum Layout: Sendable {
        /// The filters as rows of M x (C*KH*KW), for the unfolded input.
        case unfolded
        /// 3x3 or 5x5 filters transformed for Winograd's F(4x4, 3x3) or F(2x2, 5x5)
        /// (`Conv2D.winogradTile`): 36 matrices of M x C (`foveal_winograd_pack_filters`).
        case winograd
    }

    /// The weight's shape (M, C, KH, KW).
    public let shape: [Int]
    public let layout: Layout
    let panels: UnsafeMutablePointer<Float>
    let bias: UnsafeMutablePointer<Float>?

    public init(weight: Tensor, bias: Tensor?, layout: Layout = .unfolded) {
        precondition(weight.shape.count == 4 && (bias == nil || bias!.count == weight.shape[0]),
                     "packed filters: weight \(weight.shape), bias \(bias?.shape ?? [])")
        precondition(layout == .unfolded || ((weight.shape[2] == 3 || weight.shape[2] == 5) && weight.shape[3] == weight.shape[2]),
                     "packed filters: Winograd needs 3x3 or 5x5 filters, not \(weight.shape)")
        shape = weight.shape
        self.layout = layout
        let (m, c, k) = (shape[0], shape[1], shape[1] * shape[2] * shape[3])
        let (tile, r) = (Conv2D.winogradTile(kernel: shape[2]), Int32(shape[2]))
        let count = layout == .winograd ? foveal_winograd_filters_count(tile, r, m, c) : foveal_packed_filters_count(m, k)
        let panels = UnsafeMutableRawPointer.allocate(byteCount: max(1, count) * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: max(1, count))
        weight.withUnsafeBufferPointer { wt in
            switch layout {
            case .unfolded: foveal_pack_filters(wt.baseAddress!, m, k, k, panels)
            case .winograd: foveal_winograd_pack_filters(tile, r, wt.baseAddress!, m, c, panels)
            }
        }
        self.panels = panels
        self.bias = bias.map { b in
            let copy = UnsafeMutablePointer<Float>.allocate(capacity: max(1, m))
            b.withUnsafeBufferPointer { copy.update(from: $0.baseAddress!, count: m) }
            return copy
        }
    }

    deinit {
        panels.deallocate()
        bias?.deallocate()
    }

    /// The unfolded rows' length for a block of `columns`: whole strips of 16, an odd number of
    /// them, so that one strip's rows (one cache line each) fall in different L1 sets.
    static func rowStride(_ columns: Int) -> Int {
        let strips = (columns + 15) / 16
        return (strips % 2 == 0 ? strips + 1 : strips) * 16
    }
}

/// The unfolding of one image (C, H, W) for a convolution: row (c, i, j) of the unfolded matrix
/// holds, for each output position, the input pixel under kernel tap (i, j) of channel c (0 in the
/// padding). Rows have OH*OW entries; `unfold` writes any contiguous block of those columns.
public struct Im2Col: Sendable {
    public let channels, height, width, kernelH, kernelW, stride, padding, outH, outW: Int

    public init(channels: Int, height: Int, width: Int, kernelH: Int, kernelW: Int,
                stride: Int, padding: Int, outH: Int, outW: Int) {
        (self.channels, self.height, self.width) = (channels, height, width)
        (self.kernelH, self.kernelW, self.stride, self.padding) = (kernelH, kernelW, stride, padding)
        (self.outH, self.outW) = (outH, outW)
    }

    /// Writes columns `columns` of every row into `col`, rows `rowStride` apart (default: packed,
    /// `columns.count`); what lies between the end of one row and the start of the next is untouched.
    ///
    /// The block splits into the same pieces of output rows for every row of the unfolded matrix,
    /// so they are worked out once, and so are the columns each kernel column finds inside the
    /// image; the rows then walk channels and taps without a division.
    @inlinable
    public func unfold(_ image: UnsafePointer<Float>, columns: Range<Int>, into col: UnsafeMutablePointer<Float>,
                       rowStride: Int? = nil) {
        guard !columns.isEmpty else { return }
        let pieceCount = (columns.upperBound - 1) / outW - columns.lowerBound / outW + 1
        withUnsafeTemporaryAllocation(of: (oy: Int, x: Range<Int>).self, capacity: pieceCount) { pieces in
            withUnsafeTemporaryAllocation(of: Range<Int>.self, capacity: kernelW) { inside in
                var p = columns.lowerBound
                for i in 0..<pieceCount {
                    let oy = p / outW, x0 = p - oy * outW
                    pieces[i] = (oy, x0..<min(outW, x0 + columns.upperBound - p))
                    p += pieces[i].x.count
                }
                for kj in 0..<kernelW {
                    let lo = min(outW, max(0, (padding - kj + stride - 1) / stride))
                    inside[kj] = lo..<min(outW, max(lo, (width - 1 + padding - kj) / stride + 1))
                }
                let avx2: Int32 = ProcessorFeatures.avx2 ? 1 : 0
                var row = col
                for ch in 0..<channels {
                    let plane = image + ch * height * width
                    for ki in 0..<kernelH {
                        for kj in 0..<kernelW {
                            var dst = row
                            for (oy, x) in pieces {
                                unfoldPiece(plane, row: oy &* stride &- padding &+ ki, kj: kj, columns: x,
                                            inside: inside[kj], into: dst, avx2: avx2)
                                dst += x.count
                            }
                            row += rowStride ?? columns.count
                        }
                    }
                }
            }
        }
    }

    /// Output columns `x` of one output row for kernel tap (`row` of the input, column `kj`): the
    /// input pixels where the tap lands inside the image (`inside`), zeros in the padding.
    @inlinable @inline(__always)
    func unfoldPiece(_ plane: UnsafePointer<Float>, row iy: Int, kj: Int, columns x: Range<Int>, inside: Range<Int>,
                     into dst: UnsafeMutablePointer<Float>, avx2: Int32) {
        guard iy >= 0 && iy < height else {
            dst.update(repeating: 0, count: x.count)
            return
        }
        let line = plane + (iy &* width &- padding &+ kj)
        let a = max(x.lowerBound, inside.lowerBound), z = min(x.upperBound, inside.upperBound)
        if a > x.lowerBound { dst.update(repeating: 0, count: min(a, x.upperBound) &- x.lowerBound) }
        if z > a {
            if stride == 1 {
                (dst + (a &- x.lowerBound)).update(from: line + a, count: z &- a)
            } else {
                foveal_gather_strided(line + a &* stride, stride, dst + (a &- x.lowerBound), z &- a, avx2)
            }
        }
        let tail = max(z, a, x.lowerBound)
        if x.upperBound > tail { (dst + (tail &- x.lowerBound)).update(repeating: 0, count: x.upperBound &- tail) }
    }
}

extension Conv2D {
    /// Gradients of a convolution given the gradient of its output (before any fused ReLU: mask
    /// with `Elementwise.reluBackward` first). Recomputes the unfolded input instead of caching it.
    ///
    /// dOutput (N, M, OH, OW), input (N, C, H, W), weight (M, C, KH, KW)
    /// -> dInput (N, C, H, W) if asked, dWeight (M, C, KH, KW), dBias (M).
    public static func backward(_ dOutput: Tensor, input: Tensor, weight: Tensor, stride: Int = 1, padding: Int = 0,
                                inputGradient: Bool = true) -> (dInput: Tensor?, dWeight: Tensor, dBias: Tensor) {
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (m, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3])
        let (oh, ow) = (dOutput.shape[2], dOutput.shape[3])
        let k = c * kh * kw, spatial = oh * ow
        let geometry = Im2Col(channels: c, height: h, width: w, kernelH: kh, kernelW: kw,
                              stride: stride, padding: padding, outH: oh, outW: ow)
        let direct = kh == 1 && kw == 1 && stride == 1 && padding == 0
        let workers = max(1, min(Engine.threads, n))
        // Each worker sums its images' weight gradients into its own buffer; the buffers are added at the end.
        var partialWeight = [Float](repeating: 0, count: workers * m * k)
        var dBias = Tensor(zeros: [m])
        var dInput = inputGradient ? Tensor(zeros: input.shape) : nil
        var dInputStorage = dInput ?? Tensor(zeros: [0])
        input.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { wt in
                dOutput.withUnsafeBufferPointer { dy in
                    partialWeight.withUnsafeMutableBufferPointer { pw in
                        dInputStorage.withUnsafeMutableBufferPointer { dx in
                            let (xs, ws, dys) = (UncheckedSendable(x.baseAddress!), UncheckedSendable(wt.baseAddress!), UncheckedSendable(dy.baseAddress!))
                            let (pws, dxs) = (UncheckedSendable(pw.baseAddress!), UncheckedSendable(dx.baseAddress))
                            parallelFor(workers) { worker in
                                let col = direct ? nil : UnsafeMutablePointer<Float>.allocate(capacity: k * spatial)
                                let dCol = inputGradient && !direct ? UnsafeMutablePointer<Float>.allocate(capacity: k * spatial) : nil
                                defer { col?.deallocate(); dCol?.deallocate() }
                                for b in (n * worker / workers)..<(n * (worker + 1) / workers) {
                                    let image = xs.value + b * c * h * w, grad = dys.value + b * m * spatial
                                    if let col { geometry.unfold(image, columns: 0..<spatial, into: col) }
                                    let unfolded = col.map { UnsafePointer($0) } ?? image
                                    BLAS.gemm(transposeB: true, m: m, n: k, k: spatial, a: grad, b: unfolded,
                                              beta: 1, c: pws.value + worker * m * k)
                                    guard inputGradient, let dxBase = dxs.value else { continue }
                                    let target = dxBase + b * c * h * w
                                    if let dCol {
                                        BLAS.gemm(transposeA: true, m: k, n: spatial, k: m, a: ws.value, b: grad, c: dCol)
                                        geometry.fold(dCol, into: target)
                                    } else {
                                        BLAS.gemm(transposeA: true, m: k, n: spatial, k: m, a: ws.value, b: grad, beta: 1, c: target)
                                    }
                                }
                            }
                        }
                    }
                }
                dBias.withUnsafeMutableBufferPointer { db in
                    dOutput.withUnsafeBufferPointer { dy in
                        for b in 0..<n {
                            for ch in 0..<m {
                                let row = dy.baseAddress! + (b * m + ch) * spatial
                                var s: Float = 0
                                for i in 0..<spatial { s += row[i] }
                                db[ch] += s
                            }
                        }
                    }
                }
            }
        }
        var dWeight = Tensor(zeros: weight.shape)
        dWeight.withUnsafeMutableBufferPointer { dw in
            for worker in 0..<workers {
                for i in 0..<(m * k) { dw[i] += partialWeight[worker * m * k + i] }
            }
        }
        if inputGradient { dInput = dInputStorage }
        return (dInput, dWeight, dBias)
    }
}

extension Im2Col {
    /// The transpose of `unfold` over all columns: adds each unfolded entry back onto the input
    /// pixel it came from (the input gradient of a convolution). `image` is accumulated into.
    public func fold(_ col: UnsafePointer<Float>, into image: UnsafeMutablePointer<Float>) {
        let spatial = outH * outW
        for row in 0..<(channels * kernelH * kernelW) {
            let ch = row / (kernelH * kernelW), ki = (row / kernelW) % kernelH, kj = row % kernelW
            let plane = image + ch * height * width
            let src = col + row * spatial
            let lo = min(outW, max(0, (padding - kj + stride - 1) / stride))
            let hi = min(outW, max(lo, (width - 1 + padding - kj) / stride + 1))
            for oy in 0..<outH {
                let iy = oy * stride - padding + ki
                guard iy >= 0, iy < height else { continue }
                let line = plane + iy * width - padding + kj, values = src + oy * outW
                for ox in lo..<hi { line[ox * stride] += values[ox] }
            }
        }
    }
}
