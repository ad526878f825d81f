// libFuzzer harnesses for every parser of a file Foveal reads, one per FOVEAL_FUZZ_TARGET:
// safetensors, image (JPEG/PNG), mat, y4m, recording (GazeCapture's JSON files), mpii (pXX.txt),
// script (calibration scripts), calibration-row (stored calibrations), edid (monitors' EDIDs). Built only with
// FOVEAL_FUZZ=1 and `-sanitize=fuzzer,address` (`make fuzz`); a parser may refuse any input with
// an error, and must never crash, trap or leak past ASan.
import Foundation
import FovealCalibration
import FovealCapture
import FovealIO
import GazeCapture
import MPIIFaceGaze

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// A scratch folder per process, and the checkout's sample data the file harnesses edit.
let scratch = NSTemporaryDirectory() + "foveal-fuzz-\(getpid())"
let checkout = ProcessInfo.processInfo.environment["FOVEAL_CHECKOUT"] ?? FileManager.default.currentDirectoryPath
try? FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)

func scratchFile(_ name: String, _ data: Data) -> String {
    let path = scratch + "/" + name
    FileManager.default.createFile(atPath: path, contents: data)
    return path
}

/// A copy of the sample recording (for `recording`) and of a fixture participant (for `mpii`).
let recordingCopy: String = {
    let root = scratch + "/gc"
    try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    try? FileManager.default.copyItem(atPath: checkout + "/data/samples/gazecapture/00000", toPath: root + "/00000")
    return root
}()
let mpiiCopy: String = {
    let root = scratch + "/mpii"
    try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    try? FileManager.default.copyItem(atPath: checkout + "/Tests/Fixtures/mpiifacegaze/p00", toPath: root + "/p00")
    return root
}()
let recordingFiles = ["info.json", "dotInfo.json", "screen.json", "frames.json", "appleFace.json", "appleLeftEye.json", "faceGrid.json"]

func fuzz(_ target: String, _ data: Data) {
    switch target {
    case "safetensors":
        if let file = try? SafeTensorsFile(data: data, path: "fuzz.safetensors") {
            for name in file.names { _ = try? file.tensor(name) }
        }
    case "image":
        _ = try? RGBImage(encoded: data, path: "fuzz")
    case "mat":
        _ = try? MATFile(data: data, path: "fuzz.mat")
    case "edid":
        _ = try? EDID(bytes: [UInt8](data), source: "fuzz")
    case "y4m":
        if let source = try? Y4MSource(data: data, path: "fuzz.y4m") {
            for _ in 0..<8 { guard (try? source.next()) != nil else { break } }
            source.close()
        }
    case "recording":
        // The first byte picks the file the rest replaces; the others stay the sample's.
        guard let first = data.first else { return }
        let file = recordingFiles[Int(first) % recordingFiles.count]
        let path = recordingCopy + "/00000/" + file
        let original = FileManager.default.contents(atPath: path)
        FileManager.default.createFile(atPath: path, contents: data.dropFirst())
        if let dataset = try? GazeCaptureDataset(root: recordingCopy) {
            _ = try? dataset.info("00000")
            _ = try? dataset.recording("00000")
        }
        FileManager.default.createFile(atPath: path, contents: original)
    case "mpii":
        let path = mpiiCopy + "/p00/p00.txt"
        let original = FileManager.default.contents(atPath: path)
        FileManager.default.createFile(atPath: path, contents: data)
        if let dataset = try? MPIIFaceGaze(root: mpiiCopy), let id = dataset.dataset.recordingIDs.first,
           let frame = try? dataset.dataset.recording(id).frames.first {
            _ = dataset.angularErrorDegrees(frame, predicted: frame.gaze)
        }
        FileManager.default.createFile(atPath: path, contents: original)
    case "script":
        _ = try? CalibrationScript(data: data, path: "fuzz.json")
    case "calibration-row":
        // The first byte picks the method's name, the rest is the stored parameters blob.
        guard let first = data.first else { return }
        var row = StoredCalibration(sessionId: 1, userId: 1, screenId: 1,
                                    Calibration(method: .offset, parameters: [0, 0], leaveOneOutErrorCm: 1, uncalibratedErrorCm: 1),
                                    active: true, model: "")
        row.method = ["offset", "affine", "ridge", "spline"][Int(first) % 4]
        row.parameters = data.dropFirst()
        if let fit = try? row.decoded() {
            let d = max(0, (fit.parameters.count - 3) / 4)
            _ = fit.apply(.init(xCm: 1, yCm: 2), features: [Float](repeating: 0.5, count: fit.method == .ridge ? d : 0))
        }
    default:
        fatalError("FOVEAL_FUZZ_TARGET must be one of safetensors, image, mat, y4m, recording, mpii, script, calibration-row")
    }
}

let target = ProcessInfo.processInfo.environment["FOVEAL_FUZZ_TARGET"] ?? ""
fuzz(target, Data())  // an unknown target stops here, before libFuzzer starts
var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
let status = LLVMFuzzerRunDriver(&argc, &argv) { bytes, count in
    let data = bytes.map { Data(bytes: $0, count: count) } ?? Data()
    fuzz(ProcessInfo.processInfo.environment["FOVEAL_FUZZ_TARGET"] ?? "", data)
    return 0
}
try? FileManager.default.removeItem(atPath: scratch)
exit(status)
