import FovealModel
import FovealTensor
import FovealTestSupport
import Testing

/// The grid computation's backward (Eqs. 2-3, the clamp, the resize) against PyTorch autograd in
/// float64 on random saliency maps. (Finite differences cannot check it in Float32: the map's cells
/// are ~1e-3 and the grid's rounding swamps the difference quotient.)
@Suite struct SamplerGradient {
    @Test(arguments: 0..<3) func gridBackwardMatchesAutograd(_ i: Int) throws {
        let ops = Fixtures.ops
        let size = try ops.tensor("gridgrad\(i).params").values.map { Int($0) }
        let sampler = SaliencySampler()
        let (grid, cache) = sampler.gridWithCache(try ops.tensor("gridgrad\(i).saliency"), outputHeight: size[0], outputWidth: size[1])
        expectClose(grid, try ops.tensor("gridgrad\(i).grid"), 1e-6, "grid")
        let d = sampler.gridBackward(try ops.tensor("gridgrad\(i).dgrid"), cache)
        let reference = try ops.tensor("gridgrad\(i).dsaliency")
        let scale = reference.values.map(abs).max()!
        let worst = zip(d.values, reference.values).map { abs($0 - $1) }.max()!
        #expect(worst <= 1e-4 * scale, "worst \(worst) of \(scale)")
    }
}
