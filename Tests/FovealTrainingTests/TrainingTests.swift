import Foundation
import FovealIO
import FovealModel
import FovealTensor
import FovealTestSupport
import FovealTraining
import GazeCapture
import SyntheticGaze
import Testing

@Suite struct Optimisers {
    func parameter(_ values: [Float], gradient: [Float]) -> Parameter {
        let p = Parameter(name: "w", role: .weight(fanIn: 1), value: Tensor(shape: [values.count], values: values))
        p.gradient = Tensor(shape: [gradient.count], values: gradient)
        return p
    }

    @Test func sgdWithMomentumAndWeightDecayIsPyTorchs() {
        let p = parameter([1, -2], gradient: [0.5, 0.25])
        let sgd = Optimizer(.sgd, weightDecay: 0.1)
        sgd.step([p]) { _ in 0.1 }
        // g' = g + 0.1 w = (0.6, 0.05); buffer = g'; w -= 0.1 g'
        #expect(abs(p.value[flat: 0] - 0.94) < 1e-6 && abs(p.value[flat: 1] - -2.005) < 1e-6)
        sgd.step([p]) { _ in 0.1 }
        // g' = (0.5 + 0.094, 0.25 - 0.2005); buffer = 0.9 * old + g'
        let b0: Float = 0.9 * 0.6 + 0.594, b1: Float = 0.9 * 0.05 + 0.0495
        #expect(abs(p.value[flat: 0] - (0.94 - 0.1 * b0)) < 1e-6 && abs(p.value[flat: 1] - (-2.005 - 0.1 * b1)) < 1e-6)
    }

    @Test func adamFirstStepMovesByTheLearningRate() {
        let p = parameter([1, -2, 3], gradient: [0.5, -3, 1e-3])
        Optimizer(.adam).step([p]) { _ in 0.01 }
        // Bias-corrected first step: m/sqrt(v) = sign(g), so each weight moves by lr.
        #expect(abs(p.value[flat: 0] - 0.99) < 1e-5 && abs(p.value[flat: 1] - -1.99) < 1e-5 && abs(p.value[flat: 2] - 2.99) < 1e-4)
    }

    @Test func zeroRateLeavesAParameterAlone() {
        let p = parameter([1], gradient: [1])
        Optimizer(.adam).step([p]) { _ in 0 }
        #expect(p.value[flat: 0] == 1)
    }

    @Test func schedulesAndClipping() {
        #expect(LearningRateSchedule.cosine(total: 100).rate(1, step: 0) == 1)
        #expect(abs(LearningRateSchedule.cosine(total: 100).rate(1, step: 50) - 0.5) < 1e-6)
        #expect(LearningRateSchedule.cosine(total: 100).rate(1, step: 100) < 1e-6)
        #expect(abs(LearningRateSchedule.step(every: 10, factor: 0.1).rate(1, step: 25) - 0.01) < 1e-7)
        let p = parameter([0, 0], gradient: [3, 4])
        #expect(clipGradients([p], maximum: 1) == 5)
        #expect(abs(p.gradient[flat: 0] - 0.6) < 1e-6 && abs(p.gradient[flat: 1] - 0.8) < 1e-6)
        let (loss, g) = meanSquaredError(Tensor(shape: [1, 2], values: [1, 3]), Tensor(shape: [1, 2], values: [0, 1]))
        #expect(loss == 2.5 && g.values == [1, 2])
    }

