import Foundation
import FovealIO
import FovealModel
import FovealTensor
import FovealTestSupport
import Testing

@Suite struct TrackCommand {
    static let repository = URL(fileURLWithPath: Fixtures.directory).deletingLastPathComponent().deletingLastPathComponent().path
    let recording = repository + "/data/samples/gazecapture/00000"
    let weights = Fixtures.path("model/depth6.weights.safetensors")

    /// Replaying a recording through `track` gives, frame by frame, the errors `eval` computes on it.
    @Test func replayErrorsEqualEval() throws {
        let run = try Run(["track", "--source", recording, "--weights", weights, "--format", "jsonl"])
        #expect(run.status == 0, "\(run.stderr)")
        var errors: [Double] = []
        for line in run.stdoutLines {
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let (g, l) = (o["gaze_cm"] as! [Double], o["label_cm"] as! [Double])
            errors.append(((g[0] - l[0]) * (g[0] - l[0]) + (g[1] - l[1]) * (g[1] - l[1])).squareRoot())
            #expect(o["latency_ms"] is Double && o["time_s"] is Double)
        }
        // A dataset holding just this recording, for eval.
        let dataset = Fixtures.temporaryDirectory()
        try FileManager.default.createSymbolicLink(atPath: dataset + "/00000", withDestinationPath: recording)
        let eval = try Run(["eval", "--dataset", dataset, "--weights", weights, "--json"])
        let report = try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as! [String: Any]
        let overall = report["overall"] as! [String: Any]
        #expect(errors.count == overall["frames"] as? Int)
        #expect(abs(errors.reduce(0, +) / Double(errors.count) - (overall["mean_cm"] as! Double)) < 1e-4)
        #expect(run.stderr.contains("mean error"))
    }

    @Test func csvAndTextAndCount() throws {
        let csv = try Run(["track", "--source", recording, "--weights", weights, "--format", "csv", "--count", "4"])
        #expect(csv.status == 0 && csv.stdoutLines.count == 5 && csv.stdoutLines[0].hasPrefix("frame,time_s,x_cm"))
        let text = try Run(["track", "--source", recording + "/frames", "--weights", weights, "--count", "2", "--smooth", "one-euro"])
        #expect(text.status == 0 && text.stdoutLines.count == 2 && text.stdoutLines[0].hasPrefix("frame     0"))
    }

