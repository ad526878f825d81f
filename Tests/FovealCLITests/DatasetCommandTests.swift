import Foundation
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
}
