import FovealTensor

/// Inference from sampling grids already made, and test-time mirroring
/// (`ModelConfig.mirrorAverage`): the answer for a frame averaged with the answer for the frame
/// mirrored left-right, its x negated back. The desk models are trained with half their frames
/// mirrored (`train --mirror`), so a mirror image is as familiar to them as a frame, and the two
/// answers' errors are partly independent: on the desk model's validation frames the average
/// erred 3.6-7.2% less per family (docs/experiments.md, "Mirror images at inference").
///
/// The mirror image is never made. Area averaging is symmetric, so its low-resolution copy is
/// the frame's copy mirrored; and sampling the mirror image on a grid is sampling the frame on
/// that grid with x negated (grid coordinates run over [-1, 1] with the frame's centre at 0).
/// Both answers run as one batch of 2N through each network, which costs less than two passes
/// at batch 1, and nothing passes over the full-resolution frame twice except the sampler.
extension GazeNet {
    /// The saliency map of a batch of frames and the grids it gives: the frames' own and, for a
    /// model that averages with mirror images, the mirror images'.
    public struct SamplingGrids: Sendable {
        /// (N, 1, G, G) the frames' saliency maps (the face-in-view head reads them).
        public var map: Tensor
        /// (N, T, T, 2) where the sampler reads the frames.
        public var grid: Tensor
        /// (N, T, T, 2) where it reads the mirror images; nil without `mirrorAverage`.
        public var mirroredGrid: Tensor?
    }

    /// The maps and grids of frames whose low-resolution copies are `low` (N, 3, S, S): one
    /// batch of N (or 2N, with the mirrored copies) through the saliency network.
    public func samplingGrids(low: Tensor) -> SamplingGrids {
        let n = low.shape[0], side = config.taskSize
        guard config.mirrorAverage else {
            let map = saliencyMap(lowResolution: low).map
            return SamplingGrids(map: map, grid: sampler.grid(map, outputHeight: side, outputWidth: side), mirroredGrid: nil)
        }
        let maps = saliencyMap(lowResolution: Tensor.concatenateBatch([low, Self.mirroredLeftRight(low)])).map
        let grids = sampler.grid(maps, outputHeight: side, outputWidth: side)
        return SamplingGrids(map: Self.items(maps, 0..<n), grid: Self.items(grids, 0..<n), mirroredGrid: Self.items(grids, n..<(2 * n)))
    }

    /// The answer for frames sampled on `grids` (averaged with their mirror images' where the
    /// grids include theirs).
    func inference(_ image: some GazeNetInput, on grids: SamplingGrids) -> Output {
        let (resampled, mirrored) = resample(image, on: grids)
        return inference(resampled, mirrored: mirrored, map: grids.map, grid: grids.grid)
    }

    /// g(I, S): the frames resampled on their grids, and their mirror images on theirs.
    public func resample(_ image: some GazeNetInput, on grids: SamplingGrids) -> (frames: Tensor, mirrored: Tensor?) {
        (image.sampled(on: grids.grid), grids.mirroredGrid.map { image.sampled(on: Self.negatingX($0)) })
    }

    /// The task network on images already resampled (or downsampled), with the mirror images'
    /// in the same batch when given: gaze (x negated back) and features are then the mean of each
    /// frame's and its mirror image's. The rest stays the frame's own: the map, grid and
    /// resampled image describe the frame as it is, the face-in-view head was fitted on the
    /// frames' own maps, and averaging the presence probabilities was right on fewer validation
    /// frames (98.80% against 98.96%, docs/experiments.md).
    public func inference(_ resampled: Tensor, mirrored: Tensor?, map: Tensor?, grid: Tensor?) -> Output {
        var unused = SplitMix64(seed: 0)  // inference draws nothing
        let input = mirrored.map { Tensor.concatenateBatch([resampled, $0]) } ?? resampled
        let (z, features, _) = task.forward(input, dropout: nil, rng: &unused)
        var gaze = centimetres(Elementwise.sigmoid(z)), kept = features, presence = probability(presence, features)
        if mirrored != nil {
            gaze = Self.meanOfHalves(gaze, negatingXOfTheSecond: true)
            kept = Self.meanOfHalves(features)
            presence = presence.map { Self.items($0, 0..<resampled.shape[0]) }
        }
        return Output(saliency: map, grid: grid, resampled: resampled, gazeCm: gaze, features: kept,
                      presence: presence, faceInView: map.flatMap(faceInViewProbability))
    }

    /// (N, ...) the mean of items i and N + i of a (2N, ...) tensor; with `negatingXOfTheSecond`,
    /// the second's first coordinate negated first (gaze (2N, 2) of frames and mirror images).
    static func meanOfHalves(_ t: Tensor, negatingXOfTheSecond negate: Bool = false) -> Tensor {
        let n = t.shape[0] / 2, size = t.count / max(1, t.shape[0])
        var out = [Float](repeating: 0, count: n * size)
        t.withUnsafeBufferPointer { v in
            for i in 0..<(n * size) {
                let second = negate && i % size == 0 ? -v[n * size + i] : v[n * size + i]
                out[i] = (v[i] + second) / 2
            }
        }
        return Tensor(shape: [n] + t.shape.dropFirst(), values: out)
    }

    /// Items `range` of a batch.
    static func items(_ t: Tensor, _ range: Range<Int>) -> Tensor {
        let size = t.count / max(1, t.shape[0])
        return t.withUnsafeBufferPointer { v in
            Tensor(shape: [range.count] + t.shape.dropFirst(), values: Array(v[(range.lowerBound * size)..<(range.upperBound * size)]))
        }
    }

    /// (..., W) with each row reversed.
    public static func mirroredLeftRight(_ t: Tensor) -> Tensor {
        let w = t.shape[t.shape.count - 1], rows = t.count / max(1, w)
        var out = [Float](repeating: 0, count: t.count)
        t.withUnsafeBufferPointer { src in
            for r in 0..<rows {
                let base = r * w
                for x in 0..<w { out[base + x] = src[base + w - 1 - x] }
            }
        }
        return Tensor(shape: t.shape, values: out)
    }

    /// (..., 2) pairs (x, y) with x negated: a sampling grid.
    static func negatingX(_ t: Tensor) -> Tensor {
        var values = t.values
        for i in stride(from: 0, to: values.count, by: 2) { values[i] = -values[i] }
        return Tensor(shape: t.shape, values: values)
    }
}
