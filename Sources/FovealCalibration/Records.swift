import Foundation
import FovealGeometry
import GRDB

/// A person who calibrates.
public struct User: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public var id: Int64?
    public var name: String
    public var createdAt: Date

    public init(name: String) { (self.name, createdAt) = (name, Date()) }
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
    public enum Columns { public static let name = Column(CodingKeys.name) }
}

/// A screen with its geometry, from a device-table preset or measured.
public struct Screen: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public var id: Int64?
    public var name: String
    public var family: String
    public var widthMm: Double, heightMm: Double
    public var widthUnits: Double, heightUnits: Double
    public var unit: String
    public var cameraXMm: Double, cameraYMm: Double
    public var orientation: Int

    public init(name: String, geometry g: ScreenGeometry, orientation: Orientation = .portrait) {
        (self.name, family, widthMm, heightMm) = (name, g.family, g.widthMm, g.heightMm)
        (widthUnits, heightUnits, unit, cameraXMm, cameraYMm) = (g.widthUnits, g.heightUnits, g.unit.rawValue, g.cameraXMm, g.cameraYMm)
        self.orientation = orientation.rawValue
    }

    public var geometry: ScreenGeometry {
        ScreenGeometry(name: name, family: family, widthMm: widthMm, heightMm: heightMm, widthUnits: widthUnits,
                       heightUnits: heightUnits, unit: ScreenUnit(rawValue: unit) ?? .pixels, cameraXMm: cameraXMm, cameraYMm: cameraYMm)
    }
    public var screenOrientation: Orientation { Orientation(rawValue: orientation) ?? .portrait }
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
    public enum Columns { public static let name = Column(CodingKeys.name) }
}

/// One stored run of a calibration: who, on which screen, with which script and camera.
public struct StoredSession: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "calibrationSession"
    public var id: Int64?
    public var userId: Int64
    public var screenId: Int64
    public var script: String
    public var camera: String
    public var startedAt: Date

    public init(userId: Int64, screenId: Int64, script: String, camera: String) {
        (self.userId, self.screenId, self.script, self.camera, startedAt) = (userId, screenId, script, camera, Date())
    }
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// One stored sample of a session.
public struct StoredSample: Codable, Sendable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "calibrationSample"
    public var id: Int64?
    public var sessionId: Int64
    public var targetIndex: Int
    public var targetXCm: Double, targetYCm: Double
    public var predictionXCm: Double, predictionYCm: Double
    /// The penultimate features, Float32 little-endian.
    public var features: Data

    public init(sessionId: Int64, _ s: CalibrationSample) {
        (self.sessionId, targetIndex) = (sessionId, s.targetIndex)
        (targetXCm, targetYCm, predictionXCm, predictionYCm) = (s.target.xCm, s.target.yCm, s.prediction.xCm, s.prediction.yCm)
        features = s.features.withUnsafeBufferPointer { Data(buffer: $0) }
    }

    public var sample: CalibrationSample {
        let f = features.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        return CalibrationSample(targetIndex: targetIndex, target: CameraSpacePoint(xCm: targetXCm, yCm: targetYCm),
                                 prediction: CameraSpacePoint(xCm: predictionXCm, yCm: predictionYCm), features: f)
    }
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// A fitted calibration, stored with how well it did and the model it was made with; at most one
/// is active per user and screen.
public struct StoredCalibration: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "calibration"
    public var id: Int64?
    public var sessionId: Int64
    public var userId: Int64
    public var screenId: Int64
    public var method: String
    public var parameters: Data  // JSON array of numbers
    public var leaveOneOutErrorCm: Double
    public var uncalibratedErrorCm: Double
    public var active: Bool
    public var createdAt: Date
    /// `GazeNet.identity()` of the weights whose output and features were fitted; empty for
    /// calibrations stored before Foveal recorded it.
    public var model: String

    public init(sessionId: Int64, userId: Int64, screenId: Int64, _ c: Calibration, active: Bool, model: String) {
        (self.sessionId, self.userId, self.screenId, method) = (sessionId, userId, screenId, c.method.rawValue)
        parameters = (try? JSONEncoder().encode(c.parameters)) ?? Data()
        (leaveOneOutErrorCm, uncalibratedErrorCm, self.active, createdAt) = (c.leaveOneOutErrorCm, c.uncalibratedErrorCm, active, Date())
        self.model = model
    }

    /// The fit, checked: a row whose method is unknown, whose parameters do not decode, or do not
    /// fit the method is refused with a message naming the row, never applied half-way.
    public func decoded(featureCount: Int? = nil) throws -> Calibration {
        let row = "calibration \(id.map(String.init) ?? "?")"
        guard let m = Calibration.Method(rawValue: method) else { throw StoreError("\(row): unknown method '\(method)'") }
        guard let p = try? JSONDecoder().decode([Double].self, from: parameters) else {
            throw StoreError("\(row): its parameters are not a JSON array of numbers")
        }
        let c = Calibration(method: m, parameters: p, leaveOneOutErrorCm: leaveOneOutErrorCm, uncalibratedErrorCm: uncalibratedErrorCm)
        if let problem = c.problem(featureCount: featureCount) { throw StoreError("\(row): \(problem)") }
        return c
    }

    /// The model's identity as lists show it: its first 12 hex digits, or "unknown".
    public var modelShort: String { Self.short(model) }
    public static func short(_ model: String) -> String { model.isEmpty ? "unknown" : String(model.prefix(12)) }
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// A calibration as `foveal calibration list --json` and `GET /v1/calibrations` show it: one
/// encoding, the same names, numbers as numbers.
public struct CalibrationRow: Codable, Sendable, Equatable {
    public var id: Int64
    public var user: String
    public var screen: String
    public var method: String
    public var leaveOneOutErrorCm: Double
    public var uncalibratedErrorCm: Double
    public var active: Bool
    public var createdAt: Date
    /// The model's identity (`GazeNet.identity()`), "" when unknown.
    public var model: String

