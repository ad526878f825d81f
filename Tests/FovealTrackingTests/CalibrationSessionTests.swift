import Foundation
import FovealCalibration
import FovealGeometry
import FovealIO
import FovealModel
import FovealCapture
import FovealTensor
import FovealTestSupport
import FovealTracking
import Testing

/// The calibration session both `foveal calibrate` and the service drive, fed made-up frames:
/// times are frame times, so every count below is exact.
@Suite struct CalibrationSessions {
    let user: User = { var u = User(name: "ana"); u.id = 1; return u }()
    let screen: Screen = {
        var s = Screen(name: "desk", geometry: DeviceTable.builtin["Laptop 14in 1920x1080"]!)
        s.id = 1
        return s
    }()

    func point(_ time: Double, label: CameraSpacePoint? = nil, starts: Bool = false) -> TrackPoint {
        let out = CameraSpacePoint(xCm: time, yCm: -time)
        return TrackPoint(frame: Int(time * 8), captureTime: time, gaze: out, uncalibrated: out, latencyMs: 1, label: label,
                          features: [Float(time)], startsRecording: starts)
    }

    func script(settle: Double, dwell: Double, targets: Int) -> CalibrationScript {
        CalibrationScript(name: "t", settleSeconds: settle, dwellSeconds: dwell,
                          targets: (0..<targets).map { i in .init(x: 0.1 + 0.8 * Double(i) / Double(targets), y: 0.5) })
    }

    @Test func aScriptSettlesThenCollectsItsDwellOnFrameTimes() {
        let session = CalibrationSession(user: user, screen: screen, targets: .script(script(settle: 0.5, dwell: 1, targets: 2)))
        var shown: [(Int, Double)] = []
        // A frame every 0.125 s from t = 8 s.
        for k in 0..<40 where !session.isComplete {
            let t = 8 + Double(k) * 0.125
            if let target = session.observe(point(t)) { shown.append((target.index, t)) }
        }
        #expect(shown.map(\.0) == [0, 1] && shown.map(\.1) == [8, 9.625])
        // Target 0: settle until 8.5, dwell until 9.5 (9 frames); target 1 from 10.125 to 11.125.
        let times = session.samples.map { Double($0.features[0]) }
        #expect(session.samples.filter { $0.targetIndex == 0 }.count == 9 && session.samples.filter { $0.targetIndex == 1 }.count == 9)
        #expect(times.first == 8.5 && times.last == 11.125 && !times.contains(9.625))
        #expect(session.isComplete)
        // Each sample's target is the script's target in camera space.
        let g = screen.geometry, o = screen.screenOrientation
        let first = g.cameraSpace(script(settle: 0.5, dwell: 1, targets: 2).targets[0].position(on: g, o), o)
        #expect(session.samples[0].target == first)
    }

    @Test func aLateShownTargetSettlesFromWhenItWasShown() {
        let session = CalibrationSession(user: user, screen: screen, targets: .script(script(settle: 0.5, dwell: 1, targets: 2)))
        _ = session.observe(point(8))
        session.targetShown(at: 8.25)  // a command took 0.25 s to draw it
        for k in 1..<12 { _ = session.observe(point(8 + Double(k) * 0.125)) }
        #expect(session.samples.first.map { Double($0.features[0]) } == 8.75)
    }

    /// A replay starts at the recording's first frame, however far the replay had got: the
    /// service (joining a looping replay mid-way) and the CLI (from the start) use the same dots.
    @Test func aReplayUsesTheSameDotsFromWhereverItJoins() {
        let dots = [CameraSpacePoint(xCm: 1, yCm: -2), CameraSpacePoint(xCm: -3, yCm: -4), CameraSpacePoint(xCm: 5, yCm: -6),
                    CameraSpacePoint(xCm: 0, yCm: -9)]
        // One pass: each dot three frames.
        func pass(from start: Double) -> [TrackPoint] {
            (0..<12).map { i in point(start + Double(i) * 0.125, label: dots[i / 3], starts: i == 0) }
        }
        let cli = CalibrationSession(user: user, screen: screen, targets: .recordingDots(limit: 3))
        for p in pass(from: 0) where !cli.isComplete { _ = cli.observe(p) }
        let service = CalibrationSession(user: user, screen: screen, targets: .recordingDots(limit: 3))
        // Joins in the middle of a pass (dot 2), then the replay loops.
        for p in Array(pass(from: 0)[5...]) + pass(from: 10) where !service.isComplete { _ = service.observe(p) }
        #expect(cli.isComplete && service.isComplete)
        #expect(cli.shown.map(\.camera) == Array(dots.prefix(3)) && service.shown.map(\.camera) == cli.shown.map(\.camera))
        #expect(cli.samples.count == 9 && service.samples.count == 9)
        #expect(cli.samples.map(\.target) == service.samples.map(\.target))
        // Without a limit: every dot of the recording, complete when it starts over.
        let all = CalibrationSession(user: user, screen: screen, targets: .recordingDots(limit: nil))
        for p in pass(from: 0) + pass(from: 2) where !all.isComplete { _ = all.observe(p) }
        #expect(all.isComplete && all.shown.count == 4 && all.samples.count == 12)
    }

