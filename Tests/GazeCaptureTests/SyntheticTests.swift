import Foundation
import FovealGeometry
import FovealIO
import FovealTensor
import FovealTestSupport
import GazeCapture
import SyntheticGaze
import Testing

@Suite struct SyntheticRenderer {
    var options: SyntheticDataset.Options {
        var o = SyntheticDataset.Options()
        o.recordings = 4
        o.dotsPerRecording = 3
        o.framesPerDot = 2
        o.seed = 9
        return o
    }

    /// Where the camera sees an eye's iris for a subject at a fixed pose looking at `target`.
    func iris(_ target: Vector3, _ side: EyeSide = .right) -> (x: Double, y: Double) {
        var rng = SplitMix64(seed: 4)
        let subject = Subject.random(&rng)
        let head = HeadPose(position: Vector3(0, -5, 35), yawDeg: 3, pitchDeg: -2, rollDeg: 1)
        let scene = GazeScene(subject: subject, head: head, target: target)
        return PinholeCamera(width: 480, height: 640, focalPx: 550).project(scene.eye(side).irisCentre)
    }

    @Test(arguments: EyeSide.allCases) func irisFollowsTheDot(_ side: EyeSide) {
        let centre = iris(Vector3(0, -8, 0), side)
        // A dot further to the user's right turns the eye right: in the unmirrored image, left.
        let right = iris(Vector3(5, -8, 0), side)
        #expect(right.x < centre.x - 1)
        // A dot higher up raises the iris in the image.
        let up = iris(Vector3(0, -2, 0), side)
        #expect(up.y < centre.y - 1)
        #expect(abs(up.x - centre.x) < abs(right.x - centre.x))
    }

    @Test func opticalAxisIsTheVisualAxisTurnedByKappa() {
        var rng = SplitMix64(seed: 11)
        let subject = Subject.random(&rng)
        let scene = GazeScene(subject: subject, head: HeadPose(position: Vector3(1, -6, 30), yawDeg: 0, pitchDeg: 0, rollDeg: 0),
                              target: Vector3(2, -9, 0))
        for side in EyeSide.allCases {
            let eye = scene.eye(side)
            // The visual axis points at the target.
            let toTarget = (scene.target - eye.centre).normalized
            #expect((toTarget - eye.visualAxis).length < 1e-12)
            // The angle between the axes is kappa.
            let kappa = acos(min(1, eye.visualAxis.dot(eye.opticalAxis))) * 180 / .pi
            let h = subject.kappaHorizontalDeg * .pi / 180, v = subject.kappaVerticalDeg * .pi / 180
            let expected = atan((tan(h) * tan(h) + tan(v) * tan(v)).squareRoot()) * 180 / .pi
            #expect(abs(kappa - expected) < 0.2)
            #expect(abs((eye.irisCentre - eye.centre).length - subject.eyeballRadiusCm * 0.85) < 1e-12)
        }
    }

