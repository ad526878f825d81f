import FovealTensor

/// The gaze regressor y = f_t(g(I, f_s(I_l))): a saliency network looks at a low-resolution copy
/// I_l of the frame, the sampler resamples the full-resolution frame I where the map points, and
/// AlexNet regresses the gaze point in centimetres from the camera. Without the sampler (the
/// paper's plain-AlexNet baseline) the frame is area-downsampled to the task size instead.
///
/// Parameter names equal the PyTorch reference's `state_dict` (`saliency.*`, `saliency_head.*`,
/// `task.*`), so weights trained there load here unchanged.
public struct GazeNet: Sendable {
    public let config: ModelConfig
    public var saliency: SaliencyNetwork?
    public var saliencyHead: Conv2dLayer?
    public let sampler = SaliencySampler()
    public var task: AlexNetRegressor
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
        parameters = p.parameters
    }

    /// The parameter called `name`, if the model has it.
    public func parameter(_ name: String) -> Parameter? { parameters.first { $0.name == name } }

    /// image: (N, 3, H, W) normalised with the ImageNet mean and std, or 8-bit frames
    /// (see `ImageNormalization`).
    public func callAsFunction(_ image: some GazeNetInput) -> Output {
        guard config.sampler else {
            let j = uniformDownsample(image)
            let (gaze, features) = headWithFeatures(j)
            return Output(resampled: j, gazeCm: gaze, features: features)
        }
        let s = saliencyMap(image)
        let (j, grid) = resample(image, saliency: s)
        let (gaze, features) = headWithFeatures(j)
        return Output(saliency: s, grid: grid, resampled: j, gazeCm: gaze, features: features)
    }

    /// f_s: the softmax-normalised saliency map (N, 1, 31, 31) of the frame's low-resolution copy.
    public func saliencyMap(_ image: some GazeNetInput) -> Tensor {
        guard let saliency, let saliencyHead else { preconditionFailure("saliencyMap on a model without sampler") }
        let low = image.areaAveraged(height: config.saliencySize, width: config.saliencySize)
        let logits = saliencyHead(Elementwise.relu(saliency(low)))
        let g = sampler.gridSize
        let map = BilinearResize.forward(logits, outputHeight: g, outputWidth: g)
        return Softmax.forward(map.reshaped([map.shape[0], g * g])).reshaped([map.shape[0], 1, g, g])
    }

    /// g(I, S): the frame resampled at the task size on the saliency map's grid.
    public func resample(_ image: some GazeNetInput, saliency s: Tensor) -> (resampled: Tensor, grid: Tensor) {
        let grid = sampler.grid(s, outputHeight: config.taskSize, outputWidth: config.taskSize)
        return (image.sampled(on: grid), grid)
    }

    /// The baseline's input: the frame area-averaged to the task size.
    public func uniformDownsample(_ image: some GazeNetInput) -> Tensor {
        image.areaAveraged(height: config.taskSize, width: config.taskSize)
    }

    /// f_t and the output squashing: (sigmoid(AlexNet(J)) * 2 - 1) * range, in cm.
    public func head(_ resampled: Tensor) -> Tensor { headWithFeatures(resampled).gaze }

    /// `head`, also returning AlexNet's penultimate features.
    public func headWithFeatures(_ resampled: Tensor) -> (gaze: Tensor, features: Tensor) {
        let range = Float(config.rangeCm)
        let features = task.embedding(resampled)
        let gaze = Elementwise.map(task.linear[2](features)) { (1 / (1 + expf(-$0)) * 2 - 1) * range }
        return (gaze, features)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