    @Test func pairedDifferenceErrorIgnoresASharedOffsetAndMatchesFiniteDifferences() {
        // Rows 0 and 1 are both off by (+3, -1): their difference is right, so they cost nothing.
        let target = Tensor(shape: [4, 2], values: [0, 0, 2, 1, -1, 4, 5, 5])
        let shifted = Tensor(shape: [4, 2], values: [3, -1, 5, 0, -1, 4, 5, 5])
        let (zero, dZero) = pairedDifferenceError(shifted, target, pairs: [(0, 1)])
        #expect(zero == 0 && dZero.values.allSatisfy { $0 == 0 })
        // By hand: pair (2, 3) differs by (-6, -1) against (-6, -1) + (1, 2).
        let prediction = Tensor(shape: [4, 2], values: [3, -1, 5, 0, 0, 6, 5, 5])
        let (loss, gradient) = pairedDifferenceError(prediction, target, pairs: [(0, 1), (2, 3)])
        #expect(abs(loss - 5 / 4) < 1e-6)
        #expect(gradient.values == [0, 0, 0, 0, 0.5, 1, -0.5, -1])
        let (none, _) = pairedDifferenceError(prediction, target, pairs: [])
        #expect(none == 0)
        let p = randomTensor([6, 2], seed: 3), t = randomTensor([6, 2], seed: 4)
        let pairs = [(0, 1), (2, 3), (5, 4)]
        let analytic = pairedDifferenceError(p, t, pairs: pairs).gradient
        for i in 0..<p.count {
            var plus = p, minus = p
            plus[flat: i] += 1e-2
            minus[flat: i] -= 1e-2
            let numeric = (pairedDifferenceError(plus, t, pairs: pairs).loss - pairedDifferenceError(minus, t, pairs: pairs).loss) / 2e-2
            #expect(abs(numeric - analytic[flat: i]) < 2e-3, "element \(i): \(numeric) vs \(analytic[flat: i])")
        }
    }
}

@Suite struct PixelPath {
    /// Area averaging straight from the bytes (integer row sums, AVX2 where there is) equals it on
    /// the normalised tensor, on an HD-like frame whose rows do not split evenly.
    @Test func poolingFromBytesEqualsPoolingTheTensor() throws {
        var image = RGBImage(width: 1283, height: 721)
        var rng = SplitMix64(seed: 5)
        for i in 0..<image.pixels.count { image.pixels[i] = UInt8(truncatingIfNeeded: rng.next()) }
        let bytes = try ImageNormalization.pixelBatch([image, image])
        for (oh, ow) in [(54, 96), (96, 96), (7, 3)] {
            expectClose(AdaptiveAvgPool2D.forward(bytes, outputHeight: oh, outputWidth: ow),
                        AdaptiveAvgPool2D.forward(bytes.tensor, outputHeight: oh, outputWidth: ow), 1e-5, "\(oh)x\(ow)")
        }
    }

    /// The byte path (what training, eval and predict use) equals the tensor path the parity tests check.
    @Test func pixelBatchEqualsNormalisedTensor() throws {
        let model = try GazeNet(weightsAt: Fixtures.path("model/depth6.weights.safetensors"))
        var a = RGBImage(width: 80, height: 60), b = RGBImage(width: 80, height: 60)
        for i in 0..<a.pixels.count { a.pixels[i] = UInt8(i * 31 % 256); b.pixels[i] = UInt8(i * 17 % 253) }
        let bytes = try ImageNormalization.pixelBatch([a, b]), tensor = try ImageNormalization.tensor([a, b])
        expectClose(bytes.tensor, tensor, 1e-6, "normalisation")
        let x = model(bytes)
        let y = model(tensor)
        expectClose(x.gazeCm, y.gazeCm, 1e-5, "gaze")
        expectClose(x.resampled, y.resampled, 1e-4, "resampled")
        guard let grid = y.grid else {
            Issue.record("no grid")
            return
        }
        let d = randomTensor(y.resampled.shape, seed: 2)
        expectClose(bytes.gridGradient(d, grid: grid), tensor.gridGradient(d, grid: grid), 1e-4, "grid gradient")
    }
}

@Suite struct TrainingLoop {
    static let dataset: String = {
        var o = SyntheticDataset.Options()
        (o.recordings, o.dotsPerRecording, o.framesPerDot, o.seed) = (6, 6, 2, 21)
        let dir = Fixtures.temporaryDirectory()
        _ = try! SyntheticDataset.write(o, to: dir)
        return dir
    }()

    func options(epochs: Int) -> Trainer.Options {
        var o = Trainer.Options()
        (o.epochs, o.batchSize, o.dropout, o.augment) = (epochs, 8, 0, false)
        return o
    }

