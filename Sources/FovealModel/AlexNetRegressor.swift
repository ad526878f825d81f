import FovealTensor

/// The task network f_t: torchvision's AlexNet with its last layer regressing 2 numbers.
/// Names follow `alexnet`'s `features.N` / `classifier.N` indices (dropout and ReLU take indices too).
public struct AlexNetRegressor: Sendable {
    public var conv: [Conv2dLayer]      // features.0, 3, 6, 8, 10
    public var linear: [LinearLayer]    // classifier.1, 4, 6

    public init(_ p: ParameterReader, widths w: [Int], hidden: Int, outputs: Int = 2) throws {
        let f = p.scope("features"), c = p.scope("classifier")
        conv = [try Conv2dLayer(f.scope("0"), in: 3, out: w[0], kernel: 11, stride: 4, padding: 2),
                try Conv2dLayer(f.scope("3"), in: w[0], out: w[1], kernel: 5, padding: 2),
                try Conv2dLayer(f.scope("6"), in: w[1], out: w[2], kernel: 3, padding: 1),
                try Conv2dLayer(f.scope("8"), in: w[2], out: w[3], kernel: 3, padding: 1),
                try Conv2dLayer(f.scope("10"), in: w[3], out: w[4], kernel: 3, padding: 1)]
        linear = [try LinearLayer(c.scope("1"), in: w[4] * 36, out: hidden),
                  try LinearLayer(c.scope("4"), in: hidden, out: hidden),
                  try LinearLayer(c.scope("6"), in: hidden, out: outputs)]
    }

    /// The convolutional features, pooled to 6x6: (N, 3, T, T) -> (N, C5, 6, 6).
    public func features(_ x: Tensor) -> Tensor {
        var h = MaxPool2D.forward(conv[0](x, relu: true), kernel: 3, stride: 2)
        h = MaxPool2D.forward(conv[1](h, relu: true), kernel: 3, stride: 2)
        h = conv[4](conv[3](conv[2](h, relu: true), relu: true), relu: true)
        h = MaxPool2D.forward(h, kernel: 3, stride: 2)
        return AdaptiveAvgPool2D.forward(h, outputHeight: 6, outputWidth: 6)
    }

    /// The penultimate features (after the second hidden layer): (N, 3, T, T) -> (N, hidden).
    /// Dropout is the identity at inference.
    public func embedding(_ x: Tensor) -> Tensor {
        let h = features(x)
        let flat = h.reshaped([h.shape[0], h.count / h.shape[0]])
        return linear[1](linear[0](flat, relu: true), relu: true)
    }

    /// (N, 3, T, T) -> (N, 2) unbounded outputs.
    public func callAsFunction(_ x: Tensor) -> Tensor { linear[2](embedding(x)) }
}

extension AlexNetRegressor {
    public struct Cache {
        let conv: [Conv2dLayer.Cache]
        let poolInputs: [Tensor]
        let featureSize: (Int, Int)
        let linear: [LinearLayer.Cache]
        let masks: [Tensor?]
    }

    /// Training forward; `dropout` is the probability of the two dropout layers (0.5 in
    /// torchvision's AlexNet; 0 turns them off).
    public func train(_ x: Tensor, dropout: Float, rng: inout SplitMix64) -> (Tensor, Cache) {
        var convCaches: [Conv2dLayer.Cache] = [], poolInputs: [Tensor] = []
        var (h, c) = conv[0].train(x, relu: true)
        convCaches.append(c); poolInputs.append(h)
        h = MaxPool2D.forward(h, kernel: 3, stride: 2)
        (h, c) = conv[1].train(h, relu: true)
        convCaches.append(c); poolInputs.append(h)
        h = MaxPool2D.forward(h, kernel: 3, stride: 2)
        for i in 2..<5 {
            (h, c) = conv[i].train(h, relu: true)
            convCaches.append(c)
        }
        poolInputs.append(h)
        h = MaxPool2D.forward(h, kernel: 3, stride: 2)
        let featureSize = (h.shape[2], h.shape[3])
        h = AdaptiveAvgPool2D.forward(h, outputHeight: 6, outputWidth: 6)
        var flat = h.reshaped([h.shape[0], h.count / h.shape[0]])
        var masks: [Tensor?] = [], linearCaches: [LinearLayer.Cache] = []
        for i in 0..<3 {
            if i < 2, dropout > 0 {
                let (dropped, mask) = Elementwise.dropout(flat, p: dropout, rng: &rng)
                flat = dropped
                masks.append(mask)
            } else {
                masks.append(nil)
            }
            let (y, lc) = linear[i].train(flat, relu: i < 2)
            linearCaches.append(lc)
            flat = y
        }
        return (flat, Cache(conv: convCaches, poolInputs: poolInputs, featureSize: featureSize, linear: linearCaches, masks: masks))
    }

    public func backward(_ dy: Tensor, _ cache: Cache, inputGradient: Bool = true) -> Tensor? {
        var d = dy
        for i in (0..<3).reversed() {
            d = linear[i].backward(d, cache.linear[i])!
            if let mask = cache.masks[i] { d = Elementwise.multiply(d, mask) }
        }
        let c5 = conv[4].weight.value.shape[0]
        d = AdaptiveAvgPool2D.backward(d.reshaped([d.shape[0], c5, 6, 6]), inputHeight: cache.featureSize.0,
                                       inputWidth: cache.featureSize.1)
        d = MaxPool2D.backward(d, input: cache.poolInputs[2], kernel: 3, stride: 2)
        for i in [4, 3, 2] { d = conv[i].backward(d, cache.conv[i])! }
        d = MaxPool2D.backward(d, input: cache.poolInputs[1], kernel: 3, stride: 2)
        d = conv[1].backward(d, cache.conv[1])!
        d = MaxPool2D.backward(d, input: cache.poolInputs[0], kernel: 3, stride: 2)
        return conv[0].backward(d, cache.conv[0], inputGradient: inputGradient)
    }
}