    enum CodingKeys: String, CodingKey {
        case id, user, screen, method, active, model
        case leaveOneOutErrorCm = "leave_one_out_error_cm", uncalibratedErrorCm = "uncalibrated_error_cm", createdAt = "created_at"
    }
}

/// The screen a user's gaze is reported on, and their active calibration there.
public struct Display: Sendable {
    public var user: User
    /// The screen calibrated on (and the first of the layout).
    public var screen: Screen
    public var calibration: StoredCalibration?
    /// More screens around the same camera, each with its own offset from it.
    public var otherScreens: [Screen] = []

    public init(user: User, screen: Screen, calibration: StoredCalibration?) {
        (self.user, self.screen, self.calibration) = (user, screen, calibration)
    }

    /// Every screen the gaze may fall on, the calibrated one first.
    public var layout: ScreenLayout { ScreenLayout([screen] + otherScreens) }

    /// What to apply to the output of the model `identity` (with `featureCount` penultimate
    /// features): the active calibration when it was made with that model, none otherwise, and
    /// a line saying which. A stored row that does not validate throws, naming the row.
    public func correction(model identity: String, featureCount: Int) throws -> Correction {
        let place = "user \(user.name) on screen '\(screen.name)'"
        guard let stored = calibration else { return Correction(calibration: nil, summary: "\(place): no calibration yet, uncorrected") }
        let row = "calibration \(stored.id.map(String.init) ?? "?")"
        if !stored.model.isEmpty && stored.model != identity {
            return Correction(calibration: nil, summary: "\(place): \(row) was made with model \(stored.modelShort), not these weights "
                              + "(\(identity.prefix(12))): gaze is reported uncorrected; calibrate again with these weights")
        }
        let fit = try stored.decoded(featureCount: featureCount)
        let note = stored.model.isEmpty ? " (stored before Foveal recorded models: calibrate again if the weights changed)" : ""
        return Correction(calibration: fit, summary: "\(place): \(stored.method) \(row)" + note)
    }
}

/// The correction a tracker applies, and what to tell the user about it.
public struct Correction: Sendable {
    /// nil: report the network's output uncorrected.
    public var calibration: Calibration?
    public var summary: String

    public init(calibration: Calibration?, summary: String) { (self.calibration, self.summary) = (calibration, summary) }
}

extension Screen {
    /// What a person says about a screen, from the command line or the API: a preset of
    /// `calibration/devices.csv`, or its size in mm and pixels and the camera's centre from its
    /// top-left corner in mm (negative y: above the screen).
    public struct Description: Sendable {
        public var name: String
        public var preset: String?
        public var widthMm: Double?, heightMm: Double?
        public var widthPx: Double?, heightPx: Double?
        public var cameraXMm: Double?, cameraYMm: Double?
        public var orientation: Int

        public init(name: String, preset: String? = nil, widthMm: Double? = nil, heightMm: Double? = nil, widthPx: Double? = nil,
                    heightPx: Double? = nil, cameraXMm: Double? = nil, cameraYMm: Double? = nil, orientation: Int = 1) {
            (self.name, self.preset, self.widthMm, self.heightMm) = (name, preset, widthMm, heightMm)
            (self.widthPx, self.heightPx, self.cameraXMm, self.cameraYMm, self.orientation) = (widthPx, heightPx, cameraXMm, cameraYMm, orientation)
        }
    }

    /// The screen a description names. `missing` is the message when neither a preset nor every
    /// measurement is given (each interface names its own options). The store checks the
    /// geometry itself when the screen is added.
    public init(_ d: Description, missing: String) throws {
        guard let o = Orientation(rawValue: d.orientation) else { throw StoreError("orientation must be 1-4, not \(d.orientation)") }
        if let preset = d.preset {
            guard let geometry = DeviceTable.builtin[preset] else { throw StoreError("no preset '\(preset)' in calibration/devices.csv") }
            self.init(name: d.name, geometry: geometry, orientation: o)
            return
        }
        guard let w = d.widthMm, let h = d.heightMm, let wpx = d.widthPx, let hpx = d.heightPx,
              let cx = d.cameraXMm, let cy = d.cameraYMm else { throw StoreError(missing) }
        self.init(name: d.name, geometry: ScreenGeometry(name: d.name, family: "monitor", widthMm: w, heightMm: h, widthUnits: wpx,
                                                         heightUnits: hpx, unit: .pixels, cameraXMm: cx, cameraYMm: cy), orientation: o)
    }
}

/// The screens a user looks at around one camera: each stored screen carries its own offset from
/// the camera, all in the camera's plane (GazeCapture's camera space assumes it), so a gaze point
/// in camera space falls on at most one of them. The first screen is the one calibrated.
public struct ScreenLayout: Sendable {
    public var screens: [Screen]

    public init(_ screens: [Screen]) { self.screens = screens }

    /// Where a gaze point lands: the screen it falls on (its visible area, edges included), the
    /// point in that screen's mm from its top-left corner and in its pixels or points; nil off
    /// every screen.
    public func locate(_ p: CameraSpacePoint) -> (screen: Screen, point: ScreenPoint, units: (x: Double, y: Double))? {
        for screen in screens {
            let (g, o) = (screen.geometry, screen.screenOrientation)
            let point = g.screenPoint(p, o)
            let size = g.sizeMm(o)
            if point.xMm >= 0, point.yMm >= 0, point.xMm <= size.width, point.yMm <= size.height {
                return (screen, point, g.units(point, o))
            }
        }
        return nil
    }
}