    /// One epoch on the suite's dataset with `options(epochs: 1)` changed by `change`; fails the
    /// test if the run does not finish.
    func trainOneEpoch(_ model: GazeNet, _ change: (inout Trainer.Options) -> Void) throws -> Trainer {
        var o = options(epochs: 1)
        change(&o)
        let trainer = try Trainer(model: model, dataset: try GazeCaptureDataset(root: Self.dataset), options: o, runDirectory: Fixtures.temporaryDirectory())
        #expect(try trainer.run(log: { _ in }, progress: { _ in }))
        return trainer
    }

    @Test func lossFallsCheckpointsLoadAndResumeContinues() throws {
        let model = try GazeNet(config: testConfig, seed: 3)
        let run = Fixtures.temporaryDirectory()
        let trainer = try Trainer(model: model, dataset: try GazeCaptureDataset(root: Self.dataset), options: options(epochs: 3), runDirectory: run)
        #expect(try trainer.run(log: { _ in }, progress: { _ in }))
        #expect(trainer.history.count == 3)
        #expect(trainer.history.last!.trainLoss < trainer.history.first!.trainLoss)
        let best = try GazeNet(weightsAt: run + "/best.safetensors")
        #expect(best.config == testConfig)
        let log = try String(contentsOfFile: run + "/log.csv", encoding: .utf8)
        #expect(log.split(separator: "\n").count == 4)
        // Resume: a new trainer with more epochs continues after epoch 3.
        let again = try Trainer(model: try GazeNet(config: testConfig, seed: 99), dataset: try GazeCaptureDataset(root: Self.dataset),
                                options: options(epochs: 4), runDirectory: run)
        #expect(try again.resume() == 3)
        #expect(try again.run(log: { _ in }, progress: { _ in }))
        #expect(again.history.map(\.epoch) == [1, 2, 3, 4])
    }

