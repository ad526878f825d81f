import Foundation
import FovealIO
import FovealModel
import FovealTensor
import FovealEvaluation
import GazeCapture

/// End-to-end training of a `GazeNet` on a GazeCapture-layout dataset, with per-family validation
/// after each epoch, `best` and `last` checkpoints, a CSV log and clean interruption.
public final class Trainer {
    public struct Options: Sendable {
        public var epochs = 8
        public var batchSize = 64
        public var learningRate: Float = 1e-3
        /// Learning rate of the saliency path (`saliency.*`, `saliency_head.*`); 0 freezes it
        /// (it then runs as at inference and gets no gradient). nil: the same as the task network.
        public var saliencyLearningRate: Float?
        public var optimizer: Optimizer.Kind = .adam
        public var weightDecay: Float = 0
        public var schedule: ScheduleKind = .cosine
        public var clipNorm: Float = 10
        public var dropout: Float = 0.5
        /// Epochs of the blur warm-up (paper section 3.3): the resampled image is area-downsampled
        /// to a random side in [task/4, task] and resized back.
        public var blurEpochs = 0
        public var augment = true
        /// Left-right mirroring of half the frames (with the label's x negated).
        public var mirror = false
        /// Weight of the paired-difference loss (`pairedDifferenceError`) added to the mean
        /// squared error; above 0, batches are built from pairs of frames of one recording. The
        /// logged training loss stays the mean squared error alone, comparable between runs.
        public var pairLossWeight: Float = 0
        public var seed: UInt64 = 1
        /// Saliency pretraining on the eye boxes before training (steps; 0 = none).
        public var pretrainSaliencySteps = 0
        public var pretrainLearningRate: Float = 1e-3
        /// The share of the pretraining target spread evenly over the map (`SaliencyPretraining.floor`):
        /// the lower, the harder the sampler zooms into the eyes.
        public var pretrainFloor = 0.1
        /// Weight of the eye anchor: while the saliency path trains, the pretraining's loss
        /// (KL(eye-box target || map), `SaliencyPretraining`, with `pretrainFloor`) over the
        /// batch's frames with both eyes annotated is added with this weight, so that the gaze
        /// error cannot pull the map off the eyes, which `ShippedModelAtADesk` checks (0: off).
        public var eyeAnchorWeight: Float = 0
        /// At most this many training frames (nil: all).
        public var trainLimit: Int?
        /// At most this many validation frames per epoch (nil: all).
        public var validationLimit: Int?
        /// Train the presence head with the network (training/recipe.py's joint loss): the batches
        /// also hold invalid frames (no face, eyes closed), the gaze error counts valid frames
        /// only, and the head's binary cross-entropy over every frame is added with this weight.
        /// nil: gaze alone, on valid frames.
        public var presenceWeight: Float?

        public init() {}
    }

    public enum ScheduleKind: String, Sendable, CaseIterable { case constant, step, cosine }

    /// The step schedule divides the rate by 10 at each third of the run.
    static let stepScheduleDrops = 3
    static let stepScheduleFactor: Float = 0.1
    /// Dropout and blur draw from their own stream, apart from initialisation's and the
    /// loader's (which use the seed itself), so changing one does not move the others.
    static let dropoutStreamOffset: UInt64 = 77

    /// One epoch's line of the log.
    public struct EpochRecord: Codable, Sendable {
        public var epoch: Int
        public var steps: Int
        public var trainLoss: Double
        public var validationMeanCm: Double
        public var validationPerFamily: [String: Double]
        public var imagesPerSecond: Double
        public var seconds: Double
        public var learningRate: Double
    }

    /// Progress of the current epoch, for a progress bar.
    public struct StepProgress: Sendable {
        public var epoch: Int, epochs: Int, batch: Int, batches: Int
        public var loss: Double, imagesPerSecond: Double
    }

    public let model: GazeNet
    public let dataset: GazeCaptureDataset
    public let options: Options
    public let runDirectory: String
    public private(set) var history: [EpochRecord] = []
    let optimizer: Optimizer
    var startEpoch = 0
    var globalStep = 0
    var bestValidation = Double.infinity

