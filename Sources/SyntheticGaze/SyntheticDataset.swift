import Foundation
import FovealGeometry
import FovealIO
import FovealTensor
import GazeCapture

/// Renders a dataset in GazeCapture's exact layout with physically grounded gaze: a screen where
/// the device table puts it, dots on it, a subject whose eyes (with per-subject kappa) look at
/// each dot, seen by a pinhole front camera. Deterministic by seed: recording i depends only on
/// (seed, i), whatever the number of recordings or threads.
public enum SyntheticDataset {
    public struct Options: Sendable {
        public var recordings = 20
        public var seed: UInt64 = 1
        /// Dots per recording (GazeCapture showed ~30) and frames per dot.
        public var dotsPerRecording = 24
        public var framesPerDot = 6
        /// Share of recordings on iPads (the rest on iPhones).
        public var iPadFraction = 0.2
        /// Frames per second of the recorded video (sets dotInfo's `Time`).
        public var framesPerSecond = 15.0
        /// The landscape frame size (portrait frames are its transpose); nil: GazeCapture's
        /// 640x480. The focal length scales with the width, so the horizontal field of view
        /// stays GazeCapture's front camera's.
        public var frameSize: (width: Int, height: Int)?

        public init() {}
    }

    /// Everything fixed for one recording.
    public struct RecordingPlan: Sendable {
        public let index: Int
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
        // Exactly the requested share of iPads, spread evenly; the first three recordings are an
        // iPhone test, a validation and an iPad test recording, so every split and family exists.
        let iPadEvery = options.iPadFraction > 0 ? max(1, Int((1 / options.iPadFraction).rounded())) : Int.max
        let isPad = index == 2 || (index > 2 && index % iPadEvery == 2 % iPadEvery)
        let family = devices.devices.filter { $0.family == (isPad ? "iPad" : "iPhone") }
        let device = family[Int(rng.next() % UInt64(family.count))]
        let u = rng.uniformDouble(0, 1)
        let split = index == 0 || index == 2 ? "test" : index == 1 ? "val" : u < 0.15 ? "test" : u < 0.25 ? "val" : "train"
        let orientationDraw = rng.uniformDouble(0, 1)
        let orientation: Orientation = orientationDraw < 0.5 ? .portrait : orientationDraw < 0.6 ? .portraitUpsideDown
            : orientationDraw < 0.8 ? .landscapeHomeRight : .landscapeHomeLeft
        let subject = Subject.random(&rng)
        let look = Look.random(&rng)
        // GazeCapture frames are upright as the user sees them: 480x640 in portrait, 640x480 in landscape.
        let (long, short) = options.frameSize.map { (max($0.width, $0.height), min($0.width, $0.height)) } ?? (640, 480)
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
        let activeW = orientation.isLandscape ? device.heightUnits : device.widthUnits
        let activeH = orientation.isLandscape ? device.widthUnits : device.heightUnits
        var frames: [FramePlan] = []
        var blinkLeft = 0
        for d in 0..<options.dotsPerRecording {
            let xPts = rng.uniformDouble(0.05, 0.95) * activeW, yPts = rng.uniformDouble(0.05, 0.95) * activeH
            let onScreen = device.screenPoint(units: xPts, yPts, orientation, activeWidth: activeW, activeHeight: activeH)
            let cam = device.cameraSpace(onScreen, orientation)
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
                    dot: Dot(number: d, xPts: xPts, yPts: yPts, camera: cam, time: Double(k) / options.framesPerSecond),
                    head: HeadPose(position: position, yawDeg: yaw, pitchDeg: pitch, rollDeg: roll),
                    target: Vector3(cam.xCm, cam.yCm, 0) + jitter, blink: blink,
                    exposure: rng.uniformDouble(0.97, 1.03), seed: rng.next()))
            }
        }
        return RecordingPlan(index: index, id: String(format: "%05d", index), device: device, orientation: orientation,
                             split: split, subject: subject, look: look, camera: camera, frames: frames)
    }

    /// Renders one frame of a plan: the image and its JSON record.
    public static func render(_ plan: RecordingPlan, frame i: Int, renderer: FaceRenderer) -> (RGBImage, RecordingWriter.FrameRecord) {
        let f = plan.frames[i]
        var rng = SplitMix64(seed: f.seed)
        let scene = GazeScene(subject: plan.subject, head: f.head, target: f.target)
        let (image, d) = renderer.render(scene, look: plan.look, blink: f.blink, exposure: f.exposure, rng: &rng)
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
