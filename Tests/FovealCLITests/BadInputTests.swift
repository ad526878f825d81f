import Foundation
import FovealIO
import FovealTensor
import FovealTestSupport
import Testing

/// Inputs that once crashed Foveal or printed a silently wrong answer: each now gets a one-line
/// error (or argument-parser's usage) and a non-zero exit, or the behaviour named beside it.
@Suite struct BadInput {
    static let repository = URL(fileURLWithPath: Fixtures.directory).deletingLastPathComponent().deletingLastPathComponent().path
    let recording = repository + "/data/samples/gazecapture/00000"
    let weights = Fixtures.path("model/depth6.weights.safetensors")

    /// A one-recording dataset, a copy of the sample recording with `file`'s JSON changed by `edit`.
    func editedRecording(_ file: String, _ edit: (inout [String: Any]) -> Void) throws -> (dataset: String, recording: String) {
        let dataset = Fixtures.temporaryDirectory()
        let copy = dataset + "/00000"
        try FileManager.default.copyItem(atPath: recording, toPath: copy)
        var object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: copy + "/" + file))) as! [String: Any]
        edit(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: copy + "/" + file))
        return (dataset, copy)
    }

    @Test func hugeNumbersInDatasetFilesAreNamedNotTrapped() throws {
        let cases: [(String, (inout [String: Any]) -> Void, String)] = [
            ("info.json", { $0["TotalFrames"] = 1e300 }, "info.json: TotalFrames is 1e+300, not a frame count"),
            ("dotInfo.json", { o in var n = o["DotNum"] as! [Any]; n[3] = 1e300; o["DotNum"] = n }, "dotInfo.json: DotNum[3] is 1e+300, not a dot number"),
            ("screen.json", { o in var n = o["Orientation"] as! [Any]; n[0] = 1e300; o["Orientation"] = n }, "screen.json: Orientation[0] is not 1-4"),
        ]
        for (file, edit, problem) in cases {
            let (dataset, copy) = try editedRecording(file, edit)
            let eval = try Run(["eval", "--dataset", dataset, "--split", "all", "--weights", weights])
            #expect(eval.status == 1 && eval.stderr.contains(problem), "\(file): \(eval.status) \(eval.stderr)")
            let track = try Run(["track", "--source", copy, "--weights", weights])
            if file == "info.json" {
                #expect(track.status == 0, "\(track.stderr)")  // tracking never reads TotalFrames
            } else {
                #expect(track.status == 1 && track.stderrLines.count == 1 && track.stderr.contains(problem), "\(file): \(track.stderr)")
            }
        }
    }

    @Test func outOfRangeOptionsAreRefused() throws {
        for fps in ["inf", "1e300", "1e-300", "0.0001", "nan", "-1"] {
            let run = try Run(["track", "--source", recording, "--weights", weights, "--fps=" + fps])
            #expect(run.status != 0 && run.stderr.contains("--fps must be 0 (unpaced) or 0.1-1000"), "\(fps): \(run.stderr)")
        }
        let serve = try Run(["serve", "--source", recording, "--fps", "inf", "--port", "0"])
        #expect(serve.status != 0 && serve.stderr.contains("--fps must be"))
        let synth = try Run(["synth", "--out", Fixtures.temporaryDirectory() + "/s", "--dots", "4611686018427387904"])
        #expect(synth.status != 0 && synth.stderr.contains("--dots and --frames-per-dot 1-1000"))
        let bench = try Run(["bench", "--config", "compact", "--batch", "100000"])
        #expect(bench.status != 0 && bench.stderr.contains("--batch must be 1-256"))
        for (option, value) in [("--lr", "inf"), ("--weight-decay", "nan"), ("--clip", "-1"), ("--pretrain-floor", "0"), ("--pretrain-floor", "nan")] {
            let train = try Run(["train", "--dataset", Self.repository + "/data/samples/gazecapture", "--out", Fixtures.temporaryDirectory(), option, value])
            #expect(train.status != 0 && train.stderr.contains(option), "\(option) \(value): \(train.stderr)")
        }
        let db = Fixtures.temporaryDirectory() + "/f.sqlite"
        let screen = try Run(["screen", "add", "big", "--size-mm", "300x200", "--pixels", "1e300x1080", "--camera-mm", "150,-5", "--db", db])
        #expect(screen.status == 1 && screen.stderr.contains("is more than 100000"), "\(screen.stderr)")
        #expect(try Run(["screen", "list", "--db", db]).status == 0)
    }

    /// The tensors and metadata of the fixture model, changed, in a new weight file.
    func editedWeights(_ edit: (inout [(name: String, tensor: Tensor)], inout [String: String]) -> Void) throws -> String {
        let path = Fixtures.temporaryDirectory() + "/w.safetensors"
        try rewriteSafeTensors(weights, to: path, edit)
        return path
    }

    @Test func nonFiniteWeightsAreRefusedAtLoad() throws {
        let nan = try editedWeights { tensors, _ in
            let i = tensors.firstIndex { $0.name == "task.classifier.6.bias" }!
            tensors[i].tensor[flat: 1] = .nan
        }
        let image = Fixtures.path("model/depth6.png")
        let predict = try Run(["predict", "--weights", nan, "--json", image])
        #expect(predict.status == 1 && predict.stdout.isEmpty && predict.stderr.contains("tensor 'task.classifier.6.bias' holds a non-finite number"),
                "\(predict.stderr)")
        let huge = try editedWeights { _, metadata in
            metadata["config"] = metadata["config"]!.replacingOccurrences(of: #""range_cm":"#, with: #""range_cm":1e308,"old_range":"#)
        }
        let track = try Run(["track", "--source", recording, "--weights", huge, "--format", "jsonl"])
        #expect(track.status == 1 && track.stdout.isEmpty && track.stderr.contains("range_cm must be above 0 and at most 1000"), "\(track.stderr)")
    }

    @Test func outputPathsThatAreNotRegularFilesAreNotReplaced() throws {
        let dir = Fixtures.temporaryDirectory()
        let target = dir + "/target.txt"
        try "keep me".write(toFile: target, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: dir + "/link", withDestinationPath: target)
        #expect(mkfifo(dir + "/fifo", 0o600) == 0)
        for (path, problem) in [(dir + "/link", "is a symbolic link"), (dir + "/fifo", "is not a regular file"), (dir, "is a folder")] {
            let run = try Run(["eval", "--dataset", Self.repository + "/data/samples/gazecapture", "--split", "all", "--weights", weights,
                               "--predictions", path])
            #expect(run.status == 1 && run.stderr.contains(problem), "\(path): \(run.stderr)")
        }
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "keep me")
        var info = stat()
        #expect(lstat(dir + "/link", &info) == 0 && info.st_mode & S_IFMT == S_IFLNK)
        #expect(lstat(dir + "/fifo", &info) == 0 && info.st_mode & S_IFMT == S_IFIFO)
    }

    @Test func commandsThatMeasureNothingSaySo() throws {
        let eval = try Run(["eval", "--dataset", Self.repository + "/data/samples/gazecapture", "--split", "all", "--weights", weights,
                            "--calibrate", "1000"])
        #expect(eval.status == 1 && eval.stderr.contains("has more than 1000 dots"), "\(eval.stderr)")
        let y4m = Fixtures.temporaryDirectory() + "/deep.y4m"
        try Data("YUV4MPEG2 W4 H2 F25:1 C420p10\nFRAME\n".utf8 + [UInt8](repeating: 0, count: 24)).write(to: URL(fileURLWithPath: y4m))
        let track = try Run(["track", "--source", y4m, "--weights", weights])
        #expect(track.status == 1 && track.stderrLines.count == 1 && track.stderr.contains("colour space C420p10 is not supported"), "\(track.stderr)")
    }

    @Test func resumingFromCorruptTrainingStateIsRefused() throws {
        let run = Fixtures.temporaryDirectory() + "/run"
        let data = Fixtures.temporaryDirectory() + "/gc"
        #expect(try Run(["synth", "--out", data, "--recordings", "8", "--dots", "2", "--frames-per-dot", "2", "--seed", "3"]).status == 0)
        let train = try Run(["train", "--dataset", data, "--out", run, "--epochs", "1", "--batch", "4", "--limit", "8", "--validation-limit", "4"])
        #expect(train.status == 0, "\(train.stderr)")
        func resume(_ epochs: String = "2") throws -> Run {
            try Run(["train", "--dataset", data, "--out", run, "--epochs", epochs, "--batch", "4", "--limit", "8", "--validation-limit", "4", "--resume"])
        }
        let last = run + "/last.safetensors", optimizer = run + "/last.optimizer.safetensors"
        let goodLast = try Data(contentsOf: URL(fileURLWithPath: last)), goodOptimizer = try Data(contentsOf: URL(fileURLWithPath: optimizer))
        let cases: [(String, (inout [(name: String, tensor: Tensor)], inout [String: String]) -> Void, String)] = [
            (last, { _, m in m["epoch"] = "3" }, "resuming needs one from 0 to --epochs (2)"),  // more epochs done than asked for
            (last, { _, m in m["epoch"] = "-5" }, "its epoch is -5"),
            (last, { _, m in m["epoch"] = "\(Int.max)" }, "its epoch is \(Int.max)"),
            (last, { t, _ in let i = t.firstIndex { $0.name == "task.classifier.6.weight" }!; t[i].tensor = Tensor(zeros: [3, 7]) }, "has shape [3, 7]"),
            (optimizer, { t, _ in let i = t.firstIndex { $0.name == "optimizer.steps" }!; t[i].tensor[flat: 0] = .nan }, "optimizer.steps is nan"),
            (optimizer, { t, _ in let i = t.firstIndex { $0.name == "optimizer.steps" }!; t[i].tensor[flat: 0] = 1e30 }, "not a step count"),
            (optimizer, { t, _ in let i = t.firstIndex { $0.name.hasPrefix("optimizer.first.") }!; t[i].tensor = Tensor(zeros: [2]) }, "has shape [2]"),
        ]
        for (path, edit, problem) in cases {
            try goodLast.write(to: URL(fileURLWithPath: last))
            try goodOptimizer.write(to: URL(fileURLWithPath: optimizer))
            try rewriteSafeTensors(path, to: path, edit)
            let r = try resume()
            #expect(r.status == 1 && r.stderr.contains(problem), "\(problem): \(r.status) \(r.stderr)")
        }
    }
}
