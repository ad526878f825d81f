/// Bilinear resizing of (N, C, H, W) to (N, C, OH, OW) with `align_corners=False`, exactly as
/// PyTorch's `interpolate(mode="bilinear")`: output index i reads source position
/// max(0, (i + 0.5) * in/out - 0.5), computed in the element type as PyTorch does.
public enum BilinearResize {
    /// One axis' taps: for each output index, the lower source index, its neighbour and the
    /// neighbour's weight.
    public struct Taps<T: BinaryFloatingPoint & Sendable>: Sendable {
        public var lower: [Int], upper: [Int], upperWeight: [T]

        public init(input: Int, output: Int) {
            let scale = T(input) / T(output)
            lower = []; upper = []; upperWeight = []
            for i in 0..<output {
                let source = max(0, scale * (T(i) + 0.5) - 0.5)
                let i0 = min(Int(source), input - 1)
                lower.append(i0)
                upper.append(i0 < input - 1 ? i0 + 1 : i0)
                upperWeight.append(source - T(i0))
            }
        }
    }

    public static func forward(_ input: Tensor, outputHeight oh: Int, outputWidth ow: Int) -> Tensor {
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let ty = Taps<Float>(input: h, output: oh), tx = Taps<Float>(input: w, output: ow)
        var output = Tensor(uninitialized: [n, c, oh, ow])
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                let src = UncheckedSendable(x.baseAddress!), dst = UncheckedSendable(y.baseAddress!)
                parallelChunks(n * c, minimumChunk: 4) { range in
                    for nc in range {
                        resizePlane(src.value + nc * h * w, width: w, rows: ty, columns: tx,
                                    into: dst.value + nc * oh * ow)
                    }
                }
            }
        }
        return output
    }

    /// Resizes one plane (rows.count x columns.count output) in the element type T.
    @inlinable
    public static func resizePlane<T: BinaryFloatingPoint>(_ plane: UnsafePointer<T>, width w: Int,
                                                           rows ty: Taps<T>, columns tx: Taps<T>,
                                                           into out: UnsafeMutablePointer<T>) {
        let ow = tx.lower.count
        for oy in 0..<ty.lower.count {
            let r0 = plane + ty.lower[oy] * w, r1 = plane + ty.upper[oy] * w
            let wy1 = ty.upperWeight[oy], wy0 = 1 - wy1
            for ox in 0..<ow {
                let (c0, c1) = (tx.lower[ox], tx.upper[ox])
                let wx1 = tx.upperWeight[ox], wx0 = 1 - wx1
                out[oy * ow + ox] = wy0 * (wx0 * r0[c0] + wx1 * r0[c1]) + wy1 * (wx0 * r1[c0] + wx1 * r1[c1])
            }
        }
    }
}

extension BilinearResize {
    /// Scatters each output gradient to its four source pixels with the forward's weights:
    /// dOutput (N, C, OH, OW) -> (N, C, H, W).
    public static func backward(_ dOutput: Tensor, inputHeight h: Int, inputWidth w: Int) -> Tensor {
        let (n, c, oh, ow) = (dOutput.shape[0], dOutput.shape[1], dOutput.shape[2], dOutput.shape[3])
        let ty = Taps<Float>(input: h, output: oh), tx = Taps<Float>(input: w, output: ow)
        var dInput = Tensor(zeros: [n, c, h, w])
        dOutput.withUnsafeBufferPointer { dy in
            dInput.withUnsafeMutableBufferPointer { dx in
                for nc in 0..<(n * c) {
                    backwardPlane(dy.baseAddress! + nc * oh * ow, width: w, rows: ty, columns: tx, into: dx.baseAddress! + nc * h * w)
                }
            }
        }
        return dInput
    }

    /// The transpose of `resizePlane`, accumulating into `plane`.
    @inlinable
    public static func backwardPlane<T: BinaryFloatingPoint>(_ grad: UnsafePointer<T>, width w: Int,
                                                            rows ty: Taps<T>, columns tx: Taps<T>,
                                                            into plane: UnsafeMutablePointer<T>) {
        let ow = tx.lower.count
        for oy in 0..<ty.lower.count {
            let r0 = plane + ty.lower[oy] * w, r1 = plane + ty.upper[oy] * w
            let wy1 = ty.upperWeight[oy], wy0 = 1 - wy1
            for ox in 0..<ow {
                let g = grad[oy * ow + ox]
                let (c0, c1) = (tx.lower[ox], tx.upper[ox])
                let wx1 = tx.upperWeight[ox], wx0 = 1 - wx1
                r0[c0] += g * wy0 * wx0; r0[c1] += g * wy0 * wx1
                r1[c0] += g * wy1 * wx0; r1[c1] += g * wy1 * wx1
            }
        }
    }
}
