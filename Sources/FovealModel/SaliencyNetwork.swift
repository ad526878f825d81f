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

    /// What backward needs: each layer's cache and the block's output (for its final ReLU).
    public struct Cache {
        let conv1: Conv2dLayer.Cache, bn1: BatchNormLayer.Cache, conv2: Conv2dLayer.Cache, bn2: BatchNormLayer.Cache
        let downsample: (Conv2dLayer.Cache, BatchNormLayer.Cache)?
        let output: Tensor
    }

    /// relu(bn2(conv2(relu(bn1(conv1(x))))) + skip(x)). `training`: BatchNorm on the batch's
    /// statistics, and the cache for backward.
    public func forward(_ x: Tensor, training: Bool) -> (Tensor, Cache?) {
        guard training else {
            let out = conv2(conv1(x, normalizedBy: bn1, relu: true), normalizedBy: bn2)
            return (Elementwise.add(out, downsample.map { $0.conv(x, normalizedBy: $0.bn) } ?? x, relu: true), nil)
        }
        let (a, c1) = conv1.forward(x, keep: training)
        let (b, n1) = bn1.forward(a, relu: true, training: training)
        let (c, c2) = conv2.forward(b, keep: training)
        let (out, n2) = bn2.forward(c, training: training)
        var skip = x
        var down: (Conv2dLayer.Cache, BatchNormLayer.Cache)?
        if let downsample {
            let (d, dc) = downsample.conv.forward(x, keep: training)
            let (s, dn) = downsample.bn.forward(d, training: training)
            skip = s
            if let dc, let dn { down = (dc, dn) }
        }
        let y = Elementwise.add(out, skip, relu: true)
        guard let c1, let n1, let c2, let n2 else { return (y, nil) }
        return (y, Cache(conv1: c1, bn1: n1, conv2: c2, bn2: n2, downsample: down, output: y))
    }

    public func backward(_ dy: Tensor, _ cache: Cache, inputGradient: Bool = true) -> Tensor? {
        let d = Elementwise.reluBackward(dy, output: cache.output)
        let dc = bn2.backward(d, cache.bn2)
        let db = conv2.backward(dc, cache.conv2)!
        let da = bn1.backward(db, cache.bn1)
        let dxMain = conv1.backward(da, cache.conv1, inputGradient: inputGradient)
        var dxSkip: Tensor? = d
        if let downsample, let (convCache, bnCache) = cache.downsample {
            dxSkip = downsample.conv.backward(downsample.bn.backward(d, bnCache), convCache, inputGradient: inputGradient)
        }
        guard inputGradient, var dx = dxMain, let dxSkip else { return nil }
        Elementwise.accumulate(&dx, dxSkip)
        return dx
    }
}

/// The saliency network f_s: a prefix of ResNet-18 (stem + 1, 2 or 3 stages), named as
/// torchvision's `resnet18` so that ImageNet weights load by name.
public struct SaliencyNetwork: Sendable {
    public var conv1: Conv2dLayer, bn1: BatchNormLayer
    public var stages: [[BasicBlock]]  // layer1, layer2, ...
    /// Channels of the output feature map.
    public let outChannels: Int

    /// Stages of ResNet-18 that a prefix of each depth keeps (depth = layers with weights).
    static let stagesForDepth = [6: 1, 10: 2, 14: 3]

    public init(_ p: ParameterReader, depth: Int, width: Int) throws {
        conv1 = try Conv2dLayer(p.scope("conv1"), in: 3, out: width, kernel: 7, stride: 2, padding: 3, bias: false)
        bn1 = try BatchNormLayer(p.scope("bn1"), channels: width)
        guard let stageCount = Self.stagesForDepth[depth] else { throw ModelError.badConfig("depth must be 6, 10 or 14, not \(depth)") }
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

    public struct Cache {
        let conv1: Conv2dLayer.Cache, bn1: BatchNormLayer.Cache, pooled: Tensor, blocks: [BasicBlock.Cache]
    }

    /// (N, 3, S, S) -> (N, C, S/4/2^(stages-1), ...): the stem (7x7 stride 2, max pool) and the
    /// stages. `training`: BatchNorm on the batch's statistics, and the cache for backward.
    public func forward(_ x: Tensor, training: Bool) -> (Tensor, Cache?) {
        guard training else {
            var h = MaxPool2D.forward(conv1(x, normalizedBy: bn1, relu: true), kernel: 3, stride: 2, padding: 1)
            for block in stages.joined() { h = block.forward(h, training: false).0 }
            return (h, nil)
        }
        let (a, c1) = conv1.forward(x, keep: training)
        let (b, n1) = bn1.forward(a, relu: true, training: training)
        var h = MaxPool2D.forward(b, kernel: 3, stride: 2, padding: 1)
        var caches: [BasicBlock.Cache] = []
        for block in stages.joined() {
            let (y, c) = block.forward(h, training: training)
            if let c { caches.append(c) }
            h = y
        }
        guard let c1, let n1 else { return (h, nil) }
        return (h, Cache(conv1: c1, bn1: n1, pooled: b, blocks: caches))
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { forward(x, training: false).0 }

    public func backward(_ dy: Tensor, _ cache: Cache, inputGradient: Bool = true) -> Tensor? {
        var d = dy
        for (block, c) in zip(stages.joined(), cache.blocks).reversed() { d = block.backward(d, c)! }
        let dPool = MaxPool2D.backward(d, input: cache.pooled, kernel: 3, stride: 2, padding: 1)
        return conv1.backward(bn1.backward(dPool, cache.bn1), cache.conv1, inputGradient: inputGradient)
    }
}
