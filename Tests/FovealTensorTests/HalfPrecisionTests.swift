import FovealTensor
import Testing

/// 16-bit fully connected weights (`--fc-precision`): rounding as PyTorch's, and the layer equal
/// to a float32 layer holding the rounded weights, on the one-frame kernel and the batch path.
@Suite struct HalfPrecisionWeights {
    @Test func roundingIsToNearestEven() {
        // 1 + 2^-8 is halfway between two bfloat16s (1 and 1 + 2^-7): ties go to the even one, 1.
        // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: ties go to 1 + 2^-6.
        let values: [Float] = [1, 1 + 0x1p-8, 1 + 3 * 0x1p-8, 1 + 0x1p-8 + 0x1p-20, -2.5, 3.1415927, 0, .infinity]
        let bf16 = HalfPrecisionMatrix(Tensor(shape: [1, values.count], values: values), format: .bf16).widened
        let expected: [Float] = [1, 1, 1 + 0x1p-6, 1 + 0x1p-7, -2.5, 3.140625, 0, .infinity]
        for i in values.indices { #expect(bf16[flat: i] == expected[i], "bf16 of \(values[i]): \(bf16[flat: i])") }
        let f16 = HalfPrecisionMatrix(Tensor(shape: [1, values.count], values: values), format: .f16).widened
        for i in values.indices { #expect(f16[flat: i] == Float(Float16(values[i])), "f16 of \(values[i])") }
        // Relative error of rounding to 8 and 11 significant bits: 2^-8 and 2^-11 at most.
        var rng = SplitMix64(seed: 3)
        let w = Tensor(shape: [64, 64], values: (0..<4096).map { _ in rng.uniform(-1, 1) })
        for (format, bound) in [(HalfPrecisionMatrix.Format.bf16, Float(0x1p-8)), (.f16, Float(0x1p-11))] {
            let r = HalfPrecisionMatrix(w, format: format).widened
            for i in 0..<w.count where abs(w[flat: i]) > 1e-3 {
                #expect(abs(r[flat: i] - w[flat: i]) <= bound * abs(w[flat: i]), "\(format) of \(w[flat: i])")
            }
        }
    }

    @Test(arguments: [1, 5]) func theLayerIsTheFloat32LayerOfTheRoundedWeights(batch: Int) {
        var rng = SplitMix64(seed: 7)
        // 300 outputs (not a multiple of the tile or the threads' chunks), 1000 inputs (not of 16).
        let (outFeatures, inFeatures) = (300, 1000)
        let weight = Tensor(shape: [outFeatures, inFeatures], values: (0..<(outFeatures * inFeatures)).map { _ in rng.uniform(-0.1, 0.1) })
        let bias = Tensor(shape: [outFeatures], values: (0..<outFeatures).map { _ in rng.uniform(-1, 1) })
        let x = Tensor(shape: [batch, inFeatures], values: (0..<(batch * inFeatures)).map { _ in rng.uniform(-1, 1) })
        for format in HalfPrecisionMatrix.Format.allCases {
            let half = HalfPrecisionMatrix(weight, format: format)
            for relu in [false, true] {
                let got = Linear.forward(x, weight: half, bias: bias, relu: relu)
                let want = Linear.forward(x, weight: half.widened, bias: bias, relu: relu)
                #expect(got.shape == want.shape)
                var worst: Float = 0
                for i in 0..<want.count { worst = max(worst, abs(got[flat: i] - want[flat: i])) }
                // Sums of 1000 products of ~0.05 in another order: float32 rounding, ~1e-6.
                #expect(worst < 1e-4, "\(format), batch \(batch), relu \(relu): off by \(worst)")
            }
            let noBias = Linear.forward(x, weight: half, bias: nil)
            let wantNoBias = Linear.forward(x, weight: half.widened, bias: nil)
            for i in 0..<wantNoBias.count { #expect(abs(noBias[flat: i] - wantNoBias[flat: i]) < 1e-4) }
        }
    }
}
