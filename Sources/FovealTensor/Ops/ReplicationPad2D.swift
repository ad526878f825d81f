/// Padding of (N, C, H, W) by `pad` on every side with the nearest edge value, as PyTorch's
/// `pad(mode="replicate")`: output (N, C, H + 2 pad, W + 2 pad).
public enum ReplicationPad2D {
    public static func forward(_ input: Tensor, pad: Int) -> Tensor {
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (ph, pw) = (h + 2 * pad, w + 2 * pad)
        var output = Tensor(zeros: [n, c, ph, pw])
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                for nc in 0..<(n * c) {
                    let plane = x.baseAddress! + nc * h * w, out = y.baseAddress! + nc * ph * pw
                    for oy in 0..<ph {
                        let row = plane + min(max(oy - pad, 0), h - 1) * w
                        for ox in 0..<pw { out[oy * pw + ox] = row[min(max(ox - pad, 0), w - 1)] }
                    }
                }
            }
        }
        return output
    }
}

extension ReplicationPad2D {
    /// Adds each padded cell's gradient onto the edge cell it copied: (N, C, H+2p, W+2p) -> (N, C, H, W).
    public static func backward(_ dOutput: Tensor, pad: Int) -> Tensor {
        let (n, c, ph, pw) = (dOutput.shape[0], dOutput.shape[1], dOutput.shape[2], dOutput.shape[3])
        let (h, w) = (ph - 2 * pad, pw - 2 * pad)
        var dInput = Tensor(zeros: [n, c, h, w])
        dOutput.withUnsafeBufferPointer { dy in
            dInput.withUnsafeMutableBufferPointer { dx in
                for nc in 0..<(n * c) {
                    for oy in 0..<ph {
                        let row = nc * h * w + min(max(oy - pad, 0), h - 1) * w
                        for ox in 0..<pw { dx[row + min(max(ox - pad, 0), w - 1)] += dy[(nc * ph + oy) * pw + ox] }
                    }
                }
            }
        }
        return dInput
    }
}
