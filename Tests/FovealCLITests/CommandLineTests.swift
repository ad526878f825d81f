import Foundation
import FovealIO
import FovealTestSupport
import Testing

@Suite struct PredictCommand {
    let weights = Fixtures.path("model/depth6.weights.safetensors")
    let image = Fixtures.path("model/depth6.png")
    let dir = Fixtures.temporaryDirectory()

    func referenceGaze(_ name: String) throws -> [Float] {
        try SafeTensorsFile(path: Fixtures.path("model/\(name).io.safetensors")).tensor("gaze_cm").values
    }

    @Test func jsonLinePerImageMatchesTheReference() throws {
        let run = try Run(["predict", "--weights", weights, "--json", image])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(run.stdoutLines[0].utf8)) as! [String: Any]
        #expect(object["image"] as? String == image)
        let gaze = try #require(object["gaze_cm"] as? [Double])
        let expected = try referenceGaze("depth6")
        #expect(gaze.count == 2 && abs(gaze[0] - Double(expected[0])) < 1e-4 && abs(gaze[1] - Double(expected[1])) < 1e-4)
    }

    /// With the presence head, each line also says how likely a face with open eyes is, and
    /// whether one is there; without it, neither key appears.
    @Test func jsonCarriesPresenceWhenTheModelHasIt() throws {
        let run = try Run(["predict", "--weights", Fixtures.path("model/presence.weights.safetensors"), "--json", Fixtures.path("model/presence.png")])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdoutLines[0].utf8)) as? [String: Any])
        let expected = Double(try SafeTensorsFile(path: Fixtures.path("model/presence.io.safetensors")).tensor("presence")[flat: 0])
        let presence = try #require(object["presence"] as? Double)
        #expect(abs(presence - expected) < 1e-5 && object["face"] as? Bool == (expected >= 0.5))
        let without = try Run(["predict", "--weights", weights, "--json", image])
        let plain = try #require(try JSONSerialization.jsonObject(with: Data(without.stdoutLines[0].utf8)) as? [String: Any])
        #expect(plain["presence"] == nil && plain["face"] == nil)
    }

    @Test func dumpWritesTheIntermediates() throws {
        let run = try Run(["predict", "--weights", weights, "--dump", dir + "/dump", image])
        #expect(run.status == 0)
        let dump = try SafeTensorsFile(path: dir + "/dump/depth6.safetensors")
        let io = try SafeTensorsFile(path: Fixtures.path("model/depth6.io.safetensors"))
        #expect(Set(dump.names) == ["saliency", "grid", "resampled", "gaze_cm", "features"])
        for name in ["saliency", "grid", "gaze_cm"] {
            expectClose(try dump.tensor(name), try io.tensor(name), 1e-4, name)
        }
        let plain = try Run(["predict", "--weights", Fixtures.path("model/no_sampler.weights.safetensors"),
                             "--dump", dir + "/plain", Fixtures.path("model/no_sampler.png")])
        #expect(plain.status == 0)
        #expect(Set(try SafeTensorsFile(path: dir + "/plain/no_sampler.safetensors").names) == ["resampled", "gaze_cm", "features"])
    }

    /// Two images with one file name (frame 30 of two recordings) each get their own output.
    @Test func imagesSharingANameGetOutputsOfTheirOwn() throws {
        for folder in ["a/frames", "b/frames"] {
            try FileManager.default.createDirectory(atPath: dir + "/" + folder, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: image, toPath: dir + "/" + folder + "/00030.png")
        }
        // One absolute path, one relative to the working directory, one image with a name of its own.
        let absolute = dir + "/a/frames/00030.png"
        let dump = try Run(["predict", "--weights", weights, "--dump", dir + "/named", absolute, "b/frames/00030.png", image], in: dir)
        #expect(dump.status == 0, "\(dump.stderr)")
        let written = Set(try FileManager.default.contentsOfDirectory(atPath: dir + "/named"))
        let aStem = (absolute as NSString).deletingPathExtension.split(separator: "/").joined(separator: "_")
        #expect(written == [aStem + ".safetensors", "b_frames_00030.safetensors", "depth6.safetensors"], "\(written)")
        let figures = try Run(["visualize", "--weights", weights, "--height", "64", "--out", dir + "/figures", "a/frames/00030.png", "b/frames/00030.png"], in: dir)
        #expect(figures.status == 0, "\(figures.stderr)")
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir + "/figures")) == ["a_frames_00030.png", "b_frames_00030.png"])
    }

    @Test func badImageIsNamedAndTheOthersStillRun() throws {
        let bad = dir + "/broken.jpg"
        FileManager.default.createFile(atPath: bad, contents: Data([0xff, 0xd8, 0xff, 0x00, 0x01]))
        let run = try Run(["predict", "--weights", weights, "--json", bad, image])
        #expect(run.status != 0)
        #expect(run.stderrLines.count == 1 && run.stderrLines[0].contains("\(bad): corrupt JPEG"), "\(run.stderr)")
        #expect(run.stdoutLines.count == 1 && run.stdoutLines[0].contains(image))
    }

    @Test func badWeightFilesAreOneLineErrors() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: weights))
        let truncated = dir + "/truncated.safetensors"
        FileManager.default.createFile(atPath: truncated, contents: data.prefix(data.count / 2))
        let notJSON = dir + "/garbage.safetensors"
        FileManager.default.createFile(atPath: notJSON, contents: Data([16, 0, 0, 0, 0, 0, 0, 0] + Array("{not json at all".utf8)))
        for (path, problem) in [(truncated, "outside the"), (notJSON, "not a JSON object"),
                                (dir + "/absent.safetensors", "No such file")] {
            let run = try Run(["predict", "--weights", path, image])
            #expect(run.status == 1)
            #expect(run.stderrLines.count == 1 && run.stderr.contains(path) && run.stderr.contains(problem), "\(run.stderr)")
            #expect(run.stdout.isEmpty)
        }
    }

    @Test func weightsOfAnotherShapeAreRefusedByName() throws {
        let file = try SafeTensorsFile(path: weights)
        var tensors = try file.names.filter { file.entries[$0]!.dtype != .i64 }.map { (name: $0, tensor: try file.tensor($0)) }
        let i = tensors.firstIndex { $0.name == "saliency_head.weight" }!
        tensors[i].tensor = tensors[i].tensor.reshaped([1, 2, 2, 2])
        let path = dir + "/shape.safetensors"
        try SafeTensorsWriter.write(tensors, metadata: file.metadata, to: path)
        let run = try Run(["predict", "--weights", path, image])
        #expect(run.status == 1 && run.stderr.contains("'saliency_head.weight' has shape [1, 2, 2, 2]"), "\(run.stderr)")
    }
}