    @Test func anUnfinishedSessionSaysHowFarItGotAndStoresNothing() throws {
        let store = try CalibrationDatabase(inMemory: ())
        let ana = try store.addUser("ana"), desk = try store.addScreen(screen)
        let session = CalibrationSession(user: ana, screen: desk, targets: .script(script(settle: 0, dwell: 1, targets: 3)))
        for k in 0..<12 { _ = session.observe(point(Double(k) * 0.125)) }
        #expect(throws: CalibrationSessionError.self) { try session.finish(store: store, model: "m", scriptName: "t", camera: "c") }
        do { _ = try session.finish(store: store, model: "m", scriptName: "t", camera: "c") } catch {
            #expect("\(error)" == "the source ended during target 2 of 3")
        }
        #expect(try store.calibrations().isEmpty)
    }

    @Test func aFinishedSessionIsStoredWithItsModel() throws {
        let store = try CalibrationDatabase(inMemory: ())
        let ana = try store.addUser("ana"), desk = try store.addScreen(screen)
        let session = CalibrationSession(user: ana, screen: desk, targets: .script(script(settle: 0, dwell: 0.5, targets: 5)))
        var t = 0.0
        while !session.isComplete {
            _ = session.observe(point(t))
            t += 0.125
        }
        let result = try session.finish(store: store, model: "0123456789abcdef", scriptName: "t", camera: "c")
        #expect(result.targets == 5 && result.samples == session.samples.count && result.stored.count == result.fits.count)
        let rows = try store.calibrationRows(user: "ana")
        #expect(rows.count == result.fits.count && rows.allSatisfy { $0.model == "0123456789abcdef" })
        #expect(rows.filter(\.active).count == 1)
    }

    /// A blink or an empty chair during a dwell gives no sample.
    @Test func framesWithoutAFaceAreNoSamples() {
        let session = CalibrationSession(user: user, screen: screen, targets: .script(script(settle: 0.5, dwell: 1, targets: 1)))
        for k in 0..<20 where !session.isComplete {
            var p = point(8 + Double(k) * 0.125)
            p.presence = k % 3 == 0 ? 0.2 : 0.9
            _ = session.observe(p)
        }
        // Dwell frames 4...12 (9 frames), of which 6 and 9 and 12 had no face.
        #expect(session.samples.count == 6 && session.isComplete)
    }
}

@Suite struct GazeReports {
    let screen = DeviceTable.builtin["Laptop 14in 1920x1080"]!

    func json(_ report: GazeReport) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(report.jsonLine.utf8)) as? [String: Any])
    }

    func point(presence: Double?) -> TrackPoint {
        let p = CameraSpacePoint(xCm: 2, yCm: -8)
        return TrackPoint(frame: 3, captureTime: 1.5, gaze: p, uncalibrated: p, latencyMs: 4, presence: presence)
    }

    @Test func withoutAFaceTheGazeFieldsAreNull() throws {
        let away = try json(GazeReport(point(presence: 0.2), on: (screen, .portrait)))
        #expect(away["face"] as? Bool == false && away["presence"] as? Double == 0.2)
        for key in ["gaze_cm", "screen_cm", "screen_px", "uncalibrated_cm"] { #expect(away[key] is NSNull, "\(key)") }
        let there = try json(GazeReport(point(presence: 0.9), on: (screen, .portrait)))
        #expect(there["face"] as? Bool == true && there["gaze_cm"] as? [Double] == [2, -8] && (there["screen_px"] as? [Double])?.count == 2)
        // A model without the presence head says nothing about it.
        let unknown = try json(GazeReport(point(presence: nil)))
        #expect(unknown["face"] == nil && unknown["presence"] == nil && unknown["gaze_cm"] as? [Double] == [2, -8])
    }
}

@Suite struct LowLightReporting {
    func point(_ time: Double, luma: Double?) -> TrackPoint {
        let p = CameraSpacePoint(xCm: 0, yCm: -5)
        return TrackPoint(frame: Int(time * 10), captureTime: time, gaze: p, uncalibrated: p, latencyMs: 1, luma: luma)
    }

