import Foundation
import FovealIO
import FovealModel
import FovealTensor
import GazeCapture

/// Fits the presence head: a logistic regression from AlexNet's penultimate features, frozen, to
/// whether a face with open eyes is in view; and the face-in-view head, one from the saliency
/// map's entropy to whether a face is in view at all. The labels are GazeCapture's own: a frame
/// has a face with open eyes where its face, both eyes and face grid are detected (the frames
/// gaze is trained and evaluated on); it has a face where the face is detected, its eyes found or
/// not (closed). The face-in-view head only decides for frames without a face with open eyes
/// (is it a blink, or is nobody there?), so it is fitted on those alone. Fitting either leaves
/// the gaze exactly as it was.
///
/// The frames are drawn as they come, so the heads learn how often a face is there: most frames
/// of a session have one, and a head fitted on equal shares of each class (as a first version
/// was) reported one face in eight as missing, with the threshold at one half.
public struct PresenceFitting {
    /// At most this many frames (drawn at random, seeded) from the frames given.
    public var maxFrames = 8000
    /// L2 penalty on the standardised weights.
    public var l2 = 1e-3
    public var iterations = 500
    public var seed: UInt64 = 1
    /// Fit the presence head (false: keep the model's own, say one trained with the network).
    public var fitsPresence = true
    /// Fit the face-in-view head.
    public var fitsFaceInView = true

    public init() {}

    /// How one fitted head does on the frames it was fitted on.
    public struct HeadReport: Sendable, CustomStringConvertible {
        public var head: String, positive: String
        public var positives = 0, negatives = 0
        /// Share of the fitted frames classified right, and of each class's.
        public var accuracy = 0.0, positiveAccuracy = 0.0, negativeAccuracy = 0.0

        public var description: String {
            String(format: "%@ head fitted on %d frames with %@ and %d without: %.2f%% right on them (%.2f%% and %.2f%%)",
                   head, positives, positive, negatives, 100 * accuracy, 100 * positiveAccuracy, 100 * negativeAccuracy)
        }
    }

    public struct Report: Sendable, CustomStringConvertible {
        public var heads: [HeadReport] = []
        public var unreadable: [String] = []
        public var description: String { heads.map(\.description).joined(separator: "\n") }
    }

