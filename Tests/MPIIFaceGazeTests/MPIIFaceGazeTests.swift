import Foundation
import FovealGeometry
import FovealIO
import FovealTestSupport
import GazeCapture
import MPIIFaceGaze
import Testing

/// The fixture `Tests/Fixtures/make_mpiifacegaze.py` wrote (scipy's MAT-files, its own geometry),
/// with what it expects in `mpiifacegaze.expected.json`.
enum MPIIFixture {
    static let root = Fixtures.path("mpiifacegaze")
    static var expected: [String: Any] {
        try! JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("mpiifacegaze.expected.json")))) as! [String: Any]
    }
    static var frames: [String: [String: Any]] { expected["frames"] as! [String: [String: Any]] }
    static var participants: [String: [String: Any]] { expected["participants"] as! [String: [String: Any]] }
}

@Suite struct MATFiles {
    @Test func theCalibrationFilesReadAsScipyWroteThem() throws {
        for (person, p) in MPIIFixture.participants {
            let folder = "\(MPIIFixture.root)/\(person)/Calibration"
            let camera = try MATFile(path: folder + "/Camera.mat")
            let k = try camera.matrix("cameraMatrix")
            let expectedK = p["camera_matrix"] as! [[Double]]
            #expect(k.rows == 3 && k.columns == 3)
            for r in 0..<3 { for c in 0..<3 { #expect(k[r, c] == expectedK[r][c]) } }
            #expect(try camera.matrix("distCoeffs").values == p["dist_coeffs"] as! [Double])
            let pose = try MATFile(path: folder + "/monitorPose.mat")
            #expect(try pose.numbers("tvecs", count: 3) == p["T"] as! [Double])
            #expect(try pose.numbers("rvects", count: 3).count == 3)
            let screen = try MATFile(path: folder + "/screenSize.mat")
            let px = p["screen_px"] as! [Double], mm = p["screen_mm"] as! [Double]
            #expect(try screen.numbers("width_pixel", count: 1) == [px[0]] && screen.numbers("height_mm", count: 1) == [mm[1]])
        }
    }

    /// Truncated, foreign and unsupported files get one line naming the file and the problem.
    @Test func corruptFilesAreRefusedWithOneLine() throws {
        let dir = Fixtures.temporaryDirectory()
        let good = try Data(contentsOf: URL(fileURLWithPath: "\(MPIIFixture.root)/p00/Calibration/Camera.mat"))  // compressed
        let plain = try Data(contentsOf: URL(fileURLWithPath: "\(MPIIFixture.root)/p01/Calibration/Camera.mat"))
        let cases: [(String, Data, String)] = [
            ("short.mat", good.prefix(100), "shorter than its 128-byte header"),
            ("cut-compressed.mat", good.prefix(good.count - 20), "truncated"),
            ("cut-plain.mat", plain.prefix(plain.count - 30), "truncated"),
            ("text.mat", Data(String(repeating: "hello ", count: 40).utf8), "not a level-5 MAT-file"),
            ("garbled.mat", plain.prefix(128) + Data(repeating: 0xff, count: 64), "a small data element of 65535 bytes"),
            ("huge.mat", plain.prefix(128) + Data([14, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f]) + Data(count: 16), "runs past the end"),
        ]
        for (name, data, problem) in cases {
            let path = dir + "/" + name
            try data.write(to: URL(fileURLWithPath: path))
            do { _ = try MATFile(path: path); Issue.record("\(name) was read") } catch {
                let message = "\(error)"
                #expect(message.hasPrefix(path + ": ") && message.contains(problem) && !message.contains("\n"), "\(message)")
            }
        }
        do { _ = try MATFile(path: Fixtures.path("mat/cell.mat")); Issue.record("a cell array was read") } catch {
            #expect("\(error)" == Fixtures.path("mat/cell.mat") + ": 'names' is a cell array, not a numeric matrix")
        }
        let camera = try MATFile(path: "\(MPIIFixture.root)/p01/Calibration/Camera.mat")
        #expect(throws: FileFormatError.self) { try camera.matrix("rvects") }
    }
}

@Suite struct MPIIFaceGazeReader {
    /// Worked by hand. An upright screen below the camera: R = rotation by pi about y, its
    /// top-left corner 100 mm to the camera's right (the user's left) and 10 mm down. The screen
    /// point (100, 100) mm is at R s + T = (0, 110, 0): 11 cm straight below the camera.
    @Test func theConversionMatchesHandWorkedValues() {
        let upright = MPIIFaceGaze.MonitorPose(rotationVector: [0, .pi, 0], translationMm: [100, 10, 0])
        let label = upright.cameraSpace(targetMm: [0, 110, 0])
        #expect(abs(label.xCm) < 1e-9 && abs(label.yCm + 11) < 1e-9)
        // The screen point (150, 100): 5 cm to the user's right (the camera's -x).
        let right = upright.point(CameraSpacePoint(xCm: 5, yCm: -11))
        #expect(abs(right[0] + 50) < 1e-9 && abs(right[1] - 110) < 1e-9 && abs(right[2]) < 1e-9)
        // Tilted: rotation by 90 degrees about x, no offset: the screen plane is the camera's
        // x-z plane, screen y runs along camera z. The screen point (10, 20) mm is at (10, 0, 20).
        let tilted = MPIIFaceGaze.MonitorPose(rotationVector: [.pi / 2, 0, 0], translationMm: [0, 0, 0])
        let t = tilted.cameraSpace(targetMm: [10, 0, 20])
        #expect(abs(t.xCm - 1) < 1e-9 && abs(t.yCm + 2) < 1e-9)
        let back = tilted.point(t)
        #expect(abs(back[0] - 10) < 1e-9 && abs(back[1]) < 1e-9 && abs(back[2] - 20) < 1e-9)
    }

    @Test func framesAndLabelsAreWhatTheGeneratorComputed() throws {
        #expect(MPIIFaceGaze.isLayout(MPIIFixture.root) && !MPIIFaceGaze.isLayout(Fixtures.path("model")))
        let data = try MPIIFaceGaze(root: MPIIFixture.root)
        #expect(data.problems.isEmpty && data.participants.map(\.id) == ["p00", "p01"])
        #expect(data.dataset.recordingIDs == ["p00/day01", "p00/day02", "p01/day01", "p01/day02"])
        var seen = 0
        for id in data.dataset.recordingIDs {
            let recording = try data.dataset.recording(id)
            #expect(recording.split == "test" && recording.family == String(id.prefix(3)))
            for frame in recording.frames {
                let key = String(frame.imagePath.dropFirst(MPIIFixture.root.count + 1))
                let expected = try #require(MPIIFixture.frames[key]?["label_cm"] as? [Double], "\(key)")
                // p01's screen is tilted by 12 degrees: the label is measured in its plane.
                #expect(abs(frame.gaze.xCm - expected[0]) < 1e-9 && abs(frame.gaze.yCm - expected[1]) < 1e-9, "\(key)")
                #expect(frame.isValid)
                // The true target scores zero degrees.
                #expect(try #require(data.angularErrorDegrees(frame, predicted: frame.gaze)) < 1e-6)
                seen += 1
            }
        }
        #expect(seen == MPIIFixture.frames.count && seen == 16)
        // Leave-one-person-out: the held-out participant is the test split, the others train
        // with their last day as validation.
        let fold = try MPIIFaceGaze(root: MPIIFixture.root, testPerson: "p01")
        #expect(try fold.dataset.recording("p01/day02").split == "test" && fold.dataset.recording("p00/day01").split == "train"
                && fold.dataset.recording("p00/day02").split == "val")
        #expect(throws: FileFormatError.self) { try MPIIFaceGaze(root: MPIIFixture.root, testPerson: "p07") }
    }

    @Test func malformedLinesAndMissingImagesAreSkippedAndNamed() throws {
        let copy = Fixtures.temporaryDirectory() + "/mpii"
        try FileManager.default.copyItem(atPath: MPIIFixture.root, toPath: copy)
        let txt = copy + "/p00/p00.txt"
        var text = try String(contentsOfFile: txt, encoding: .utf8)
        let good = text.split(separator: "\n")[0]
        text += "day01/0001.jpg 1 2 3\n"
        text += good.replacingOccurrences(of: "day01/0001.jpg", with: "day01/9999.jpg") + "\n"
        text += good.replacingOccurrences(of: " left", with: " both") + "\n"
        text += "day01/0001.jpg" + String(repeating: " nan", count: 26) + " left\n"
        try text.write(toFile: txt, atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: copy + "/p01/Calibration/monitorPose.mat")
        let data = try MPIIFaceGaze(root: copy)
        let problems = data.problems.map(\.description)
        #expect(problems.contains("\(txt): line 9: 4 fields, expected 28"), "\(problems)")
        #expect(problems.contains { $0.hasPrefix("\(copy)/p00/day01/9999.jpg: missing image (line 10") })
        #expect(problems.contains("\(txt): line 11: the last field must be 'left' or 'right'"))
        #expect(problems.contains("\(txt): line 12: a field that is not a finite number"))
        #expect(problems.contains("\(copy)/p01/Calibration/monitorPose.mat: cannot read the MAT-file"))
        #expect(data.participants.map(\.id) == ["p00"] && data.dataset.recordingIDs.count == 2)
    }
}
