import Foundation

/// Frames too dark for the model to read. Webcams raise their gain as a room darkens, so a frame
/// only gets this dark when the camera has run out of gain; the eyes are then a few grey levels
/// of noise. The threshold is measured (`experiments/low_light.py`, docs/experiments.md "Low
/// light"): validation frames darkened step by step have over twice the error of well-lit ones
/// (mean luma 60 or more) under a mean luma of 30.
public enum LowLight {
    /// Mean BT.601 luma (0-255) under which a frame is reported as `low light`.
    public static let thresholdLuma = 30.0

    public static func isLow(luma: Double) -> Bool { luma < thresholdLuma }
}

/// Tells a person about low light without flooding stderr: once when it starts, then at most
/// every `intervalSeconds` while it lasts, and once when the light is back.
public struct LowLightNotice {
    public var intervalSeconds = 30.0
    private var saidAt: Double?

    public init(intervalSeconds: Double = 30) { self.intervalSeconds = intervalSeconds }

    /// The line to print for this frame, if any.
    public mutating func line(for point: TrackPoint) -> String? {
        guard let luma = point.luma else { return nil }
        if point.lowLight {
            if let saidAt, point.captureTime - saidAt < intervalSeconds { return nil }
            saidAt = point.captureTime
            return String(format: "low light: the camera's frames average %.0f of 255 in brightness (under %.0f), too dark to read the eyes; light the face from the front",
                          luma, LowLight.thresholdLuma)
        }
        guard saidAt != nil else { return nil }
        saidAt = nil
        return String(format: "light is back: frames average %.0f of 255", luma)
    }
}
