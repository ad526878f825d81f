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
