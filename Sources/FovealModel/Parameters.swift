import FovealTensor

/// What a parameter is for: decides its PyTorch default initialisation and whether it is trained.
public enum ParameterRole: Sendable {
    /// A convolution or linear weight with this fan-in, or its bias.
    case weight(fanIn: Int), bias(fanIn: Int)
    /// BatchNorm's scale and shift, and its running statistics (buffers, not trained).
    case normScale, normShift, runningMean, runningVar

    public var isTrainable: Bool {
        switch self {
        case .runningMean, .runningVar: false
        default: true
        }
    }
}

/// One named tensor of a model (a PyTorch `state_dict` entry) with the gradient training
/// accumulates into it. Layers share these objects with the model's flat list, so an optimiser
/// can update every parameter without knowing the layers.
public final class Parameter: @unchecked Sendable {
    public let name: String
    public let role: ParameterRole
    /// Changing the value (an optimizer step, a loaded checkpoint) bumps `version`.
    public var value: Tensor { didSet { version &+= 1 } }
    /// Counts changes of `value`: what a cache made from it (a layer's packed filters) is checked against.
    public private(set) var version = 0
    /// Same shape as `value`; zero until backward adds to it.
    public var gradient: Tensor

    public init(name: String, role: ParameterRole, value: Tensor) {
        (self.name, self.role, self.value) = (name, role, value)
        gradient = Tensor(zeros: value.shape)
    }

    public func accumulate(_ g: Tensor) { Elementwise.accumulate(&gradient, g) }

    public func zeroGradient() {
        gradient.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }
}

/// Where a model's layers get their parameters: a weight file, a random initialisation or a
/// recorder listing the names. Layers ask by their PyTorch `state_dict` name under a scope, so
/// the model's description is written once and fixes both the names and the shapes.
public struct ParameterReader {
    public typealias Fetch = (_ name: String, _ shape: [Int], _ role: ParameterRole) throws -> Tensor
    let prefix: String
    let fetch: Fetch
    let registry: Registry

    /// Collects the parameters in the order layers declare them.
    final class Registry {
        var parameters: [Parameter] = []
    }

    public init(prefix: String = "", fetch: @escaping Fetch) {
        self.init(prefix: prefix, fetch: fetch, registry: Registry())
    }

    init(prefix: String, fetch: @escaping Fetch, registry: Registry) {
        (self.prefix, self.fetch, self.registry) = (prefix, fetch, registry)
    }

    /// The parameter `name` (relative to this scope) of the given shape.
    public func callAsFunction(_ name: String, _ shape: [Int], _ role: ParameterRole) throws -> Parameter {
        let p = Parameter(name: prefix + name, role: role, value: try fetch(prefix + name, shape, role))
        registry.parameters.append(p)
        return p
    }

    /// A reader for a sub-module, e.g. `scope("layer1").scope("0")` asks for "layer1.0.conv1.weight".
    public func scope(_ name: String) -> ParameterReader {
        ParameterReader(prefix: prefix + name + ".", fetch: fetch, registry: registry)
    }

    /// Every parameter created through this reader or its scopes so far.
    public var parameters: [Parameter] { registry.parameters }
}
