import FovealTensor

/// When a video frame may reuse a recent frame's sampling grid instead of running the saliency
/// network: while the frame's low-resolution copy (the saliency network's whole input) differs
/// from the copy the grid was made from by less than `threshold`, and at most `every - 1` frames
/// in a row. The difference is weighted by the kept saliency map: at a desk the face is a small
/// part of the frame, and a plain mean would let the eyes move unnoticed while the room stands
/// still. One per video stream; not for use from two threads at once.
public final class SaliencyReuse {
    /// The grid is recomputed at least every `every` frames (1: every frame, no reuse).
    public let every: Int
    /// Saliency-weighted mean absolute difference of the low-resolution copies, in the network's
    /// normalised units (ImageNet mean and std: one 8-bit level is about 0.017), under which the
    /// scene has not moved.
    public let threshold: Float
    public private(set) var reused = 0, computed = 0

    private var low: Tensor?
    /// The kept map and grids (the mirror image's too, for a model that averages with it: its
    /// copy differs from its kept copy exactly as the frame's does).
    private var grids: GazeNet.SamplingGrids?
    /// The kept map spread over the low-resolution copy's pixels, summing to 1.
    private var weights: [Float] = []
    private var sinceComputed = 0

    /// The measured default threshold (docs/experiments.md, "Saliency reuse").
    public static let defaultThreshold: Float = 0.08

    public init(every: Int, threshold: Float = SaliencyReuse.defaultThreshold) {
        (self.every, self.threshold) = (max(1, every), threshold)
    }

    /// The kept grids and map, if `low` is close enough to the copy they were made from and the ceiling allows.
    func reusable(for low: Tensor) -> GazeNet.SamplingGrids? {
        guard let grids, let kept = self.low, sinceComputed + 1 < every, kept.shape == low.shape,
              Self.weightedDifference(kept, low, weights) < threshold else { return nil }
        sinceComputed += 1
        reused += 1
        return grids
    }

    /// Keeps freshly computed grids with the copy they came from.
    func keep(low: Tensor, _ grids: GazeNet.SamplingGrids) {
        (self.low, self.grids, sinceComputed) = (low, grids, 0)
        weights = Self.spread(grids.map, height: low.shape[2], width: low.shape[3])
        computed += 1
    }

    /// The map's mass over an h x w image, each pixel taking its nearest map cell's share.
    static func spread(_ map: Tensor, height h: Int, width w: Int) -> [Float] {
        let g = map.shape[3]
        var weights = [Float](repeating: 0, count: h * w)
        map.withUnsafeBufferPointer { m in
            for y in 0..<h {
                let gy = min(g - 1, y * g / h)
                for x in 0..<w { weights[y * w + x] = m[gy * g + min(g - 1, x * g / w)] }
            }
        }
        let total = weights.reduce(0, +)
        return total > 0 ? weights.map { $0 / total } : [Float](repeating: 1 / Float(h * w), count: h * w)
    }

    /// Σ over pixels of weight x mean absolute difference over the channels, for (1, C, h, w) copies.
    static func weightedDifference(_ a: Tensor, _ b: Tensor, _ weights: [Float]) -> Float {
        let (channels, plane) = (a.shape[1], a.shape[2] * a.shape[3])
        guard weights.count == plane, channels > 0 else { return .infinity }
        return a.withUnsafeBufferPointer { x in
            b.withUnsafeBufferPointer { y in
                var sum: Float = 0
                for c in 0..<channels {
                    for i in 0..<plane { sum += weights[i] * abs(x[c * plane + i] - y[c * plane + i]) }
                }
                return sum / Float(channels)
            }
        }
    }
}
