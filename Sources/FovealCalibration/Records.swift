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

/// One run of a calibration script: who, on which screen, with which script and camera.
public struct CalibrationSession: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
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

/// A fitted calibration, stored with how well it did; at most one is active per user and screen.
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

    public init(sessionId: Int64, userId: Int64, screenId: Int64, _ c: Calibration, active: Bool) {
        (self.sessionId, self.userId, self.screenId, method) = (sessionId, userId, screenId, c.method.rawValue)
        parameters = (try? JSONEncoder().encode(c.parameters)) ?? Data()
        (leaveOneOutErrorCm, uncalibratedErrorCm, self.active, createdAt) = (c.leaveOneOutErrorCm, c.uncalibratedErrorCm, active, Date())
    }

    public var calibration: Calibration? {
        guard let m = Calibration.Method(rawValue: method), let p = try? JSONDecoder().decode([Double].self, from: parameters) else { return nil }
        return Calibration(method: m, parameters: p, leaveOneOutErrorCm: leaveOneOutErrorCm, uncalibratedErrorCm: uncalibratedErrorCm)
    }
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// The screen a user's gaze is reported on, and the calibration applied to the network's output.
public struct Display: Sendable {
    public var user: User
    public var screen: Screen
    public var calibration: StoredCalibration?

    public init(user: User, screen: Screen, calibration: StoredCalibration?) {
        (self.user, self.screen, self.calibration) = (user, screen, calibration)
    }
}