    /// A turned head shows the way a real one does: the eyes slide within the head's outline, by
    /// about the skull's depth behind the eyes times the sine of the turn. Measured along the eye
    /// row of a flat-lit, noiseless frame with a skin colour found nowhere else.
    @Test func aTurnedHeadSlidesTheEyesWithinItsOutline() throws {
        var rng = SplitMix64(seed: 3)
        var subject = Subject.random(&rng)
        subject.skin = RGB(20, 240, 30)
        var look = Look.random(&rng)
        (look.diffuse, look.noise, look.gain) = (0, 0, 1)
        let camera = PinholeCamera(width: 480, height: 640, focalPx: 550)
        let renderer = FaceRenderer(camera: camera, look: look)
        let depthCm = 35.0, turnDeg = 10.0
        func eyesWithinOutline(yawDeg: Double) throws -> Double {
            let head = HeadPose(position: Vector3(0, -4, depthCm), yawDeg: yawDeg, pitchDeg: 0, rollDeg: 0)
            let scene = GazeScene(subject: subject, head: head, target: Vector3(0, -8, 0))
            var noise = SplitMix64(seed: 1)
            let image = renderer.render(scene, look: look, blink: 1, exposure: 1, rng: &noise).image
            let eyes = EyeSide.allCases.map { camera.project(scene.eye($0).centre) }
            let row = Int((eyes[0].y + eyes[1].y) / 2)
            let skin = (0..<image.width).filter { x in
                let p = (row * image.width + x) * 3
                return abs(Int(image.pixels[p]) - 20) + abs(Int(image.pixels[p + 1]) - 240) + abs(Int(image.pixels[p + 2]) - 30) < 12
            }
            let (left, right) = (try #require(skin.first), try #require(skin.last))
            return Double(left + right + 1) / 2 - (eyes[0].x + eyes[1].x) / 2
        }
        let slide = try eyesWithinOutline(yawDeg: turnDeg) - eyesWithinOutline(yawDeg: -turnDeg)
        let expected = 2 * FaceRenderer.skullCentreBehindEyesCm * sin(turnDeg * .pi / 180) * camera.focalPx / depthCm
        #expect(abs(abs(slide) - expected) < 0.25 * expected, "slide \(slide) px, expected about \(expected)")
    }

    @Test func labelsAreTheScreenGeometry() {
        for index in 0..<4 {
            let plan = SyntheticDataset.plan(index, options)
            let (w, h) = plan.orientation.isLandscape ? (plan.device.heightUnits, plan.device.widthUnits)
                                                     : (plan.device.widthUnits, plan.device.heightUnits)
            for frame in plan.frames {
                let mm = plan.device.screenPoint(units: frame.dot.xPts, frame.dot.yPts, plan.orientation, activeWidth: w, activeHeight: h)
                #expect(plan.device.cameraSpace(mm, plan.orientation) == frame.dot.camera)
                #expect(frame.dot.xPts >= 0 && frame.dot.xPts <= w && frame.dot.yPts >= 0 && frame.dot.yPts <= h)
                // The eyes look at the dot (up to fixation jitter), from 22-55 cm away.
                #expect(abs(frame.target.x - frame.dot.camera.xCm) < 1 && abs(frame.target.y - frame.dot.camera.yCm) < 1)
                #expect(frame.head.position.z >= 22 && frame.head.position.z <= 55)
            }
        }
        #expect(SyntheticDataset.plan(0, options).split == "test" && SyntheticDataset.plan(2, options).device.family == "iPad")
    }

    @Test func sameSeedSameFramesAndTheReaderReadsThem() throws {
        let a = Fixtures.temporaryDirectory(), b = Fixtures.temporaryDirectory()
        let summary = try SyntheticDataset.write(options, to: a)
        _ = try SyntheticDataset.write(options, to: b)
        #expect(summary.frames == 24 && summary.recordings == 4)
        let dataset = try GazeCaptureDataset(root: a)
        #expect(dataset.recordingIDs == ["00000", "00001", "00002", "00003"])
        for id in dataset.recordingIDs {
            let recording = try dataset.recording(id)
            let info = try dataset.info(id)
            #expect(recording.frames.count == 6 && info.totalFrames == 6)
            for frame in recording.frames {
                let bytesA = try Data(contentsOf: URL(fileURLWithPath: frame.imagePath))
                let bytesB = try Data(contentsOf: URL(fileURLWithPath: frame.imagePath.replacingOccurrences(of: a, with: b)))
                #expect(bytesA == bytesB)
                let image = try RGBImage(contentsOf: frame.imagePath)
                #expect((image.width, image.height) == (frame.orientation.isLandscape ? (640, 480) : (480, 640)))
                if let face = frame.face, let eye = frame.rightEye {
                    // Eye boxes are relative to the face box and lie inside the frame.
                    #expect(face.x + eye.x >= 0 && face.x + eye.x + eye.width <= Double(image.width))
                }
            }
        }
        #expect(try dataset.recording("00002").family == "iPad")
    }
}
