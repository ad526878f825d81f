import Foundation
import FovealIO
import FovealModel
import FovealTensor
import GazeCapture

/// Fits the presence head: a logistic regression from AlexNet's penultimate features, frozen, to
/// whether a face with open eyes is in view. The labels are GazeCapture's own: a frame is
/// positive where its face, both eyes and face grid are detected (the frames gaze is trained
/// and evaluated on), negative where the detector found no face (nobody there) or no eyes
/// (closed). Fitting on frozen features leaves the gaze exactly as it was.
///
/// The frames are drawn as they come, so the head learns how often a face is there: most frames
/// of a session have one, and a head fitted on equal shares of each class (as a first version
/// was) reported one face in eight as missing, with the threshold at one half.
public struct PresenceFitting {
    /// At most this many frames (drawn at random, seeded) from the frames given.
    public var maxFrames = 8000
    /// L2 penalty on the standardised weights.
    public var l2 = 1e-3
    public var iterations = 500
    public var seed: UInt64 = 1

    public init() {}

    public struct Report: Sendable, CustomStringConvertible {
        public var positives = 0, negatives = 0
        /// Share of the fitted frames classified right, and of each class's.
        public var accuracy = 0.0, faceAccuracy = 0.0, noFaceAccuracy = 0.0
        public var unreadable: [String] = []

        public var description: String {
            String(format: "presence head fitted on %d frames with a face and open eyes and %d without: %.2f%% right on them (%.2f%% and %.2f%%)",
                   positives, negatives, 100 * accuracy, 100 * faceAccuracy, 100 * noFaceAccuracy)
        }
    }

    /// The model with a presence head fitted on `frames` (typically the train split, valid and
    /// invalid frames alike). Throws if either class has no frame.
    public func fit(_ model: GazeNet, frames: [GazeCaptureFrame], cancellation: Cancellation = Cancellation()) throws -> (GazeNet, Report) {
        var rng = SplitMix64(seed: seed)
        func sample(_ list: [GazeCaptureFrame]) -> [GazeCaptureFrame] {
            var list = list
            for i in stride(from: list.count - 1, to: 0, by: -1) { list.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            return Array(list.prefix(maxFrames))
        }
        let chosen = sample(frames)
        var report = Report()
        var features: [[Double]] = [], labels: [Double] = []
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
                for (estimate, (frame, _)) in zip(try model.estimate(group.map(\.1)), group) {
                    features.append(estimate.features.map(Double.init))
                    labels.append(frame.isValid ? 1 : 0)
                }
            }
        }
        report.positives = labels.count { $0 == 1 }
        report.negatives = labels.count - report.positives
        guard report.positives > 0, report.negatives > 0 else {
            throw TrainingError("the presence head needs frames with and without a face with open eyes; found \(report.positives) and \(report.negatives)")
        }
        let (w, b) = logisticRegression(features, labels)
        let d = w.count
        let fitted = try model.withPresence(weight: Tensor(shape: [1, d], values: w.map(Float.init)), bias: Tensor(shape: [1], values: [Float(b)]))
        var right = [0.0, 0.0]
        for (x, y) in zip(features, labels) {
            var z = b
            for j in 0..<d { z += w[j] * x[j] }
            if (z >= 0) == (y == 1) { right[Int(y)] += 1 }
        }
        (report.faceAccuracy, report.noFaceAccuracy) = (right[1] / Double(report.positives), right[0] / Double(report.negatives))
        report.accuracy = (right[0] + right[1]) / Double(labels.count)
        return (fitted, report)
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