@Suite struct BenchCommand {
    @Test func reportsLatencyThroughputMemoryAndStages() throws {
        let run = try Run(["bench", "--weights", Fixtures.path("model/depth6.weights.safetensors"),
                           "--size", "96x72", "--iterations", "3", "--batch", "2", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as! [String: Any]
        let latency = try #require(report["latency_ms"] as? [String: Double])
        #expect(latency["p50"]! > 0 && latency["p50"]! <= latency["p90"]! && latency["p90"]! <= latency["p99"]!)
        #expect((report["throughput_fps"] as? Double ?? 0) > 0)
        #expect((report["peak_rss_mb"] as? Double ?? 0) > 1)
        #expect(Set((report["stages_ms"] as? [String: Double] ?? [:]).keys) == ["normalise", "saliency", "sampler", "task"])
    }

    @Test func argumentsAreValidated() throws {
        let both = try Run(["bench", "--config", "paper", "--weights", "x"])
        #expect(both.status != 0 && both.stderr.contains("exactly one of --weights and --config"))
        let size = try Run(["bench", "--config", "paper", "--size", "640by480"])
        #expect(size.status != 0 && size.stderr.contains("--size"))
    }
}

/// The README is for users: its command index names every subcommand `foveal --help` lists,
/// and it stays short enough to read (the rest lives in docs/).
@Suite struct ReadmeIndex {
    static let repository = URL(fileURLWithPath: Fixtures.directory).deletingLastPathComponent().deletingLastPathComponent().path

    @Test func everySubcommandIsInTheReadmeIndex() throws {
        let help = try Run(["--help"])
        #expect(help.status == 0)
        let section = try #require(help.stdout.components(separatedBy: "SUBCOMMANDS:").last?.components(separatedBy: "See 'foveal help").first)
        let names = section.split(separator: "\n").compactMap { line -> String? in
            // A subcommand line starts with two spaces and a name; wrapped abstracts start with more.
            guard line.hasPrefix("  "), !line.hasPrefix("   "), let name = line.split(separator: " ").first else { return nil }
            return name.allSatisfy({ $0.isLetter || $0 == "-" }) ? String(name) : nil
        }
        #expect(names.count >= 13 && names.contains("calibrate") && names.contains("serve"), "\(names)")
        let readme = try String(contentsOfFile: Self.repository + "/README.md", encoding: .utf8)
        for name in names {
            #expect(readme.contains("| `foveal \(name)` |"), "the README's command index lacks `foveal \(name)`")
        }
        #expect(readme.split(separator: "\n", omittingEmptySubsequences: false).count <= 250)
    }
}
