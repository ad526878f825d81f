import Foundation
import FovealGeometry

/// A calibration script (`calibration/*.json`): the targets to show, in order, and how long to
/// wait before (settle) and while (dwell) collecting frames for each.
///
///     {"name": "9-point", "settle_s": 0.8, "dwell_s": 1.2,
///      "targets": [{"x": 0.1, "y": 0.1}, {"x_cm": 12.5, "y_cm": 3, "dwell_s": 2}, ...]}
///
/// A target is a fraction of the screen (`x`, `y` in 0...1 from the top-left) or a position in cm
/// from the top-left (`x_cm`, `y_cm`); `settle_s`/`dwell_s` on a target override the script's.
public struct CalibrationScript: Codable, Sendable, Equatable {
    public struct Target: Codable, Sendable, Equatable {
        public var x: Double?, y: Double?
        public var xCm: Double?, yCm: Double?
        public var settleSeconds: Double?, dwellSeconds: Double?

        enum CodingKeys: String, CodingKey {
            case x, y, xCm = "x_cm", yCm = "y_cm", settleSeconds = "settle_s", dwellSeconds = "dwell_s"
        }

        public init(x: Double? = nil, y: Double? = nil, xCm: Double? = nil, yCm: Double? = nil,
                    settleSeconds: Double? = nil, dwellSeconds: Double? = nil) {
            (self.x, self.y, self.xCm, self.yCm, self.settleSeconds, self.dwellSeconds) = (x, y, xCm, yCm, settleSeconds, dwellSeconds)
        }

        /// The target on a screen, in mm from its top-left as the user sees it.
        public func position(on screen: ScreenGeometry, _ o: Orientation) -> ScreenPoint {
            if let xCm, let yCm { return ScreenPoint(xMm: xCm * 10, yMm: yCm * 10) }
            let size = screen.sizeMm(o)
            return ScreenPoint(xMm: (x ?? 0.5) * size.width, yMm: (y ?? 0.5) * size.height)
        }
    }

    public var name: String
    public var description: String?
    public var settleSeconds: Double
    public var dwellSeconds: Double
    public var targets: [Target]

    enum CodingKeys: String, CodingKey {
        case name, description, settleSeconds = "settle_s", dwellSeconds = "dwell_s", targets
    }

    public init(name: String, description: String? = nil, settleSeconds: Double, dwellSeconds: Double, targets: [Target]) {
        (self.name, self.description, self.settleSeconds, self.dwellSeconds, self.targets) = (name, description, settleSeconds, dwellSeconds, targets)
    }

    /// Reads and checks a script; errors name the file and the first problem.
    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw StoreError("\(path): cannot read the calibration script") }
        try self.init(data: data, path: path)
    }

    /// Checks a script's JSON; errors name `path` and the first problem.
    public init(data: Data, path: String) throws {
        let script: CalibrationScript
        do {
            script = try JSONDecoder().decode(CalibrationScript.self, from: data)
        } catch DecodingError.keyNotFound(let key, _) {
            throw StoreError("\(path): malformed calibration script: missing '\(key.stringValue)'")
        } catch {
            throw StoreError("\(path): malformed calibration script: not valid JSON of the documented shape")
        }
        if let problem = script.problem { throw StoreError("\(path): malformed calibration script: \(problem)") }
        self = script
    }

    /// The first thing wrong with the script, or nil.
    public var problem: String? {
        if targets.count < 2 { return "needs at least 2 targets" }
        if !(settleSeconds >= 0 && settleSeconds <= 60) || !(dwellSeconds > 0 && dwellSeconds <= 60) {
            return "settle_s must be 0-60 and dwell_s above 0 and at most 60"
        }
        for (i, t) in targets.enumerated() {
            let fraction = t.x != nil && t.y != nil, cm = t.xCm != nil && t.yCm != nil
            if fraction == cm { return "target \(i) needs either x and y (fractions) or x_cm and y_cm" }
            if fraction, !(0...1).contains(t.x!) || !(0...1).contains(t.y!) { return "target \(i) lies outside the screen (x, y must be 0-1)" }
            if let s = t.settleSeconds, !(s >= 0 && s <= 60) { return "target \(i) has a bad settle_s" }
            if let d = t.dwellSeconds, !(d > 0 && d <= 60) { return "target \(i) has a bad dwell_s" }
        }
        return nil
    }
}
