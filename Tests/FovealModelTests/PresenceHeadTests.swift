import FovealIO
import FovealModel
import FovealTensor
import FovealTestSupport
import Testing

/// The presence and face-in-view heads against their PyTorch twin (training/foveal_model.py), and
/// weight files with and without them.
@Suite struct PresenceHead {
    @Test func matchesThePyTorchTwin() throws {
        let model = try GazeNet(weightsAt: Fixtures.path("model/presence.weights.safetensors"))
        #expect(model.config.presence && model.presence != nil)
        let io = try SafeTensorsFile(path: Fixtures.path("model/presence.io.safetensors"))
        // From the PNG the twin wrote, the way a user's frame arrives.
        let estimate = try #require(try model.estimate([RGBImage(contentsOf: Fixtures.path("model/presence.png"))]).first)
        let gaze = try io.tensor("gaze_cm"), presence = try io.tensor("presence")
        #expect(abs(estimate.point.xCm - Double(gaze[flat: 0])) < 1e-4 && abs(estimate.point.yCm - Double(gaze[flat: 1])) < 1e-4)
        let p = try #require(estimate.presence)
        #expect(abs(p - Double(presence[flat: 0])) < 1e-5, "presence \(p), PyTorch \(presence[flat: 0])")
        // The fixture's probability is far enough from one half to test the decision.
        #expect(abs(p - 0.5) > 0.1 && estimate.sawFace == (p >= 0.5))
        let faceInView = try #require(estimate.faceInView), expected = Double(try io.tensor("face_in_view")[flat: 0])
        #expect(abs(faceInView - expected) < 1e-5, "face in view \(faceInView), PyTorch \(expected)")
        #expect(model.config.faceInView && model.config.json.contains("\"face_in_view\":true"))
    }

    @Test func theFaceStateSaysWhyThereIsNoGaze() {
        #expect(FaceState(presence: 0.9, faceInView: 0.1) == .openEyes)  // presence decides whether there is gaze
        #expect(FaceState(presence: 0.2, faceInView: 0.8) == .eyesClosed)
        #expect(FaceState(presence: 0.2, faceInView: 0.3) == .noFace)
        #expect(FaceState(presence: 0.2, faceInView: nil) == .noFaceOrEyesClosed)
        #expect(FaceState(presence: nil, faceInView: nil) == .openEyes)
    }

    @Test func aModelWithoutTheHeadSaysNothingAboutPresence() throws {
        let model = try GazeNet(weightsAt: Fixtures.path("model/depth6.weights.safetensors"))
        #expect(model.presence == nil)
        let estimate = try #require(try model.estimate([RGBImage(contentsOf: Fixtures.path("model/depth6.png"))]).first)
        #expect(estimate.presence == nil && estimate.faceInView == nil && estimate.sawFace)
        // Its configuration JSON is what it was before the head existed, so its identity is too.
        #expect(!model.config.json.contains("presence") && !model.config.json.contains("face_in_view"))
    }

    @Test func theHeadIsInTheConfigurationAndNeedsItsTensors() throws {
        let file = try SafeTensorsFile(path: Fixtures.path("model/presence.weights.safetensors"))
        let config = try ModelConfig.decode(json: try #require(file.metadata["config"]))
        #expect(config.presence && config.json.contains("\"presence\":true"))
        // The head's tensors without the configuration that names it: refused, naming the tensor.
        var without = config
        without.presence = false
        let dir = Fixtures.temporaryDirectory()
        let tensors = try file.names.filter { file.entries[$0]!.dtype.isFloatingPoint }.map { ($0, try file.tensor($0)) }
        try SafeTensorsWriter.write(tensors, metadata: ["config": without.json], to: dir + "/extra.safetensors")
        #expect { try GazeNet(weightsAt: dir + "/extra.safetensors") } throws: { "\($0)".contains("presence.") }
        // The configuration without the head's tensors: refused, naming the missing one.
        try SafeTensorsWriter.write(tensors.filter { !$0.0.hasPrefix("presence.") }, metadata: ["config": config.json],
                                    to: dir + "/missing.safetensors")
        #expect { try GazeNet(weightsAt: dir + "/missing.safetensors") } throws: { "\($0)".contains("presence.weight") }
    }
}
