import Foundation
import FovealGeometry
import FovealIO

/// A box from GazeCapture's detection files: the face in frame pixels, an eye relative to the
/// face box's top-left corner.
public struct DetectionBox: Equatable, Sendable, Codable {
    public var x: Double, y: Double, width: Double, height: Double

    public init(x: Double, y: Double, width: Double, height: Double) {
        (self.x, self.y, self.width, self.height) = (x, y, width, height)
    }
}

/// The dot the subject looked at: in screen points, and in camera space (the label).
public struct Dot: Equatable, Sendable, Codable {
    public var number: Int
    public var xPts: Double, yPts: Double
    public var camera: CameraSpacePoint
    /// Seconds since the dot appeared.
    public var time: Double

    public init(number: Int, xPts: Double, yPts: Double, camera: CameraSpacePoint, time: Double) {
        (self.number, self.xPts, self.yPts, self.camera, self.time) = (number, xPts, yPts, camera, time)
    }
}

/// One frame of a GazeCapture recording: where its image is and everything the JSON files say
/// about it. Boxes are nil where GazeCapture marks the detection invalid.
public struct GazeCaptureFrame: Sendable {
    public let recordingID: String
    /// Index in the recording's arrays.
    public let index: Int
    public let imagePath: String
    public let device: String
    /// "iPhone" or "iPad" (from `DeviceName`), or the family the device table gives.
    public let family: String
    public let split: String
    public let orientation: Orientation
    /// The active screen area in points (screen.json `W`, `H`).
    public let screenWidthPts: Double, screenHeightPts: Double
    public let dot: Dot
    public let face: DetectionBox?, leftEye: DetectionBox?, rightEye: DetectionBox?
    /// The face in the 25x25 grid (1-based X, Y as in faceGrid.json).
    public let faceGrid: DetectionBox?

    /// Face, both eyes and face grid all valid: the frames GazeCapture's published results use.
    public var isValid: Bool { face != nil && leftEye != nil && rightEye != nil && faceGrid != nil }

    /// The label: where the subject looked, in camera space.
    public var gaze: CameraSpacePoint { dot.camera }

    public init(recordingID: String, index: Int, imagePath: String, device: String, family: String, split: String,
                orientation: Orientation, screenWidthPts: Double, screenHeightPts: Double, dot: Dot,
                face: DetectionBox?, leftEye: DetectionBox?, rightEye: DetectionBox?, faceGrid: DetectionBox?) {
        (self.recordingID, self.index, self.imagePath, self.device, self.family, self.split) = (recordingID, index, imagePath, device, family, split)
        (self.orientation, self.screenWidthPts, self.screenHeightPts, self.dot) = (orientation, screenWidthPts, screenHeightPts, dot)
        (self.face, self.leftEye, self.rightEye, self.faceGrid) = (face, leftEye, rightEye, faceGrid)
    }
}

/// A recording folder's metadata (info.json) and its frames.
public struct Recording: Sendable {
    public let id: String
    public let path: String
    public let device: String
    public let family: String
    public let split: String
    public let frames: [GazeCaptureFrame]

    public init(id: String, path: String, device: String, family: String, split: String, frames: [GazeCaptureFrame]) {
        (self.id, self.path, self.device, self.family, self.split, self.frames) = (id, path, device, family, split, frames)
    }
}

/// The family GazeCapture reports a device under.
public func deviceFamily(_ deviceName: String) -> String {
    if deviceName.hasPrefix("iPad") { return "iPad" }
    if deviceName.hasPrefix("iPhone") || deviceName.hasPrefix("iPod") { return "iPhone" }
    return DeviceTable.builtin[deviceName]?.family ?? "other"
}

