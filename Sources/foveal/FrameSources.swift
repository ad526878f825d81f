import Foundation
import FovealCapture

/// Opens what `--camera` or `--source` names (shared by `track` and `serve`): a V4L2 camera, a
/// recording folder (with its gaze labels), a .y4m file, or a folder or glob of images; a file
/// source is played in real time when `fps` is given.
func openFrameSource(camera: String?, source: String?, size: String?, fps: Double?, pixelFormat: String, allFrames: Bool) throws -> FrameSource {
    if let camera {
        return try V4L2Camera(camera, size: size.flatMap(parseSize), framesPerSecond: fps, pixelFormat: pixelFormat)
    }
    guard let path = source else { throw CommandFailure("give --camera or --source") }
    let file: FrameSource
    if isRecording(path) {
        file = try RecordingSource(path, validOnly: !allFrames)
    } else if path.lowercased().hasSuffix(".y4m") {
        file = try Y4MSource(path)
    } else {
        file = try ImageFolderSource(path)
    }
    return fps.map { PacedSource(file, framesPerSecond: $0) } ?? file
}

/// A GazeCapture recording folder: it has info.json (and frame labels).
func isRecording(_ path: String) -> Bool {
    var isDirectory: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
        && FileManager.default.fileExists(atPath: path + "/info.json")
}
