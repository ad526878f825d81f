import FovealTensor

/// The task network f_t: torchvision's AlexNet with its last layer regressing 2 numbers.
/// Names follow `alexnet`'s `features.N` / `classifier.N` indices (dropout and ReLU take indices too).
public struct AlexNetRegressor: Sendable {
    public var conv: [Conv2dLayer]      // features.0, 3, 6, 8, 10
    public var linear: [LinearLayer]    // classifier.1, 4, 6

    /// torchvision's `avgpool`: the last feature map is pooled to this side whatever the input
    /// size, so the classifier's width depends on the channels alone.
    public static let pooledSide = 6

    public init(_ p: ParameterReader, widths w: [Int], hidden: Int, outputs: Int = 2) throws {
        let f = p.scope("features"), c = p.scope("classifier"), pooled = Self.pooledSide * Self.pooledSide
        conv = [try Conv2dLayer(f.scope("0"), in: 3, out: w[0], kernel: 11, stride: 4, padding: 2),
                try Conv2dLayer(f.scope("3"), in: w[0], out: w[1], kernel: 5, padding: 2),
                try Conv2dLayer(f.scope("6"), in: w[1], out: w[2], kernel: 3, padding: 1),
                try Conv2dLayer(f.scope("8"), in: w[2], out: w[3], kernel: 3, padding: 1),
                try Conv2dLayer(f.scope("10"), in: w[3], out: w[4], kernel: 3, padding: 1)]
        linear = [try LinearLayer(c.scope("1"), in: w[4] * pooled, out: hidden),
                  try LinearLayer(c.scope("4"), in: hidden, out: hidden),
                  try LinearLayer(c.scope("6"), in: hidden, out: outputs)]
    }

    /// What backward needs: each layer's cache, the max pools' inputs, and the dropout masks.
    public struct Cache {
        let conv: [Conv2dLayer.Cache]
        let poolInputs: [Tensor]
        let featureSize: (Int, Int)
        let linear: [LinearLayer.Cache]
        let masks: [Tensor?]
    }

    /// (N, 3, T, T) -> (N, outputs) unbounded outputs, and the penultimate features (N, hidden)
    /// after the second hidden layer (what a per-user calibration regresses from).
    ///
    /// `dropout` nil is inference (dropout is the identity, nothing kept). A number is a training
    /// pass: the probability of the two dropout layers (torchvision's 0.5; 0 turns them off), the
    /// masks drawn from `rng`, and the cache returned for backward.
    public func forward(_ x: Tensor, dropout: Float?, rng: inout SplitMix64) -> (output: Tensor, features: Tensor, cache: Cache?) {
        let keep = dropout != nil
        var convCaches: [Conv2dLayer.Cache?] = [], poolInputs: [Tensor] = []
        var h = x
        for (i, layer) in conv.enumerated() {
            let (y, c) = layer.forward(h, relu: true, keep: keep)
            convCaches.append(c)
            h = y
            // features.2, 5 and 12: max pools after the first, second and last convolution.
            if i == 0 || i == 1 || i == 4 {
                poolInputs.append(h)
                h = MaxPool2D.forward(h, kernel: 3, stride: 2)
            }
        }
        let featureSize = (h.shape[2], h.shape[3])
        h = AdaptiveAvgPool2D.forward(h, outputHeight: Self.pooledSide, outputWidth: Self.pooledSide)
        var flat = h.reshaped([h.shape[0], h.count / h.shape[0]])
        var masks: [Tensor?] = [], linearCaches: [LinearLayer.Cache?] = []
        var features = flat
        for (i, layer) in linear.enumerated() {
            // classifier.0 and 3: dropout before the two hidden layers.
            if i < 2, let p = dropout, p > 0 {
                let (dropped, mask) = Elementwise.dropout(flat, p: p, rng: &rng)
                flat = dropped
                masks.append(mask)
            } else {
                masks.append(nil)
            }
            if i == 2 { features = flat }
            let (y, c) = layer.forward(flat, relu: i < 2, keep: keep)
            linearCaches.append(c)
            flat = y
        }
        guard keep else { return (flat, features, nil) }
        return (flat, features, Cache(conv: convCaches.compactMap { $0 }, poolInputs: poolInputs, featureSize: featureSize,
                                      linear: linearCaches.compactMap { $0 }, masks: masks))
    }

    /// Inference: (N, 3, T, T) -> (N, outputs).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var unused = SplitMix64(seed: 0)
        return forward(x, dropout: nil, rng: &unused).output
    }

    /// `dFeatures` (N, hidden) is a gradient arriving at the penultimate features from another
    /// head on them (the presence head), added to the one from the output.
    public func backward(_ dy: Tensor, _ cache: Cache, dFeatures: Tensor? = nil, inputGradient: Bool = true) -> Tensor? {
        var d = dy
        for i in (0..<3).reversed() {
            d = linear[i].backward(d, cache.linear[i])!
            if i == 2, let dFeatures { Elementwise.accumulate(&d, dFeatures) }
            if let mask = cache.masks[i] { d = Elementwise.multiply(d, mask) }
        }
        let c5 = conv[4].weight.value.shape[0]
        d = AdaptiveAvgPool2D.backward(d.reshaped([d.shape[0], c5, Self.pooledSide, Self.pooledSide]),
                                       inputHeight: cache.featureSize.0, inputWidth: cache.featureSize.1)
        d = MaxPool2D.backward(d, input: cache.poolInputs[2], kernel: 3, stride: 2)
        for i in [4, 3, 2] { d = conv[i].backward(d, cache.conv[i])! }
        d = MaxPool2D.backward(d, input: cache.poolInputs[1], kernel: 3, stride: 2)
        d = conv[1].backward(d, cache.conv[1])!
        d = MaxPool2D.backward(d, input: cache.poolInputs[0], kernel: 3, stride: 2)
        return conv[0].backward(d, cache.conv[0], inputGradient: inputGradient)
    }
}
