import Foundation
import FovealIO
import FovealModel
import FovealTensor
import FovealTestSupport
import FovealTraining
import GazeCapture
import Testing

/// A step of `foveal train` against the same step of the PyTorch trainer (training/recipe.py's
/// `train_step`, fixtures by Tests/Fixtures/make_training_step.py): same weights, frames, labels,
/// rates and clip; the loss, the clipped gradients, the weights after Adam and the BatchNorm
/// running statistics must agree. Case "presence" trains the presence head with the network, one
/// frame of three invalid (no gaze error, a negative for the cross-entropy); case "anchor" trains
/// the saliency path with the eye anchor on two frames of three.
@Suite struct TrainingStepParity {
    /// Tolerances, relative to each tensor's largest magnitude. The two sides sum in different
    /// orders in float32. Measured: the task network's gradients agree to 2.3e-5; the saliency
    /// path's, which reach it through the resampling's gradient with respect to the grid (the
    /// least well conditioned step, see make_fixtures.py's float64_outputs), to 2.0e-3.
    static let gradientTolerance: Float = 5e-3
    static let lossTolerance: Float = 1e-4

    @Test(arguments: ["e2e", "blur", "presence", "anchor"]) func oneStepMatchesPyTorch(_ name: String) throws {
        let path = Fixtures.path("model/trainstep_\(name).safetensors")
        let file = try SafeTensorsFile(path: path)
        guard let json = file.metadata["config"] else { Issue.record("no config"); return }
        let config = try ModelConfig.decode(json: json)
        let model = try GazeNet(config: config, parameters: ParameterReader { name, _, _ in try file.tensor(name) })
        let number = { (key: String) -> Float in Float(file.metadata[key] ?? "") ?? .nan }
        var options = Trainer.Options()
        options.clipNorm = number("clip")
        options.dropout = 0
        options.presenceWeight = file.metadata["presence_weight"].map { _ in number("presence_weight") }
        options.eyeAnchorWeight = file.metadata["eye_anchor"].map { _ in number("eye_anchor") } ?? 0
        let trainer = try Trainer(model: model, dataset: GazeCaptureDataset(root: "", recordings: []), options: options,
                                  runDirectory: Fixtures.temporaryDirectory())

        let pixels = try file.tensor("pixels")   // (N, H, W, 3) byte values
        let (n, h, w) = (pixels.shape[0], pixels.shape[1], pixels.shape[2])
        let bytes = pixels.withUnsafeBufferPointer { $0.map { UInt8($0) } }
        let images = PixelBatch(count: n, height: h, width: w, bytes: bytes,
                                scale: ImageNormalization.byteScale, offset: ImageNormalization.byteOffset)
        var settings = GazeNet.TrainingSettings()
        settings.dropout = 0
        settings.trainSaliency = number("saliency_lr") > 0
        let blur = Int(number("blur_side"))
        settings.blurSide = blur > 0 ? blur : nil
        settings.trainPresence = options.presenceWeight != nil
        let valid = file.entries["valid"] == nil ? nil : try file.tensor("valid").withUnsafeBufferPointer { $0.map { $0 == 1 } }
        var eyeTargets: [Tensor?] = []
        if file.entries["eye_targets"] != nil {
            let (maps, mask) = (try file.tensor("eye_targets"), try file.tensor("eye_mask"))
            eyeTargets = (0..<n).map { mask[flat: $0] == 1 ? maps.item($0).reshaped([1, 1, maps.shape[1], maps.shape[2]]) : nil }
        }
        var rng = SplitMix64(seed: 1)
        let loss = try trainer.step(images, targets: try file.tensor("labels"), valid: valid, eyeTargets: eyeTargets, settings: settings,
                                    rate: number("lr"), saliencyRate: number("saliency_lr"), rng: &rng)

        let expectedLoss = try file.tensor("loss")[flat: 0]
        #expect(abs(loss - expectedLoss) <= Self.lossTolerance * expectedLoss, "loss \(loss) vs PyTorch \(expectedLoss)")
        var compared = 0
        for p in model.parameters {
            if file.entries["grad." + p.name] != nil {
                let expected = try file.tensor("grad." + p.name)
                var scale = expected.withUnsafeBufferPointer { $0.map(abs).max() ?? 0 }
                // saliency_head.bias's true gradient is 0 (the softmax ignores a shift): both sides
                // hold rounding noise, measured against the head's weights' gradient, and Adam's
                // step turns that noise into moves of up to lr, which are not compared.
                let noise = p.name == "saliency_head.bias"
                if noise { scale = try file.tensor("grad.saliency_head.weight").withUnsafeBufferPointer { $0.map(abs).max() ?? 0 } }
                let gap = maxDifference(p.gradient, expected)
                #expect(gap <= Self.gradientTolerance * max(scale, 1e-7), "gradient of \(p.name): off by \(gap), largest \(scale)")
                // Adam's first step moves a weight by lr * g / (|g| + eps): where the gradient is
                // a clear fraction of its tensor's largest, both sides move it the same way.
                let before = try file.tensor(p.name), after = try file.tensor("after." + p.name)
                let lr = p.name.hasPrefix("saliency") ? number("saliency_lr") : number("lr")
                for i in 0..<expected.count where !noise && abs(expected[flat: i]) > 0.05 * scale {
                    let moved = p.value[flat: i] - before[flat: i], reference = after[flat: i] - before[flat: i]
                    #expect(abs(moved - reference) <= 0.02 * lr, "\(p.name)[\(i)] moved \(moved), PyTorch \(reference)")
                }
                compared += 1
            } else {
                // No gradient: a frozen parameter, or a BatchNorm running statistic (updated in
                // training mode, kept in the frozen saliency path).
                let after = try file.tensor("after." + p.name)
                let gap = maxDifference(p.value, after)
                let scale = after.withUnsafeBufferPointer { $0.map(abs).max() ?? 0 }
                #expect(gap <= 1e-4 * max(scale, 1), "\(p.name) after the step: off by \(gap)")
            }
        }
        #expect(compared > (settings.trainSaliency ? 40 : 10), "compared \(compared) gradients")
        if settings.trainPresence { #expect(file.entries["grad.presence.weight"] != nil && model.presence != nil) }
    }

    func maxDifference(_ a: Tensor, _ b: Tensor) -> Float {
        guard a.shape == b.shape else { return .infinity }
        var worst: Float = 0
        for i in 0..<a.count { worst = max(worst, abs(a[flat: i] - b[flat: i])) }
        return worst
    }
}
