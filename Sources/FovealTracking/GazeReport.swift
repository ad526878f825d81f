import Foundation
import FovealGeometry
import FovealIO

/// One tracked frame as other programs see it: the line `foveal track --format jsonl` prints and
/// the message `foveal serve` streams. The coding keys are the wire format (units in the names).
public struct GazeReport: Codable, Sendable, Equatable {
    public var frame: Int
    /// Capture time, seconds on the monotonic clock.
    public var timeS: Double
    /// Camera space (GazeCapture's prediction space): cm from the camera, x right, y up.
    public var gazeCm: [Double]
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

    enum CodingKeys: String, CodingKey {
        case frame, name, calibrated
        case timeS = "time_s", gazeCm = "gaze_cm", latencyMs = "latency_ms", labelCm = "label_cm"
        case screenCm = "screen_cm", screenPx = "screen_px", uncalibratedCm = "uncalibrated_cm"
    }

    public init(_ p: TrackPoint, on screen: (geometry: ScreenGeometry, orientation: Orientation)? = nil) {
        frame = p.frame
        timeS = p.captureTime
        gazeCm = [p.gaze.xCm, p.gaze.yCm]
        latencyMs = p.latencyMs
        labelCm = p.label.map { [$0.xCm, $0.yCm] }
        name = p.name
        if let (geometry, o) = screen {
            let cm = geometry.screenPoint(p.gaze, o), px = geometry.units(cm, o)
            screenCm = [cm.xCm, cm.yCm]
            screenPx = [px.x, px.y]
            uncalibratedCm = [p.uncalibrated.xCm, p.uncalibrated.yCm]
            calibrated = p.calibrated
        }
    }

    /// One line of JSON, keys sorted.
    public var jsonLine: String { JSONOutput.line(self) }
}
