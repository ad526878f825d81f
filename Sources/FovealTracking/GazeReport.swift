import Foundation
import FovealCalibration
import FovealGeometry
import FovealIO

/// One tracked frame as other programs see it: the line `foveal track --format jsonl` prints and
/// the message `foveal serve` streams. The coding keys are the wire format (units in the names).
public struct GazeReport: Codable, Sendable, Equatable {
    public var frame: Int
    /// Capture time, seconds on the monotonic clock.
    public var timeS: Double
    /// Camera space (GazeCapture's prediction space): cm from the camera, x right, y up; null
    /// (like every gaze field) when `face` is false.
    public var gazeCm: [Double]?
    public var latencyMs: Double
    public var labelCm: [Double]?
    public var name: String?
    /// With a screen: cm and pixels from its top-left corner, and the uncorrected network output.
    public var screenCm: [Double]?
    public var screenPx: [Double]?
    public var uncalibratedCm: [Double]?
    /// With a screen: whether the user's calibration corrected `gazeCm` (false: none yet, or
    /// one made with other weights).
    public var calibrated: Bool?
    /// With a model that has the presence head: the probability (0-1) that a face with open eyes
    /// is in view, and whether it is taken as there (presence of one half or more).
    public var presence: Double?
    public var face: Bool?
    /// With a model that also has the face-in-view head: the probability (0-1) that a face is in
    /// view, eyes open or closed, and whether a frame without a face with open eyes had them
    /// closed (false: nobody there; also false while `face` is true).
    public var faceInView: Double?
    public var eyesClosed: Bool?
    /// The frame's mean brightness (BT.601 luma, 0-255), and whether it is too dark to read.
    public var luma: Double?
    public var lowLight: Bool?
    /// With a layout of screens: the one the gaze falls on (`screen_cm` and `screen_px` are then
    /// that screen's), and whether it falls on any (false: off every screen; the coordinates are
    /// then the calibrated screen's).
    public var screen: String?
    public var onScreen: Bool?

    enum CodingKeys: String, CodingKey {
        case frame, name, calibrated, presence, face, luma, screen, lowLight = "low_light", onScreen = "on_screen"
        case faceInView = "face_in_view", eyesClosed = "eyes_closed"
        case timeS = "time_s", gazeCm = "gaze_cm", latencyMs = "latency_ms", labelCm = "label_cm"
        case screenCm = "screen_cm", screenPx = "screen_px", uncalibratedCm = "uncalibrated_cm"
    }

    public init(_ p: TrackPoint, on screen: (geometry: ScreenGeometry, orientation: Orientation)? = nil) {
        frame = p.frame
        timeS = p.captureTime
        presence = p.presence
        face = p.presence == nil ? nil : p.face
        if p.presence != nil, let faceInView = p.faceInView { (self.faceInView, eyesClosed) = (faceInView, p.faceState == .eyesClosed) }
        luma = p.luma.map { ($0 * 10).rounded() / 10 }
        lowLight = p.luma == nil ? nil : p.lowLight
        latencyMs = p.latencyMs
        labelCm = p.label.map { [$0.xCm, $0.yCm] }
        name = p.name
        if screen != nil { calibrated = p.calibrated }
        guard p.face else { return }
        gazeCm = [p.gaze.xCm, p.gaze.yCm]
        if let (geometry, o) = screen {
            let cm = geometry.screenPoint(p.gaze, o), px = geometry.units(cm, o)
            screenCm = [cm.xCm, cm.yCm]
            screenPx = [px.x, px.y]
            uncalibratedCm = [p.uncalibrated.xCm, p.uncalibrated.yCm]
        }
    }

    /// Gaze on a layout of screens: reported on the screen it falls on, or, off every screen, on
    /// the calibrated (first) one with `on_screen` false.
    public init(_ p: TrackPoint, layout: ScreenLayout) {
        let hit = layout.locate(p.gaze)
        guard let reference = hit?.screen ?? layout.screens.first else {
            self.init(p)
            return
        }
        self.init(p, on: (reference.geometry, reference.screenOrientation))
        guard p.face else { return }
        (screen, onScreen) = (hit?.screen.name, hit != nil)
    }

    /// Absent fields are left out, except the gaze fields of a frame without a face, which are
    /// written as null: a reader sees that there was no gaze, not that the field is unsupported.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(frame, forKey: .frame)
        try c.encode(timeS, forKey: .timeS)
        try c.encode(latencyMs, forKey: .latencyMs)
        try c.encodeIfPresent(name, forKey: .name)
        try c.encodeIfPresent(labelCm, forKey: .labelCm)
        try c.encodeIfPresent(calibrated, forKey: .calibrated)
        try c.encodeIfPresent(presence, forKey: .presence)
        try c.encodeIfPresent(face, forKey: .face)
        try c.encodeIfPresent(faceInView, forKey: .faceInView)
        try c.encodeIfPresent(eyesClosed, forKey: .eyesClosed)
        try c.encodeIfPresent(luma, forKey: .luma)
        try c.encodeIfPresent(lowLight, forKey: .lowLight)
        if face == false {
            try c.encodeNil(forKey: .gazeCm)
            if calibrated != nil { for key in [CodingKeys.screenCm, .screenPx, .uncalibratedCm] { try c.encodeNil(forKey: key) } }
        } else {
            try c.encodeIfPresent(gazeCm, forKey: .gazeCm)
            try c.encodeIfPresent(screenCm, forKey: .screenCm)
            try c.encodeIfPresent(screenPx, forKey: .screenPx)
            try c.encodeIfPresent(uncalibratedCm, forKey: .uncalibratedCm)
            try c.encodeIfPresent(onScreen, forKey: .onScreen)
            if onScreen != nil { try c.encode(screen, forKey: .screen) }
        }
    }

    /// One line of JSON, keys sorted.
    public var jsonLine: String { JSONOutput.line(self) }
}
