import ArgumentParser
import Foundation
import FovealCalibration
import FovealCapture
import FovealModel
import FovealTensor
import GazeCapture
import MPIIFaceGaze

/// Where the calibration store is (shared by every command that uses it).
struct DatabaseOptions: ParsableArguments {
    @Option(help: "The calibration database (default: $FOVEAL_DB, else $XDG_DATA_HOME/foveal/foveal.sqlite).")
    var db: String?

    func open() throws -> CalibrationDatabase { try CalibrationDatabase(path: db ?? CalibrationDatabase.defaultPath) }
}

/// The model a command runs (shared by every command that runs one).
struct ModelOptions: ParsableArguments {
    @Option(help: "Model weights: a .safetensors file with the configuration in its metadata (default: the shipped model, or $FOVEAL_MODEL).")
    var weights: String?

    @Option(help: "Precision of AlexNet's fully connected weights at inference: f32 (the reference), or bf16 or f16 (half the bytes to stream, faster on large models; the error they add: docs/engineering.md).")
    var fcPrecision: FullyConnectedPrecision = .f32

    @Option(help: "Average each frame's answer with its mirror image's: 3.6-7.2% less error per family on the desk model's validation frames, for about twice the network's work (default: as the weight file says; the shipped model: on).")
    var mirrorAverage: Switch?

    /// The weight file's path.
    func path() throws -> String { try ShippedModel.resolve(weights) }

    func load() throws -> GazeNet {
        var net = try GazeNet(weightsAt: try path())
        net.useFullyConnected(fcPrecision.format)
        if let mirrorAverage { net.averageMirrorImages(mirrorAverage == .on) }
        return net
    }
}

/// On or off, where an option overrides what a weight file's configuration says.
enum Switch: String, ExpressibleByArgument, CaseIterable {
    case on, off
}

/// The precision of the fully connected weights at inference (`--fc-precision`).
enum FullyConnectedPrecision: String, ExpressibleByArgument, CaseIterable {
    case f32, bf16, f16

    var format: HalfPrecisionMatrix.Format? {
        switch self {
        case .f32: nil
        case .bf16: .bf16
        case .f16: .f16
        }
    }
}

/// Saliency reuse across video frames (shared by `track` and `serve`).
struct SaliencyReuseOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Run the saliency network at least every N frames, reusing the last sampling grid in between while the scene has not moved (1: every frame).",
                               valueName: "N"))
    var saliencyEvery = 1
    @Option(help: .hidden)
    var saliencyThreshold = Double(SaliencyReuse.defaultThreshold)

    func validate() throws {
        guard (1...1000).contains(saliencyEvery) else { throw ValidationError("--saliency-every must be 1-1000") }
        guard saliencyThreshold.isFinite, saliencyThreshold >= 0 else { throw ValidationError("--saliency-threshold must be a finite number >= 0") }
    }

    /// A fresh reuse state for one stream; nil when every frame runs its own.
    func make() -> SaliencyReuse? {
        saliencyEvery > 1 ? SaliencyReuse(every: saliencyEvery, threshold: Float(saliencyThreshold)) : nil
    }
}

extension ConvolutionProduct: ExpressibleByArgument {}

/// How a camera delivers pixels (without `--pixel-format`, Foveal picks; see `negotiate`).
enum PixelFormat: String, ExpressibleByArgument, CaseIterable {
    /// RGB24: the camera's own, or libv4l2's conversion of whatever the camera sends.
    case rgb3 = "RGB3"
    /// Packed 4:2:2, converted by Foveal.
    case yuyv = "YUYV"
    /// Motion-JPEG, decoded by Foveal with libjpeg-turbo.
    case mjpg = "MJPG"
}

/// Where frames come from (shared by `track`, `serve` and `calibrate`): a V4L2 camera, or a
/// recording folder (with its gaze labels), a .y4m or Motion-JPEG file, or a folder or glob of images.
struct FrameSourceOptions: ParsableArguments {
    @Option(help: "V4L2 camera: a path such as /dev/video0, or an index.")
    var camera: String?
    @Option(help: "A recording folder, a folder or glob of images, a .y4m file, or a Motion-JPEG file (.mjpeg/.mjpg).")
    var source: String?
    @Option(help: "Camera frame size WIDTHxHEIGHT (default: the largest up to 1920x1080 that gives 25 fps, else HD at 12 fps or more).")
    var size: String?
    @Option(help: "Camera pixel format (default: the cheapest to convert among those at the chosen size).")
    var pixelFormat: PixelFormat?
    @Option(help: "Frames per second: the camera's rate; a file source is played in real time at this rate (0: as fast as it is read).")
    var fps: Double?
    @Flag(help: "On a camera that disconnects or stalls, reopen it instead of stopping (serve always does).")
    var reconnect = false

