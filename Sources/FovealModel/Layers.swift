import FovealTensor
import Synchronization

/// A convolution layer's parameters and geometry (PyTorch `nn.Conv2d`).
public struct Conv2dLayer: Sendable {
    public let weight: Parameter   // (out, in, k, k)
    public let bias: Parameter?    // (out)
    public let stride: Int, padding: Int
    /// The filters packed for inference (`PackedFilters`), kept between frames.
    private let packed = PackedFilterCache()

    public init(_ p: ParameterReader, in cin: Int, out cout: Int, kernel: Int, stride: Int = 1,
                padding: Int = 0, bias: Bool = true) throws {
        let fanIn = cin * kernel * kernel
        weight = try p("weight", [cout, cin, kernel, kernel], .weight(fanIn: fanIn))
        self.bias = bias ? try p("bias", [cout], .bias(fanIn: fanIn)) : nil
        self.stride = stride
        self.padding = padding
    }

    /// What backward needs: the input, and the output when a ReLU is fused.
    public struct Cache { let input: Tensor, output: Tensor? }

    /// `relu` fuses the ReLU that follows; `keep` returns the cache for backward.
    public func forward(_ x: Tensor, relu: Bool = false, keep: Bool) -> (Tensor, Cache?) {
        // Inference packs the filters once per change of the weights; training, which changes them
        // every step, packs them per call.
        if !keep, let filters = packed.filters(for: [weight, bias], input: x, stride: stride, padding: padding, make: { layout in
            PackedFilters(weight: weight.value, bias: bias?.value, layout: layout)
        }) {
            return (Conv2D.forward(x, filters: filters, stride: stride, padding: padding, relu: relu), nil)
        }
        let y = Conv2D.forward(x, weight: weight.value, bias: bias?.value, stride: stride, padding: padding, relu: relu)
        return (y, keep ? Cache(input: x, output: relu ? y : nil) : nil)
    }

    public func callAsFunction(_ x: Tensor, relu: Bool = false) -> Tensor { forward(x, relu: relu, keep: false).0 }

    /// Inference with the BatchNorm that follows folded into the weights (each output channel's
    /// filter times its scale, the shift as bias): one pass over the output instead of two, the
    /// same numbers up to rounding.
    public func callAsFunction(_ x: Tensor, normalizedBy bn: BatchNormLayer, relu: Bool = false) -> Tensor {
        let sources = [weight, bias, bn.weight, bn.bias, bn.runningMean, bn.runningVar]
        if let filters = packed.filters(for: sources, input: x, stride: stride, padding: padding, make: { layout in
            let (folded, shifted) = fold(bn)
            return PackedFilters(weight: folded, bias: shifted, layout: layout)
        }) {
            return Conv2D.forward(x, filters: filters, stride: stride, padding: padding, relu: relu)
        }
        let (folded, shifted) = fold(bn)
        return Conv2D.forward(x, weight: folded, bias: shifted, stride: stride, padding: padding, relu: relu)
    }

    /// The weight and bias with `bn` folded in.
    private func fold(_ bn: BatchNormLayer) -> (weight: Tensor, bias: Tensor) {
        let (scale, shift) = BatchNorm2D.inferenceAffine(runningMean: bn.runningMean.value, runningVar: bn.runningVar.value,
                                                         weight: bn.weight.value, bias: bn.bias.value)
        var folded = weight.value
        let filter = folded.count / max(1, scale.count)
        folded.withUnsafeMutableBufferPointer { w in
            for m in scale.indices { for i in (m * filter)..<((m + 1) * filter) { w[i] *= scale[m] } }
        }
        var shifted = shift
        if let bias { for m in shifted.indices { shifted[m] += bias.value[flat: m] * scale[m] } }
        return (folded, Tensor(shape: [shifted.count], values: shifted))
    }

    /// Adds the weight and bias gradients; returns the input's gradient if asked.
    @discardableResult
    public func backward(_ dy: Tensor, _ cache: Cache, inputGradient: Bool = true) -> Tensor? {
        let d = cache.output.map { Elementwise.reluBackward(dy, output: $0) } ?? dy
        let g = Conv2D.backward(d, input: cache.input, weight: weight.value, stride: stride, padding: padding,
                                inputGradient: inputGradient)
        weight.accumulate(g.dWeight)
        bias?.accumulate(g.dBias)
        return g.dInput
    }
}

/// A convolution layer's packed filters, made again when any parameter they were made from has
/// changed since (`Parameter.version`), or the layout the product and the input's size need has. Nil where
/// the convolution does not run on packed filters (`Conv2D.filterLayout`). Safe to share between threads.
final class PackedFilterCache: Sendable {
    private let entry = Mutex<(key: [Int], filters: PackedFilters)?>(nil)

