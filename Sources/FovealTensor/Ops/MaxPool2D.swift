/// Max pooling over (N, C, H, W), as PyTorch's `max_pool2d` (padding counts as -infinity,
/// floor mode): output (N, C, (H + 2p - k) / s + 1, (W + 2p - k) / s + 1).
public enum MaxPool2D {
    public static func forward(_ input: Tensor, kernel: Int, stride: Int, padding: Int = 0) -> Tensor {
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let oh = (h + 2 * padding - kernel) / stride + 1
        let ow = (w + 2 * padding - kernel) / stride + 1
        // Each output column's input window, clipped to the image.
        let x0 = (0..<ow).map { max(0, $0 * stride - padding) }
        let x1 = (0..<ow).map { min(w, $0 * stride - padding + kernel) }
        var output = Tensor(uninitialized: [n, c, oh, ow])
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                let src = UncheckedSendable(x.baseAddress!), dst = UncheckedSendable(y.baseAddress!)
                parallelChunks(n * c, minimumChunk: 4) { range in
                    // The maximum over the window's rows first (a contiguous, vectorisable pass),
                    // then over each window's columns.
                    var rowMax = [Float](repeating: 0, count: w)
                    for nc in range {
                        let plane = src.value + nc * h * w, out = dst.value + nc * oh * ow
                        for oy in 0..<oh {
                            let y0 = max(0, oy * stride - padding), y1 = min(h, oy * stride - padding + kernel)
                            rowMax.withUnsafeMutableBufferPointer { r in
                                r.baseAddress!.update(from: plane + y0 * w, count: w)
                                for iy in (y0 + 1)..<max(y0 + 1, y1) {
                                    let line = plane + iy * w
                                    for i in 0..<w { r[i] = max(r[i], line[i]) }
                                }
                                for ox in 0..<ow {
                                    var best = -Float.infinity
                                    for ix in x0[ox]..<x1[ox] { best = max(best, r[ix]) }
                                    out[oy * ow + ox] = best
                                }
                            }
                        }
                    }
                }
            }
        }
        return output
    }
}

extension MaxPool2D {
    /// Routes each output gradient to the first maximum of its window (PyTorch's choice).
    public static func backward(_ dOutput: Tensor, input: Tensor, kernel: Int, stride: Int, padding: Int = 0) -> Tensor {
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (oh, ow) = (dOutput.shape[2], dOutput.shape[3])
        var dInput = Tensor(zeros: input.shape)
        input.withUnsafeBufferPointer { x in
            dOutput.withUnsafeBufferPointer { dy in
                dInput.withUnsafeMutableBufferPointer { dx in
                    let (xs, dys, dxs) = (UncheckedSendable(x.baseAddress!), UncheckedSendable(dy.baseAddress!), UncheckedSendable(dx.baseAddress!))
                    parallelChunks(n * c, minimumChunk: 4) { range in
                        for nc in range {
                            let plane = xs.value + nc * h * w, grad = dys.value + nc * oh * ow, out = dxs.value + nc * h * w
                            for oy in 0..<oh {
                                let y0 = max(0, oy * stride - padding), y1 = min(h, oy * stride - padding + kernel)
                                for ox in 0..<ow {
                                    let x0 = max(0, ox * stride - padding), x1 = min(w, ox * stride - padding + kernel)
                                    var best = -Float.infinity, at = y0 * w + x0
                                    for iy in y0..<y1 {
                                        for ix in x0..<x1 where plane[iy * w + ix] > best {
                                            best = plane[iy * w + ix]
                                            at = iy * w + ix
                                        }
                                    }
                                    out[at] += grad[oy * ow + ox]
                                }
                            }
                        }
                    }
                }
            }
        }
        return dInput
    }
}