    /// The model with the heads asked for fitted on `frames` (typically the train split, valid
    /// and invalid frames alike). Throws if a head's classes do not both have frames.
    public func fit(_ model: GazeNet, frames: [GazeCaptureFrame], cancellation: Cancellation = Cancellation()) throws -> (GazeNet, Report) {
        var rng = SplitMix64(seed: seed)
        func sample(_ list: [GazeCaptureFrame]) -> [GazeCaptureFrame] {
            var list = list
            for i in stride(from: list.count - 1, to: 0, by: -1) { list.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            return Array(list.prefix(maxFrames))
        }
        if fitsFaceInView && !model.config.sampler {
            throw TrainingError("the face-in-view head reads the saliency map: a model without the sampler has none")
        }
        let chosen = sample(frames)
        var report = Report()
        var features: [[Double]] = [], entropy: [[Double]] = [], openEyes: [Double] = [], face: [Double] = []
        for start in stride(from: 0, to: chosen.count, by: 16) {
            if cancellation.isCancelled { throw TrainingError("presence fitting stopped") }
            let batch = Array(chosen[start..<min(chosen.count, start + 16)])
            var good: [(GazeCaptureFrame, RGBImage)] = []
            for (frame, image) in zip(batch, GazeCaptureDataset.decode(batch)) {
                switch image {
                case .success(let image): good.append((frame, image))
                case .failure(let problem): report.unreadable.append(problem.description)
                }
            }
            for group in Dictionary(grouping: good, by: { "\($0.1.width)x\($0.1.height)" }).values {
                let output = model(try ImageNormalization.pixelBatch(group.map(\.1)))
                if fitsFaceInView, let map = output.saliency { entropy += GazeNet.saliencyEntropy(map).map { [$0] } }
                for (estimate, (frame, _)) in zip(output.estimates, group) {
                    features.append(estimate.features.map(Double.init))
                    openEyes.append(frame.isValid ? 1 : 0)
                    face.append(frame.face != nil ? 1 : 0)
                }
            }
        }
        func fitHead(_ name: String, positive: String, inputs: [[Double]], labels: [Double], rows: [Bool]) throws -> GazeNet.LogisticHead {
            let features = zip(inputs, rows).filter(\.1).map(\.0), labels = zip(labels, rows).filter(\.1).map(\.0)
            var head = HeadReport(head: name, positive: positive)
            head.positives = labels.count { $0 == 1 }
            head.negatives = labels.count - head.positives
            guard head.positives > 0, head.negatives > 0 else {
                throw TrainingError("the \(name) head needs frames with and without \(positive); found \(head.positives) and \(head.negatives)")
            }
            let (w, b) = logisticRegression(features, labels)
            var right = [0.0, 0.0]
            for (x, y) in zip(features, labels) {
                var z = b
                for j in 0..<w.count { z += w[j] * x[j] }
                if (z >= 0) == (y == 1) { right[Int(y)] += 1 }
            }
            (head.positiveAccuracy, head.negativeAccuracy) = (right[1] / Double(head.positives), right[0] / Double(head.negatives))
            head.accuracy = (right[0] + right[1]) / Double(labels.count)
            report.heads.append(head)
            return (Tensor(shape: [1, w.count], values: w.map(Float.init)), Tensor(shape: [1], values: [Float(b)]))
        }
        let presence = fitsPresence
            ? try fitHead("presence", positive: "a face with open eyes", inputs: features, labels: openEyes, rows: openEyes.map { _ in true }) : nil
        let faceInView = fitsFaceInView
            ? try fitHead("face-in-view", positive: "a face (eyes closed)", inputs: entropy, labels: face, rows: openEyes.map { $0 == 0 }) : nil
        return (try model.withHeads(presence: presence, faceInView: faceInView), report)
    }

    /// L2-penalised logistic regression by full-batch Adam on standardised features; returns the
    /// weights and bias for the raw features.
    func logisticRegression(_ x: [[Double]], _ y: [Double]) -> (weights: [Double], bias: Double) {
        let n = x.count, d = x.first?.count ?? 0
        var mean = [Double](repeating: 0, count: d), scale = [Double](repeating: 0, count: d)
        for row in x { for j in 0..<d { mean[j] += row[j] / Double(n) } }
        for row in x { for j in 0..<d { scale[j] += (row[j] - mean[j]) * (row[j] - mean[j]) / Double(n) } }
        scale = scale.map { max($0.squareRoot(), 1e-6) }
        let z = x.map { row in (0..<d).map { (row[$0] - mean[$0]) / scale[$0] } }
        var w = [Double](repeating: 0, count: d + 1)  // the last entry is the bias
        var m = w, v = w
        let (rate, beta1, beta2) = (0.05, 0.9, 0.999)
        for step in 1...iterations {
            var g = [Double](repeating: 0, count: d + 1)
            for (row, label) in zip(z, y) {
                var s = w[d]
                for j in 0..<d { s += w[j] * row[j] }
                let p = 1 / (1 + exp(-s))
                let r = (p - label) / Double(n)
                for j in 0..<d { g[j] += r * row[j] }
                g[d] += r
            }
            for j in 0..<d { g[j] += l2 * w[j] }
            for j in 0...d {
                m[j] = beta1 * m[j] + (1 - beta1) * g[j]
                v[j] = beta2 * v[j] + (1 - beta2) * g[j] * g[j]
                let mHat = m[j] / (1 - pow(beta1, Double(step))), vHat = v[j] / (1 - pow(beta2, Double(step)))
                w[j] -= rate * mHat / (vHat.squareRoot() + 1e-8)
            }
        }
        let weights = (0..<d).map { w[$0] / scale[$0] }
        let bias = w[d] - (0..<d).reduce(0) { $0 + w[$1] * mean[$1] / scale[$1] }
        return (weights, bias)
    }
}
