import FovealTensor

/// Training: a forward pass that keeps what backward needs, and the backward pass that adds every
/// parameter's gradient (BatchNorm in training mode, dropout as torchvision's AlexNet).
extension GazeNet {
    /// How a training forward pass runs.
    public struct TrainingSettings: Sendable {
        /// Dropout probability of AlexNet's two dropout layers (0.5 in torchvision; 0 turns them off).
        public var dropout: Float = 0.5
        /// Train the saliency path (end to end). When false it runs as at inference (running
        /// BatchNorm statistics) and gets no gradient: the frozen-saliency variant.
        public var trainSaliency = true
        /// The paper's blur warm-up (section 3.3): the resampled image is area-downsampled to this
        /// side and resized back before the task network sees it.
        public var blurSide: Int?
        /// Also return the gradient with respect to the input image (tests; costly at full resolution).
        public var inputGradient = false

        public init() {}
    }

    /// What a training forward pass keeps for backward.
    public struct TrainingCache {
        let settings: TrainingSettings
        let image: any GazeNetInput
        let saliency: SaliencyPathCache?
        let grid: (tensor: Tensor, cache: SaliencySampler.GridCache)?
        let resampled: Tensor
        let task: AlexNetRegressor.Cache
        let squashed: Tensor  // sigmoid of AlexNet's output
    }

    /// The training forward pass: the same outputs as `callAsFunction`, plus the cache.
    public func trainForward(_ image: some GazeNetInput, _ settings: TrainingSettings, rng: inout SplitMix64) -> (Output, TrainingCache) {
        var saliencyCache: SaliencyPathCache?
        var gridCache: (Tensor, SaliencySampler.GridCache)?
        var map: Tensor?
        var j: Tensor
        if config.sampler, let saliency, let saliencyHead {
            if settings.trainSaliency {
                let low = image.areaAveraged(height: config.saliencySize, width: config.saliencySize)
                let (features, networkCache) = saliency.train(low)
                let (logits, headCache) = saliencyHead.train(Elementwise.relu(features))
                let g = sampler.gridSize
                let resized = BilinearResize.forward(logits, outputHeight: g, outputWidth: g)
                let s = Softmax.forward(resized.reshaped([resized.shape[0], g * g])).reshaped([resized.shape[0], 1, g, g])
                saliencyCache = SaliencyPathCache(features: features, network: networkCache, head: headCache,
                                                  logitsSize: (logits.shape[2], logits.shape[3]), map: s)
                map = s
            } else {
                map = saliencyMap(image)
            }
            let (grid, cache) = sampler.gridWithCache(map!, outputHeight: config.taskSize, outputWidth: config.taskSize)
            gridCache = (grid, cache)
            j = image.sampled(on: grid)
        } else {
            j = uniformDownsample(image)
        }
        let resampled = j
        if let side = settings.blurSide {
            j = BilinearResize.forward(AdaptiveAvgPool2D.forward(j, outputHeight: side, outputWidth: side),
                                       outputHeight: config.taskSize, outputWidth: config.taskSize)
        }
        let (z, taskCache) = task.train(j, dropout: settings.dropout, rng: &rng)
        let squashed = Elementwise.sigmoid(z)
        let range = Float(config.rangeCm)
        let gaze = Elementwise.map(squashed) { ($0 * 2 - 1) * range }
        let output = Output(saliency: map, grid: gridCache?.0, resampled: resampled, gazeCm: gaze, features: nil)
        return (output, TrainingCache(settings: settings, image: image, saliency: saliencyCache,
                                      grid: gridCache.map { ($0.0, $0.1) }, resampled: resampled, task: taskCache,
                                      squashed: squashed))
    }

    /// Adds d(loss)/d(parameter) to every trained parameter's gradient, given d(loss)/d(gaze_cm)
    /// (N, 2). Returns d(loss)/d(image) when the settings asked for it.
    @discardableResult
    public func backward(_ dGaze: Tensor, _ cache: TrainingCache) -> Tensor? {
        let settings = cache.settings
        let range = Float(config.rangeCm)
        var dz = dGaze
        dz.withUnsafeMutableBufferPointer { d in
            for i in 0..<d.count {
                let s = cache.squashed[flat: i]
                d[i] *= 2 * range * s * (1 - s)
            }
        }
        let needResampled = settings.inputGradient || (config.sampler && settings.trainSaliency)
        guard var dj = task.backward(dz, cache.task, inputGradient: needResampled) else { return nil }
        let (h, w) = (cache.image.frameHeight, cache.image.frameWidth)
        // The image's own gradient exists only for a tensor input (tests).
        let imageTensor = settings.inputGradient ? cache.image as? Tensor : nil
        if let side = settings.blurSide {
            dj = AdaptiveAvgPool2D.backward(BilinearResize.backward(dj, inputHeight: side, inputWidth: side),
                                            inputHeight: config.taskSize, inputWidth: config.taskSize)
        }
        guard config.sampler, let (grid, gridCache) = cache.grid else {
            return AdaptiveAvgPool2D.backward(dj, inputHeight: h, inputWidth: w)
        }
        var dImage: Tensor?, dGrid: Tensor
        if let imageTensor {
            (dImage, dGrid) = GridSample.backward(dj, input: imageTensor, grid: grid, inputGradient: true)
        } else {
            dGrid = cache.image.gridGradient(dj, grid: grid)
        }
        guard let s = cache.saliency, let saliency, let saliencyHead else { return dImage }
        let g = sampler.gridSize, n = dGaze.shape[0]
        let dMap = sampler.gridBackward(dGrid, gridCache)
        let dResized = Softmax.backward(dMap.reshaped([n, g * g]), output: s.map.reshaped([n, g * g])).reshaped([n, 1, g, g])
        let dLogits = BilinearResize.backward(dResized, inputHeight: s.logitsSize.0, inputWidth: s.logitsSize.1)
        let dFeatures = Elementwise.reluBackward(saliencyHead.backward(dLogits, s.head)!, output: s.features)
        let dLow = saliency.backward(dFeatures, s.network, inputGradient: settings.inputGradient)
        guard settings.inputGradient, var dx = dImage, let dLow else { return nil }
        Elementwise.accumulate(&dx, AdaptiveAvgPool2D.backward(dLow, inputHeight: h, inputWidth: w))
        return dx
    }

    /// The parameters training updates (not BatchNorm's running statistics).
    public var trainableParameters: [Parameter] { parameters.filter { $0.role.isTrainable } }

    /// Zeroes every gradient.
    public func zeroGradients() { for p in parameters { p.zeroGradient() } }
}

extension GazeNet {
    /// The end-to-end saliency path's part of a training cache.
    struct SaliencyPathCache {
        let features: Tensor
        let network: SaliencyNetwork.Cache
        let head: Conv2dLayer.Cache
        let logitsSize: (Int, Int)
        let map: Tensor
    }
}