    /// A diverging run stops with an error at the first non-finite loss; no model is written or
    /// announced as the best.
    @Test func aNonFiniteLossStopsTrainingWithoutSavingAModel() throws {
        var o = options(epochs: 1)
        o.learningRate = .infinity
        let run = Fixtures.temporaryDirectory()
        let trainer = try Trainer(model: try GazeNet(config: testConfig, seed: 8), dataset: try GazeCaptureDataset(root: Self.dataset),
                                  options: o, runDirectory: run)
        do {
            _ = try trainer.run(log: { _ in }, progress: { _ in })
            Issue.record("training with an infinite rate finished")
        } catch {
            #expect("\(error)".contains("training diverged"), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: run + "/best.safetensors"))
    }

    @Test func frozenSaliencyStaysFixedAndPretrainingMovesTheMapOntoTheEyes() throws {
        let model = try GazeNet(config: testConfig, seed: 4)
        let before = model.parameter("saliency.conv1.weight")!.value.values
        _ = try trainOneEpoch(model) { $0.saliencyLearningRate = 0 }
        #expect(model.parameter("saliency.conv1.weight")!.value.values == before)
        #expect(model.parameter("task.classifier.6.weight")!.value.values != (try GazeNet(config: testConfig, seed: 4)).parameter("task.classifier.6.weight")!.value.values)

        var p = options(epochs: 1)
        (p.pretrainSaliencySteps, p.saliencyLearningRate) = (30, 0)
        var lines: [String] = []
        let pre = try Trainer(model: try GazeNet(config: testConfig, seed: 5), dataset: try GazeCaptureDataset(root: Self.dataset), options: p,
                              runDirectory: Fixtures.temporaryDirectory())
        _ = try pre.run(log: { lines.append($0) }, progress: { _ in })
        let summary = try #require(lines.first { $0.hasPrefix("saliency pretraining: 30 steps") })
        // "KL a -> b, mass on the eyes c% -> d%": the divergence falls and the eyes gain mass.
        let numbers = summary.split(whereSeparator: { !"0123456789.".contains($0) }).compactMap { Double($0) }
        #expect(numbers.count >= 5 && numbers[2] < numbers[1] && numbers[4] > numbers[3], "\(summary)")
    }

    @Test func mirroringReversesRowsAndNegatesTheLabelsX() throws {
        let frames = BatchLoader.frames(of: try GazeCaptureDataset(root: Self.dataset), FrameSelection(split: nil, validOnly: true)).frames
        let loader = BatchLoader(frames: frames, batchSize: 8, seed: 1)
        let indices = Array(frames.indices.filter { !frames[$0].orientation.isLandscape }.prefix(16))
        var a = SplitMix64(seed: 5), b = SplitMix64(seed: 5)
        let plain = try #require(loader.load(indices, augment: false, rng: &a))
        let mixed = try #require(loader.load(indices, augment: false, mirror: true, rng: &b))
        #expect(plain.mirrored.allSatisfy { !$0 })
        #expect(mixed.mirrored.contains(true) && mixed.mirrored.contains(false))
        let (h, w) = (plain.images.height, plain.images.width)
        for i in 0..<indices.count {
            let (x, y) = (plain.targets[flat: 2 * i], plain.targets[flat: 2 * i + 1])
            #expect(mixed.targets[flat: 2 * i] == (mixed.mirrored[i] ? -x : x) && mixed.targets[flat: 2 * i + 1] == y)
            // Pixel (row, col) of a mirrored image is pixel (row, w - 1 - col) of the original.
            for (row, col) in [(0, 0), (h / 2, 7), (h - 1, w / 3)] {
                let source = mixed.mirrored[i] ? w - 1 - col : col
                for c in 0..<3 {
                    #expect(mixed.images.bytes[((i * h + row) * w + col) * 3 + c] == plain.images.bytes[((i * h + row) * w + source) * 3 + c])
                }
            }
        }
    }

    @Test func trainingWithThePairedLossRunsAndMovesTheWeights() throws {
        let model = try GazeNet(config: testConfig, seed: 6)
        let before = model.parameter("task.classifier.6.weight")!.value.values
        let trainer = try trainOneEpoch(model) { $0.pairLossWeight = 1 }
        #expect(trainer.history.count == 1 && trainer.history[0].trainLoss.isFinite)
        #expect(model.parameter("task.classifier.6.weight")!.value.values != before)
    }

    @Test func pairedBatchesHoldTwoFramesOfOneRecordingSideBySide() throws {
        let frames = BatchLoader.frames(of: try GazeCaptureDataset(root: Self.dataset), FrameSelection(split: nil, validOnly: true)).frames
        let loader = BatchLoader(frames: frames, batchSize: 8, seed: 1)
        loader.pairs = true
        let plan = loader.plan(epoch: 2)
        #expect(plan.flatMap { $0 }.sorted() == Array(frames.indices))
        var paired = 0
        for batch in plan {
            let recordings = batch.map { frames[$0].recordingID }
            #expect(Set(batch.map { frames[$0].orientation.isLandscape }).count == 1)
            let pairs = Trainer.pairs(batch.map { frames[$0] })
            paired += 2 * pairs.count
            #expect(pairs.allSatisfy { recordings[$0.0] == recordings[$0.1] && $0.1 == $0.0 + 1 })
        }
        // Only a recording's odd frame out goes unpaired.
        let recordings = Set(frames.map(\.recordingID))
        #expect(frames.count - paired <= recordings.count)
        #expect(paired > frames.count * 3 / 4)
        // A different epoch pairs the frames differently.
        #expect(loader.plan(epoch: 3) != plan)
    }

    /// A phone held upright (480x640) and a laptop (1280x720) both record in orientation 1:
    /// batches are made by the frames' own sizes, and every frame is loaded, none left out.
    @Test func batchesHoldFramesOfOneSizeAndLeaveNoneOut() throws {
        var o = SyntheticDataset.Options()
        (o.recordings, o.dotsPerRecording, o.framesPerDot, o.seed) = (6, 3, 1, 31)
        o.setups = try SetupMix(parsing: "phone,laptop")
        let dir = Fixtures.temporaryDirectory()
        _ = try SyntheticDataset.write(o, to: dir)
        let frames = BatchLoader.frames(of: try GazeCaptureDataset(root: dir), FrameSelection(split: nil, validOnly: false)).frames
        let sizes = try frames.map { try RGBImage.size(ofFileAt: $0.imagePath) }
        #expect(Set(sizes.map { "\($0.width)x\($0.height)" }).count >= 2, "\(sizes)")
        let loader = BatchLoader(frames: frames, batchSize: 8, seed: 1)
        let plan = loader.plan(epoch: 0)
        #expect(plan.flatMap { $0 }.sorted() == Array(frames.indices))
        var loaded = 0
        for batch in plan {
            #expect(Set(batch.map { sizes[$0].width }).count == 1 && Set(batch.map { sizes[$0].height }).count == 1)
            var rng = SplitMix64(seed: 2)
            loaded += try #require(loader.load(batch, augment: false, rng: &rng)).frames.count
        }
        #expect(loaded == frames.count && loader.unreadable.isEmpty, "\(loader.unreadable)")
    }

    /// The eye anchor's gradient, as `backward` takes it with no gaze error, is the derivative of
    /// w * KL(target || map) by finite differences, on the saliency head.
    @Test func eyeAnchorGradientIsTheDivergencesDerivative() throws {
        let model = try GazeNet(config: testConfig, seed: 12)
        let frames = BatchLoader.frames(of: try GazeCaptureDataset(root: Self.dataset), FrameSelection(split: nil, validOnly: true)).frames
        let loader = BatchLoader(frames: frames, batchSize: 4, seed: 1)
        var rng = SplitMix64(seed: 3)
        let batch = try #require(loader.load(Array(loader.plan(epoch: 0)[0].prefix(3)), augment: false, mirror: true, rng: &rng))
        let pre = SaliencyPretraining()
        // One frame without a target: it adds nothing to the loss.
        let targets: [Tensor?] = batch.frames.indices.map { b in
            b == 1 ? nil : pre.target(batch.frames[b], width: batch.images.width, height: batch.images.height, mirrored: batch.mirrored[b])
        }
        let weight: Float = 3
        func loss() -> Double {
            Double(weight) * SaliencyPretraining.divergence(model.saliencyMap(batch.images, training: true).map, targets: targets).kl
        }
        var settings = GazeNet.TrainingSettings()
        settings.dropout = 0
        model.zeroGradients()
        let (output, cache) = model.forward(batch.images, training: settings, rng: &rng)
        let dLogits = SaliencyPretraining.divergence(try #require(output.saliency), targets: targets).dLogits
        model.backward(Tensor(zeros: [batch.frames.count, 2]), cache, dSaliencyLogits: Elementwise.map(dLogits) { $0 * weight })
        // On the head, the 1x1 convolution under the map, the loss is smooth in the weights (the
        // layers below add ReLU and max-pooling kinks that a difference quotient trips on; their
        // backward is the one TrainingStepParity checks against PyTorch). The bias shifts every
        // logit alike, which the softmax ignores: its gradient is zero.
        for name in ["saliency_head.weight", "saliency_head.bias"] {
            let p = try #require(model.parameter(name))
            for index in 0..<p.value.count {
                let analytic = Double(p.gradient[flat: index]), original = p.value[flat: index], h: Float = 1e-2
                p.value[flat: index] = original + h
                let up = loss()
                p.value[flat: index] = original - h
                let down = loss()
                p.value[flat: index] = original
                let numeric = (up - down) / Double(2 * h)
                #expect(abs(analytic - numeric) <= 0.01 * abs(numeric) + 1e-3, "\(name)[\(index)]: \(analytic) against \(numeric)")
            }
        }
        let moved = try #require(model.parameter("saliency_head.weight")).gradient.values.map { abs($0) }.max() ?? 0
        #expect(moved > 0.05, "the anchor barely moves the head: \(moved)")
    }

    @Test func eyeTargetIsADistributionPeakingAtTheEyes() throws {
        let dataset = try GazeCaptureDataset(root: Self.dataset)
        let frame = try #require(try dataset.recording("00000").frames.first { $0.isValid })
        let target = try #require(SaliencyPretraining().target(frame, width: 480, height: 640))
        #expect(abs(target.values.reduce(0, +) - 1) < 1e-4)
        #expect(SaliencyPretraining().eyeMass(target, frame, width: 480, height: 640) > 0.3)
        // A lower floor leaves more of the mass on the eyes, and the rest still spread evenly.
        var sharper = SaliencyPretraining()
        sharper.floor = 0.02
        let zoomed = try #require(sharper.target(frame, width: 480, height: 640))
        #expect(abs(zoomed.values.reduce(0, +) - 1) < 1e-4)
        #expect(sharper.eyeMass(zoomed, frame, width: 480, height: 640) > SaliencyPretraining().eyeMass(target, frame, width: 480, height: 640))
        #expect(abs(Double(zoomed.values.min() ?? 0) - 0.02 / 961) < 1e-6)
        // The mirrored frame's target is the target's columns reversed.
        let flipped = try #require(SaliencyPretraining().target(frame, width: 480, height: 640, mirrored: true))
        for r in 0..<31 {
            for c in 0..<31 { #expect(abs(flipped[flat: r * 31 + c] - target[flat: r * 31 + 30 - c]) < 1e-6) }
        }
    }

    @Test func initFromLoadsMatchingNamesAndReportsTheRest() throws {
        let source = try GazeNet(config: testConfig, seed: 8)
        let path = Fixtures.temporaryDirectory() + "/w.safetensors"
        try Checkpoint.save(source, to: path)
        var other = testConfig
        other.hidden = 16  // the task's hidden layers change shape
        let target = try GazeNet(config: other, seed: 9)
        let report = try Checkpoint.loadMatching(path, into: target)
        #expect(target.parameter("saliency.conv1.weight")!.value.values == source.parameter("saliency.conv1.weight")!.value.values)
        #expect(report.shapeMismatch.contains { $0.hasPrefix("task.classifier.1.weight") })
        #expect(!report.loaded.contains("task.classifier.4.weight"))
    }
}

/// A small model that trains in seconds.
let testConfig = ModelConfig(taskSize: 64, saliencySize: 32, depth: 6, saliencyWidth: 8, alexWidths: [8, 16, 16, 16, 16], hidden: 32)

@Suite struct PresenceFit {
    /// Desk recordings with empty rooms and closed eyes among their frames.
    static let dataset: String = {
        var o = SyntheticDataset.Options()
        (o.recordings, o.dotsPerRecording, o.framesPerDot, o.seed) = (6, 12, 2, 5)
        o.setups = try! SetupMix(parsing: "laptop")
        o.frameSize = (320, 180)
        let dir = Fixtures.temporaryDirectory()
        _ = try! SyntheticDataset.write(o, to: dir)
        return dir
    }()

    @Test func theHeadLearnsWhoIsThereAndLeavesTheGazeAlone() throws {
        let model = try GazeNet(config: testConfig, seed: 4)
        let frames = try GazeCaptureDataset(root: Self.dataset).recordingIDs.flatMap { try GazeCaptureDataset(root: Self.dataset).recording($0).frames }
        let (fitted, report) = try PresenceFitting().fit(model, frames: frames)
        #expect(report.heads.map(\.head) == ["presence", "face-in-view"], "\(report)")
        #expect(fitted.config.presence && fitted.config.faceInView && model.presence == nil)
        for head in report.heads {
            #expect(head.positives > 0 && head.negatives > 0, "\(report)")
            // Right on more of the frames it was fitted on than "always a face" would be, and on
            // some of those without one.
            #expect(head.accuracy > Double(head.positives) / Double(head.positives + head.negatives), "\(report)")
            #expect(head.negativeAccuracy > 0.3, "\(report)")
        }
        // The face-in-view head decides among the frames without a face with open eyes.
        #expect(report.heads[1].positives + report.heads[1].negatives == report.heads[0].negatives, "\(report)")
        let images = try frames.prefix(4).map { try RGBImage(contentsOf: $0.imagePath) }
        let before = try model.estimate(images), after = try fitted.estimate(images)
        #expect(before.map(\.point) == after.map(\.point))
        #expect(after.allSatisfy { $0.presence.map { (0...1).contains($0) } ?? false })
        #expect(after.allSatisfy { $0.faceInView.map { (0...1).contains($0) } ?? false })
        // A file written with the heads loads with them.
        let path = Fixtures.temporaryDirectory() + "/p.safetensors"
        try Checkpoint.save(fitted, to: path)
        let loaded = try GazeNet(weightsAt: path).estimate(images)
        #expect(loaded.map(\.presence) == after.map(\.presence) && loaded.map(\.faceInView) == after.map(\.faceInView))
        // Fitting the face-in-view head alone keeps the presence head as it was.
        var faceOnly = PresenceFitting()
        faceOnly.fitsPresence = false
        let (refitted, alone) = try faceOnly.fit(fitted, frames: frames)
        #expect(alone.heads.map(\.head) == ["face-in-view"])
        #expect(refitted.presence?.weight.value.values == fitted.presence?.weight.value.values)
    }

    @Test func trainingTheHeadWithTheNetworkUsesEveryFrame() throws {
        var config = testConfig
        config.presence = true
        let model = try GazeNet(config: config, seed: 4)
        let headBefore = try #require(model.presence).weight.value
        let convBefore = model.task.conv[0].weight.value
        var options = Trainer.Options()
        (options.epochs, options.batchSize, options.presenceWeight, options.validationLimit) = (1, 16, 1, 8)
        let trainer = try Trainer(model: model, dataset: GazeCaptureDataset(root: Self.dataset), options: options,
                                  runDirectory: Fixtures.temporaryDirectory())
        var lines: [String] = []
        #expect(try trainer.run(log: { lines.append($0) }, progress: { _ in }))
        // Invalid frames are in the batches, and the head and AlexNet both moved.
        let start = try #require(lines.first { $0.hasPrefix("training on") })
        #expect(start.contains("without a face with open eyes") && !start.contains("(0 without"), "\(start)")
        #expect(model.presence?.weight.value.values != headBefore.values && model.task.conv[0].weight.value.values != convBefore.values)
        // Without a head there is nothing to train.
        let headless = try GazeNet(config: testConfig, seed: 4)
        let refused = try Trainer(model: headless, dataset: GazeCaptureDataset(root: Self.dataset), options: options,
                                  runDirectory: Fixtures.temporaryDirectory())
        #expect(throws: TrainingError.self) { try refused.run(log: { _ in }, progress: { _ in }) }
    }

    @Test func crossEntropyStaysFiniteAtLargeLogitsAndCountsOnlyValidRowsForGaze() {
        let (loss, gradient) = binaryCrossEntropy(logits: Tensor(shape: [3], values: [100, -100, 0]), labels: [true, false, true])
        #expect(abs(loss - Float(log(2.0) / 3)) < 1e-6)
        #expect(abs(gradient[flat: 0]) < 1e-6 && abs(gradient[flat: 1]) < 1e-6 && abs(gradient[flat: 2] + 0.5 / 3) < 1e-6)
        // A wrong, confident logit costs about its size.
        #expect(abs(binaryCrossEntropy(logits: Tensor(shape: [1], values: [-80]), labels: [true]).loss - 80) < 1e-3)
        let prediction = Tensor(shape: [2, 2], values: [1, 2, 50, 50]), target = Tensor(shape: [2, 2], values: [0, 0, 0, 0])
        let (mse, dMSE) = meanSquaredError(prediction, target, rows: [true, false])
        #expect(mse == 2.5 && dMSE.values == [1, 2, 0, 0])
        #expect(meanSquaredError(prediction, target, rows: [false, false]).loss == 0)
    }

    /// The face-in-view head reads the saliency map: asked of the plain-AlexNet baseline it is an
    /// error; without it, the presence head alone is fitted.
    @Test func withoutTheSamplerOnlyThePresenceHeadFits() throws {
        var config = testConfig
        config.sampler = false
        let model = try GazeNet(config: config, seed: 4)
        let dataset = try GazeCaptureDataset(root: Self.dataset)
        let frames = try dataset.recordingIDs.flatMap { try dataset.recording($0).frames }
        #expect(throws: TrainingError.self) { try PresenceFitting().fit(model, frames: frames) }
        var presenceOnly = PresenceFitting()
        presenceOnly.fitsFaceInView = false
        let (fitted, report) = try presenceOnly.fit(model, frames: frames)
        #expect(report.heads.map(\.head) == ["presence"] && fitted.presence != nil && fitted.faceInView == nil)
    }

    @Test func oneClassAloneIsAnError() throws {
        let model = try GazeNet(config: testConfig, seed: 4)
        let frames = try GazeCaptureDataset(root: Self.dataset).recording("00000").frames.filter(\.isValid)
        #expect(throws: TrainingError.self) { try PresenceFitting().fit(model, frames: frames) }
    }
}