    func filters(for sources: [Parameter?], input: Tensor, stride: Int, padding: Int,
                 make: (PackedFilters.Layout) -> PackedFilters) -> PackedFilters? {
        guard let shape = sources.first??.value.shape, input.shape.count == 4,
              let layout = Conv2D.filterLayout(shape: shape, stride: stride, padding: padding,
                                               height: input.shape[2], width: input.shape[3])
        else { return nil }
        // The layer's parameters are constants of it: their versions alone say whether they changed.
        let key = sources.map { $0?.version ?? 0 } + [layout == .winograd ? 1 : 0]
        if let cached = entry.withLock({ $0 }), cached.key == key { return cached.filters }
        let filters = make(layout)
        entry.withLock { $0 = (key, filters) }
        return filters
    }
}

/// Batch normalisation's parameters and running statistics (PyTorch `nn.BatchNorm2d`).
public struct BatchNormLayer: Sendable {
    public let weight: Parameter, bias: Parameter, runningMean: Parameter, runningVar: Parameter  // each (C)

    public init(_ p: ParameterReader, channels c: Int) throws {
        weight = try p("weight", [c], .normScale)
        bias = try p("bias", [c], .normShift)
        runningMean = try p("running_mean", [c], .runningMean)
        runningVar = try p("running_var", [c], .runningVar)
    }

    public struct Cache { let input: Tensor, statistics: BatchNorm2D.Cache, output: Tensor? }

    /// `relu` fuses the ReLU that follows. At inference: the running statistics. In training:
    /// the batch's statistics, the running averages updated, and the cache for backward.
    public func forward(_ x: Tensor, relu: Bool = false, training: Bool) -> (Tensor, Cache?) {
        guard training else {
            return (BatchNorm2D.forwardInference(x, runningMean: runningMean.value, runningVar: runningVar.value,
                                                 weight: weight.value, bias: bias.value, relu: relu), nil)
        }
        var (y, statistics) = BatchNorm2D.forwardTraining(x, runningMean: &runningMean.value, runningVar: &runningVar.value,
                                                          weight: weight.value, bias: bias.value)
        if relu { y = Elementwise.relu(y) }
        return (y, Cache(input: x, statistics: statistics, output: relu ? y : nil))
    }

    public func callAsFunction(_ x: Tensor, relu: Bool = false) -> Tensor { forward(x, relu: relu, training: false).0 }

    public func backward(_ dy: Tensor, _ cache: Cache) -> Tensor {
        let d = cache.output.map { Elementwise.reluBackward(dy, output: $0) } ?? dy
        let g = BatchNorm2D.backward(d, input: cache.input, weight: weight.value, cache: cache.statistics)
        weight.accumulate(g.dWeight)
        bias.accumulate(g.dBias)
        return g.dInput
    }
}

/// A fully connected layer (PyTorch `nn.Linear`).
public struct LinearLayer: Sendable {
    public let weight: Parameter  // (out, in)
    public let bias: Parameter    // (out)
    /// The weights in 16 bits for inference (`GazeNet.useFullyConnected`); training and
    /// backward keep using `weight`.
    public var halfPrecision: HalfPrecisionMatrix?

    public init(_ p: ParameterReader, in cin: Int, out cout: Int) throws {
        weight = try p("weight", [cout, cin], .weight(fanIn: cin))
        bias = try p("bias", [cout], .bias(fanIn: cin))
    }

    public struct Cache { let input: Tensor, output: Tensor? }

    /// `relu` fuses the ReLU that follows; `keep` returns the cache for backward.
    public func forward(_ x: Tensor, relu: Bool = false, keep: Bool) -> (Tensor, Cache?) {
        if !keep, let halfPrecision { return (Linear.forward(x, weight: halfPrecision, bias: bias.value, relu: relu), nil) }
        let y = Linear.forward(x, weight: weight.value, bias: bias.value, relu: relu)
        return (y, keep ? Cache(input: x, output: relu ? y : nil) : nil)
    }

    public func callAsFunction(_ x: Tensor, relu: Bool = false) -> Tensor { forward(x, relu: relu, keep: false).0 }

    @discardableResult
    public func backward(_ dy: Tensor, _ cache: Cache, inputGradient: Bool = true) -> Tensor? {
        let d = cache.output.map { Elementwise.reluBackward(dy, output: $0) } ?? dy
        let g = Linear.backward(d, input: cache.input, weight: weight.value, inputGradient: inputGradient)
        weight.accumulate(g.dWeight)
        bias.accumulate(g.dBias)
        return g.dInput
    }
}
