import Foundation
import FovealGeometry
import FovealIO
import FovealTensor
import GazeCapture

/// Renders a dataset in GazeCapture's exact layout with physically grounded gaze: a screen where
/// the device table puts it, dots on it, a subject whose eyes (with per-subject kappa) look at
/// each dot, seen by a pinhole camera: a phone's or tablet's front camera held in the hand, or a
/// laptop's or monitor's webcam at a desk (`Setup`). Deterministic by seed: recording i depends
/// only on (seed, i), whatever the number of recordings or threads.
public enum SyntheticDataset {
    public struct Options: Sendable {
        public var recordings = 20
        public var seed: UInt64 = 1
        /// Dots per recording (GazeCapture showed ~30) and frames per dot.
        public var dotsPerRecording = 24
        public var framesPerDot = 6
        /// Which setups the recordings are made in, and how often.
        public var setups = SetupMix.handHeld
        /// Frames per second of the recorded video (sets dotInfo's `Time`).
        public var framesPerSecond = 15.0
        /// The landscape frame size (portrait frames are its transpose); nil: each setup's own
        /// (`Setup.defaultFrameSize`). A phone's focal length scales with the width, so the
        /// field of view stays GazeCapture's front camera's; a webcam's follows the diagonal.
        public var frameSize: (width: Int, height: Int)?
        /// Puts every recording in this split ("train", "val" or "test"): a held-out seed rendered
        /// to be evaluated whole. nil: GazeCapture's mix (see `plan`). Only the metadata changes:
        /// recording i shows the same subject and frames either way.
        public var split: String?

        public init() {}
    }

    /// Everything fixed for one recording.
    public struct RecordingPlan: Sendable {
        public let index: Int
        public let setup: Setup
        public let id: String
        public let device: ScreenGeometry
        public let orientation: Orientation
        public let split: String
        public let subject: Subject
        public let look: Look
        public let camera: PinholeCamera
        public let frames: [FramePlan]
    }

    /// Everything that changes from frame to frame.
    public struct FramePlan: Sendable {
        public let dot: Dot
        public let head: HeadPose
        public let target: Vector3
        public let blink: Double
        /// False while the subject has left the camera's view: the frame shows the room only.
        public let present: Bool
        public let exposure: Double
        public let seed: UInt64
    }

    public struct Summary: Sendable {
        public var recordings = 0, frames = 0
        public var framesPerSplit: [String: Int] = [:]
        public var recordingsPerFamily: [String: Int] = [:]
        public var seconds = 0.0
    }

    /// The plan for recording `index`.
    public static func plan(_ index: Int, _ options: Options, devices: DeviceTable = .builtin) -> RecordingPlan {
        var rng = SplitMix64(seed: options.seed &* 0x2545_f491_4f6c_dd1d ^ UInt64(index) &* 0x9e37_79b9_7f4a_7c15)
        let setup = options.setups.setup(forRecording: index)
        let family = devices.devices.filter { $0.family == setup.family }
        let device = family[Int(rng.next() % UInt64(family.count))]
        // The first recording of each setup is a test one and the second a validation one, so
        // that every split has every family; the rest are 75% train, 15% test, 10% validation.
        let u = rng.uniformDouble(0, 1)
        let mixed = switch options.setups.occurrence(ofRecording: index) {
        case 0: "test"
        case 1: "val"
        default: u < 0.15 ? "test" : u < 0.25 ? "val" : "train"
        }
        let split = options.split ?? mixed
        let frameSize = options.frameSize ?? setup.defaultFrameSize
        let (long, short) = (max(frameSize.width, frameSize.height), min(frameSize.width, frameSize.height))
        return setup.isHandHeld
            ? handHeldPlan(index, setup, device, split, long: long, short: short, options, &rng)
            : deskPlan(index, setup, device, split, width: frameSize.width, height: frameSize.height, options, &rng)
    }