    public init(model: GazeNet, dataset: GazeCaptureDataset, options: Options, runDirectory: String) throws {
        (self.model, self.dataset, self.options, self.runDirectory) = (model, dataset, options, runDirectory)
        optimizer = Optimizer(options.optimizer, weightDecay: options.weightDecay)
        do {
            try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true)
        } catch {
            throw FileFormatError(runDirectory, "cannot create the run folder: \(error.localizedDescription)")
        }
    }

    public var lastPath: String { runDirectory + "/last.safetensors" }
    public var bestPath: String { runDirectory + "/best.safetensors" }
    var optimizerPath: String { runDirectory + "/last.optimizer.safetensors" }
    var logPath: String { runDirectory + "/log.csv" }

    /// Continues from `last` in the run folder: weights, optimizer state, epoch, best validation.
    /// Everything is checked against the model and the options before anything is changed: the
    /// configuration, every tensor's shape and finiteness, and the epoch and step counts.
    public func resume() throws -> Int {
        let file = try SafeTensorsFile(path: lastPath)
        guard let json = file.metadata["config"], try ModelConfig.decode(json: json) == model.config else {
            throw FileFormatError(lastPath, "was trained with another model configuration")
        }
        var values: [(Parameter, Tensor)] = []
        for p in model.parameters {
            guard file.entries[p.name] != nil else { throw FileFormatError(lastPath, "has no tensor '\(p.name)'") }
            let t = try file.tensor(p.name)
            guard t.shape == p.value.shape else { throw FileFormatError(lastPath, "tensor '\(p.name)' has shape \(t.shape), the model \(p.value.shape)") }
            guard t.withUnsafeBufferPointer({ $0.allSatisfy(\.isFinite) }) else { throw FileFormatError(lastPath, "tensor '\(p.name)' holds a non-finite number") }
            values.append((p, t))
        }
        let epoch = Double(file.metadata["epoch"] ?? "0") ?? .nan, step = Double(file.metadata["step"] ?? "0") ?? .nan
        guard let startEpoch = wholeNumber(epoch, in: 0...options.epochs) else {
            throw FileFormatError(lastPath, "its epoch is \(file.metadata["epoch"] ?? "?"): resuming needs one from 0 to --epochs (\(options.epochs))")
        }
        guard let globalStep = wholeNumber(step, in: 0...(1 << 40)) else { throw FileFormatError(lastPath, "its step is \(file.metadata["step"] ?? "?"), not a step count") }
        let state = try SafeTensorsFile(path: optimizerPath)
        var tensors: [String: Tensor] = [:]
        for name in state.names { tensors[name] = try state.tensor(name) }
        try optimizer.restore(tensors, for: model.trainableParameters, path: optimizerPath)
        for (p, t) in values { p.value = t }
        (self.startEpoch, self.globalStep) = (startEpoch, globalStep)
        bestValidation = Double(file.metadata["best_validation_cm"] ?? "").flatMap { $0.isFinite && $0 >= 0 ? $0 : nil } ?? .infinity
        if let data = FileManager.default.contents(atPath: runDirectory + "/log.json"),
           let records = try? JSONDecoder().decode([EpochRecord].self, from: data) {
            history = records.filter { $0.epoch <= startEpoch }
        }
        return startEpoch
    }

    /// Trains; returns true if it ran to the end, false if `cancellation` stopped it (then
    /// `last` is saved at the next batch boundary first).
    public func run(cancellation: Cancellation = Cancellation(), log: (String) -> Void, progress: (StepProgress) -> Void) throws -> Bool {
        let joint = options.presenceWeight != nil
        if joint, model.presence == nil { throw TrainingError("training the presence head needs a model configured with one") }
        let train = BatchLoader.frames(of: dataset, FrameSelection(split: "train", validOnly: !joint, limit: options.trainLimit))
        guard train.frames.contains(where: \.isValid) else { throw FileFormatError(dataset.root, "no valid frames in the train split") }
        for p in train.problems { log("skipped \(p)") }
        func loader(_ frames: [GazeCaptureFrame]) -> BatchLoader {
            let loader = BatchLoader(frames: frames, batchSize: options.batchSize, seed: options.seed)
            if !options.augment { (loader.brightness, loader.contrast) = (0, 0) }
            loader.pairs = options.pairLossWeight > 0
            return loader
        }
        let trainLoader = loader(train.frames)
        let batchesPerEpoch = trainLoader.plan(epoch: 0).count
        let totalSteps = batchesPerEpoch * options.epochs
        let invalid = train.frames.count { !$0.isValid }
        log("training on \(train.frames.count) frames\(joint ? " (\(invalid) without a face with open eyes)" : ""), "
            + "\(batchesPerEpoch) batches per epoch, \(options.epochs) epochs")

        if startEpoch == 0, options.pretrainSaliencySteps > 0, model.config.sampler {
            // The eye-box targets need both eyes annotated: valid frames only.
            try pretrainSaliency(joint ? loader(train.frames.filter(\.isValid)) : trainLoader, log: log)
        }
        let saliencyRate = options.saliencyLearningRate ?? options.learningRate
        var settings = GazeNet.TrainingSettings()
        settings.dropout = options.dropout
        settings.trainSaliency = model.config.sampler && saliencyRate > 0
        settings.trainPresence = joint
        let anchored = options.eyeAnchorWeight > 0 && settings.trainSaliency
        var rng = SplitMix64(seed: options.seed &+ Self.dropoutStreamOffset &+ UInt64(startEpoch))
        for epoch in startEpoch..<options.epochs {
            let start = Date()
            let skippedBefore = trainLoader.unreadable.count
            var lossSum = 0.0, seen = 0, batchIndex = 0
            var rate: Float = 0
            for batch in trainLoader.batches(epoch: epoch, augment: options.augment, mirror: options.mirror) {
                if cancellation.isCancelled {
                    try saveLast(epoch: epoch)
                    log("interrupted: saved \(lastPath) (resumes at epoch \(epoch + 1) with --resume)")
                    return false
                }
                let schedule: LearningRateSchedule = switch options.schedule {
                case .constant: .constant
                case .step: .step(every: max(1, totalSteps / Self.stepScheduleDrops), factor: Self.stepScheduleFactor)
                case .cosine: .cosine(total: totalSteps)
                }
                rate = schedule.rate(options.learningRate, step: globalStep)
                let saliencyNow = schedule.rate(saliencyRate, step: globalStep)
                settings.blurSide = epoch < options.blurEpochs
                    ? Int(rng.uniform(Float(model.config.taskSize) / 4, Float(model.config.taskSize) + 1)) : nil
                let loss: Float
                do {
                    loss = try step(batch.images, targets: batch.targets, valid: joint ? batch.frames.map(\.isValid) : nil,
                                    pairs: options.pairLossWeight > 0 ? Self.pairs(batch.frames) : [],
                                    eyeTargets: anchored ? eyeTargets(batch) : [],
                                    settings: settings, rate: rate, saliencyRate: saliencyNow, rng: &rng)
                } catch let error as TrainingError {
                    throw TrainingError("\(error) at epoch \(epoch + 1), batch \(batchIndex + 1); the last finite checkpoint is \(lastPath)")
                }
                globalStep += 1
                batchIndex += 1
                lossSum += Double(loss) * Double(batch.frames.count)
                seen += batch.frames.count
                progress(StepProgress(epoch: epoch + 1, epochs: options.epochs, batch: batchIndex, batches: batchesPerEpoch,
                                      loss: lossSum / Double(seen), imagesPerSecond: Double(seen) / Date().timeIntervalSince(start)))
            }
            let seconds = Date().timeIntervalSince(start)
            let skipped = trainLoader.unreadable.dropFirst(skippedBefore)
            if let first = skipped.first { log("skipped \(skipped.count) frames this epoch, the first: \(first)") }
            let validation = try Evaluator(model: model).run(dataset, FrameSelection(split: "val", validOnly: true, limit: options.validationLimit))
            let record = EpochRecord(epoch: epoch + 1, steps: globalStep, trainLoss: lossSum / Double(max(1, seen)),
                                     validationMeanCm: validation.overall.meanCm,
                                     validationPerFamily: validation.families.mapValues(\.meanCm),
                                     imagesPerSecond: Double(seen) / seconds, seconds: seconds, learningRate: Double(rate))
            history.append(record)
            let families = record.validationPerFamily.sorted { $0.key < $1.key }.map { String(format: "%@ %.2f", $0.key, $0.value) }
            let presence = validation.presence.map { String(format: ", presence %.1f%% right (%d frames)", 100 * $0.accuracy, $0.frames) } ?? ""
            log(String(format: "epoch %d/%d: train loss %.3f, validation %.3f cm (%@)%@, %.0f images/s",
                       epoch + 1, options.epochs, record.trainLoss, record.validationMeanCm,
                       families.joined(separator: ", "), presence, record.imagesPerSecond))
            if validation.overall.frames > 0, validation.overall.meanCm.isFinite, validation.overall.meanCm < bestValidation {
                bestValidation = validation.overall.meanCm
                try Checkpoint.save(model, to: bestPath, metadata: ["epoch": "\(epoch + 1)", "validation_cm": "\(bestValidation)"])
            }
            try saveLast(epoch: epoch + 1)
            try writeLog()
        }
        if !FileManager.default.fileExists(atPath: bestPath) { try Checkpoint.save(model, to: bestPath) }
        return true
    }

    /// One optimisation step: forward, mean squared error (plus the paired-difference loss over
    /// `pairs`), backward, gradient clipping, optimizer step at `rate` (`saliencyRate` for the
    /// saliency path, which `settings.trainSaliency` false freezes). training/recipe.py's
    /// `train_step` is this step in PyTorch; a fixture of it keeps the two equal.
    ///
    /// `valid` marks the frames with a face and open eyes (nil: all): the gaze error counts
    /// those, and with `settings.trainPresence` the presence head's binary cross-entropy over
    /// every frame, times `options.presenceWeight`, is added. `eyeTargets` (one per frame, nil
    /// where it has none; empty: no anchor) are the eye anchor's maps, whose divergence from the
    /// saliency maps is added times `options.eyeAnchorWeight`. Returns the mean squared error;
    /// throws, before changing the model, when the loss is not finite.
    public func step(_ images: some GazeNetInput, targets: Tensor, valid: [Bool]? = nil, pairs: [(Int, Int)] = [],
                     eyeTargets: [Tensor?] = [], settings: GazeNet.TrainingSettings, rate: Float, saliencyRate: Float,
                     rng: inout SplitMix64) throws -> Float {
        let trainable = model.trainedParameters(settings)
        model.zeroGradients()
        let (output, cache) = model.forward(images, training: settings, rng: &rng)
        let (loss, dSquared) = meanSquaredError(output.gazeCm, targets, rows: valid)
        var dPresence: Tensor?, crossEntropy: Float = 0
        if settings.trainPresence, let logits = cache.presenceLogits {
            let labels = valid ?? [Bool](repeating: true, count: logits.count)
            let weight = options.presenceWeight ?? 1
            let (bce, dLogits) = binaryCrossEntropy(logits: logits, labels: labels)
            (crossEntropy, dPresence) = (bce, Elementwise.map(dLogits) { $0 * weight })
        }
        // A diverged run stops here, before a non-finite model is saved or announced.
        guard loss.isFinite, crossEntropy.isFinite else {
            throw TrainingError("the loss became \(loss.isFinite ? crossEntropy : loss): training diverged (lower --lr, or check the data)")
        }
        var dGaze = dSquared
        if options.pairLossWeight > 0, !pairs.isEmpty {
            let (_, dPaired) = pairedDifferenceError(output.gazeCm, targets, pairs: pairs)
            dGaze = Elementwise.add(dGaze, Elementwise.map(dPaired) { $0 * options.pairLossWeight })
        }
        var dSaliency: Tensor?
        if !eyeTargets.isEmpty, settings.trainSaliency, let map = output.saliency {
            let weight = options.eyeAnchorWeight
            dSaliency = Elementwise.map(SaliencyPretraining.divergence(map, targets: eyeTargets).dLogits) { $0 * weight }
        }
        model.backward(dGaze, cache, dPresenceLogits: dPresence, dSaliencyLogits: dSaliency)
        clipGradients(trainable, maximum: options.clipNorm)
        optimizer.step(trainable) { $0.name.hasPrefix("saliency") ? saliencyRate : rate }
        return loss
    }

    /// Adjacent rows of one recording, taken greedily from the front (a frame the loader dropped
    /// only costs its own pair).
    public static func pairs(_ frames: [GazeCaptureFrame]) -> [(Int, Int)] {
        var pairs: [(Int, Int)] = [], i = 0
        while i + 1 < frames.count {
            if frames[i].recordingID == frames[i + 1].recordingID, frames[i].isValid, frames[i + 1].isValid {
                pairs.append((i, i + 1)); i += 2
            } else {
                i += 1
            }
        }
        return pairs
    }

    /// The eye anchor's target map for each frame of a batch, as the batch shows it (mirrored or
    /// not); nil for a frame without both eyes annotated.
    func eyeTargets(_ batch: BatchLoader.Batch) -> [Tensor?] {
        var pre = SaliencyPretraining()
        pre.floor = options.pretrainFloor
        return zip(batch.frames, batch.mirrored).map { frame, flipped in
            pre.target(frame, width: batch.images.width, height: batch.images.height, gridSize: model.sampler.gridSize, mirrored: flipped)
        }
    }

    /// Trains the saliency path alone on eye-box targets (see `SaliencyPretraining`).
    func pretrainSaliency(_ loader: BatchLoader, log: (String) -> Void) throws {
        var pre = SaliencyPretraining()
        pre.floor = options.pretrainFloor
        let adam = Optimizer(.adam)
        let parameters = model.trainableParameters.filter { $0.name.hasPrefix("saliency") }
        var step = 0, epoch = 1000
        var first: (Double, Double)?, last = (0.0, 0.0)
        while step < options.pretrainSaliencySteps {
            for batch in loader.batches(epoch: epoch, augment: options.augment) {
                guard step < options.pretrainSaliencySteps else { break }
                let (w, h) = (batch.images.width, batch.images.height)
                let targets = batch.frames.compactMap { pre.target($0, width: w, height: h) }
                guard targets.count == batch.frames.count else { continue }
                model.zeroGradients()
                let (kl, mass) = pre.step(model, images: batch.images, targets: Tensor.concatenateBatch(targets),
                                          frames: batch.frames, width: w, height: h)
                clipGradients(parameters, maximum: options.clipNorm)
                adam.step(parameters) { _ in options.pretrainLearningRate }
                if first == nil { first = (kl, mass) }
                last = (kl, mass)
                step += 1
                if step % 25 == 0 { log(String(format: "saliency pretraining step %d: KL %.3f, mass on the eyes %.0f%%", step, kl, mass * 100)) }
            }
            epoch += 1
        }
        log(String(format: "saliency pretraining: %d steps, KL %.3f -> %.3f, mass on the eyes %.0f%% -> %.0f%%",
                   step, first?.0 ?? 0, last.0, (first?.1 ?? 0) * 100, last.1 * 100))
    }

    func saveLast(epoch: Int) throws {
        try Checkpoint.save(model, to: lastPath, metadata: ["epoch": "\(epoch)", "step": "\(globalStep)",
                                                            "best_validation_cm": "\(bestValidation)"])
        try SafeTensorsWriter.write(optimizer.state, to: optimizerPath)
    }

    func writeLog() throws {
        var csv = "epoch,steps,train_loss,validation_mean_cm,images_per_second,seconds,learning_rate\n"
        for r in history {
            csv += String(format: "%d,%d,%.5f,%.4f,%.1f,%.1f,%.6g\n", r.epoch, r.steps, r.trainLoss, r.validationMeanCm,
                          r.imagesPerSecond, r.seconds, r.learningRate)
        }
        let encoder = JSONOutput.encoder([.prettyPrinted])
        do {
            try csv.write(toFile: logPath, atomically: true, encoding: .utf8)
            try encoder.encode(history).write(to: URL(fileURLWithPath: runDirectory + "/log.json"), options: .atomic)
        } catch {
            throw FileFormatError(logPath, "cannot write: \(error.localizedDescription)")
        }
    }
}

/// Why training stopped: one line.
public struct TrainingError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
