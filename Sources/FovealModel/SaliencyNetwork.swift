import FovealTensor

/// ResNet-18's basic block: two 3x3 convolutions with batch norm and a skip connection, which
/// becomes a 1x1 strided convolution when the block changes width or resolution.
public struct BasicBlock: Sendable {
    public var conv1: Conv2dLayer, bn1: BatchNormLayer, conv2: Conv2dLayer, bn2: BatchNormLayer
    public var downsample: (conv: Conv2dLayer, bn: BatchNormLayer)?

    public init(_ p: ParameterReader, in cin: Int, out cout: Int, stride: Int) throws {
        conv1 = try Conv2dLayer(p.scope("conv1"), in: cin, out: cout, kernel: 3, stride: stride, padding: 1, bias: false)
        bn1 = try BatchNormLayer(p.scope("bn1"), channels: cout)
        conv2 = try Conv2dLayer(p.scope("conv2"), in: cout, out: cout, kernel: 3, padding: 1, bias: false)
        bn2 = try BatchNormLayer(p.scope("bn2"), channels: cout)
        if stride != 1 || cin != cout {
            let d = p.scope("downsample")
            downsample = (try Conv2dLayer(d.scope("0"), in: cin, out: cout, kernel: 1, stride: stride, bias: false),
                          try BatchNormLayer(d.scope("1"), channels: cout))
        }
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let out = bn2(conv2(bn1(conv1(x), relu: true)))
        let skip = downsample.map { $0.bn($0.conv(x)) } ?? x
        return Elementwise.add(out, skip, relu: true)
    }
}

/// The saliency network f_s: a prefix of ResNet-18 (stem + 1, 2 or 3 stages), named as
/// torchvision's `resnet18` so that ImageNet weights load by name.
public struct SaliencyNetwork: Sendable {
    public var conv1: Conv2dLayer, bn1: BatchNormLayer
    public var stages: [[BasicBlock]]  // layer1, layer2, ...
    /// Channels of the output feature map.
    public let outChannels: Int

    public init(_ p: ParameterReader, depth: Int, width: Int) throws {
        conv1 = try Conv2dLayer(p.scope("conv1"), in: 3, out: width, kernel: 7, stride: 2, padding: 3, bias: false)
        bn1 = try BatchNormLayer(p.scope("bn1"), channels: width)
        let stageCount = [6: 1, 10: 2, 14: 3][depth]!
        var cin = width
        stages = []
        for i in 0..<stageCount {
            let cout = width << i, layer = p.scope("layer\(i + 1)")
            stages.append([try BasicBlock(layer.scope("0"), in: cin, out: cout, stride: i == 0 ? 1 : 2),
                           try BasicBlock(layer.scope("1"), in: cout, out: cout, stride: 1)])
            cin = cout
        }
        outChannels = cin
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = MaxPool2D.forward(bn1(conv1(x), relu: true), kernel: 3, stride: 2, padding: 1)
        for block in stages.joined() { h = block(h) }
        return h
    }
}
