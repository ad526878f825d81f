import ArgumentParser
import Foundation
import FovealIO
import FovealModel
import FovealTensor
import FovealTraining

extension Foveal {
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure inference latency, throughput and memory on a random frame.",
            discussion: """
                Runs the real path from an RGB frame to a gaze point: normalisation, saliency network, \
                sampler, AlexNet. Reports batch-1 latency percentiles with the time split between the \
                stages, batch-N throughput and the process's peak resident memory.
                """)

        @Option(help: "Model weights to benchmark.")
        var weights: String?

        @Option(help: "Model configuration instead of weights: 'paper', 'compact' or a JSON file (random weights).")
        var config: String?

        @Option(help: "Frame size WIDTHxHEIGHT.")
        var size = "640x480"

        @Option(help: "Batch size for the throughput run.")
        var batch = 8

        @Option(help: "Timed batch-1 runs (after warm-up).")
        var iterations = 30

        @Option(help: "BLAS and worker threads (default: one per core).")
        var threads: Int?

        @Flag(help: "Print the report as one JSON object.")
        var json = false

        @Flag(help: "Measure training instead: forward, backward and an Adam step on --batch frames.")
        var train = false

        @Flag(help: "With --train: the saliency path frozen (no backward through it).")
        var frozenSaliency = false

        @Flag(help: "With --config: the plain-AlexNet baseline (no saliency sampler).")
        var noSampler = false

        @Option(help: "Precision of AlexNet's fully connected weights (f32, bf16, f16).")
        var fcPrecision: FullyConnectedPrecision = .f32

        func validate() throws {
            if (weights == nil) == (config == nil) { throw ValidationError("give exactly one of --weights and --config") }
            if parseSize(size) == nil { throw ValidationError("--size must look like 640x480") }
            // A batch's activations grow with it: the paper-size model needs ~0.3 GB a frame.
            if !(1...256).contains(batch) || !(1...1_000_000).contains(iterations) {
                throw ValidationError("--batch must be 1-256 and --iterations 1-1000000")
            }
            if let threads, !(1...1024).contains(threads) { throw ValidationError("--threads must be 1-1024") }
        }

        func run() throws {
            try reportingErrors {
                Engine.setUp(threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
                let model = try loadModel()
                let (width, height) = parseSize(size)!
                var rng = SplitMix64(seed: 7)
                let frame = RGBImage(width: width, height: height,
                                     pixels: (0..<(width * height * 3)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
                if train { return try benchTraining(model, frame) }

                var stages = StageClock()
                for _ in 0..<3 { _ = stages.run(model, frame) }  // warm-up: caches, page-ins, BLAS buffers
                stages = StageClock()
                var latencies: [Double] = []
                for _ in 0..<iterations {
                    let start = now()
                    _ = stages.run(model, frame)
                    latencies.append(now() - start)
                }
                let frames = [RGBImage](repeating: frame, count: batch)
                _ = model(try ImageNormalization.pixelBatch(frames))
                let rounds = max(2, iterations / batch)
                let batchStart = now()
                for _ in 0..<rounds { _ = model(try ImageNormalization.pixelBatch(frames)) }
                let throughput = Double(rounds * batch) / (now() - batchStart)

                latencies.sort()
                let p = { (q: Double) in latencies[min(latencies.count - 1, Int((q * Double(latencies.count)).rounded(.up)) - 1)] * 1000 }
                let split = stages.meanMs(iterations)
                let report: [String: Any] = [
                    "config": config ?? weights!, "model": try jsonObject(model.config.json),
                    "size": size, "threads": threads ?? ProcessInfo.processInfo.activeProcessorCount,
                    "iterations": iterations, "batch": batch,
                    "latency_ms": ["p50": p(0.5), "p90": p(0.9), "p99": p(0.99)],
                    "throughput_fps": throughput, "peak_rss_mb": peakResidentMB(),
                    "stages_ms": split,
                ]
                if json {
                    emit(jsonLine(report))
                } else {
                    emit("model      \(config ?? weights!)  \(model.config.json)")
                    emit("frame      \(size), \(report["threads"]!) threads")
                    emit(String(format: "latency    p50 %.1f ms  p90 %.1f ms  p99 %.1f ms  (batch 1, %d runs)",
                                p(0.5), p(0.9), p(0.99), iterations))
                    emit(String(format: "stages     normalise %.1f  saliency %.1f  sampler %.1f  task %.1f ms",
                                split["normalise"]!, split["saliency"]!, split["sampler"]!, split["task"]!))
                    emit(String(format: "throughput %.1f frames/s (batch %d)", throughput, batch))
                    emit(String(format: "peak RSS   %.0f MB", peakResidentMB()))
                }
            }
        }

        /// Training steps on one in-memory batch: the network's cost, without data loading.
        private func benchTraining(_ model: GazeNet, _ frame: RGBImage) throws {
            let frames = try ImageNormalization.pixelBatch([RGBImage](repeating: frame, count: batch))
            let targets = Tensor(shape: [batch, 2], values: (0..<(2 * batch)).map { Float($0 % 7) - 3 })
            var settings = GazeNet.TrainingSettings()
            settings.trainSaliency = model.config.sampler && !frozenSaliency
            let optimizer = Optimizer(.adam)
            let parameters = model.trainedParameters(settings)
            var rng = SplitMix64(seed: 3)
            var forward = 0.0, backward = 0.0, update = 0.0
            func step() {
                var t = now()
                model.zeroGradients()
                let (output, cache) = model.forward(frames, training: settings, rng: &rng)
                let (_, dGaze) = meanSquaredError(output.gazeCm, targets)
                forward += now() - t; t = now()
                model.backward(dGaze, cache)
                backward += now() - t; t = now()
                optimizer.step(parameters) { _ in 1e-4 }
                update += now() - t
            }
            step()
            (forward, backward, update) = (0, 0, 0)
            let start = now()
            for _ in 0..<iterations { step() }
            let seconds = now() - start
            let imagesPerSecond = Double(batch * iterations) / seconds
            let perStep = { (x: Double) in x * 1000 / Double(iterations) }
            if json {
                emit(jsonLine(["mode": "train", "config": config ?? weights!, "size": size, "batch": batch,
                               "frozen_saliency": !settings.trainSaliency, "images_per_second": imagesPerSecond,
                               "step_ms": ["forward": perStep(forward), "backward": perStep(backward), "update": perStep(update)],
                               "peak_rss_mb": peakResidentMB()]))
            } else {
                emit("training   \(config ?? weights!), \(size) frames, batch \(batch)\(settings.trainSaliency ? "" : ", saliency frozen")")
                emit(String(format: "throughput %.1f images/s (%d steps)", imagesPerSecond, iterations))
                emit(String(format: "step       forward %.0f ms  backward %.0f ms  update %.0f ms", perStep(forward), perStep(backward), perStep(update)))
                emit(String(format: "peak RSS   %.0f MB", peakResidentMB()))
            }
        }

        private func loadModel() throws -> GazeNet {
            var net: GazeNet
            if let weights {
                net = try GazeNet(weightsAt: weights)
            } else {
                var modelConfig = try ModelConfig.named(config!)
                if noSampler { modelConfig.sampler = false }
                net = try GazeNet(config: modelConfig, seed: 1)
            }
            net.useFullyConnected(fcPrecision.format)
            return net
        }
    }
}

/// Accumulated time per inference stage, measured on the same calls `GazeNet` makes.
struct StageClock {
    var seconds: [String: Double] = ["normalise": 0, "saliency": 0, "sampler": 0, "task": 0]

    mutating func run(_ model: GazeNet, _ frame: RGBImage) -> Tensor {
        var t = now()
        func lap(_ stage: String) {
            let t1 = now()
            seconds[stage]! += t1 - t
            t = t1
        }
        let image = try! ImageNormalization.pixelBatch([frame])  // one frame: cannot fail
        lap("normalise")
        let j: Tensor
        if model.config.sampler {
            let s = model.saliencyMap(image).map
            lap("saliency")
            j = model.resample(image, saliency: s).resampled
        } else {
            j = model.uniformDownsample(image)
        }
        lap("sampler")
        let gaze = model.head(j)
        lap("task")
        return gaze
    }

    func meanMs(_ runs: Int) -> [String: Double] { seconds.mapValues { $0 * 1000 / Double(runs) } }
}

/// The process's peak resident set size so far, in MB.
func peakResidentMB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}
