import Foundation
import FovealIO
import FovealModel
import FovealTensor

/// SGD with momentum and Adam, PyTorch's update rules (weight decay added to the gradient, as
/// `torch.optim.SGD`/`Adam` do), with a learning rate per parameter group.
public final class Optimizer {
    public enum Kind: String, Sendable, CaseIterable {
        case sgd, adam
    }

    public let kind: Kind
    public var momentum: Float = 0.9
    public var beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8
    public var weightDecay: Float
    /// Steps taken (Adam's bias correction needs it; saved with the state).
    public private(set) var steps = 0
    /// Per parameter: SGD's momentum buffer, or Adam's first and second moments.
    var first: [String: Tensor] = [:], second: [String: Tensor] = [:]

    public init(_ kind: Kind, weightDecay: Float = 0) {
        self.kind = kind
        self.weightDecay = weightDecay
    }

    /// One update of every parameter with a positive learning rate `rate(parameter)`.
    public func step(_ parameters: [Parameter], rate: (Parameter) -> Float) {
        steps += 1
        let t = Float(steps)
        let correction1 = 1 - powf(beta1, t), correction2 = 1 - powf(beta2, t)
        for p in parameters {
            let lr = rate(p)
            guard lr > 0 else { continue }
            var m = first[p.name] ?? Tensor(zeros: p.value.shape)
            var v = kind == .adam ? (second[p.name] ?? Tensor(zeros: p.value.shape)) : Tensor(zeros: [0])
            let (decay, mu, b1, b2, eps) = (weightDecay, momentum, beta1, beta2, epsilon)
            let kind = self.kind
            p.gradient.withUnsafeBufferPointer { g in
                p.value.withUnsafeMutableBufferPointer { w in
                    m.withUnsafeMutableBufferPointer { mb in
                        v.withUnsafeMutableBufferPointer { vb in
                            for i in 0..<w.count {
                                let grad = g[i] + decay * w[i]
                                switch kind {
                                case .sgd:
                                    mb[i] = mu * mb[i] + grad
                                    w[i] -= lr * mb[i]
                                case .adam:
                                    mb[i] = b1 * mb[i] + (1 - b1) * grad
                                    vb[i] = b2 * vb[i] + (1 - b2) * grad * grad
                                    w[i] -= lr * (mb[i] / correction1) / ((vb[i] / correction2).squareRoot() + eps)
                                }
                            }
                        }
                    }
                }
            }
            first[p.name] = m
            if kind == .adam { second[p.name] = v }
        }
    }

    /// The state as named tensors, to save with a checkpoint.
    public var state: [(name: String, tensor: Tensor)] {
        var out: [(String, Tensor)] = [("optimizer.steps", Tensor(shape: [1], values: [Float(steps)]))]
        for (k, v) in first.sorted(by: { $0.key < $1.key }) { out.append(("optimizer.first." + k, v)) }
        for (k, v) in second.sorted(by: { $0.key < $1.key }) { out.append(("optimizer.second." + k, v)) }
        return out
    }

    /// Restores a saved state.
    /// Restores saved state for `parameters`, checked first: a step count that is a whole number
    /// in range, and moments of each parameter's shape with finite values. A file that fails is
    /// refused, naming it and what is wrong; nothing is restored then.
    public func restore(_ tensors: [String: Tensor], for parameters: [Parameter], path: String) throws {
        let count = tensors["optimizer.steps"].map { Double($0.count == 1 ? $0[flat: 0] : .nan) } ?? 0
        guard let restoredSteps = wholeNumber(count, in: 0...Self.maxSteps) else {
            throw FileFormatError(path, "optimizer.steps is \(count), not a step count (0-\(Self.maxSteps))")
        }
        let shapes = Dictionary(parameters.map { ($0.name, $0.value.shape) }, uniquingKeysWith: { a, _ in a })
        var restoredFirst: [String: Tensor] = [:], restoredSecond: [String: Tensor] = [:]
        for (key, value) in tensors where key != "optimizer.steps" {
            let (prefix, name): (String, String)
            if key.hasPrefix("optimizer.first.") { (prefix, name) = ("first", String(key.dropFirst("optimizer.first.".count))) }
            else if key.hasPrefix("optimizer.second.") { (prefix, name) = ("second", String(key.dropFirst("optimizer.second.".count))) }
            else { throw FileFormatError(path, "tensor '\(key)' is not optimizer state") }
            guard let shape = shapes[name] else { throw FileFormatError(path, "'\(key)' is for a parameter the model does not have") }
            guard value.shape == shape else { throw FileFormatError(path, "'\(key)' has shape \(value.shape), the parameter \(shape)") }
            guard value.withUnsafeBufferPointer({ $0.allSatisfy(\.isFinite) }) else { throw FileFormatError(path, "'\(key)' holds a non-finite number") }
            if prefix == "first" { restoredFirst[name] = value } else { restoredSecond[name] = value }
        }
        (steps, first, second) = (restoredSteps, restoredFirst, restoredSecond)
    }