    /// The rates a source may be asked for (or 0: unpaced): no camera delivers more than the
    /// highest, and a replay slower than the lowest would seem to hang.
    static let framesPerSecondRange = 0.1...1000.0

    func validate() throws {
        if (camera == nil) == (source == nil) { throw ValidationError("give exactly one of --camera and --source") }
        if let size, parseSize(size) == nil { throw ValidationError("--size must look like 640x480") }
        if let fps, fps != 0 && !Self.framesPerSecondRange.contains(fps) {
            throw ValidationError("--fps must be 0 (unpaced) or 0.1-1000")
        }
    }

    /// Says on stderr which mode a camera was opened in ("camera /dev/video0: 1280x720 MJPEG at
    /// 30 fps"), since the choice is Foveal's unless `--size` and `--pixel-format` made it.
    static func announce(_ source: FrameSource) {
        if let camera = source as? V4L2Camera { printError(camera.modeLine) }
    }

    /// Whether the source is a GazeCapture recording folder (frames with gaze labels).
    var replaysRecording: Bool { source.map(isRecording) ?? false }

    /// What `--camera` or `--source` names, opened; a file source is paced at `fps` (nil or 0:
    /// unpaced). `allFrames`: for a recording, every frame, not only those with face and eyes detected.
    func open(fps rate: Double? = nil, allFrames: Bool = false) throws -> FrameSource {
        let rate = (rate ?? fps).flatMap { $0 > 0 ? $0 : nil }
        if let camera {
            return try V4L2Camera(camera, size: size.flatMap(parseSize), framesPerSecond: rate, pixelFormat: pixelFormat?.rawValue)
        }
        guard let path = source else { throw CommandFailure("give --camera or --source") }
        let file: FrameSource
        if isRecording(path) {
            file = try RecordingSource(path, validOnly: !allFrames)
        } else if path.lowercased().hasSuffix(".y4m") {
            file = try Y4MSource(path)
        } else if [".mjpeg", ".mjpg"].contains(where: path.lowercased().hasSuffix) {
            file = try MJPEGSource(path)
        } else {
            file = try ImageFolderSource(path)
        }
        return rate.map { PacedSource(file, framesPerSecond: $0) } ?? file
    }
}

/// A GazeCapture recording folder: it has info.json (and frame labels).
func isRecording(_ path: String) -> Bool {
    var isDirectory: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
        && FileManager.default.fileExists(atPath: path + "/info.json")
}

/// A dataset folder in either layout Foveal reads, told apart by its contents: GazeCapture's
/// (recording folders with JSON files; also `foveal synth`'s) or MPIIFaceGaze's (participant
/// folders `pNN` with `pNN.txt`). `testPerson` is MPIIFaceGaze's held-out participant.
struct Dataset {
    let frames: GazeCaptureDataset
    /// Set for an MPIIFaceGaze folder: its 3-D geometry gives errors in degrees.
    let mpii: MPIIFaceGaze?

    /// What reading the folder skipped (MPIIFaceGaze reads every line up front; a GazeCapture
    /// folder's problems surface as it is walked).
    var readProblems: [String] { mpii?.problems.map(\.description) ?? [] }

    init(_ path: String, testPerson: String?) throws {
        if MPIIFaceGaze.isLayout(path) {
            let mpii = try MPIIFaceGaze(root: path, testPerson: testPerson)
            (frames, self.mpii) = (mpii.dataset, mpii)
        } else {
            guard testPerson == nil else { throw CommandFailure("\(path): not an MPIIFaceGaze folder, so it has no participants to hold out") }
            (frames, mpii) = (try GazeCaptureDataset(root: path), nil)
        }
    }
}

/// Names what a run skipped on stderr: the first 20, then how many more.
func printSkipped(_ problems: [String]) {
    for problem in problems.prefix(20) { printError("skipped \(problem)") }
    if problems.count > 20 { printError("... and \(problems.count - 20) more problems (see --json)") }
}