    /// A phone or tablet held in front of the face, in any of the four orientations.
    private static func handHeldPlan(_ index: Int, _ setup: Setup, _ device: ScreenGeometry, _ split: String,
                                     long: Int, short: Int, _ options: Options, _ rng: inout SplitMix64) -> RecordingPlan {
        let orientationDraw = rng.uniformDouble(0, 1)
        let orientation: Orientation = orientationDraw < 0.5 ? .portrait : orientationDraw < 0.6 ? .portraitUpsideDown
            : orientationDraw < 0.8 ? .landscapeHomeRight : .landscapeHomeLeft
        let subject = Subject.random(&rng)
        let look = Look.random(&rng)
        // GazeCapture frames are upright as the user sees them: 480x640 in portrait, 640x480 in landscape.
        let focalPx = rng.uniformDouble(500, 600) * Double(long) / 640
        let camera = orientation.isLandscape ? PinholeCamera(width: long, height: short, focalPx: focalPx)
                                             : PinholeCamera(width: short, height: long, focalPx: focalPx)

        // The head sits in front of the screen, pulled towards the camera's axis so that the face is in view.
        let (screenW, screenH) = device.sizeMm(orientation)
        let centre = device.cameraSpace(ScreenPoint(xMm: screenW / 2, yMm: screenH / 2), orientation)
        let pull = rng.uniformDouble(0.35, 0.75)
        var position = Vector3(centre.xCm * pull + rng.normal(0, 1.5), centre.yCm * pull + rng.normal(0, 1.5) + 1,
                               rng.uniformDouble(25, 50))
        let home = position
        var yaw = rng.normal(0, 6), pitch = rng.normal(0, 5), roll = rng.normal(0, 4)
        var frames: [FramePlan] = []
        var blinkLeft = 0
        for d in 0..<options.dotsPerRecording {
            let dot = drawDot(device, orientation, &rng)
            for k in 0..<options.framesPerDot {
                // The head drifts slowly (mean-reverting random walk); the eyes fixate with small jitter.
                position = position + (home - position) * 0.05 + Vector3(rng.normal(0, 0.25), rng.normal(0, 0.25), rng.normal(0, 0.4))
                position.z = position.z.clamped(22, 55)
                yaw = yaw * 0.95 + rng.normal(0, 1.2); pitch = pitch * 0.95 + rng.normal(0, 1); roll = roll * 0.95 + rng.normal(0, 0.8)
                if blinkLeft == 0, rng.uniformDouble(0, 1) < 0.03 { blinkLeft = 2 }
                let blink = blinkLeft > 0 ? 1.0 : 0.0
                blinkLeft = max(0, blinkLeft - 1)
                let jitter = Vector3(rng.normal(0, 0.12), rng.normal(0, 0.12), 0)
                frames.append(FramePlan(
                    dot: Dot(number: d, xPts: dot.xPts, yPts: dot.yPts, camera: dot.camera, time: Double(k) / options.framesPerSecond),
                    head: HeadPose(position: position, yawDeg: yaw, pitchDeg: pitch, rollDeg: roll),
                    target: Vector3(dot.camera.xCm, dot.camera.yCm, 0) + jitter, blink: blink, present: true,
                    exposure: rng.uniformDouble(0.97, 1.03), seed: rng.next()))
            }
        }
        return RecordingPlan(index: index, setup: setup, id: String(format: "%05d", index), device: device, orientation: orientation,
                             split: split, subject: subject, look: look, camera: camera, frames: frames)
    }

