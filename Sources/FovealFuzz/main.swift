// libFuzzer harnesses for every parser of a file Foveal reads, one per FOVEAL_FUZZ_TARGET:
// safetensors, image (JPEG/PNG), mat, y4m, mjpeg (Motion-JPEG), recording (GazeCapture's JSON files), mpii (pXX.txt),
// script (calibration scripts), calibration-row (stored calibrations), edid (monitors' EDIDs),
// request-body (the service's JSON bodies, through its decoders into the store). Built only with
// FOVEAL_FUZZ=1 and `-sanitize=fuzzer,address` (`make fuzz`); a parser may refuse any input with
// an error, and must never crash, trap or leak past ASan. Every harness parses from memory.
import Foundation
import FovealCalibration
import FovealCapture
import FovealIO
import FovealService
import GazeCapture
import MPIIFaceGaze

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

let checkout = ProcessInfo.processInfo.environment["FOVEAL_CHECKOUT"] ?? FileManager.default.currentDirectoryPath

/// The sample recording's JSON files cut to its first 4 frames (every array), read once; the
/// `recording` harness replaces one of them. Short files keep the harness fast.
let recordingFolder = checkout + "/data/samples/gazecapture/00000"
let recordingFiles = ["info.json", "dotInfo.json", "screen.json", "frames.json", "appleFace.json", "appleLeftEye.json",
                      "faceGrid.json", "appleRightEye.json"]
// Bytes as arrays: LeakSanitizer loses sight of a Data kept in a global (its enum packs the
// pointer with tag bits) and reports it as leaked at exit.
let sampleRecording: [String: [UInt8]] = Dictionary(uniqueKeysWithValues: recordingFiles.compactMap { name in
    guard let data = FileManager.default.contents(atPath: recordingFolder + "/" + name),
          let value = try? JSONSerialization.jsonObject(with: data) else { return nil }
    let cut: Any = switch value {
    case let array as [Any]: Array(array.prefix(4))
    case let object as [String: Any]: object.mapValues { ($0 as? [Any]).map { Array($0.prefix(4)) } ?? $0 }
    default: value
    }
    return (try? JSONSerialization.data(withJSONObject: cut)).map { (name, [UInt8]($0)) }
})

/// A fixture participant's calibration, read once; the `mpii` harness parses its pXX.txt from memory.
let mpiiFolder = checkout + "/Tests/Fixtures/mpiifacegaze/p00"
let mpiiParticipant = try? MPIIFaceGaze.participant("p00", folder: mpiiFolder)

/// The store the `request-body` harness writes to, in memory, started afresh now and then so it stays small.
nonisolated(unsafe) var store = try? CalibrationDatabase()
nonisolated(unsafe) var storeWrites = 0

func fuzz(_ target: String, _ data: Data) {
    switch target {
    case "safetensors":
        if let file = try? SafeTensorsFile(data: data, path: "fuzz.safetensors") {
            for name in file.names { _ = try? file.tensor(name) }
        }
    case "image":
        _ = try? RGBImage(encoded: data, path: "fuzz")
        _ = try? RGBImage.size(encoded: data, path: "fuzz")
    case "mat":
        _ = try? MATFile(data: data, path: "fuzz.mat")
    case "edid":
        _ = try? EDID(bytes: [UInt8](data), source: "fuzz")
    case "y4m":
        if let source = try? Y4MSource(data: data, path: "fuzz.y4m") {
            for _ in 0..<8 { guard (try? source.next()) != nil else { break } }
            source.close()
        }
    case "mjpeg":
        if let source = try? MJPEGSource(data: data, path: "fuzz.mjpeg") {
            for _ in 0..<8 { guard (try? source.next()) != nil else { break } }
        }
    case "recording":
        // The first byte picks the file the rest replaces; the others stay the sample's.
        guard let first = data.first else { return }
        var files = sampleRecording
        files[recordingFiles[Int(first) % recordingFiles.count]] = [UInt8](data.dropFirst())
        let parser = RecordingParser(folder: recordingFolder) { files[$0].map { Data($0) } }
        _ = try? parser.info()
        _ = try? parser.load(id: "00000")
    case "mpii":
        guard let participant = mpiiParticipant else { fatalError("the mpii harness needs \(mpiiFolder)") }
        let (days, problems) = MPIIFaceGaze.lines(data, of: participant, folder: mpiiFolder) { _ in true }
        if let dataset = try? MPIIFaceGaze(root: mpiiFolder, read: [(participant, days)], problems: problems, testPerson: nil),
           let id = dataset.dataset.recordingIDs.first, let frame = try? dataset.dataset.recording(id).frames.first {
            _ = dataset.angularErrorDegrees(frame, predicted: frame.gaze)
        }
    case "request-body":
        // The first byte picks the route the rest is posted to.
        guard let first = data.first, let db = store else { return }
        let body = data.dropFirst()
        switch first % 3 {
        case 0:
            if let user = try? ServiceJSON.decode(GazeService.NewUser.self, from: body) { _ = try? db.addUser(user.name) }
        case 1:
            if let new = try? ServiceJSON.decode(GazeService.NewScreen.self, from: body), let screen = try? GazeService.screen(new) {
                _ = try? db.addScreen(screen)
                _ = try? db.screens()
            }
        default:
            if let run = try? ServiceJSON.decode(GazeService.NewCalibration.self, from: body) {
                _ = try? db.user(run.user)
                _ = try? db.screen(run.screen)
            }
        }
        storeWrites += 1
        if storeWrites % 10_000 == 0 { store = try? CalibrationDatabase() }
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
        fatalError("FOVEAL_FUZZ_TARGET must be one of safetensors, image, mat, y4m, mjpeg, recording, mpii, script, calibration-row, edid, request-body")
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
exit(status)
