import Foundation
import FovealIO
import FovealTestSupport
import Testing

@Suite struct EvalCommand {
    let made = try! HandMadeDataset()

    @Test func jsonReportCountsValidFramesAndEqualsAnIndependentMean() throws {
        let weights = try constantPredictorWeights(xCm: -0.5, yCm: -4)
        let run = try Run(["eval", "--dataset", made.root, "--weights", weights, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as! [String: Any]
        let overall = try #require(report["overall"] as? [String: Any])
        let expected = made.evaluatedTestFrames.map { (($0.xCam + 0.5) * ($0.xCam + 0.5) + ($0.yCam + 4) * ($0.yCam + 4)).squareRoot() }
        #expect(overall["frames"] as? Int == expected.count)
        #expect(abs((overall["mean_cm"] as? Double ?? 0) - expected.reduce(0, +) / Double(expected.count)) < 0.01)
        let families = try #require(report["families"] as? [String: [String: Any]])
        for family in ["iPhone", "iPad"] {
            #expect(families[family]?["frames"] as? Int == made.evaluatedTestFrames.filter { $0.family == family }.count)
        }
        // Corrupt JPEG, missing frame and broken JSON: named on stderr, and the run completed.
        for file in made.brokenFiles { #expect(run.stderr.contains(file), "\(file)") }
    }

    @Test func predictionsFileHasALinePerEvaluatedFrame() throws {
        let weights = try constantPredictorWeights(xCm: 1, yCm: -2)
        let file = Fixtures.temporaryDirectory() + "/predictions.jsonl"
        let run = try Run(["eval", "--dataset", made.root, "--weights", weights, "--predictions", file, "--with-features"])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == made.evaluatedTestFrames.count)
        var targets: [[Double]] = []
        for line in lines {
            let row = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let predicted = try #require(row["predicted_cm"] as? [Double])
            #expect(abs(predicted[0] - 1) < 1e-3 && abs(predicted[1] + 2) < 1e-3)
            #expect((row["features"] as? [Double])?.count == 32)  // the fixture's hidden width
            #expect(row["split"] as? String == "test")
            targets.append(try #require(row["target_cm"] as? [Double]))
        }
        let expected = made.evaluatedTestFrames.map { [$0.xCam, $0.yCam] }
        let pairs = zip(targets.sorted { $0.lexicographicallyPrecedes($1) }, expected.sorted { $0.lexicographicallyPrecedes($1) })
        #expect(pairs.allSatisfy { abs($0[0] - $1[0]) < 1e-9 && abs($0[1] - $1[1]) < 1e-9 })

        let nowhere = try Run(["eval", "--dataset", made.root, "--weights", weights, "--predictions", "/nonexistent/dir/p.jsonl"])
        #expect(nowhere.status == 1 && nowhere.stderr.contains("/nonexistent/dir/p.jsonl: cannot create"))
    }

    @Test func humanReportHasAFamilyTable() throws {
        let run = try Run(["eval", "--dataset", made.root, "--weights", try constantPredictorWeights(xCm: 0, yCm: -3)])
        #expect(run.status == 0)
        let lines = run.stdoutLines
        #expect(lines.contains { $0.hasPrefix("iPad ") } && lines.contains { $0.hasPrefix("iPhone ") } && lines.contains { $0.hasPrefix("all ") })
    }

    /// The best constant: each family's own mean label over the evaluated split.
    @Test func ownFamilyMeanIsEachFamilysMeanOverTheSplit() throws {
        let run = try Run(["eval", "--dataset", made.root, "--baseline", "own-family-mean", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as! [String: Any]
        let families = try #require(report["families"] as? [String: [String: Any]])
        for family in ["iPhone", "iPad"] {
            // The mean is over the valid frames' labels (the files say them even where a JPEG is broken).
            let labelled = made.frames.filter { $0.family == family && $0.valid && $0.recording != "00011" }
            let (mx, my) = (labelled.map(\.xCam).reduce(0, +) / Double(labelled.count), labelled.map(\.yCam).reduce(0, +) / Double(labelled.count))
            let errors = made.evaluatedTestFrames.filter { $0.family == family }.map { (($0.xCam - mx) * ($0.xCam - mx) + ($0.yCam - my) * ($0.yCam - my)).squareRoot() }
            #expect(abs((families[family]?["mean_cm"] as? Double ?? 0) - errors.reduce(0, +) / Double(errors.count)) < 1e-6, "\(family)")
        }
        #expect(run.stderr.contains("over the test split"))
    }

    @Test func badDatasetIsAOneLineError() throws {
        let run = try Run(["eval", "--dataset", "/nonexistent/gc", "--weights", Fixtures.path("model/depth6.weights.safetensors")])
        #expect(run.status == 1 && run.stderrLines == ["foveal: /nonexistent/gc: not a dataset folder"])
    }
}

@Suite struct SynthCommand {
    @Test func rendersADatasetThatEvalReads() throws {
        let out = Fixtures.temporaryDirectory() + "/synth"
        let run = try Run(["synth", "--out", out, "--recordings", "3", "--dots", "2", "--frames-per-dot", "2", "--seed", "4"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("wrote 3 recordings, 12 frames"))
        let eval = try Run(["eval", "--dataset", out, "--weights", Fixtures.path("model/depth6.weights.safetensors"), "--frames", "all"])
        #expect(eval.status == 0, "\(eval.stderr)")
        #expect(eval.stdoutLines.contains { $0.hasPrefix("iPad ") } && eval.stdoutLines.contains { $0.hasPrefix("iPhone ") })
        let again = try Run(["synth", "--out", out])
        #expect(again.status == 1 && again.stderr.contains("not empty"))
    }

    /// `--setup laptop,desktop`: 1280x720 frames, reported as the families laptop and monitor.
    @Test func deskSetupsAreTheirOwnFamilies() throws {
        let out = Fixtures.temporaryDirectory() + "/desk"
        let run = try Run(["synth", "--out", out, "--setup", "laptop,desktop", "--recordings", "2", "--dots", "2", "--frames-per-dot", "1", "--seed", "4"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("laptop 1, monitor 1"))
        let frame = try RGBImage(contentsOf: out + "/00000/frames/00000.jpg")
        #expect((frame.width, frame.height) == (1280, 720))
        let eval = try Run(["eval", "--dataset", out, "--split", "all", "--frames", "all", "--weights", Fixtures.path("model/depth6.weights.safetensors"), "--json"])
        #expect(eval.status == 0, "\(eval.stderr)")
        let families = try #require((try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Any])?["families"] as? [String: Any])
        #expect(Set(families.keys) == ["laptop", "monitor"])
        let bad = try Run(["synth", "--out", out + "2", "--setup", "laptop=0"])
        #expect(bad.status != 0 && bad.stderr.contains("--setup") && bad.stderr.contains("1 to 100"))
    }
}

/// `eval --shard I/N` and `eval merge`: the merged shards are the unsharded report.
@Suite struct ShardedEval {
    let made = try! HandMadeDataset()
    static let synthetic: String = {
        let out = Fixtures.temporaryDirectory() + "/gc"
        _ = try! Run(["synth", "--out", out, "--recordings", "5", "--dots", "4", "--frames-per-dot", "2", "--seed", "8"])
        return out
    }()

    func object(_ run: Run) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    }

    /// Runs `arguments` as N shards, writes their reports and merges them.
    func sharded(_ arguments: [String], parts: Int) throws -> (merged: Run, files: [String]) {
        let dir = Fixtures.temporaryDirectory()
        var files: [String] = []
        for i in 1...parts {
            let run = try Run(arguments + ["--shard", "\(i)/\(parts)", "--json"])
            #expect(run.status == 0, "\(run.stderr)")
            let file = dir + "/shard\(i).json"
            try run.stdout.write(toFile: file, atomically: true, encoding: .utf8)
            files.append(file)
        }
        return (try Run(["eval", "merge", "--json"] + files), files)
    }

    func expectSameStatistics(_ a: [String: Any]?, _ b: [String: Any]?, _ what: String) {
        guard let a, let b else { Issue.record("\(what): missing"); return }
        #expect(a["frames"] as? Int == b["frames"] as? Int, "\(what)")
        for key in ["mean_cm", "median_cm", "std_cm"] {
            #expect(abs((a[key] as? Double ?? .nan) - (b[key] as? Double ?? .nan)) < 1e-9, "\(what) \(key)")
        }
    }

    @Test func mergedShardsAreTheWholeRun() throws {
        let weights = Fixtures.path("model/depth6.weights.safetensors")
        let arguments = ["eval", "--dataset", made.root, "--weights", weights]
        let whole = try object(try Run(arguments + ["--json"]))
        let (merged, files) = try sharded(arguments, parts: 3)
        #expect(merged.status == 0, "\(merged.stderr)")
        let report = try object(merged)
        for family in ["iPhone", "iPad"] {
            expectSameStatistics((report["families"] as? [String: [String: Any]])?[family], (whole["families"] as? [String: [String: Any]])?[family], family)
        }
        expectSameStatistics(report["overall"] as? [String: Any], whole["overall"] as? [String: Any], "overall")
        #expect(report["skipped_frames"] as? Int == whole["skipped_frames"] as? Int)
        #expect(report["frame_errors"] == nil && report["shard"] == nil)
        // The parts are disjoint: their frames add up to the whole's.
        let counts = try files.map { ((try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: $0))) as? [String: Any])?["overall"] as? [String: Any])?["frames"] as? Int ?? -1 }
        #expect(counts.reduce(0, +) == (whole["overall"] as? [String: Any])?["frames"] as? Int)

        // A part missing, a part twice, a text file: refused, saying why.
        let missing = try Run(["eval", "merge"] + files.dropLast())
        #expect(missing.status == 1 && missing.stderr.contains("missing shards: 3/3"))
        let twice = try Run(["eval", "merge", files[0], files[0], files[1], files[2]])
        #expect(twice.status == 1 && twice.stderr.contains("shard 1/3 is given twice"))
        let text = Fixtures.temporaryDirectory() + "/x.json"
        try "hello".write(toFile: text, atomically: true, encoding: .utf8)
        let garbage = try Run(["eval", "merge", text])
        #expect(garbage.status == 1 && garbage.stderr.contains(text))
        // A shard count no run can have (it would make the merge count to it) is refused as unreadable.
        let huge = Fixtures.temporaryDirectory() + "/huge.json"
        try String(contentsOfFile: files[0], encoding: .utf8).replacingOccurrences(of: #""count":3"#, with: #""count":9223372036854775807"#)
            .write(toFile: huge, atomically: true, encoding: .utf8)
        let absurd = try Run(["eval", "merge", huge])
        #expect(absurd.status == 1 && absurd.stderr.contains(huge) && absurd.stderr.contains("shard"), "\(absurd.stderr)")
        // The text report of the merge is eval's own.
        let human = try Run(["eval", "merge"] + files)
        #expect(human.status == 0 && human.stdoutLines.contains { $0.hasPrefix("iPhone ") } && human.stdoutLines.contains { $0.hasPrefix("all ") })
    }

    @Test func mergedCalibratedShardsAreTheWholeRun() throws {
        let weights = Fixtures.path("model/depth6.weights.safetensors")
        let arguments = ["eval", "--dataset", Self.synthetic, "--split", "all", "--weights", weights, "--calibrate", "2"]
        let whole = try object(try Run(arguments + ["--json"]))
        let (merged, files) = try sharded(arguments, parts: 2)
        #expect(merged.status == 0, "\(merged.stderr)")
        let report = try object(merged)
        for key in ["uncalibrated", "calibrated"] {
            let a = report[key] as? [String: [String: Any]], b = whole[key] as? [String: [String: Any]]
            #expect(Set(a?.keys ?? [:].keys) == Set(b?.keys ?? [:].keys))
            for family in b?.keys ?? [:].keys { expectSameStatistics(a?[family], b?[family], "\(key) \(family)") }
        }
        #expect(report["recordings"] as? Int == whole["recordings"] as? Int)
        #expect(report["methods_chosen"] as? [String: Int] == whole["methods_chosen"] as? [String: Int])
        // Plain and calibrated shards do not mix.
        let plain = try Run(["eval", "--dataset", Self.synthetic, "--split", "all", "--weights", weights, "--shard", "1/2", "--json"])
        let plainFile = Fixtures.temporaryDirectory() + "/plain.json"
        try plain.stdout.write(toFile: plainFile, atomically: true, encoding: .utf8)
        let mixed = try Run(["eval", "merge", plainFile, files[1]])
        #expect(mixed.status == 1 && mixed.stderr.contains("mix"))
    }

    @Test(arguments: ["0/2", "3/2", "1/0", "x", "1/2/3"]) func aBadShardIsRefused(_ shard: String) throws {
        let run = try Run(["eval", "--dataset", made.root, "--shard", shard, "--json"])
        #expect(run.status != 0 && run.stderr.contains("--shard"))
    }
}