    /// A laptop's built-in camera or a webcam on a monitor, the subject at a desk 40-90 cm away.
    /// People at a desk move more than a hand-held phone lets them: they shift sideways, lean in
    /// and out, turn the head part of the way towards what they look at (yaw up to about 25
    /// degrees, pitch up to 15), close their eyes for a moment, and now and then leave the chair.
    private static func deskPlan(_ index: Int, _ setup: Setup, _ device: ScreenGeometry, _ split: String,
                                 width: Int, height: Int, _ options: Options, _ rng: inout SplitMix64) -> RecordingPlan {
        var subject = Subject.random(&rng)
        // More glasses than in the hand-held mix: the screen's reflection in them is part of the desk's look.
        if rng.uniformDouble(0, 1) < 0.2 { subject.glasses = true }
        let look = Look.randomDesk(&rng)
        // Webcams have a 65-80 degree diagonal field of view.
        let diagonalFovDeg = rng.uniformDouble(65, 80)
        let diagonalPx = (Double(width * width) + Double(height * height)).squareRoot()
        let camera = PinholeCamera(width: width, height: height, focalPx: diagonalPx / 2 / tan(diagonalFovDeg * .pi / 360))

        // Eyes level with the top of a monitor, or above a laptop's camera (its screen sits low).
        let (screenW, _) = device.sizeMm(.portrait)
        let screenCentreX = device.cameraSpace(ScreenPoint(xMm: screenW / 2, yMm: 0), .portrait).xCm
        let home = Vector3(screenCentreX + rng.normal(0, 4), setup == .laptop ? rng.normal(7, 4) : rng.normal(-3, 4),
                           rng.uniformDouble(45, 85))
        var position = home
        let yawBias = rng.normal(0, 6), pitchBias = rng.normal(0, 4)
        var yaw = yawBias, pitch = pitchBias, roll = rng.normal(0, 4)
        // How far the head turns towards a target, as a share of the eyes' turn.
        let headFollow = rng.uniformDouble(0.1, 0.4)
        // At most one absence per recording: the subject leaves for one or two dots.
        let absentDot = rng.uniformDouble(0, 1) < 0.5 ? Int(rng.next() % UInt64(options.dotsPerRecording)) : -1
        let absentDots = 1 + Int(rng.next() % 2)
        var frames: [FramePlan] = []
        var closedLeft = 0
        for d in 0..<options.dotsPerRecording {
            let dot = drawDot(device, .portrait, &rng)
            let present = !(absentDot >= 0 && d >= absentDot && d < absentDot + absentDots)
            if rng.uniformDouble(0, 1) < 0.3 {  // a shift in the chair between dots
                position = position + Vector3(rng.normal(0, 2), rng.normal(0, 1), rng.normal(0, 4))
            }
            for k in 0..<options.framesPerDot {
                position = position + (home - position) * 0.02 + Vector3(rng.normal(0, 0.35), rng.normal(0, 0.25), rng.normal(0, 0.6))
                position.z = position.z.clamped(40, 90)
                let toDot = Vector3(dot.camera.xCm, dot.camera.yCm, 0) - position
                let gazeYaw = atan2(toDot.x, -toDot.z) * 180 / .pi, gazePitch = atan2(toDot.y, -toDot.z) * 180 / .pi
                yaw += (yawBias + headFollow * gazeYaw - yaw) * 0.3 + rng.normal(0, 0.8)
                pitch += (pitchBias + headFollow * gazePitch - pitch) * 0.3 + rng.normal(0, 0.6)
                roll = roll * 0.95 + rng.normal(0, 0.6)
                (yaw, pitch) = (yaw.clamped(-25, 25), pitch.clamped(-15, 15))
                // Blinks (two frames), and now and then the eyes stay shut for half a second or more.
                if closedLeft == 0 {
                    let draw = rng.uniformDouble(0, 1)
                    closedLeft = draw < 0.003 ? 4 + Int(rng.next() % 7) : draw < 0.023 ? 2 : 0
                }
                let blink = closedLeft > 0 ? 1.0 : 0.0
                closedLeft = max(0, closedLeft - 1)
                let jitter = Vector3(rng.normal(0, 0.2), rng.normal(0, 0.2), 0)
                frames.append(FramePlan(
                    dot: Dot(number: d, xPts: dot.xPts, yPts: dot.yPts, camera: dot.camera, time: Double(k) / options.framesPerSecond),
                    head: HeadPose(position: position, yawDeg: yaw, pitchDeg: pitch, rollDeg: roll),
                    target: Vector3(dot.camera.xCm, dot.camera.yCm, 0) + jitter, blink: blink, present: present,
                    exposure: rng.uniformDouble(0.97, 1.03), seed: rng.next()))
            }
        }
        return RecordingPlan(index: index, setup: setup, id: String(format: "%05d", index), device: device, orientation: .portrait,
                             split: split, subject: subject, look: look, camera: camera, frames: frames)
    }

