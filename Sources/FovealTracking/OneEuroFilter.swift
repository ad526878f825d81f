/// The One Euro filter (Casiez, Roussel and Vogel, CHI 2012): a low-pass filter whose cutoff
/// rises with speed, so a still gaze point stops jittering while a saccade is followed without lag.
///
/// cutoff = minCutoffHz + beta * |filtered speed|; each step smooths with
/// alpha = 1 / (1 + tau / dt), tau = 1 / (2 pi cutoff). The speed is itself smoothed with
/// derivativeCutoffHz. Foveal's defaults are for gaze in cm: minCutoffHz 1 (a fixation's jitter
/// is mostly above 1 Hz), beta 0.05 per cm/s (a 100 cm/s saccade raises the cutoff to 6 Hz),
/// derivativeCutoffHz 1.
public struct OneEuroFilter: Sendable {
    public var minCutoffHz: Double
    public var beta: Double
    public var derivativeCutoffHz: Double
    private var last: (time: Double, value: Double, speed: Double)?

    public init(minCutoffHz: Double = 1, beta: Double = 0.05, derivativeCutoffHz: Double = 1) {
        (self.minCutoffHz, self.beta, self.derivativeCutoffHz) = (minCutoffHz, beta, derivativeCutoffHz)
    }

    static func alpha(cutoffHz: Double, dt: Double) -> Double {
        let tau = 1 / (2 * Double.pi * cutoffHz)
        return 1 / (1 + tau / dt)
    }

    /// Filters `value` observed at `time` (seconds).
    public mutating func callAsFunction(_ value: Double, at time: Double) -> Double {
        guard let previous = last, time > previous.time else {
            last = (time, value, last?.speed ?? 0)
            return last!.value
        }
        let dt = time - previous.time
        let speed = (value - previous.value) / dt
        let a = Self.alpha(cutoffHz: derivativeCutoffHz, dt: dt)
        let smoothSpeed = a * speed + (1 - a) * previous.speed
        let cutoff = minCutoffHz + beta * abs(smoothSpeed)
        let filtered = Self.alpha(cutoffHz: cutoff, dt: dt) * value + (1 - Self.alpha(cutoffHz: cutoff, dt: dt)) * previous.value
        last = (time, filtered, smoothSpeed)
        return filtered
    }
}