    /// More optimizer steps than any run takes (GazeCapture, 100 epochs at batch 1).
    static let maxSteps = 1 << 40
}

/// The learning rate over training: constant, step decay, or cosine to zero.
public enum LearningRateSchedule: Sendable, Equatable {
    case constant
    /// Multiply by `factor` every `every` steps.
    case step(every: Int, factor: Float)
    /// Half a cosine from the base rate to 0 over `total` steps.
    case cosine(total: Int)

    public func rate(_ base: Float, step: Int) -> Float {
        switch self {
        case .constant: base
        case .step(let every, let factor): base * powf(factor, Float(step / max(1, every)))
        case .cosine(let total): base * 0.5 * (1 + cosf(Float.pi * Float(min(step, total)) / Float(max(1, total))))
        }
    }
}

/// Scales all gradients so that their global L2 norm is at most `maximum`; returns the norm before.
@discardableResult
public func clipGradients(_ parameters: [Parameter], maximum: Float) -> Float {
    var sum: Double = 0
    for p in parameters { p.gradient.withUnsafeBufferPointer { g in for x in g { sum += Double(x * x) } } }
    let norm = Float(sum.squareRoot())
    if norm > maximum, maximum > 0 {
        let s = maximum / norm
        for p in parameters { p.gradient.withUnsafeMutableBufferPointer { g in for i in 0..<g.count { g[i] *= s } } }
    }
    return norm
}

/// Mean squared error over every output (as `F.mse_loss`), and its gradient; with `rows`, over
/// the flagged rows only (the others get no gradient).
public func meanSquaredError(_ prediction: Tensor, _ target: Tensor, rows: [Bool]? = nil) -> (loss: Float, gradient: Tensor) {
    precondition(prediction.shape == target.shape, "mse: \(prediction.shape) vs \(target.shape)")
    precondition(rows == nil || rows?.count == prediction.shape[0], "mse: \(rows?.count ?? 0) row flags for \(prediction.shape)")
    var gradient = Tensor(zeros: prediction.shape)
    var loss: Double = 0
    let width = prediction.count / max(1, prediction.shape[0])
    let counted = rows.map { $0.count { $0 } } ?? prediction.shape[0]
    // As training/recipe.py: a batch without a counted row divides by one (zero loss, zero gradient).
    let n = Float(max(1, counted) * width)
    gradient.withUnsafeMutableBufferPointer { g in
        for i in 0..<g.count where rows?[i / width] ?? true {
            let d = prediction[flat: i] - target[flat: i]
            loss += Double(d * d)
            g[i] = 2 * d / n
        }
    }
    return (Float(loss / Double(n)), gradient)
}

/// Binary cross-entropy of logits z (N) against labels, averaged over the N rows, and its
/// gradient (sigmoid(z) - y) / N: PyTorch's `binary_cross_entropy_with_logits`, computed as
/// max(z, 0) - z y + log(1 + exp(-|z|)) so that no large logit overflows.
public func binaryCrossEntropy(logits: Tensor, labels: [Bool]) -> (loss: Float, gradient: Tensor) {
    precondition(logits.count == labels.count, "bce: \(logits.count) logits for \(labels.count) labels")
    var gradient = Tensor(zeros: logits.shape)
    var loss: Double = 0
    let n = Double(max(1, logits.count))
    gradient.withUnsafeMutableBufferPointer { g in
        for i in 0..<g.count {
            let z = Double(logits[flat: i]), y: Double = labels[i] ? 1 : 0
            loss += max(z, 0) - z * y + log1p(exp(-abs(z)))
            g[i] = Float((1 / (1 + exp(-z)) - y) / n)
        }
    }
    return (Float(loss / n), gradient)
}

/// Mean squared error of within-pair differences: over pairs (a, b) of rows and every column,
/// ((p_a - p_b) - (t_a - t_b))^2, and its gradient. Two frames of one person share what only a
/// calibration can know (kappa, the face the network misjudges), so this loss leaves the
/// network nothing to gain but reading what changes between them: the eyes and the head
/// (the differential gaze estimation of Liu et al., TPAMI 2019). No pairs: zero loss and gradient.
public func pairedDifferenceError(_ prediction: Tensor, _ target: Tensor, pairs: [(Int, Int)]) -> (loss: Float, gradient: Tensor) {
    precondition(prediction.shape == target.shape && prediction.shape.count == 2, "paired mse: \(prediction.shape) vs \(target.shape)")
    var gradient = Tensor(zeros: prediction.shape)
    guard !pairs.isEmpty else { return (0, gradient) }
    let columns = prediction.shape[1]
    let n = Float(pairs.count * columns)
    var loss: Double = 0
    gradient.withUnsafeMutableBufferPointer { g in
        for (a, b) in pairs {
            for c in 0..<columns {
                let (i, j) = (a * columns + c, b * columns + c)
                let d = (prediction[flat: i] - prediction[flat: j]) - (target[flat: i] - target[flat: j])
                loss += Double(d * d)
                g[i] += 2 * d / n
                g[j] -= 2 * d / n
            }
        }
    }
    return (Float(loss / Double(n)), gradient)
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