    /// A dot uniform over the screen's active area, 5% in from its edges.
    private static func drawDot(_ device: ScreenGeometry, _ orientation: Orientation,
                                _ rng: inout SplitMix64) -> (xPts: Double, yPts: Double, camera: CameraSpacePoint) {
        let activeW = orientation.isLandscape ? device.heightUnits : device.widthUnits
        let activeH = orientation.isLandscape ? device.widthUnits : device.heightUnits
        let xPts = rng.uniformDouble(0.05, 0.95) * activeW, yPts = rng.uniformDouble(0.05, 0.95) * activeH
        let onScreen = device.screenPoint(units: xPts, yPts, orientation, activeWidth: activeW, activeHeight: activeH)
        return (xPts, yPts, device.cameraSpace(onScreen, orientation))
    }

    /// Renders one frame of a plan: the image and its JSON record.
    public static func render(_ plan: RecordingPlan, frame i: Int, renderer: FaceRenderer) -> (RGBImage, RecordingWriter.FrameRecord) {
        let f = plan.frames[i]
        var rng = SplitMix64(seed: f.seed)
        let scene = GazeScene(subject: plan.subject, head: f.head, target: f.target)
        let (image, d) = f.present ? renderer.render(scene, look: plan.look, blink: f.blink, exposure: f.exposure, rng: &rng)
                                   : renderer.renderEmpty(look: plan.look, exposure: f.exposure, rng: &rng)
        let landscape = plan.orientation.isLandscape
        let record = RecordingWriter.FrameRecord(
            dot: f.dot, face: d.face,
            // GazeCapture's "left eye" is the subject's left, on the image's right.
            leftEye: d.face == nil ? nil : d.leftEye, rightEye: d.face == nil ? nil : d.rightEye, faceGrid: d.faceGrid,
            screenWidthPts: landscape ? plan.device.heightUnits : plan.device.widthUnits,
            screenHeightPts: landscape ? plan.device.widthUnits : plan.device.heightUnits,
            orientation: plan.orientation)
        return (image, record)
    }

    /// Renders `options.recordings` recordings into `root` (created if needed), frames in
    /// parallel; `progress` gets the number of frames written so far.
    public static func write(_ options: Options, to root: String, progress: (Int, Int) -> Void = { _, _ in }) throws -> Summary {
        let start = Date()
        var summary = Summary()
        let total = options.recordings * options.dotsPerRecording * options.framesPerDot
        for index in 0..<options.recordings {
            let plan = plan(index, options)
            let writer = try RecordingWriter(folder: root + "/" + plan.id)
            let renderer = FaceRenderer(camera: plan.camera, look: plan.look)
            var records = [RecordingWriter.FrameRecord?](repeating: nil, count: plan.frames.count)
            var failures = [String?](repeating: nil, count: plan.frames.count)
            records.withUnsafeMutableBufferPointer { recs in
                failures.withUnsafeMutableBufferPointer { fails in
                    let (r, e) = (UncheckedSendable(recs.baseAddress!), UncheckedSendable(fails.baseAddress!))
                    parallelFor(plan.frames.count) { i in
                        let (image, record) = render(plan, frame: i, renderer: renderer)
                        do {
                            try writer.writeFrame(i, jpeg: try image.jpegData(quality: plan.look.jpegQuality))
                            r.value[i] = record
                        } catch {
                            e.value[i] = "\(error)"
                        }
                    }
                }
            }
            if let failure = failures.compactMap({ $0 }).first { throw FileFormatError(writer.folder, failure) }
            try writer.writeMetadata(records.map { $0! }, device: plan.device.name, split: plan.split)
            summary.recordings += 1
            summary.frames += plan.frames.count
            summary.framesPerSplit[plan.split, default: 0] += plan.frames.count
            summary.recordingsPerFamily[plan.device.family, default: 0] += 1
            progress(summary.frames, total)
        }
        summary.seconds = Date().timeIntervalSince(start)
        return summary
    }
}
