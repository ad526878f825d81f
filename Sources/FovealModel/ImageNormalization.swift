import FovealIO
import FovealTensor

/// The model's input convention: RGB in [0, 1], then the ImageNet mean and standard deviation
/// per channel, as torchvision's ImageNet models (and the PyTorch reference) expect.
public enum ImageNormalization {
    public static let mean: [Float] = [0.485, 0.456, 0.406]
    public static let std: [Float] = [0.229, 0.224, 0.225]
    /// The same normalisation as an affine map on bytes: x = byte * byteScale + byteOffset.
    public static let byteScale: [Float] = std.map { 1 / (255 * $0) }
    public static let byteOffset: [Float] = zip(mean, std).map { -$0 / $1 }

    /// Frames of one size -> (N, 3, H, W) normalised tensor.
    public static func tensor(_ images: [RGBImage]) throws -> Tensor {
        guard let first = images.first else { throw ModelError.badInput("no images to normalise") }
        let (w, h) = (first.width, first.height)
        guard images.allSatisfy({ $0.width == w && $0.height == h }) else {
            throw ModelError.badInput("frames of one batch differ in size")
        }
        var out = Tensor(zeros: [images.count, 3, h, w])
        out.withUnsafeMutableBufferPointer { dst in
            for (b, image) in images.enumerated() {
                image.pixels.withUnsafeBufferPointer { px in
                    for c in 0..<3 {
                        let plane = dst.baseAddress! + (b * 3 + c) * h * w
                        let (m, s) = (mean[c], std[c])
                        for i in 0..<(h * w) { plane[i] = (Float(px[i * 3 + c]) / 255 - m) / s }
                    }
                }
            }
        }
        return out
    }

    /// Frames of one size -> 8-bit batch with the normalisation attached (the fast path).
    public static func pixelBatch(_ images: [RGBImage]) throws -> PixelBatch {
        guard let first = images.first else { throw ModelError.badInput("no images to normalise") }
        guard images.allSatisfy({ $0.width == first.width && $0.height == first.height }) else {
            throw ModelError.badInput("frames of one batch differ in size")
        }
        return PixelBatch(count: images.count, height: first.height, width: first.width,
                          bytes: images.count == 1 ? first.pixels : images.flatMap(\.pixels),
                          scale: byteScale, offset: byteOffset)
    }
}
