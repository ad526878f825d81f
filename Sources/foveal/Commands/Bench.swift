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

        @Option(help: """
            A second frame size WIDTHxHEIGHT, timed alternately with --size, frame by frame, in the \
            same run: reports its latency too and the ratio of the two p50s, which a machine's \
            drift between separate runs would blur.
            """)
        var compareSize: String?

        @Option(help: "Timed batch-1 runs (after warm-up), per frame size.")
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

        @Option(help: "Average each frame's answer with its mirror image's (default: as the weight file says; a --config model: off).")
        var mirrorAverage: Switch?

        @Option(help: "The convolutions' matrix product: Foveal's packed kernel with Winograd's F(4x4, 3x3) and F(2x2, 5x5) where they pay (the default where the processor has AVX2 and FMA), the packed kernel alone, or OpenBLAS.")
        var convProduct: ConvolutionProduct?

        func validate() throws {
            if (weights == nil) == (config == nil) { throw ValidationError("give exactly one of --weights and --config") }
            if parseSize(size) == nil { throw ValidationError("--size must look like 640x480") }
            if let compareSize, parseSize(compareSize) == nil { throw ValidationError("--compare-size must look like 1920x1080") }
            if compareSize != nil && train { throw ValidationError("--compare-size times inference, not --train") }
            // A batch's activations grow with it: the paper-size model needs ~0.3 GB a frame.
            if !(1...256).contains(batch) || !(1...1_000_000).contains(iterations) {
                throw ValidationError("--batch must be 1-256 and --iterations 1-1000000")
            }
            if let threads, !(1...1024).contains(threads) { throw ValidationError("--threads must be 1-1024") }
            if let convProduct, convProduct != .openBLAS && !ProcessorFeatures.avx2FMA {
                throw ValidationError("--conv-product \(convProduct.rawValue) needs AVX2 and FMA, which this processor lacks")
            }
        }

        func run() throws {
            try reportingErrors {
                Engine.setUp(threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
                if let convProduct { Engine.convolutionProduct = convProduct }
                let model = try loadModel()
                let sizes = [size] + (compareSize.map { [$0] } ?? [])
                let testFrames = sizes.map { randomFrame(parseSize($0)!) }
                let frame = testFrames[0]
                if train { return try benchTraining(model, frame) }

                // Warm-up (caches, page-ins, BLAS buffers), then the sizes in turn, frame by frame.
                var clocks = testFrames.map { _ in StageClock() }
                for _ in 0..<3 { for (i, f) in testFrames.enumerated() { try clocks[i].run(model, f) } }
                clocks = testFrames.map { _ in StageClock() }
                var runs = testFrames.map { _ in [Double]() }
                for _ in 0..<iterations {
                    for (i, f) in testFrames.enumerated() {
                        let start = now()
                        try clocks[i].run(model, f)
                        runs[i].append(now() - start)
                    }
                }
                let frames = [RGBImage](repeating: frame, count: batch)
                _ = model(try ImageNormalization.pixelBatch(frames))
                let rounds = max(2, iterations / batch)
                let batchStart = now()
                for _ in 0..<rounds { _ = model(try ImageNormalization.pixelBatch(frames)) }
                let throughput = Double(rounds * batch) / (now() - batchStart)

                let latency = runs.map(latencyMs), split = clocks.map { $0.meanMs(iterations) }
                var report: [String: Any] = [
                    "config": modelName, "model": try jsonObject(model.config.json),
                    "size": size, "threads": threads ?? ProcessInfo.processInfo.activeProcessorCount,
                    "iterations": iterations, "batch": batch, "latency_ms": latency[0],
                    "throughput_fps": throughput, "peak_rss_mb": peakResidentMB(),
                    "stages_ms": split[0], "conv_product": Engine.convolutionProduct.rawValue,
                ]
                if let compareSize {
                    report["compare"] = ["size": compareSize, "latency_ms": latency[1], "stages_ms": split[1],
                                         "p50_ratio": latency[1]["p50"]! / latency[0]["p50"]!]
                }
                if json {
                    emit(jsonLine(report))
                } else {
                    emit("model      \(modelName)  \(model.config.json)")
                    emit("frame      \(size), \(report["threads"]!) threads, convolutions on \(Engine.convolutionProduct.rawValue)")
                    emit(String(format: "latency    p50 %.1f ms  p90 %.1f ms  p99 %.1f ms  (batch 1, %d runs)",
                                latency[0]["p50"]!, latency[0]["p90"]!, latency[0]["p99"]!, iterations))
                    emit(stagesLine(split[0]))
                    if let compareSize {
                        emit(String(format: "%@  p50 %.1f ms  p90 %.1f ms  p99 %.1f ms  (alternating with %@: %.2fx its p50)",
                                    compareSize, latency[1]["p50"]!, latency[1]["p90"]!, latency[1]["p99"]!, size,
                                    latency[1]["p50"]! / latency[0]["p50"]!))
                        emit(stagesLine(split[1]))
                    }
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
                emit(jsonLine(["mode": "train", "config": modelName, "size": size, "batch": batch,
                               "frozen_saliency": !settings.trainSaliency, "images_per_second": imagesPerSecond,
                               "step_ms": ["forward": perStep(forward), "backward": perStep(backward), "update": perStep(update)],
                               "peak_rss_mb": peakResidentMB()]))
            } else {
                emit("training   \(modelName), \(size) frames, batch \(batch)\(settings.trainSaliency ? "" : ", saliency frozen")")
                emit(String(format: "throughput %.1f images/s (%d steps)", imagesPerSecond, iterations))
                emit(String(format: "step       forward %.0f ms  backward %.0f ms  update %.0f ms", perStep(forward), perStep(backward), perStep(update)))
                emit(String(format: "peak RSS   %.0f MB", peakResidentMB()))
            }
        }

        /// What the report calls the model: the --config preset or file, else the weight file.
        private var modelName: String { config ?? weights ?? "" }

        private func loadModel() throws -> GazeNet {
            var net: GazeNet
            if let weights {
                net = try GazeNet(weightsAt: weights)
            } else {
                var modelConfig = try ModelConfig.named(config ?? "compact")  // validate() asked for one of the two
                if noSampler { modelConfig.sampler = false }
                net = try GazeNet(config: modelConfig, seed: 1)
            }
            net.useFullyConnected(fcPrecision.format)
            if let mirrorAverage { net.averageMirrorImages(mirrorAverage == .on) }
            return net
        }
    }
}

