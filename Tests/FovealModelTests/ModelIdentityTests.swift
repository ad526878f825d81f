import FovealIO
import FovealModel
import FovealTensor
import FovealTestSupport
import Testing

/// `GazeNet.identity()`: what a calibration records of the weights it was made with.
@Suite struct ModelIdentity {
    let source = Fixtures.path("model/depth6.weights.safetensors")

    @Test func theSameTensorsHaveTheSameIdentityWhateverTheFile() throws {
        let a = try GazeNet(weightsAt: source)
        // The same tensors written again (without the integer BatchNorm counters) to another file.
        let file = try SafeTensorsFile(path: source)
        let tensors = try file.names.filter { file.entries[$0]!.dtype != .i64 }.map { (name: $0, tensor: try file.tensor($0)) }
        let copy = Fixtures.temporaryDirectory() + "/copy.safetensors"
        try SafeTensorsWriter.write(tensors, metadata: file.metadata, to: copy)
        let b = try GazeNet(weightsAt: copy)
        #expect(a.identity() == b.identity())
        #expect(a.identity().count == 16 && a.identity().allSatisfy(\.isHexDigit))
    }

    @Test func anyChangedValueOrConfigurationChangesIt() throws {
        let model = try GazeNet(weightsAt: source)
        let before = model.identity()
        // One running statistic, nudged by one ulp: different weights, different identity.
        let p = try #require(model.parameters.last)
        p.value.withUnsafeMutableBufferPointer { $0[0] = $0[0].nextUp }
        #expect(model.identity() != before)
        // Two random models of one configuration differ; the same seed gives the same.
        let config = model.config
        #expect(try GazeNet(config: config, seed: 1).identity() == GazeNet(config: config, seed: 1).identity())
        #expect(try GazeNet(config: config, seed: 1).identity() != GazeNet(config: config, seed: 2).identity())
    }
}
