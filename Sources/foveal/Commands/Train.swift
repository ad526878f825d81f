import ArgumentParser
import Foundation
import FovealIO
import FovealModel
import FovealTensor
import FovealTraining
import GazeCapture

extension Foveal {
    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train a gaze model on a GazeCapture-layout or MPIIFaceGaze dataset.",
            discussion: """
                On MPIIFaceGaze, training is leave-one-person-out: --hold-out pXX keeps that participant                 for `foveal eval --test-person pXX`, trains on the others and validates on each one's                 last day. Writes RUN_DIR/best.safetensors (lowest validation error; the configuration in its \
                metadata), RUN_DIR/last.safetensors with last.optimizer.safetensors (for --resume) \
                and RUN_DIR/log.csv. Ctrl-C saves `last` and exits cleanly.
                """)

        @Option(help: "Dataset folder (GazeCapture layout, or MPIIFaceGaze with --hold-out): trains on the train split, validates on val.")
        var dataset: String

        @Option(help: "MPIIFaceGaze: the participant (pXX) left out of training, for evaluation.")
        var holdOut: String?

        @Option(help: "Model: compact, paper or a JSON configuration file.")
        var config = "compact"

        @Flag(help: "The plain-AlexNet baseline (area downsampling, no saliency sampler).")
        var noSampler = false

        @Option(help: "Epochs.") var epochs = 8
        @Option(help: "Frames per batch.") var batch = 64
        @Option(help: "Learning rate.") var lr: Float = 1e-3
        @Option(help: "Learning rate of the saliency path (0 = frozen; default: --lr).") var saliencyLr: Float?
        @Option(help: "Optimizer (sgd: momentum 0.9).") var optimizer: Optimizer.Kind = .adam
        @Option(help: "Learning-rate schedule.") var schedule: Trainer.ScheduleKind = .cosine
        @Option(help: "Weight decay.") var weightDecay: Float = 0
        @Option(help: "Clip the global gradient norm to this.") var clip: Float = 10
        @Option(help: "Epochs of the paper's blur warm-up (section 3.3).") var blurEpochs = 0
        @Option(help: "Saliency start: 'eyes' pretrains the saliency network on the eye boxes.") var pretrainSaliency: SaliencyStart?
        @Option(help: "Steps of saliency pretraining.") var pretrainSteps = 375
        @Option(help: "Share of the pretraining target's mass spread evenly over the map, in (0, 1): lower zooms harder into the eyes.") var pretrainFloor = 0.1
        @Option(help: ArgumentHelp("While the saliency path trains, add the pretraining's eye-box loss with this weight, so the map stays on the eyes (0 = off).", valueName: "weight"))
        var eyeAnchor: Float = 0
        @Option(help: "Load any tensors of this file whose names and shapes fit (e.g. ImageNet weights).") var initFrom: String?
        @Option(help: "Prefix for --init-from names ('saliency.' for a bare ResNet-18, 'task.' for AlexNet).") var initPrefix = ""
        @Option(help: "Random seed (initialisation, order, augmentation).") var seed: UInt64 = 1
        @Option(help: "Use at most N training frames.") var limit: Int?
        @Option(help: "Validate on at most N frames per epoch.") var validationLimit: Int?
        @Flag(help: "Turn off brightness/contrast jitter.") var noAugment = false
        @Flag(help: "Mirror half the frames left-right (and negate their label's x).") var mirror = false
        @Option(help: "Dropout probability of AlexNet's two dropout layers (torchvision: 0.5).") var dropout: Float = 0.5
        @Option(help: ArgumentHelp("Weight of a paired-difference loss: batches of frame pairs from one recording, "
            + "penalising the error of each pair's predicted gaze difference (0 = off).", valueName: "weight")) var pairLoss: Float = 0
        @Flag(help: "Train the presence head (face with open eyes in view, or not) with the network: its binary cross-entropy on every train frame, valid or not, is added to the gaze error (which counts valid frames only).")
        var presence = false
        @Option(help: "With --presence: the weight of its cross-entropy in the loss.")
        var presenceWeight: Float = 1
        @Option(help: ArgumentHelp("Train no gaze: fit the presence and face-in-view heads (the latter where the model has the sampler) on this weight file's frozen features and write RUN_DIR/best.safetensors.", valueName: "weights"))
        var presenceFrom: String?
        @Option(help: ArgumentHelp("As --presence-from, fitting the face-in-view head alone (it tells closed eyes from nobody there) and keeping the file's presence head, such as one trained with --presence.", valueName: "weights"))
        var faceFrom: String?
        @Option(help: "Write the model to average each frame's answer with its mirror image's at inference (its configuration's mirror_average; default: as --config or the --presence-from/--face-from file says).")
        var mirrorAverage: Switch?
        @Option(help: "Run folder.") var out: String
        @Flag(help: "Continue from RUN_DIR/last.safetensors.") var resume = false

        func validate() throws {
            if !(1...100_000).contains(epochs) || !(1...4096).contains(batch) { throw ValidationError("--epochs must be 1-100000 and --batch 1-4096") }
            if !(lr > 0 && lr.isFinite) { throw ValidationError("--lr must be a positive number") }
            if !(weightDecay >= 0 && weightDecay.isFinite) { throw ValidationError("--weight-decay must be 0 or a positive number") }
            if !(clip > 0 && clip.isFinite) { throw ValidationError("--clip must be a positive number") }
            if !(0...1_000_000).contains(pretrainSteps) || !(0...100_000).contains(blurEpochs) { throw ValidationError("--pretrain-steps and --blur-epochs must be 0 or more") }
            if !(pretrainFloor > 0 && pretrainFloor < 1) { throw ValidationError("--pretrain-floor must be between 0 and 1") }
            if let limit, limit < 1 { throw ValidationError("--limit must be positive") }
            if let validationLimit, validationLimit < 1 { throw ValidationError("--validation-limit must be positive") }
            if !(0..<1).contains(dropout) { throw ValidationError("--dropout must be in [0, 1)") }
            if let saliencyLr, !(saliencyLr >= 0 && saliencyLr.isFinite) { throw ValidationError("--saliency-lr must be 0 or more") }
            if !(pairLoss >= 0 && pairLoss.isFinite) { throw ValidationError("--pair-loss must be 0 or more") }
            if !(eyeAnchor >= 0 && eyeAnchor.isFinite) { throw ValidationError("--eye-anchor must be 0 or more") }
            if !(presenceWeight > 0 && presenceWeight.isFinite) { throw ValidationError("--presence-weight must be a positive number") }
            if presenceFrom != nil && faceFrom != nil { throw ValidationError("give --presence-from or --face-from, not both") }
            if pairLoss > 0, batch % 2 == 1 { throw ValidationError("--pair-loss needs an even --batch (pairs fill batches)") }
        }

        func run() throws {
            try reportingErrors {
                Engine.setUp()
                if let source = presenceFrom ?? faceFrom {
                    try createDirectory(out)
                    // The source's own metadata (its epoch, validation error) stays with its tensors.
                    var metadata = try SafeTensorsFile(path: source).metadata.filter { $0.key != "config" }
                    metadata[presenceFrom != nil ? "presence_from" : "face_from"] = URL(fileURLWithPath: source).lastPathComponent
                    var model = try GazeNet(weightsAt: source)
                    if let mirrorAverage { model.averageMirrorImages(mirrorAverage == .on) }
                    if faceFrom != nil, model.presence == nil {
                        throw CommandFailure("\(source): the model has no presence head to keep; fit both with --presence-from")
                    }
                    if faceFrom != nil, !model.config.sampler {
                        throw CommandFailure("\(source): the face-in-view head reads the saliency map, and this model has no sampler")
                    }
                    try fitPresence(model, on: try Dataset(dataset, testPerson: holdOut), metadata: metadata,
                                    presence: presenceFrom != nil, to: out + "/best.safetensors")
                    return
                }
                var modelConfig = try ModelConfig.named(config)
                if noSampler { modelConfig.sampler = false }
                if presence { modelConfig.presence = true }
                if let mirrorAverage { modelConfig.mirrorAverage = mirrorAverage == .on }
                let model = try GazeNet(config: modelConfig, seed: seed)
                if let initFrom {
                    printError("init-from \(initFrom): \(try Checkpoint.loadMatching(initFrom, into: model, prefix: initPrefix))")
                }
                var options = Trainer.Options()
                options.epochs = epochs
                options.batchSize = batch
                options.learningRate = lr
                options.saliencyLearningRate = saliencyLr
                options.optimizer = optimizer
                options.schedule = schedule
                options.weightDecay = weightDecay
                options.clipNorm = clip
                options.blurEpochs = blurEpochs
                options.pretrainSaliencySteps = pretrainSaliency == .eyes ? pretrainSteps : 0
                options.pretrainFloor = pretrainFloor
                options.eyeAnchorWeight = eyeAnchor
                options.seed = seed
                options.trainLimit = limit
                options.validationLimit = validationLimit
                options.augment = !noAugment
                options.mirror = mirror
                options.dropout = dropout
                options.pairLossWeight = pairLoss
                options.presenceWeight = presence ? presenceWeight : nil
                let data = try Dataset(dataset, testPerson: holdOut)
                printSkipped(data.readProblems)
                if data.mpii != nil && holdOut == nil {
                    throw CommandFailure("\(dataset): MPIIFaceGaze trains leave-one-person-out: give --hold-out pXX")
                }
                let trainer = try Trainer(model: model, dataset: data.frames, options: options, runDirectory: out)
                if resume { printError("resuming at epoch \(try trainer.resume() + 1)") }
                stopOnSignals()
                let bar = ProgressBar(label: "train")
                let finished = try trainer.run(cancellation: interruption, log: { line in bar.finish(); emit(line) }, progress: { p in
                    bar.update(done: p.batch, total: p.batches, unit: "batches",
                               extra: String(format: "epoch %d/%d loss %.3f %.0f img/s", p.epoch, p.epochs, p.loss, p.imagesPerSecond))
                })
                bar.finish()
                if finished {
                    emit("best model: \(trainer.bestPath)")
                }
            }
        }

        /// Fits the face-in-view head of `model` (where it has the sampler, whose map the head
        /// reads), and the presence head when `presence`, on the train split's frames and writes
        /// the model to `path`.
        private func fitPresence(_ model: GazeNet, on data: Dataset, metadata: [String: String], presence: Bool, to path: String) throws {
            let (frames, problems) = BatchLoader.frames(of: data.frames, FrameSelection(split: "train", validOnly: false))
            printSkipped(data.readProblems + problems.map(\.description))
            var fitting = PresenceFitting()
            fitting.seed = seed
            fitting.fitsPresence = presence
            fitting.fitsFaceInView = model.config.sampler  // it reads the saliency map
            stopOnSignals()
            let (fitted, report) = try fitting.fit(model, frames: frames, cancellation: interruption)
            printSkipped(report.unreadable)
            emit("\(report)")
            try Checkpoint.save(fitted, to: path, metadata: metadata)
        }
    }
}

/// How the saliency network starts before the gaze training.
enum SaliencyStart: String, ExpressibleByArgument, CaseIterable {
    /// Trained alone to put its mass on the annotated eye boxes.
    case eyes
}

extension Optimizer.Kind: ExpressibleByArgument {}
extension Trainer.ScheduleKind: ExpressibleByArgument {}
