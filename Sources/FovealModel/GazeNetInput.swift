import FovealTensor

/// What a `GazeNet` reads frames from. The network touches a full-resolution frame only twice:
/// area-averaged to the saliency (or baseline task) input, and sampled on the grid. A normalised
/// tensor does both with the tensor ops; a `PixelBatch` does them on its bytes.
public protocol GazeNetInput: Sendable {
    var batchSize: Int { get }
    var frameHeight: Int { get }
    var frameWidth: Int { get }
    /// Adaptive average pooling to (N, 3, height, width).
    func areaAveraged(height: Int, width: Int) -> Tensor
    /// Bilinear grid sampling (zeros padding, align_corners=False): (N, 3, T, T).
    func sampled(on grid: Tensor) -> Tensor
    /// d(loss)/d(grid) of `sampled(on:)`.
    func gridGradient(_ dOutput: Tensor, grid: Tensor) -> Tensor
}

extension Tensor: GazeNetInput {
    public var batchSize: Int { shape[0] }
    public var frameHeight: Int { shape[2] }
    public var frameWidth: Int { shape[3] }
    public func areaAveraged(height: Int, width: Int) -> Tensor {
        AdaptiveAvgPool2D.forward(self, outputHeight: height, outputWidth: width)
    }
    public func sampled(on grid: Tensor) -> Tensor { GridSample.forward(self, grid: grid) }
    public func gridGradient(_ dOutput: Tensor, grid: Tensor) -> Tensor {
        GridSample.backward(dOutput, input: self, grid: grid, inputGradient: false).dGrid
    }
}

extension PixelBatch: GazeNetInput {
    public var batchSize: Int { count }
    public var frameHeight: Int { height }
    public var frameWidth: Int { width }
    public func areaAveraged(height: Int, width: Int) -> Tensor {
        AdaptiveAvgPool2D.forward(self, outputHeight: height, outputWidth: width)
    }
    public func sampled(on grid: Tensor) -> Tensor { GridSample.forward(self, grid: grid) }
    public func gridGradient(_ dOutput: Tensor, grid: Tensor) -> Tensor {
        GridSample.backward(dOutput, frames: self, grid: grid)
    }
}