/// Parsing of one recording's JSON files, tolerant of what real exports contain (NaN for
/// missing numbers, integers where floats are expected) and strict about what would give wrong
/// labels (missing fields, arrays of different lengths).
///
/// Files are read through `contents`, the disk by default; the fuzz harness hands it bytes
/// from memory, so it exercises this very parser a thousand times faster.
package struct RecordingParser {
    /// The largest frame count or dot number believed: GazeCapture's largest recording has a few
    /// thousand frames.
    static let maxCount = 10_000_000

    /// The recording's folder, for frame paths and error messages.
    let folder: String
    /// A file's bytes by name (`info.json`), nil when it cannot be read.
    let contents: (String) -> Data?

    package init(folder: String, contents: ((String) -> Data?)? = nil) {
        self.folder = folder
        self.contents = contents ?? { FileManager.default.contents(atPath: folder + "/" + $0) }
    }

    package func load(id: String) throws -> Recording {
        let info = try object("info.json")
        guard let device = info["DeviceName"] as? String else { throw FileFormatError(folder + "/info.json", "no DeviceName") }
        guard let split = info["Dataset"] as? String else { throw FileFormatError(folder + "/info.json", "no Dataset (train/val/test)") }
        let names = try fileNames()
        let count = names.count
        let face = try boxes("appleFace.json", count)
        let left = try boxes("appleLeftEye.json", count)
        let right = try boxes("appleRightEye.json", count)
        let grid = try boxes("faceGrid.json", count)
        let dotFile = try object("dotInfo.json")
        let dotNumbers = try numbers(dotFile, "DotNum", folder + "/dotInfo.json", count)
        let xPts = try numbers(dotFile, "XPts", folder + "/dotInfo.json", count)
        let yPts = try numbers(dotFile, "YPts", folder + "/dotInfo.json", count)
        let xCam = try numbers(dotFile, "XCam", folder + "/dotInfo.json", count)
        let yCam = try numbers(dotFile, "YCam", folder + "/dotInfo.json", count)
        let time = (try? numbers(dotFile, "Time", folder + "/dotInfo.json", count)) ?? Array(repeating: 0, count: count)
        let screen = try object("screen.json")
        let screenW = try numbers(screen, "W", folder + "/screen.json", count)
        let screenH = try numbers(screen, "H", folder + "/screen.json", count)
        let orientation = try numbers(screen, "Orientation", folder + "/screen.json", count)
        let family = deviceFamily(device)
        var frames: [GazeCaptureFrame] = []
        frames.reserveCapacity(count)
        for i in 0..<count {
            guard let o = orientation[i].flatMap({ wholeNumber($0, in: 1...4) }).flatMap(Orientation.init(rawValue:)) else {
                throw FileFormatError(folder + "/screen.json", "Orientation[\(i)] is not 1-4")
            }
            // A frame without its label cannot be used at all; that is a broken recording.
            guard let xc = xCam[i], let yc = yCam[i] else {
                throw FileFormatError(folder + "/dotInfo.json", "XCam/YCam[\(i)] is missing")
            }
            let dotNumber = try dotNumbers[i].map { n -> Int in
                guard let whole = wholeNumber(n, in: 0...Self.maxCount) else {
                    throw FileFormatError(folder + "/dotInfo.json", "DotNum[\(i)] is \(n), not a dot number")
                }
                return whole
            } ?? -1
            let dot = Dot(number: dotNumber, xPts: xPts[i] ?? .nan, yPts: yPts[i] ?? .nan,
                          camera: CameraSpacePoint(xCm: xc, yCm: yc), time: time[i] ?? 0)
            frames.append(GazeCaptureFrame(
                recordingID: id, index: i, imagePath: folder + "/frames/" + names[i], device: device, family: family,
                split: split, orientation: o, screenWidthPts: screenW[i] ?? .nan, screenHeightPts: screenH[i] ?? .nan,
                dot: dot, face: face[i], leftEye: left[i], rightEye: right[i], faceGrid: grid[i]))
        }
        return Recording(id: id, path: folder, device: device, family: family, split: split, frames: frames)
    }

    /// info.json alone: enough to filter by split and estimate progress.
    package func info() throws -> (split: String, totalFrames: Int, device: String) {
        let info = try object("info.json")
        guard let split = info["Dataset"] as? String else { throw FileFormatError(folder + "/info.json", "no Dataset (train/val/test)") }
        let total = try number(info["TotalFrames"]).map { n -> Int in
            guard let whole = wholeNumber(n, in: 0...Self.maxCount) else { throw FileFormatError(folder + "/info.json", "TotalFrames is \(n), not a frame count") }
            return whole
        } ?? 0
        return (split, total, info["DeviceName"] as? String ?? "")
    }

    func fileNames() throws -> [String] {
        let path = folder + "/frames.json"
        guard let names = try parse("frames.json") as? [Any] else { throw FileFormatError(path, "not a JSON array of file names") }
        return try names.map { name in
            guard let s = name as? String, !s.contains("/") else { throw FileFormatError(path, "an entry is not a file name") }
            return s
        }
    }

    func boxes(_ file: String, _ count: Int) throws -> [DetectionBox?] {
        let path = folder + "/" + file
        let o = try object(file)
        let (x, y) = (try numbers(o, "X", path, count), try numbers(o, "Y", path, count))
        let (w, h) = (try numbers(o, "W", path, count), try numbers(o, "H", path, count))
        let valid = try numbers(o, "IsValid", path, count)
        return (0..<count).map { i in
            guard valid[i] == 1, let x = x[i], let y = y[i], let w = w[i], let h = h[i], w > 0, h > 0 else { return nil }
            return DetectionBox(x: x, y: y, width: w, height: h)
        }
    }

    func object(_ file: String) throws -> [String: Any] {
        let path = folder + "/" + file
        guard let o = try parse(file) as? [String: Any] else { throw FileFormatError(path, "not a JSON object") }
        return o
    }

    /// An array field of `count` numbers; null, NaN and non-numbers read as nil.
    func numbers(_ o: [String: Any], _ key: String, _ path: String, _ count: Int) throws -> [Double?] {
        guard let array = o[key] as? [Any] else { throw FileFormatError(path, "no array '\(key)'") }
        guard array.count == count else {
            throw FileFormatError(path, "'\(key)' has \(array.count) entries, frames.json has \(count)")
        }
        return array.map { number($0).flatMap { $0.isFinite ? $0 : nil } }
    }

    func number(_ value: Any?) -> Double? {
        switch value {
        case let d as Double: d
        case let i as Int: Double(i)
        case let b as Bool: b ? 1 : 0
        case let n as NSNumber: n.doubleValue
        default: nil
        }
    }

    func parse(_ file: String) throws -> Any {
        let path = folder + "/" + file
        guard let data = contents(file) else {
            throw FileFormatError(path, FileManager.default.fileExists(atPath: path) ? "cannot read" : "missing")
        }
        if let value = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) { return value }
        // Exports written by MATLAB or Python carry bare NaN/Infinity, which JSON does not have.
        let text = String(decoding: data, as: UTF8.self)
        if text.contains("NaN") || text.contains("Infinity") {
            let cleaned = text.replacingOccurrences(of: "-Infinity", with: "null")
                .replacingOccurrences(of: "Infinity", with: "null").replacingOccurrences(of: "NaN", with: "null")
            if let value = try? JSONSerialization.jsonObject(with: Data(cleaned.utf8), options: [.fragmentsAllowed]) { return value }
        }
        throw FileFormatError(path, "malformed JSON")
    }
}
