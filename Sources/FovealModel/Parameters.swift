import FovealTensor

/// What a parameter is for: decides its PyTorch default initialisation.
public enum ParameterRole: Sendable {
    /// A convolution or linear weight with this fan-in, or its bias.
    case weight(fanIn: Int), bias(fanIn: Int)
    /// BatchNorm's scale and shift, and its running statistics.
    case normScale, normShift, runningMean, runningVar
}

/// Where a model's layers get their parameters: a weight file, a random initialisation or a
/// recorder listing the names. Layers ask by their PyTorch `state_dict` name under a scope, so
/// the model's description is written once and fixes both the names and the shapes.
public struct ParameterReader {
    public typealias Fetch = (_ name: String, _ shape: [Int], _ role: ParameterRole) throws -> Tensor
    let prefix: String
    let fetch: Fetch

    public init(prefix: String = "", fetch: @escaping Fetch) {
        self.prefix = prefix
        self.fetch = fetch
    }

    /// The parameter `name` (relative to this scope) of the given shape.
    public func callAsFunction(_ name: String, _ shape: [Int], _ role: ParameterRole) throws -> Tensor {
        try fetch(prefix + name, shape, role)
    }

    /// A reader for a sub-module, e.g. `scope("layer1").scope("0")` asks for "layer1.0.conv1.weight".
    public func scope(_ name: String) -> ParameterReader {
        ParameterReader(prefix: prefix + name + ".", fetch: fetch)
    }
}
