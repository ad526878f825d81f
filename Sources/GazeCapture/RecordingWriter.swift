import Foundation
import FovealGeometry
import FovealIO

/// Writes a recording in GazeCapture's layout: `frames/%05d.jpg` and every JSON file with the
/// release's field names, one array entry per frame. The reader reads it back unchanged.
public struct RecordingWriter {
    /// One frame's metadata as the JSON files hold it; nil boxes are written as invalid.
    public struct FrameRecord: Sendable {
        public var dot: Dot
        public var face: DetectionBox?, leftEye: DetectionBox?, rightEye: DetectionBox?, faceGrid: DetectionBox?
        public var screenWidthPts: Double, screenHeightPts: Double
        public var orientation: Orientation

        public init(dot: Dot, face: DetectionBox?, leftEye: DetectionBox?, rightEye: DetectionBox?,
                    faceGrid: DetectionBox?, screenWidthPts: Double, screenHeightPts: Double, orientation: Orientation) {
            (self.dot, self.face, self.leftEye, self.rightEye, self.faceGrid) = (dot, face, leftEye, rightEye, faceGrid)
            (self.screenWidthPts, self.screenHeightPts, self.orientation) = (screenWidthPts, screenHeightPts, orientation)
        }
    }

    public let folder: String

    /// Creates `folder/frames/`.
    public init(folder: String) throws {
        self.folder = folder
        do {
            try FileManager.default.createDirectory(atPath: folder + "/frames", withIntermediateDirectories: true)
        } catch {
            throw FileFormatError(folder, "cannot create: \(error.localizedDescription)")
        }
    }

    /// The file name of frame `index`.
    public static func frameName(_ index: Int) -> String { String(format: "%05d.jpg", index) }

    /// Writes frame `index`'s JPEG bytes.
    public func writeFrame(_ index: Int, jpeg: Data) throws {
        let path = folder + "/frames/" + Self.frameName(index)
        do { try jpeg.write(to: URL(fileURLWithPath: path)) } catch {
            throw FileFormatError(path, "cannot write: \(error.localizedDescription)")
        }
    }

    /// Writes the JSON files for `frames` (frame i is `frames/%05d.jpg` of i).
    public func writeMetadata(_ frames: [FrameRecord], device: String, split: String) throws {
        func boxes(_ pick: (FrameRecord) -> DetectionBox?) -> [String: Any] {
            let b = frames.map(pick)
            return ["X": b.map { $0?.x ?? 0 }, "Y": b.map { $0?.y ?? 0 }, "W": b.map { $0?.width ?? 0 },
                    "H": b.map { $0?.height ?? 0 }, "IsValid": b.map { $0 == nil ? 0 : 1 }]
        }
        let files: [String: Any] = [
            "appleFace.json": boxes(\.face),
            "appleLeftEye.json": boxes(\.leftEye),
            "appleRightEye.json": boxes(\.rightEye),
            "faceGrid.json": boxes(\.faceGrid),
            "dotInfo.json": ["DotNum": frames.map(\.dot.number), "XPts": frames.map(\.dot.xPts),
                             "YPts": frames.map(\.dot.yPts), "XCam": frames.map(\.dot.camera.xCm),
                             "YCam": frames.map(\.dot.camera.yCm), "Time": frames.map(\.dot.time)],
            "frames.json": frames.indices.map(Self.frameName),
            "screen.json": ["W": frames.map(\.screenWidthPts), "H": frames.map(\.screenHeightPts),
                            "Orientation": frames.map(\.orientation.rawValue)],
            "info.json": ["TotalFrames": frames.count, "NumFaceDetections": frames.filter { $0.face != nil }.count,
                          "NumEyeDetections": frames.filter { $0.leftEye != nil && $0.rightEye != nil }.count,
                          "Dataset": split, "DeviceName": device],
            "motion.json": [Any](),
        ]
        for (name, value) in files {
            let path = folder + "/" + name
            do {
                let data = try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])
                try data.write(to: URL(fileURLWithPath: path))
            } catch {
                throw FileFormatError(path, "cannot write: \(error.localizedDescription)")
            }
        }
    }
}
