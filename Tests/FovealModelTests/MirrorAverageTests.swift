import FovealIO
import FovealModel
import FovealTensor
import FovealTestSupport
import Testing

/// Averaging with the mirror image (`ModelConfig.mirrorAverage`): against the PyTorch twin, which
/// flips the frame, and against Foveal's own pass on a flipped frame, which checks that the
/// mirror pass (a mirrored low-resolution copy, a grid with x negated) is the mirror image's.
@Suite struct MirrorAverage {
    let model: GazeNet
    let frame: RGBImage

    init() throws {
        model = try GazeNet(weightsAt: Fixtures.path("model/mirror.weights.safetensors"))
        frame = try RGBImage(contentsOf: Fixtures.path("model/mirror.png"))
    }

    /// The frame mirrored left-right, made by hand.
    static func mirrored(_ image: RGBImage) -> RGBImage {
        var out = image
        for y in 0..<image.height {
            for x in 0..<image.width {
                for c in 0..<3 { out.pixels[(y * image.width + x) * 3 + c] = image.pixels[(y * image.width + image.width - 1 - x) * 3 + c] }
            }
        }
        return out
    }

    @Test func matchesThePyTorchTwin() throws {
        #expect(model.config.mirrorAverage && model.config.json.contains("\"mirror_average\":true"))
        let io = try SafeTensorsFile(path: Fixtures.path("model/mirror.io.safetensors"))
        let estimate = try #require(try model.estimate([frame]).first)
        let gaze = try io.tensor("gaze_cm"), plain = try io.tensor("plain_gaze_cm")
        #expect(abs(estimate.point.xCm - Double(gaze[flat: 0])) < 1e-4 && abs(estimate.point.yCm - Double(gaze[flat: 1])) < 1e-4,
                "\(estimate.point), PyTorch \(gaze.values)")
        let p = try #require(estimate.presence), q = try io.tensor("presence")[flat: 0]
        #expect(abs(p - Double(q)) < 1e-5, "presence \(p), PyTorch \(q)")
        let faceInView = try #require(estimate.faceInView), expected = try io.tensor("face_in_view")[flat: 0]
        #expect(abs(faceInView - Double(expected)) < 1e-5, "face in view \(faceInView), PyTorch \(expected)")
        // Without the average, the twin's own single pass.
        var single = model
        single.averageMirrorImages(false)
        let one = try #require(try single.estimate([frame]).first)
        #expect(abs(one.point.xCm - Double(plain[flat: 0])) < 1e-4 && abs(one.point.yCm - Double(plain[flat: 1])) < 1e-4)
        // The fixture's frame is not its own mirror image: the average moved the answer.
        #expect(abs(one.point.xCm - estimate.point.xCm) > 0.5)
    }

    @Test(arguments: ["mirror", "no_sampler"])
    func theAverageIsOfTheFrameAndItsMirrorImage(_ name: String) throws {
        var averaging = try GazeNet(weightsAt: Fixtures.path("model/\(name).weights.safetensors"))
        averaging.averageMirrorImages(true)
        var single = averaging
        single.averageMirrorImages(false)
        let image = name == "mirror" ? frame : try RGBImage(contentsOf: Fixtures.path("model/\(name).png"))
        let a = try single.estimate([image])[0], b = try single.estimate([Self.mirrored(image)])[0]
        let both = try averaging.estimate([image])[0]
        #expect(abs(both.point.xCm - (a.point.xCm - b.point.xCm) / 2) < 1e-5, "\(both.point) from \(a.point) and \(b.point)")
        #expect(abs(both.point.yCm - (a.point.yCm + b.point.yCm) / 2) < 1e-5)
        #expect(zip(both.features, zip(a.features, b.features)).allSatisfy { abs($0 - ($1.0 + $1.1) / 2) < 1e-5 })
        #expect(both.presence == a.presence && both.faceInView == a.faceInView)  // the frame's own
        #expect(averaging.identity() != single.identity())  // a calibration of one never applies to the other
    }

    @Test func reusingTheSaliencyGridGivesTheSameAverage() throws {
        let reuse = SaliencyReuse(every: 4)
        let fresh = try model.estimate([frame])[0]
        for _ in 0..<4 {
            let reused = try model.estimate(frame, reusing: reuse)
            #expect(abs(reused.point.xCm - fresh.point.xCm) < 1e-5 && abs(reused.point.yCm - fresh.point.yCm) < 1e-5)
            #expect(abs((reused.presence ?? -1) - (fresh.presence ?? -2)) < 1e-6)
        }
        #expect(reuse.reused == 3 && reuse.computed == 1)
    }

    @Test func weightFilesWithoutItReadAsBefore() throws {
        let config = try GazeNet(weightsAt: Fixtures.path("model/presence.weights.safetensors")).config
        #expect(!config.mirrorAverage && !config.json.contains("mirror"))
    }
}
