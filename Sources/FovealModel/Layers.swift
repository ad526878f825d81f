import FovealTensor

/// A convolution layer's parameters and geometry (PyTorch `nn.Conv2d`).
public struct Conv2dLayer: Sendable {
    public var weight: Tensor  // (out, in, k, k)
    public var bias: Tensor?   // (out)
    public let stride: Int, padding: Int

    public init(_ p: ParameterReader, in cin: Int, out cout: Int, kernel: Int, stride: Int = 1,
                padding: Int = 0, bias: Bool = true) throws {
        let fanIn = cin * kernel * kernel
        weight = try p("weight", [cout, cin, kernel, kernel], .weight(fanIn: fanIn))
        self.bias = bias ? try p("bias", [cout], .bias(fanIn: fanIn)) : nil
        self.stride = stride
        self.padding = padding
    }

    /// `relu` fuses the ReLU that follows.
    public func callAsFunction(_ x: Tensor, relu: Bool = false) -> Tensor {
        Conv2D.forward(x, weight: weight, bias: bias, stride: stride, padding: padding, relu: relu)
    }
}

/// Batch normalisation's parameters and running statistics (PyTorch `nn.BatchNorm2d`).
public struct BatchNormLayer: Sendable {
    public var weight: Tensor, bias: Tensor, runningMean: Tensor, runningVar: Tensor  // each (C)

    public init(_ p: ParameterReader, channels c: Int) throws {
        weight = try p("weight", [c], .normScale)
        bias = try p("bias", [c], .normShift)
        runningMean = try p("running_mean", [c], .runningMean)
        runningVar = try p("running_var", [c], .runningVar)
    }

    /// Inference with the running statistics; `relu` fuses the ReLU that follows.
    public func callAsFunction(_ x: Tensor, relu: Bool = false) -> Tensor {
        BatchNorm2D.forwardInference(x, runningMean: runningMean, runningVar: runningVar,
                                     weight: weight, bias: bias, relu: relu)
    }
}

/// A fully connected layer (PyTorch `nn.Linear`).
public struct LinearLayer: Sendable {
    public var weight: Tensor  // (out, in)
    public var bias: Tensor    // (out)

    public init(_ p: ParameterReader, in cin: Int, out cout: Int) throws {
        weight = try p("weight", [cout, cin], .weight(fanIn: cin))
        bias = try p("bias", [cout], .bias(fanIn: cin))
    }

    /// `relu` fuses the ReLU that follows.
    public func callAsFunction(_ x: Tensor, relu: Bool = false) -> Tensor {
        Linear.forward(x, weight: weight, bias: bias, relu: relu)
    }
}
