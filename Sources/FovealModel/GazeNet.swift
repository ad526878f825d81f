#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FovealTensor

/// The gaze regressor y = f_t(g(I, f_s(I_l))): a saliency network looks at a low-resolution copy
/// I_l of the frame, the sampler resamples the full-resolution frame I where the map points, and
/// AlexNet regresses the gaze point in centimetres from the camera. Without the sampler (the
/// paper's plain-AlexNet baseline) the frame is area-downsampled to the task size instead.
///
/// Parameter names equal the PyTorch reference's `state_dict` (`saliency.*`, `saliency_head.*`,
/// `task.*`), so weights trained there load here unchanged.
public struct GazeNet: Sendable {
    public private(set) var config: ModelConfig
    public var saliency: SaliencyNetwork?
    public var saliencyHead: Conv2dLayer?
    public let sampler = SaliencySampler()
    public var task: AlexNetRegressor
    /// A logistic regression on AlexNet's penultimate features: whether a face with open eyes is
    /// in view. Trained with the network (its cross-entropy's gradient also reaches AlexNet, see
    /// `TrainingSettings.trainPresence`) or fitted afterwards on frozen features
    /// (`PresenceFitting`); nil for weight files without one.
    public var presence: LinearLayer?
    /// A logistic regression on the saliency map's entropy (`saliencyEntropy`): whether a face is
    /// in view at all, its eyes open or closed, which tells a blink from nobody there. The map was
    /// trained to put its mass on the eyes, open or not; with no eyes to find it spreads out.
    /// Fitted after training (`PresenceFitting`), never trained with the network; nil for weight
    /// files without one.
    public var faceInView: LinearLayer?
    /// Every parameter and buffer in `state_dict` order, shared with the layers.
    public let parameters: [Parameter]

    /// Everything one forward pass produces, for a batch of N frames.
    public struct Output: Sendable {
        /// (N, 1, 31, 31) softmax-normalised map; nil without the sampler.
        public var saliency: Tensor?
        /// (N, T, T, 2) sampling grid in [-1, 1]; nil without the sampler.
        public var grid: Tensor?
        /// (N, 3, T, T) the image the task network sees.
        public var resampled: Tensor
        /// (N, 2) gaze (x, y) in camera-space centimetres.
        public var gazeCm: Tensor
        /// (N, hidden) AlexNet's penultimate features (what per-user calibration regresses from).
        public var features: Tensor?
        /// (N) probability that a face with open eyes is in view; nil without the presence head.
        public var presence: Tensor?
        /// (N) probability that a face is in view, eyes open or closed; nil without the face-in-view head.
        public var faceInView: Tensor?
    }

    /// How a training forward pass runs (nil: inference).
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
        /// Train the presence head with the network: the pass keeps its logits and `backward`
        /// takes their gradient, which also flows into AlexNet's features (so they learn what
        /// tells open eyes from closed, which gaze alone never asks of them). The head reads this
        /// pass's features, behind the gaze's own dropout masks; training/recipe.py runs the
        /// classifier again for it, with masks of its own. Without dropout (the parity fixture)
        /// the two are the same step.
        public var trainPresence = false