    @Test func meanLumaIsBT601() {
        var image = RGBImage(width: 8, height: 6)
        for i in stride(from: 0, to: image.pixels.count, by: 3) { image.pixels[i] = 200; image.pixels[i + 1] = 100; image.pixels[i + 2] = 50 }
        #expect(abs(image.meanLuma(step: 1) - (0.299 * 200 + 0.587 * 100 + 0.114 * 50)) < 0.2)
        #expect(abs(image.meanLuma() - image.meanLuma(step: 1)) < 1e-9)
        #expect(RGBImage(width: 0, height: 0).meanLuma() == 0)
    }

    @Test func reportsCarryItAndNoticesAreRateLimited() throws {
        let dark = point(0, luma: LowLight.thresholdLuma - 1)
        #expect(dark.lowLight && !point(0, luma: LowLight.thresholdLuma + 1).lowLight && !point(0, luma: nil).lowLight)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(GazeReport(dark).jsonLine.utf8)) as? [String: Any])
        #expect(json["low_light"] as? Bool == true && json["luma"] as? Double == LowLight.thresholdLuma - 1)
        // Said when it starts, again after 30 s of it, and once when the light is back.
        var notice = LowLightNotice()
        var said: [Double] = []
        for t in stride(from: 0.0, through: 70, by: 0.5) {
            if notice.line(for: point(t, luma: t < 65 ? 3 : 120)) != nil { said.append(t) }
        }
        #expect(said == [0, 30, 60, 65])
    }
}

/// Gaps without a face, told apart by length: a blink, or someone looking away.
@Suite struct Blinks {
    final class Frames: FrameSource {
        var queue: [(RGBImage, Double)]
        var index = 0
        init(_ queue: [(RGBImage, Double)]) { self.queue = queue }
        var framesPerSecond: Double? { nil }
        var description: String { "made-up frames" }
        func next() throws -> Frame? {
            guard index < queue.count else { return nil }
            defer { index += 1 }
            return Frame(image: queue[index].0, timestamp: queue[index].1, index: index)
        }
        func close() {}
    }

    @Test func shortGapsAreBlinksAndLongOnesAreNot() throws {
        let base = try GazeNet(weightsAt: Fixtures.path("model/presence.weights.safetensors"))
        let face = try RGBImage(contentsOf: Fixtures.path("model/presence.png"))
        let empty = RGBImage(width: face.width, height: face.height, pixels: [UInt8](repeating: 90, count: face.pixels.count))
        // A presence head that separates these two images: positive on `face`, negative on `empty`.
        let (a, b) = (try base.estimate([face])[0].features, try base.estimate([empty])[0].features)
        let w = zip(a, b).map { 10 * ($0 - $1) }
        let bias = -zip(w, zip(a, b)).map { $0 * ($1.0 + $1.1) / 2 }.reduce(0, +)
        let model = try base.withHeads(presence: (Tensor(shape: [1, w.count], values: w), Tensor(shape: [1], values: [bias])))
        #expect(try model.estimate([face])[0].sawFace && !model.estimate([empty])[0].sawFace)
        // face, a 0.2 s gap (a blink), face, a 1.1 s gap (away), face, then a gap the run ends in.
        var frames: [(RGBImage, Double)] = [(face, 0), (face, 0.1), (empty, 0.2), (empty, 0.3), (face, 0.4)]
        frames += (0...10).map { (empty, 0.5 + Double($0) / 10) }
        frames += [(face, 1.6), (empty, 1.7)]
        let summary = try Tracker(model: model, source: Frames(frames)).run { _ in }
        #expect(summary.frames == 18 && summary.framesWithoutFace == 14 && summary.blinks == 1)
    }
}

/// Reusing a recent frame's saliency grid while the scene has not moved.
@Suite struct SaliencyReuseInTracking {
    let model = try! GazeNet(weightsAt: Fixtures.path("model/depth6.weights.safetensors"))
    let still = try! RGBImage(contentsOf: Fixtures.path("model/presence.png"))

    func track(_ frames: [RGBImage], reuse: SaliencyReuse?) throws -> ([CameraSpacePoint], TrackSummary) {
        var points: [CameraSpacePoint] = []
        let source = Blinks.Frames(frames.enumerated().map { ($0.element, Double($0.offset) / 30) })
        let summary = try Tracker(model: model, source: source, saliencyReuse: reuse).run { points.append($0.gaze) }
        return (points, summary)
    }

