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
