import FovealTensor

/// When a video frame may reuse a recent frame's sampling grid instead of running the saliency
/// network: while the frame's low-resolution copy (the saliency network's whole input) differs
/// from the copy the grid was made from by less than `threshold` on average, and at most
/// `every - 1` frames in a row. One per video stream; not for use from two threads at once.
public final class SaliencyReuse {
    /// The grid is recomputed at least every `every` frames (1: every frame, no reuse).
    public let every: Int
    /// Mean absolute difference of the low-resolution copies, in the network's normalised units
    /// (ImageNet mean and std: one 8-bit level is about 0.017), under which the scene has not moved.
    public let threshold: Float
    public private(set) var reused = 0, computed = 0

    private var low: Tensor?
    private var grid: Tensor?
    private var sinceComputed = 0

    /// The measured default threshold (docs/experiments.md, "Saliency reuse").
    public static let defaultThreshold: Float = 0.02

    public init(every: Int, threshold: Float = SaliencyReuse.defaultThreshold) {
        (self.every, self.threshold) = (max(1, every), threshold)
    }

    /// Share of frames that reused a grid.
    public var reuseRate: Double { reused + computed > 0 ? Double(reused) / Double(reused + computed) : 0 }

    /// The kept grid, if `low` is close enough to the copy it was made from and the ceiling allows.
    func reusable(for low: Tensor) -> Tensor? {
        guard let grid, let kept = self.low, sinceComputed + 1 < every, kept.shape == low.shape,
              Self.meanAbsoluteDifference(kept, low) < threshold else { return nil }
        sinceComputed += 1
        reused += 1
        return grid
    }

    func keep(low: Tensor, grid: Tensor) {
        (self.low, self.grid, sinceComputed) = (low, grid, 0)
        computed += 1
    }

    /// Forgets the kept grid (a new stream, or a gap without a face).
    public func reset() { (low, grid, sinceComputed) = (nil, nil, 0) }

    static func meanAbsoluteDifference(_ a: Tensor, _ b: Tensor) -> Float {
        a.withUnsafeBufferPointer { x in
            b.withUnsafeBufferPointer { y in
                var sum: Float = 0
                for i in 0..<x.count { sum += abs(x[i] - y[i]) }
                return x.isEmpty ? 0 : sum / Float(x.count)
            }
        }
    }
}