    /// The recording's JPEGs back to back are a Motion-JPEG file: tracked, it gives the gaze the
    /// same images give one by one.
    @Test func motionJPEGFilesAreASource() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: recording + "/frames").filter { $0.hasSuffix(".jpg") }.sorted().prefix(4)
        let mjpeg = Fixtures.temporaryDirectory() + "/clip.mjpeg"
        try names.map { try Data(contentsOf: URL(fileURLWithPath: recording + "/frames/" + $0)) }.reduce(Data(), +)
            .write(to: URL(fileURLWithPath: mjpeg))
        let clip = try Run(["track", "--source", mjpeg, "--weights", weights, "--format", "jsonl"])
        let images = try Run(["track", "--source", recording + "/frames", "--weights", weights, "--format", "jsonl", "--count", "4"])
        #expect(clip.status == 0 && images.status == 0, "\(clip.stderr)")
        func gaze(_ run: Run) throws -> [[Double]] {
            try run.stdoutLines.map { (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["gaze_cm"] as! [Double] }
        }
        #expect(try gaze(clip).count == 4)
        #expect(try gaze(clip) == gaze(images))
    }

    /// A frame too dark to read is marked in every output, and said once on stderr.
    @Test func lowLightIsReported() throws {
        let frame = try RGBImage(contentsOf: recording + "/frames/00000.jpg")
        var dark = frame
        for i in dark.pixels.indices { dark.pixels[i] = frame.pixels[i] / 16 }
        let folder = Fixtures.temporaryDirectory()
        try dark.writePNG(to: folder + "/1-dark.png")
        try dark.writePNG(to: folder + "/2-dark.png")
        try frame.writePNG(to: folder + "/3-lit.png")
        let run = try Run(["track", "--source", folder, "--weights", weights, "--format", "jsonl"])
        #expect(run.status == 0, "\(run.stderr)")
        let lows = try run.stdoutLines.map { (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["low_light"] as? Bool }
        #expect(lows == [true, true, false])
        #expect(run.stderrLines.filter { $0.hasPrefix("foveal: low light: ") }.count == 1, "\(run.stderr)")
        #expect(run.stderr.contains("foveal: light is back") && run.stderr.contains(", 2 in low light"), "\(run.stderr)")
        let text = try Run(["track", "--source", folder + "/1-dark.png", "--weights", weights])
        #expect(text.stdoutLines.count == 1 && text.stdoutLines[0].hasSuffix("low light"), "\(text.stdout)")
    }

    /// The same image over and over: with reuse, the grid is made on every fourth frame only, the
    /// gaze is the same, and the summary says so.
    @Test func saliencyReuseIsReported() throws {
        let folder = Fixtures.temporaryDirectory()
        let image = recording + "/frames/00000.jpg"
        for i in 0..<8 { try FileManager.default.copyItem(atPath: image, toPath: folder + "/\(i).jpg") }
        let every = try Run(["track", "--source", folder, "--weights", weights, "--format", "jsonl"])
        let reused = try Run(["track", "--source", folder, "--weights", weights, "--format", "jsonl", "--saliency-every", "4"])
        #expect(reused.status == 0, "\(reused.stderr)")
        #expect(reused.stderr.contains("saliency map reused on 6 of 8 frames (75%)"), "\(reused.stderr)")
        func gaze(_ run: Run) throws -> [[Double]] {
            try run.stdoutLines.map { (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["gaze_cm"] as! [Double] }
        }
        for (a, b) in zip(try gaze(every), try gaze(reused)) { #expect(abs(a[0] - b[0]) < 1e-5 && abs(a[1] - b[1]) < 1e-5) }
        let bad = try Run(["track", "--source", folder, "--weights", weights, "--saliency-every", "0"])
        #expect(bad.status != 0 && bad.stderr.contains("--saliency-every must be 1-1000"), "\(bad.stderr)")
    }

    /// Two screens around the camera: every gaze point is named by the screen it falls on.
    @Test func aLayoutOfScreensNamesTheScreen() throws {
        let db = Fixtures.temporaryDirectory() + "/foveal.sqlite"
        #expect(try Run(["user", "add", "ana", "--db", db]).status == 0)
        #expect(try Run(["screen", "add", "laptop", "--preset", "Laptop 14in 1920x1080", "--db", db]).status == 0)
        #expect(try Run(["screen", "add", "side", "--size-mm", "600x340", "--pixels", "2560x1440", "--camera-mm=-200,-50", "--db", db]).status == 0)
        let run = try Run(["track", "--source", recording, "--weights", weights, "--format", "jsonl", "--count", "5",
                           "--user", "ana", "--screen", "laptop", "--screen", "side", "--db", db])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("screens around the camera: laptop, side"), "\(run.stderr)")
        for line in run.stdoutLines {
            let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let onScreen = try #require(o["on_screen"] as? Bool)
            #expect(onScreen ? ["laptop", "side"].contains(o["screen"] as? String ?? "") : o["screen"] is NSNull, "\(line)")
        }
        let text = try Run(["track", "--source", recording, "--weights", weights, "--count", "2",
                            "--user", "ana", "--screen", "laptop", "--screen", "side", "--db", db])
        #expect(text.stdoutLines.count == 2 && text.stdoutLines.allSatisfy { $0.contains(" on laptop") || $0.contains(" on side") || $0.contains("off the screens") })
        let missing = try Run(["track", "--source", recording, "--weights", weights, "--user", "ana", "--screen", "laptop", "--screen", "nope", "--db", db])
        #expect(missing.status == 1 && missing.stderr.contains("nope"), "\(missing.stderr)")
    }

    @Test func badCamerasAreOneLineErrors() throws {
        for (camera, problem) in [("/dev/video97", "/dev/video97: no such camera"), ("/dev/null", "/dev/null: not a V4L2 device")] {
            let run = try Run(["track", "--camera", camera, "--weights", weights])
            #expect(run.status == 1 && run.stderrLines == ["foveal: " + problem], "\(run.stderr)")
        }
    }
}

/// Without a face with open eyes in view (models whose heads always say so), `track` reports no
/// gaze, and says why where the model can tell: the eyes closed, or nobody there.
@Suite struct TrackWithoutAFace {
    /// The fixture's model with its heads' weights zeroed and the biases given (nil: no head).
    func weights(presence: Float, faceInView: Float?) throws -> String {
        let model = try GazeNet(weightsAt: Fixtures.path("model/presence.weights.safetensors"))
        let zero = Tensor(zeros: [1, model.config.hidden])
        var heads = try model.withHeads(presence: (zero, Tensor(shape: [1], values: [presence])),
                                        faceInView: faceInView.map { (Tensor(zeros: [1, 1]), Tensor(shape: [1], values: [$0])) })
        if faceInView == nil {
            var config = heads.config
            config.faceInView = false
            heads = try GazeNet(config: config, parameters: ParameterReader { name, _, _ in
                try #require(heads.parameter(name)).value
            })
        }
        let path = Fixtures.temporaryDirectory() + "/heads.safetensors"
        try SafeTensorsWriter.write(heads.parameters.map { ($0.name, $0.value) }, metadata: ["config": heads.config.json], to: path)
        return path
    }

    @Test(arguments: [(Float(20), "eyes closed", true), (-20, "no face", false)])
    func everyOutputSaysWhyAndTheSummaryCounts(faceInView: Float, says: String, eyesClosed: Bool) throws {
        let weights = try weights(presence: -20, faceInView: faceInView)
        let image = Fixtures.path("model/presence.png")
        let text = try Run(["track", "--source", image, "--weights", weights, "--format", "text"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdoutLines.count == 1 && text.stdoutLines[0].contains("  \(says) (presence 0.00, face in view \(eyesClosed ? "1.00" : "0.00"))"),
                "\(text.stdout)")
        #expect(text.stderr.contains("1 without a face with open eyes (0 blinks, \(eyesClosed ? 0 : 1) with nobody in view)"), "\(text.stderr)")
        let jsonl = try Run(["track", "--source", image, "--weights", weights, "--format", "jsonl"])
        let line = try #require(try JSONSerialization.jsonObject(with: Data(jsonl.stdoutLines[0].utf8)) as? [String: Any])
        #expect(line["face"] as? Bool == false && line["gaze_cm"] is NSNull && line["eyes_closed"] as? Bool == eyesClosed)
        #expect(abs((line["face_in_view"] as? Double ?? .nan) - (eyesClosed ? 1 : 0)) < 1e-6)
    }

    @Test func aModelWithoutTheFaceInViewHeadCannotSayWhich() throws {
        let weights = try weights(presence: -20, faceInView: nil)
        let image = Fixtures.path("model/presence.png")
        let text = try Run(["track", "--source", image, "--weights", weights, "--format", "text"])
        #expect(text.stdoutLines.count == 1 && text.stdoutLines[0].contains("no face or eyes closed (presence 0.00)"), "\(text.stdout)")
        #expect(text.stderr.contains("1 without a face with open eyes (0 blinks)"), "\(text.stderr)")
        let jsonl = try Run(["track", "--source", image, "--weights", weights, "--format", "jsonl"])
        let line = try #require(try JSONSerialization.jsonObject(with: Data(jsonl.stdoutLines[0].utf8)) as? [String: Any])
        #expect(line["face"] as? Bool == false && line["eyes_closed"] == nil && line["face_in_view"] == nil)
    }
}
