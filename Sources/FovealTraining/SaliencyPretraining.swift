import FovealModel
import FovealTensor
import GazeCapture

/// The saliency start the training pilots found necessary (no ImageNet weights here): train the
/// saliency network alone to put its softmax mass on the eyes, using the eye boxes GazeCapture
/// annotates. Target map: two Gaussians (sigma 1.2 cells) at the eye-box centres plus a uniform
/// floor, 10% unless `train --pretrain-floor` says otherwise (without the floor the sampler
/// squeezes the whole frame into the eyes; the lower it is, the harder the sampler zooms).
/// Loss: KL(target || map).
public struct SaliencyPretraining {
    public var sigmaCells = 1.2
    public var floor = 0.1

    public init() {}

    /// The target map (1, 1, G, G) for a frame, or nil if its eyes are not both annotated;
    /// `mirrored` for the frame flipped left-right (as the batch loader's `mirror` does).
    public func target(_ frame: GazeCaptureFrame, width: Int, height: Int, gridSize g: Int = 31, mirrored: Bool = false) -> Tensor? {
        guard let face = frame.face, let left = frame.leftEye, let right = frame.rightEye else { return nil }
        var map = [Double](repeating: floor / Double(g * g), count: g * g)
        for eye in [left, right] {
            // The map's cells span the frame edge to edge: cell j sits at x = j / (G - 1) of the width.
            let x = (face.x + eye.x + eye.width / 2) / Double(width) * Double(g - 1)
            let cx = mirrored ? Double(g - 1) - x : x
            let cy = (face.y + eye.y + eye.height / 2) / Double(height) * Double(g - 1)
            var blob = [Double](repeating: 0, count: g * g)
            for r in 0..<g {
                for c in 0..<g {
                    let d2 = (Double(c) - cx) * (Double(c) - cx) + (Double(r) - cy) * (Double(r) - cy)
                    blob[r * g + c] = exp(-d2 / (2 * sigmaCells * sigmaCells))
                }
            }
            let total = blob.reduce(0, +)
            guard total > 0 else { return nil }
            for i in 0..<(g * g) { map[i] += (1 - floor) / 2 * blob[i] / total }
        }
        return Tensor(shape: [1, 1, g, g], values: map.map(Float.init))
    }

    /// One step on a batch: forward, KL loss, backward into the saliency path's gradients.
    /// Returns the mean KL divergence and the mean share of the map's mass on the eye boxes.
    public func step(_ model: GazeNet, images: some GazeNetInput, targets: Tensor, frames: [GazeCaptureFrame],
                     width: Int, height: Int) -> (kl: Double, eyeMass: Double) {
        guard model.config.sampler else { return (0, 0) }
        let n = images.batchSize, g = model.sampler.gridSize
        let (p, path) = model.saliencyMap(images, training: true)
        guard let path else { return (0, 0) }
        let (kl, dz) = Self.divergence(p, targets: (0..<n).map { targets.item($0).reshaped([1, 1, g, g]) })
        let mass = (0..<n).reduce(0.0) { $0 + eyeMass(p.item($1).reshaped([1, 1, g, g]), frames[$1], width: width, height: height) }
        model.saliencyBackward(dz, path)
        return (kl, mass / Double(n))
    }

    /// The mean KL(target || map) over the frames that have a target (nil: none, they add
    /// nothing), and its gradient with respect to the map's logits before the softmax,
    /// (N, 1, G, G): d KL(t || softmax(z)) / dz = softmax(z) - t, over the same count.
    public static func divergence(_ map: Tensor, targets: [Tensor?]) -> (kl: Double, dLogits: Tensor) {
        let n = map.shape[0], cells = map.count / max(1, n)
        precondition(targets.count == n, "\(targets.count) targets for \(n) maps")
        let count = Double(max(1, targets.count { $0 != nil }))
        var kl = 0.0
        var dz = Tensor(zeros: map.shape)
        for (b, target) in targets.enumerated() {
            guard let target else { continue }
            for i in 0..<cells {
                let (pi, ti) = (Double(map[flat: b * cells + i]), Double(target[flat: i]))
                if ti > 0 { kl += ti * log(ti / max(pi, 1e-30)) }
                dz[flat: b * cells + i] = Float((pi - ti) / count)
            }
        }
        return (kl / count, dz)
    }

    /// The share of a map's mass in the cells whose centres fall inside the frame's eye boxes.
    public func eyeMass(_ map: Tensor, _ frame: GazeCaptureFrame, width: Int, height: Int) -> Double {
        guard let face = frame.face else { return 0 }
        let g = map.shape[3]
        var mass = 0.0
        for r in 0..<g {
            for c in 0..<g {
                let x = Double(c) / Double(g - 1) * Double(width), y = Double(r) / Double(g - 1) * Double(height)
                let inside = [frame.leftEye, frame.rightEye].contains { eye in
                    guard let eye else { return false }
                    return x >= face.x + eye.x && x <= face.x + eye.x + eye.width && y >= face.y + eye.y && y <= face.y + eye.y + eye.height
                }
                if inside { mass += Double(map[flat: r * g + c]) }
            }
        }
        return mass
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
