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

extension BasicBlock {
    public struct Cache {
        let conv1: Conv2dLayer.Cache, bn1: BatchNormLayer.Cache, conv2: Conv2dLayer.Cache, bn2: BatchNormLayer.Cache
        let downsample: (Conv2dLayer.Cache, BatchNormLayer.Cache)?
        let output: Tensor
    }

    public func train(_ x: Tensor) -> (Tensor, Cache) {
        let (a, c1) = conv1.train(x)
        let (b, n1) = bn1.train(a, relu: true)
        let (c, c2) = conv2.train(b)
        let (out, n2) = bn2.train(c)
        var skip = x
        var down: (Conv2dLayer.Cache, BatchNormLayer.Cache)?
        if let downsample {
            let (d, dc) = downsample.conv.train(x)
            let (s, dn) = downsample.bn.train(d)
            (skip, down) = (s, (dc, dn))
        }
        let y = Elementwise.add(out, skip, relu: true)
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

extension SaliencyNetwork {
    public struct Cache {
        let conv1: Conv2dLayer.Cache, bn1: BatchNormLayer.Cache, pooled: Tensor, blocks: [BasicBlock.Cache]
    }

    /// Training forward (BatchNorm with batch statistics).
    public func train(_ x: Tensor) -> (Tensor, Cache) {
        let (a, c1) = conv1.train(x)
        let (b, n1) = bn1.train(a, relu: true)
        var h = MaxPool2D.forward(b, kernel: 3, stride: 2, padding: 1)
        let pooledInput = b
        var caches: [BasicBlock.Cache] = []
        for block in stages.joined() {
            let (y, c) = block.train(h)
            caches.append(c)
            h = y
        }
        return (h, Cache(conv1: c1, bn1: n1, pooled: pooledInput, blocks: caches))
    }

    public func backward(_ dy: Tensor, _ cache: Cache, inputGradient: Bool = true) -> Tensor? {
        var d = dy
        for (block, c) in zip(stages.joined(), cache.blocks).reversed() { d = block.backward(d, c)! }
        let dPool = MaxPool2D.backward(d, input: cache.pooled, kernel: 3, stride: 2, padding: 1)
        return conv1.backward(bn1.backward(dPool, cache.bn1), cache.conv1, inputGradient: inputGradient)
    }
}
