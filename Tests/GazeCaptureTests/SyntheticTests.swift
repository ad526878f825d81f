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

    @Test func setupsMixInTheirSharesAndEveryFamilyGetsTestAndValidation() throws {
        let mix = try SetupMix(parsing: "phone=2,tablet=1,laptop=2,desktop=2")
        let setups = (0..<70).map(mix.setup(forRecording:))
        #expect(setups.count { $0 == .phone } == 20 && setups.count { $0 == .tablet } == 10)
        #expect(setups.count { $0 == .laptop } == 20 && setups.count { $0 == .desktop } == 20)
        var o = options
        (o.setups, o.recordings) = (mix, 14)
        let plans = (0..<14).map { SyntheticDataset.plan($0, o) }
        for setup in Setup.allCases {
            let splits = plans.filter { $0.setup == setup }.map(\.split)
            #expect(splits.prefix(2) == ["test", "val"], "\(setup): \(splits)")
            #expect(plans.filter { $0.setup == setup }.allSatisfy { $0.device.family == setup.family })
        }
        // GazeCapture's mix is still the default, recording for recording.
        #expect((0..<10).map(SetupMix.handHeld.setup(forRecording:)) == [.phone, .phone, .tablet, .phone, .phone, .phone, .phone, .tablet, .phone, .phone])
    }

    /// `synth --split test`: a held-out seed whose every recording is a test one, showing the
    /// same subjects and frames as the mixed rendering of that seed.
    @Test func aSplitForEveryRecordingChangesOnlyTheSplit() throws {
        var o = options
        (o.setups, o.recordings) = (try SetupMix(parsing: "phone,tablet,laptop,desktop"), 16)
        var held = o
        held.split = "test"
        for i in 0..<16 {
            let (mixed, test) = (SyntheticDataset.plan(i, o), SyntheticDataset.plan(i, held))
            #expect(test.split == "test")
            #expect(test.device.name == mixed.device.name && test.orientation == mixed.orientation)
            #expect(test.frames.map(\.seed) == mixed.frames.map(\.seed) && test.frames.map(\.dot.camera) == mixed.frames.map(\.dot.camera))
        }
        #expect(Set((0..<16).map { SyntheticDataset.plan($0, o).split }).count > 1)
    }

    @Test(arguments: ["", "phone,phone", "laptop=0", "desktop=101", "laptop=x", "car"])
    func aBadSetupListIsRefused(_ text: String) {
        #expect(throws: SetupMixError.self) { try SetupMix(parsing: text) }
    }

    /// At a desk: a webcam's 720p frames, the subject 40-90 cm away in front of the screen, dots
    /// on the laptop's or monitor's screen, and some frames without a face or with closed eyes,
    /// marked invalid in the detection files.
    @Test(arguments: [Setup.laptop, .desktop]) func aDeskRecording(_ setup: Setup) throws {
        var o = options
        (o.setups, o.recordings, o.dotsPerRecording, o.framesPerDot) = (try SetupMix(parsing: setup.rawValue), 6, 12, 6)
        var sawAbsence = false, sawClosedEyes = false
        for index in 0..<6 {
            let plan = SyntheticDataset.plan(index, o)
            #expect(plan.setup == setup && plan.device.family == setup.family && plan.device.unit == .pixels)
            #expect((plan.camera.width, plan.camera.height) == (1280, 720))
            // A 65-80 degree diagonal field of view.
            let fov = 2 * atan(Double(1280 * 1280 + 720 * 720).squareRoot() / 2 / plan.camera.focalPx) * 180 / .pi
            #expect(fov > 64.9 && fov < 80.1)
            for frame in plan.frames {
                #expect(frame.head.position.z >= 40 && frame.head.position.z <= 90)
                #expect(abs(frame.head.yawDeg) <= 25 && abs(frame.head.pitchDeg) <= 15)
                #expect(frame.dot.camera.yCm < 0)  // the screen hangs below its camera
            }
            sawAbsence = sawAbsence || plan.frames.contains { !$0.present }
            sawClosedEyes = sawClosedEyes || plan.frames.contains { $0.present && $0.blink == 1 }
        }
        #expect(sawAbsence && sawClosedEyes)

        // Written at a small size (a debug build renders slowly): the detection files mark the
        // planned absences and closed eyes.
        (o.recordings, o.frameSize) = (2, (320, 180))
        let dir = Fixtures.temporaryDirectory()
        _ = try SyntheticDataset.write(o, to: dir)
        let dataset = try GazeCaptureDataset(root: dir)
        for id in dataset.recordingIDs {
            let recording = try dataset.recording(id)
            let plan = SyntheticDataset.plan(Int(id)!, o)
            #expect(recording.family == setup.family)
            for (frame, planned) in zip(recording.frames, plan.frames) {
                if !planned.present { #expect(frame.face == nil && !frame.isValid) }
                if planned.blink == 1 { #expect(frame.leftEye == nil && frame.rightEye == nil) }
            }
        }
        // At its own size, a desk frame is 720p.
        (o.recordings, o.frameSize, o.dotsPerRecording, o.framesPerDot) = (1, nil, 1, 1)
        let hd = Fixtures.temporaryDirectory()
        _ = try SyntheticDataset.write(o, to: hd)
        for id in try GazeCaptureDataset(root: hd).recordingIDs {
            let recording = try GazeCaptureDataset(root: hd).recording(id)
            let image = try RGBImage(contentsOf: recording.frames[0].imagePath)
            #expect((image.width, image.height) == (1280, 720))
        }
    }
}