        public init() {}
    }

    /// What a training forward pass keeps for backward.
    public struct TrainingCache {
        let settings: TrainingSettings
        let image: any GazeNetInput
        let saliency: SaliencyPathCache?
        let grid: (tensor: Tensor, cache: SaliencySampler.GridCache)?
        let task: AlexNetRegressor.Cache
        let squashed: Tensor  // sigmoid of AlexNet's output
        let presence: (logits: Tensor, cache: LinearLayer.Cache)?

        /// (N) the presence head's logits, when the pass trains it.
        public var presenceLogits: Tensor? { presence?.logits }
    }

    /// The saliency path's part of a training cache (end to end only).
    public struct SaliencyPathCache {
        let features: Tensor
        let network: SaliencyNetwork.Cache
        let head: Conv2dLayer.Cache
        let logitsSize: (Int, Int)
        let map: Tensor
    }

    public init(config: ModelConfig, parameters p: ParameterReader) throws {
        try config.validate()
        self.config = config
        if config.sampler {
            let net = try SaliencyNetwork(p.scope("saliency"), depth: config.depth, width: config.saliencyWidth)
            saliency = net
            saliencyHead = try Conv2dLayer(p.scope("saliency_head"), in: net.outChannels, out: 1, kernel: 1)
        }
        task = try AlexNetRegressor(p.scope("task"), widths: config.alexWidths, hidden: config.hidden)
        if config.presence { presence = try LinearLayer(p.scope("presence"), in: config.hidden, out: 1) }
        if config.faceInView { faceInView = try LinearLayer(p.scope("face_in_view"), in: 1, out: 1) }
        parameters = p.parameters
    }

    /// The parameter called `name`, if the model has it.
    public func parameter(_ name: String) -> Parameter? { parameters.first { $0.name == name } }

    /// A training pass. image: (N, 3, H, W) normalised with the ImageNet mean and std, or 8-bit
    /// frames (see `ImageNormalization`). Returns the output and the cache `backward` needs, with
    /// dropout masks drawn from `rng`. Inference is `callAsFunction`.
    public func forward(_ image: some GazeNetInput, training: TrainingSettings, rng: inout SplitMix64) -> (Output, TrainingCache) {
        var map: Tensor?, saliencyCache: SaliencyPathCache?
        var grid: (tensor: Tensor, cache: SaliencySampler.GridCache)?
        var j: Tensor
        if config.sampler {
            let (s, cache) = saliencyMap(image, training: training.trainSaliency)
            let (g, gridCache) = sampler.gridWithCache(s, outputHeight: config.taskSize, outputWidth: config.taskSize)
            (map, saliencyCache, grid) = (s, cache, (g, gridCache))
            j = image.sampled(on: g)
        } else {
            j = uniformDownsample(image)
        }
        let resampled = j
        if let side = training.blurSide {
            j = BilinearResize.forward(AdaptiveAvgPool2D.forward(j, outputHeight: side, outputWidth: side),
                                       outputHeight: config.taskSize, outputWidth: config.taskSize)
        }
        let (z, features, taskCache) = task.forward(j, dropout: training.dropout, rng: &rng)
        let squashed = Elementwise.sigmoid(z)
        let gaze = centimetres(squashed)
        var presenceLogits: (logits: Tensor, cache: LinearLayer.Cache)?
        if let presence, training.trainPresence, case let (logits, cache?) = presence.forward(features, keep: true) {
            presenceLogits = (logits.reshaped([features.shape[0]]), cache)
        }
        let presenceProbability = presenceLogits.map { Elementwise.sigmoid($0.logits) } ?? probability(presence, features)
        let output = Output(saliency: map, grid: grid?.tensor, resampled: resampled, gazeCm: gaze, features: features,
                            presence: presenceProbability, faceInView: map.flatMap(faceInViewProbability))
        guard let taskCache else { preconditionFailure("a training pass keeps its cache") }
        return (output, TrainingCache(settings: training, image: image, saliency: saliencyCache, grid: grid, task: taskCache,
                                      squashed: squashed, presence: presenceLogits))
    }

    /// Inference on one frame of a video, reusing a recent frame's saliency map and grid while the
    /// frame's low-resolution copy (what the saliency network sees) has barely changed: the map is
    /// a function of that copy alone, so an unchanged copy gives an unchanged map (Eq. 1). Only the
    /// copy is made for every frame; the ResNet prefix runs when `reuse` says the scene moved.
    public func callAsFunction(_ image: some GazeNetInput, reusing reuse: SaliencyReuse) -> Output {
        guard config.sampler, image.batchSize == 1 else { return self(image) }
        let low = image.areaAveraged(height: config.saliencySize, width: config.saliencySize)
        let grids: SamplingGrids
        if let kept = reuse.reusable(for: low) {
            grids = kept
        } else {
            grids = samplingGrids(low: low)
            reuse.keep(low: low, grids)
        }
        var output = inference(image, on: grids)
        output.saliency = nil
        return output
    }

    /// (N) the face-in-view head on the saliency maps (N, 1, G, G); nil without the head.
    func faceInViewProbability(_ map: Tensor) -> Tensor? {
        guard let faceInView else { return nil }
        let n = map.shape[0]
        return Elementwise.sigmoid(faceInView(Tensor(shape: [n, 1], values: Self.saliencyEntropy(map).map(Float.init)))).reshaped([n])
    }

    /// The entropy -sum S log S (nats) of each saliency map (N, 1, G, G), summed in Double: from
    /// 0 for all the mass on one cell to log(G * G) (6.87 for 31x31) for a uniform map.
    public static func saliencyEntropy(_ map: Tensor) -> [Double] {
        let n = map.shape[0], cells = map.count / max(1, n)
        return map.withUnsafeBufferPointer { s in
            (0..<n).map { b in
                var h = 0.0
                for i in (b * cells)..<((b + 1) * cells) where s[i] > 0 { h -= Double(s[i]) * log(Double(s[i])) }
                return h
            }
        }
    }

    /// (N) sigmoid of a logistic head on the (N, hidden) features; nil without the head.
    func probability(_ head: LinearLayer?, _ features: Tensor) -> Tensor? {
        head.map { Elementwise.sigmoid($0(features)).reshaped([features.shape[0]]) }
    }

    /// Inference: the model's answer for a batch of frames; with `config.mirrorAverage`, averaged
    /// with the answer for their mirror images (MirrorAverage.swift).
    public func callAsFunction(_ image: some GazeNetInput) -> Output {
        guard config.sampler else {
            let j = uniformDownsample(image)
            return inference(j, mirrored: config.mirrorAverage ? Self.mirroredLeftRight(j) : nil, map: nil, grid: nil)
        }
        return inference(image, on: samplingGrids(low: image.areaAveraged(height: config.saliencySize, width: config.saliencySize)))
    }

    /// Turns the average with mirror images on or off for this instance (its identity follows,
    /// so a calibration fitted with one is never applied with the other).
    public mutating func averageMirrorImages(_ on: Bool) { config.mirrorAverage = on }

    /// f_s: the softmax-normalised saliency map (N, 1, 31, 31) of the frame's low-resolution
    /// copy; with `training`, BatchNorm on the batch's statistics and the cache for
    /// `saliencyBackward`.
    public func saliencyMap(_ image: some GazeNetInput, training: Bool = false) -> (map: Tensor, cache: SaliencyPathCache?) {
        saliencyMap(lowResolution: image.areaAveraged(height: config.saliencySize, width: config.saliencySize), training: training)
    }

    /// f_s of a low-resolution copy already made (`saliencySize` square).
    func saliencyMap(lowResolution low: Tensor, training: Bool = false) -> (map: Tensor, cache: SaliencyPathCache?) {
        guard let saliency, let saliencyHead else { preconditionFailure("saliencyMap on a model without sampler") }
        let (features, networkCache) = saliency.forward(low, training: training)
        let (logits, headCache) = saliencyHead.forward(Elementwise.relu(features), keep: training)
        let g = sampler.gridSize
        let resized = BilinearResize.forward(logits, outputHeight: g, outputWidth: g)
        let map = Softmax.forward(resized.reshaped([resized.shape[0], g * g])).reshaped([resized.shape[0], 1, g, g])
        guard let networkCache, let headCache else { return (map, nil) }
        return (map, SaliencyPathCache(features: features, network: networkCache, head: headCache,
                                       logitsSize: (logits.shape[2], logits.shape[3]), map: map))
    }

    /// The baseline's input: the frame area-averaged to the task size.
    public func uniformDownsample(_ image: some GazeNetInput) -> Tensor {
        image.areaAveraged(height: config.taskSize, width: config.taskSize)
    }

    /// The squashed output (sigmoid of AlexNet's, in 0...1) as gaze in cm: (s * 2 - 1) * range.
    func centimetres(_ squashed: Tensor) -> Tensor {
        let range = Float(config.rangeCm)
        return Elementwise.map(squashed) { ($0 * 2 - 1) * range }
    }

    /// Adds d(loss)/d(parameter) to every trained parameter's gradient, given d(loss)/d(gaze_cm)
    /// (N, 2) and, for a pass that trains the presence head, d(loss)/d(its logits) (N). A loss
    /// on the saliency map itself (the eye anchor) passes its gradient with respect to the map's
    /// logits before the softmax (N, 1, G, G) as `dSaliencyLogits`; it counts only where the
    /// pass trains the saliency path. Returns d(loss)/d(image) when the settings asked for it.
    @discardableResult
    public func backward(_ dGaze: Tensor, _ cache: TrainingCache, dPresenceLogits: Tensor? = nil,
                         dSaliencyLogits: Tensor? = nil) -> Tensor? {
        let settings = cache.settings
        let range = Float(config.rangeCm)
        var dz = dGaze
        dz.withUnsafeMutableBufferPointer { d in
            for i in 0..<d.count {
                let s = cache.squashed[flat: i]
                d[i] *= 2 * range * s * (1 - s)
            }
        }
        var dFeatures: Tensor?
        if let dPresenceLogits, let presence, let kept = cache.presence {
            dFeatures = presence.backward(dPresenceLogits.reshaped([dPresenceLogits.count, 1]), kept.cache)
        }
        let needResampled = settings.inputGradient || (config.sampler && settings.trainSaliency)
        guard var dj = task.backward(dz, cache.task, dFeatures: dFeatures, inputGradient: needResampled) else { return nil }
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
        guard let s = cache.saliency else { return dImage }
        let g = sampler.gridSize, n = dGaze.shape[0]
        let dMap = sampler.gridBackward(dGrid, gridCache)
        var dResized = Softmax.backward(dMap.reshaped([n, g * g]), output: s.map.reshaped([n, g * g])).reshaped([n, 1, g, g])
        if let dSaliencyLogits { Elementwise.accumulate(&dResized, dSaliencyLogits) }
        let dLow = saliencyBackward(dResized, s, inputGradient: settings.inputGradient)
        guard settings.inputGradient, var dx = dImage, let dLow else { return nil }
        Elementwise.accumulate(&dx, AdaptiveAvgPool2D.backward(dLow, inputHeight: h, inputWidth: w))
        return dx
    }

    /// The saliency path's backward from d(loss)/d(the map's logits resized to the grid, before
    /// the softmax) (N, 1, 31, 31): adds the saliency network's and head's gradients, and
    /// returns d(loss)/d(the low-resolution input) when asked.
    @discardableResult
    public func saliencyBackward(_ dResized: Tensor, _ s: SaliencyPathCache, inputGradient: Bool = false) -> Tensor? {
        guard let saliency, let saliencyHead else { return nil }
        let dLogits = BilinearResize.backward(dResized, inputHeight: s.logitsSize.0, inputWidth: s.logitsSize.1)
        let dFeatures = Elementwise.reluBackward(saliencyHead.backward(dLogits, s.head)!, output: s.features)
        return saliency.backward(dFeatures, s.network, inputGradient: inputGradient)
    }

    /// The parameters training can update (not BatchNorm's running statistics).
    public var trainableParameters: [Parameter] { parameters.filter(\.role.isTrainable) }

    /// The parameters a training pass with `settings` updates: the saliency path only end to
    /// end, the presence head only when trained with the network, the face-in-view head never
    /// (it is fitted on frozen features afterwards).
    public func trainedParameters(_ settings: TrainingSettings) -> [Parameter] {
        trainableParameters.filter { p in
            if p.name.hasPrefix("saliency") { return settings.trainSaliency }
            if p.name.hasPrefix("presence.") { return settings.trainPresence }
            if p.name.hasPrefix("face_in_view.") { return false }
            return true
        }
    }

    /// Zeroes every gradient.
    public func zeroGradients() { for p in parameters { p.zeroGradient() } }
}