/// Accumulated time per inference stage, measured on the same calls `GazeNet` makes.
struct StageClock {
    var seconds: [String: Double] = ["normalise": 0, "saliency": 0, "sampler": 0, "task": 0]

    @discardableResult
    mutating func run(_ model: GazeNet, _ frame: RGBImage) throws -> Tensor {
        var t = now()
        func lap(_ stage: String) {
            let t1 = now()
            seconds[stage, default: 0] += t1 - t
            t = t1
        }
        let image = try ImageNormalization.pixelBatch([frame])
        lap("normalise")
        // GazeNet's inference path, stage by stage (with the mirror images where the model averages with them).
        let output: GazeNet.Output
        if model.config.sampler {
            let grids = model.samplingGrids(low: image.areaAveraged(height: model.config.saliencySize, width: model.config.saliencySize))
            lap("saliency")
            let (j, mirrored) = model.resample(image, on: grids)
            lap("sampler")
            output = model.inference(j, mirrored: mirrored, map: grids.map, grid: grids.grid)
        } else {
            let j = model.uniformDownsample(image)
            lap("sampler")
            output = model.inference(j, mirrored: model.config.mirrorAverage ? GazeNet.mirroredLeftRight(j) : nil, map: nil, grid: nil)
        }
        lap("task")
        return output.gazeCm
    }

    func meanMs(_ runs: Int) -> [String: Double] { seconds.mapValues { $0 * 1000 / Double(runs) } }
}

/// A frame of uniform random bytes (the same for every run: seed 7).
private func randomFrame(_ size: (width: Int, height: Int)) -> RGBImage {
    var rng = SplitMix64(seed: 7)
    return RGBImage(width: size.width, height: size.height,
                    pixels: (0..<(size.width * size.height * 3)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
}

/// The p50, p90 and p99 of `seconds` (nearest rank), in milliseconds.
private func latencyMs(_ seconds: [Double]) -> [String: Double] {
    let sorted = seconds.sorted()
    let rank = { (q: Double) in sorted[min(sorted.count - 1, max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1))] * 1000 }
    return ["p50": rank(0.5), "p90": rank(0.9), "p99": rank(0.99)]
}

/// The mean time of each inference stage, one line.
private func stagesLine(_ ms: [String: Double]) -> String {
    String(format: "stages     normalise %.1f  saliency %.1f  sampler %.1f  task %.1f ms",
           ms["normalise"] ?? 0, ms["saliency"] ?? 0, ms["sampler"] ?? 0, ms["task"] ?? 0)
}

/// The process's peak resident set size so far, in MB.
func peakResidentMB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}
