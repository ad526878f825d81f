import FovealIO
import FovealTensor

/// A `GazeNet` from a `.safetensors` weight file, or from PyTorch's default random initialisation.
extension GazeNet {
    /// Loads the model a weight file describes: its configuration from `__metadata__["config"]`,
    /// its parameters by `state_dict` name. Refuses the file at the first name whose presence or
    /// shape does not fit the configuration, and names it.
    public init(weightsAt path: String) throws {
        let file = try SafeTensorsFile(path: path)
        guard let json = file.metadata["config"] else {
            throw ModelError.weightMismatch(path: path, problem: "no model configuration (__metadata__[\"config\"])")
        }
        let config: ModelConfig
        do {
            config = try ModelConfig.decode(json: json)
        } catch {
            throw ModelError.weightMismatch(path: path, problem: "\(error)")
        }
        var used = Set<String>()
        try self.init(config: config, parameters: ParameterReader { name, shape, _ in
            guard let entry = file.entries[name] else {
                throw ModelError.weightMismatch(path: path, problem: "missing tensor '\(name)' of shape \(shape)")
            }
            guard entry.shape == shape else {
                throw ModelError.weightMismatch(path: path, problem: "tensor '\(name)' has shape \(entry.shape), the configuration needs \(shape)")
            }
            used.insert(name)
            let tensor = try file.tensor(name)
            // A non-finite weight gives a plausible-looking wrong gaze or none at all: refuse it here.
            if let bad = tensor.withUnsafeBufferPointer({ $0.firstIndex { !$0.isFinite } }) {
                throw ModelError.weightMismatch(path: path, problem: "tensor '\(name)' holds a non-finite number at index \(bad)")
            }
            return tensor
        })
        // Extra floating-point tensors mean the file is for another model; integer ones are
        // BatchNorm's num_batches_tracked counters, which inference does not need.
        if let extra = file.names.first(where: { !used.contains($0) && file.entries[$0]?.dtype.isFloatingPoint == true }) {
            throw ModelError.weightMismatch(path: path, problem: "tensor '\(extra)' has no place in the configured model")
        }
    }

    /// A model with PyTorch's default initialisation (uniform +-1/sqrt(fan-in) weights and biases,
    /// unit BatchNorm), from a seeded generator.
    public init(config: ModelConfig, seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        try self.init(config: config, parameters: ParameterReader { _, shape, role in
            var t = Tensor(zeros: shape)
            t.withUnsafeMutableBufferPointer { p in
                switch role {
                case .weight(let fanIn), .bias(let fanIn):
                    let bound = 1 / Float(fanIn).squareRoot()
                    for i in 0..<p.count { p[i] = rng.uniform(-bound, bound) }
                case .normScale, .runningVar: p.update(repeating: 1)
                case .normShift, .runningMean: break
                }
            }
            return t
        })
    }

    /// Every parameter and buffer by `state_dict` name, in the order the model declares them.
    public static func parameterShapes(_ config: ModelConfig) throws -> [(name: String, shape: [Int])] {
        var list: [(String, [Int])] = []
        _ = try GazeNet(config: config, parameters: ParameterReader { name, shape, _ in
            list.append((name, shape))
            return Tensor(zeros: shape.map { _ in 0 })
        })
        return list
    }
}

extension GazeNet {
    /// A logistic head's weights (1, inputs) and bias (1).
    public typealias LogisticHead = (weight: Tensor, bias: Tensor)

    /// This model with the heads given (a presence head, a face-in-view head) in place of its own,
    /// and set in the configuration: the same parameters otherwise, shared with this model.
    public func withHeads(presence: LogisticHead? = nil, faceInView: LogisticHead? = nil) throws -> GazeNet {
        var config = self.config
        if presence != nil { config.presence = true }
        if faceInView != nil { config.faceInView = true }
        let byName = Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.value) })
        return try GazeNet(config: config, parameters: ParameterReader { name, shape, _ in
            let value: Tensor? = switch name {
            case "presence.weight" where presence != nil: presence?.weight
            case "presence.bias" where presence != nil: presence?.bias
            case "face_in_view.weight" where faceInView != nil: faceInView?.weight
            case "face_in_view.bias" where faceInView != nil: faceInView?.bias
            default: byName[name]
            }
            guard let value, value.shape == shape else {
                throw ModelError.badInput("head: tensor '\(name)' is missing or not of shape \(shape)")
            }
            return value
        })
    }
}

extension GazeNet {
    /// Runs AlexNet's three fully connected layers on 16-bit copies of their weights, or on the
    /// float32 weights again with nil. Inference only: training, saving and the model's identity
    /// use the float32 weights, which stay.
    public mutating func useFullyConnected(_ format: HalfPrecisionMatrix.Format?) {
        for i in task.linear.indices {
            task.linear[i].halfPrecision = format.map { HalfPrecisionMatrix(task.linear[i].weight.value, format: $0) }
        }
    }
}