    @Test func aStaticSceneGivesTheSameGazeAndTheCeilingHolds() throws {
        #expect(model.config.sampler)
        let frames = [RGBImage](repeating: still, count: 9)
        let (every, plain) = try track(frames, reuse: nil)
        let (reused, summary) = try track(frames, reuse: SaliencyReuse(every: 4))
        for (a, b) in zip(every, reused) { #expect(abs(a.xCm - b.xCm) < 1e-5 && abs(a.yCm - b.yCm) < 1e-5) }
        // Recomputed on frames 0, 4 and 8 (the ceiling), reused on the six others.
        #expect(summary.saliencyReused == 6 && summary.saliencyComputed == 3)
        #expect(plain.saliencyReused == 0 && plain.saliencyComputed == 0)
    }

    @Test func aSceneThatMovesIsRecomputed() throws {
        var moved = still
        // The face shifted: every row moved 12 pixels to the right.
        for y in 0..<still.height {
            for x in 0..<still.width {
                let from = max(0, x - 12)
                for c in 0..<3 { moved.pixels[(y * still.width + x) * 3 + c] = still.pixels[(y * still.width + from) * 3 + c] }
            }
        }
        let reuse = SaliencyReuse(every: 10)
        let (points, summary) = try track([still, still, moved, moved], reuse: reuse)
        #expect(summary.saliencyComputed == 2 && summary.saliencyReused == 2, "\(summary.saliencyComputed) computed")
        let (fresh, _) = try track([still, still, moved, moved], reuse: nil)
        for (a, b) in zip(points, fresh) { #expect(abs(a.xCm - b.xCm) < 1e-5 && abs(a.yCm - b.yCm) < 1e-5) }
    }
}

/// Two screens around one camera: a laptop's with the camera above its centre, and a monitor to
/// its right whose top-left corner is 200 mm right of and 50 mm below the camera.
@Suite struct ScreenLayouts {
    let laptop = Screen(name: "laptop", geometry: ScreenGeometry(name: "laptop", family: "laptop", widthMm: 300, heightMm: 190,
                                                                  widthUnits: 1920, heightUnits: 1200, unit: .pixels, cameraXMm: 150, cameraYMm: -10))
    let monitor = Screen(name: "side", geometry: ScreenGeometry(name: "side", family: "monitor", widthMm: 600, heightMm: 340,
                                                                 widthUnits: 2560, heightUnits: 1440, unit: .pixels, cameraXMm: -200, cameraYMm: -50))

    @Test func gazeFallsOnOneScreenOrNone() throws {
        let layout = ScreenLayout([laptop, monitor])
        // 5 cm below the camera: 40 mm down the laptop's screen (the camera is 10 mm above it), at its centre line.
        let onLaptop = try #require(layout.locate(CameraSpacePoint(xCm: 0, yCm: -5)))
        #expect(onLaptop.screen.name == "laptop")
        #expect(abs(onLaptop.point.xMm - 150) < 1e-9 && abs(onLaptop.point.yMm - 40) < 1e-9)
        // 50 cm right and 20 cm down: 300 mm into the monitor, 150 mm down it; its pixels.
        let onMonitor = try #require(layout.locate(CameraSpacePoint(xCm: 50, yCm: -20)))
        #expect(onMonitor.screen.name == "side")
        let expectedY: Double = 150.0 * 1440 / 340
        #expect(abs(onMonitor.units.x - 1280) < 1e-6 && abs(onMonitor.units.y - expectedY) < 1e-6)
        #expect(layout.locate(CameraSpacePoint(xCm: 0, yCm: 10)) == nil)  // above both
        #expect(layout.locate(CameraSpacePoint(xCm: 17, yCm: -10)) == nil)  // in the gap between them
    }

    @Test func reportsNameTheScreen() throws {
        func json(_ x: Double, _ y: Double) throws -> [String: Any] {
            let p = CameraSpacePoint(xCm: x, yCm: y)
            let report = GazeReport(TrackPoint(frame: 0, captureTime: 0, gaze: p, uncalibrated: p, latencyMs: 1),
                                    layout: ScreenLayout([laptop, monitor]))
            return try #require(try JSONSerialization.jsonObject(with: Data(report.jsonLine.utf8)) as? [String: Any])
        }
        let side = try json(50, -20)
        #expect(side["screen"] as? String == "side" && side["on_screen"] as? Bool == true)
        #expect(abs(((side["screen_px"] as? [Double]) ?? [0])[0] - 1280) < 1e-6)
        let off = try json(0, 10)
        #expect(off["screen"] is NSNull && off["on_screen"] as? Bool == false)
        #expect(abs(((off["screen_cm"] as? [Double]) ?? [0, 0])[1] - -11) < 1e-9)  // on the laptop's plane, above it
    }
}
