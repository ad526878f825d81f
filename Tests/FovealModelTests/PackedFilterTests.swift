import FovealModel
import FovealTensor
import FovealTestSupport
import Testing

/// A convolution layer keeps its filters packed between frames (`Conv2D.forward(_:filters:)`):
/// whatever changes its parameters afterwards (an optimizer step, a loaded checkpoint, BatchNorm
/// statistics) must be packed again, never served stale.
@Suite struct PackedFiltersFollowTheWeights {
    /// Random parameters, with positive running variances.
    static func reader() -> ParameterReader {
        var seed: UInt64 = 0
        return ParameterReader { _, shape, role in
            seed += 1
            if case .runningVar = role { return randomTensor(shape, seed: seed, in: 0.5...2) }
            return randomTensor(shape, seed: seed)
        }
    }

    @Test func aChangedWeightOrStatisticIsPackedAgain() throws {
        let p = Self.reader()
        let conv = try Conv2dLayer(p.scope("conv"), in: 3, out: 8, kernel: 3, padding: 1)
        let bn = try BatchNormLayer(p.scope("bn"), channels: 8)
        let x = randomTensor([2, 3, 10, 12], seed: 99)
        // The unpacked product on the parameters' present values.
        func expected() -> Tensor {
            Conv2D.forward(x, weight: conv.weight.value, bias: conv.bias?.value, padding: 1, product: .openBLAS)
        }
        expectClose(conv(x), expected(), 1e-5, "first call")
        conv.weight.value.withUnsafeMutableBufferPointer { w in for i in w.indices { w[i] *= -2 } }
        expectClose(conv(x), expected(), 1e-5, "after the weight changed")
        conv.bias?.value = Tensor(zeros: [8])
        expectClose(conv(x), expected(), 1e-5, "after the bias changed")

        expectClose(conv(x, normalizedBy: bn), bn(expected()), 1e-4, "BatchNorm folded")
        bn.runningVar.value.withUnsafeMutableBufferPointer { $0[3] *= 4 }
        bn.bias.value.withUnsafeMutableBufferPointer { $0[5] += 1 }
        expectClose(conv(x, normalizedBy: bn), bn(expected()), 1e-4, "after BatchNorm's statistics changed")
        // The plain filters after the folded ones: packed again, not mistaken for them.
        expectClose(conv(x), expected(), 1e-5, "plain again")
    }
}
