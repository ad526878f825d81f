import CKernels

/// A fully connected layer's weights kept in 16 bits: bfloat16 (float32's exponent, 8
/// significant bits) or IEEE half (5-bit exponent, 11 significant bits). At batch 1 a fully connected
/// layer is bound by how fast its weights stream from memory, so half the bytes is nearly half
/// the time. One frame's product runs straight from the 16-bit weights (AVX2 and FMA, where the
/// processor has them); batches widen a tile of rows at a time to float32 for BLAS.
/// Rounding is to the nearest, ties to even, as PyTorch's `.to(torch.bfloat16)` and `.half()`.
public struct HalfPrecisionMatrix: Sendable {
    public enum Format: String, Sendable, CaseIterable {
        case bf16, f16
    }

    public let format: Format
    public let rows: Int, columns: Int
    let bits: [UInt16]

    /// `weight` (rows, columns) rounded to `format`.
    public init(_ weight: Tensor, format: Format) {
        precondition(weight.shape.count == 2, "half-precision weights: \(weight.shape) is not a matrix")
        (self.format, rows, columns) = (format, weight.shape[0], weight.shape[1])
        bits = weight.withUnsafeBufferPointer { w in
            switch format {
            case .bf16:
                w.map { v -> UInt16 in
                    let b = v.bitPattern
                    if v.isNaN { return UInt16(b >> 16) | 0x40 }
                    // Round to nearest even on the 16 bits dropped.
                    return UInt16(truncatingIfNeeded: (b &+ 0x7fff &+ ((b >> 16) & 1)) >> 16)
                }
            case .f16:
                w.map { Float16($0).bitPattern }
            }
        }
    }

    /// The weights as float32 again (what the layer multiplies by).
    public var widened: Tensor {
        var t = Tensor(uninitialized: [rows, columns])
        t.withUnsafeMutableBufferPointer { widen(rows: 0..<rows, into: $0.baseAddress!) }
        return t
    }

    /// Rows `range` widened to float32, row after row, into `out`.
    func widen(rows range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        bits.withUnsafeBufferPointer { b in
            let src = b.baseAddress! + range.lowerBound * columns, n = range.count * columns
            switch format {
            case .bf16:
                for i in 0..<n { out[i] = Float(bitPattern: UInt32(src[i]) << 16) }
            case .f16:
                if ProcessorFeatures.f16c { foveal_f16_to_f32(src, out, n) } else { for i in 0..<n { out[i] = Float(Float16(bitPattern: src[i])) } }
            }
        }
    }

    /// Whether `gemv` runs the AVX2 kernel (else it widens tiles for BLAS).
    public static let vectorKernel = ProcessorFeatures.avx2FMA

    /// y[r] += sum_j w[r][j] x[j] over `range` rows, straight from the 16-bit weights.
    func gemv(rows range: Range<Int>, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        bits.withUnsafeBufferPointer { b in
            foveal_gemv(b.baseAddress! + range.lowerBound * columns, format == .bf16 ? Int32(FOVEAL_GEMV_BF16) : Int32(FOVEAL_GEMV_F16),
                        x, y, range.count, columns)
        }
    }
}

extension Linear {
    /// Rows of weights widened per tile: 16 rows of AlexNet's 9216 inputs are 590 kB, within L2.
    static let halfPrecisionTileRows = 16

    /// `forward` with 16-bit weights: input (N, IN), weight (OUT, IN) -> (N, OUT).
    public static func forward(_ input: Tensor, weight: HalfPrecisionMatrix, bias: Tensor?, relu: Bool = false) -> Tensor {
        let n = input.shape[0], inFeatures = input.count / max(1, n), outFeatures = weight.rows
        precondition(weight.columns == inFeatures, "linear: input \(input.shape) vs weight \(weight.rows)x\(weight.columns)")
        var output = Tensor(uninitialized: [n, outFeatures])
        let tileRows = halfPrecisionTileRows
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                let (xs, ys, bs) = (UncheckedSendable(x.baseAddress!), UncheckedSendable(y.baseAddress!), UncheckedSendable(bias))
                parallelChunks(outFeatures, minimumChunk: 64) { features in
                    if n == 1, HalfPrecisionMatrix.vectorKernel {
                        // One frame: a matrix-vector product bound by the weights' bytes.
                        return oneFrame(features, bias: bs.value, relu: relu, y: ys.value + features.lowerBound) {
                            weight.gemv(rows: features, x: xs.value, y: $0)
                        }
                    }
                    let tile = UnsafeMutablePointer<Float>.allocate(capacity: tileRows * inFeatures)
                    defer { tile.deallocate() }
                    for start in stride(from: features.lowerBound, to: features.upperBound, by: tileRows) {
                        let rows = start..<min(features.upperBound, start + tileRows)
                        weight.widen(rows: rows, into: tile)
                        block(rows, n: n, inFeatures: inFeatures, outFeatures: outFeatures, x: xs.value, weight: tile,
                              bias: bs.value, y: ys.value, relu: relu)
                    }
                }
            }
        }
        return output
    }
}
