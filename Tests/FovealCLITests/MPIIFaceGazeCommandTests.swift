import Foundation
import FovealTestSupport
import Testing

/// `eval` and `train` on an MPIIFaceGaze-layout folder written by `Tests/Fixtures/make_mpiifacegaze.py`.
@Suite struct MPIIFaceGazeCommands {
    let root = Fixtures.path("mpiifacegaze")
    let weights = Fixtures.path("model/depth6.weights.safetensors")
    var expected: [String: Any] {
        try! JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("mpiifacegaze.expected.json")))) as! [String: Any]
    }

    /// The errors `eval` reports equal ones computed here from its per-frame predictions and the
    /// generator's own geometry (its labels, targets, face centres and screen poses).
    @Test func evalCountsFramesAndItsErrorsMatchAnIndependentComputation() throws {
        let predictions = Fixtures.temporaryDirectory() + "/p.jsonl"
        let run = try Run(["eval", "--dataset", root, "--weights", weights, "--json", "--predictions", predictions])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let frames = expected["frames"] as! [String: [String: Any]], people = expected["participants"] as! [String: [String: Any]]
        var cm: [String: [Double]] = [:], degrees: [String: [Double]] = [:]
        for line in try String(contentsOfFile: predictions, encoding: .utf8).split(separator: "\n") {
            let row = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let key = String((row["image"] as! String).dropFirst(root.count + 1)), person = String(key.prefix(3))
            let truth = try #require(frames[key]), p = try #require(people[person])
            let (label, predicted) = (truth["label_cm"] as! [Double], row["predicted_cm"] as! [Double])
            cm[person, default: []].append(hypot(predicted[0] - label[0], predicted[1] - label[1]))
            // The prediction back on the screen plane: screen mm from the camera's foot, then R s + T.
            let R = p["R"] as! [[Double]], T = p["T"] as! [Double]
            let foot = (0..<3).map { j in -(0..<3).map { R[$0][j] * T[$0] }.reduce(0, +) }
            let s = [foot[0] + predicted[0] * 10, foot[1] - predicted[1] * 10, 0]
            let point = (0..<3).map { i in T[i] + (0..<3).map { R[i][$0] * s[$0] }.reduce(0, +) }
            let fc = truth["fc_mm"] as! [Double], gt = truth["gt_mm"] as! [Double]
            let a = (0..<3).map { gt[$0] - fc[$0] }, b = (0..<3).map { point[$0] - fc[$0] }
            let cosine = (0..<3).map { a[$0] * b[$0] }.reduce(0, +) / (a.map { $0 * $0 }.reduce(0, +) * b.map { $0 * $0 }.reduce(0, +)).squareRoot()
            degrees[person, default: []].append(acos(max(-1, min(1, cosine))) * 180 / .pi)
        }
        func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(v.count) }
        let overall = try #require(report["overall"] as? [String: Any]), overallDegrees = try #require(report["overall_degrees"] as? [String: Any])
        #expect(overall["frames"] as? Int == 16 && overallDegrees["frames"] as? Int == 16)
        #expect(abs((overall["mean_cm"] as! Double) - mean(cm.values.flatMap { $0 })) < 0.01)
        #expect(abs((overallDegrees["mean_deg"] as! Double) - mean(degrees.values.flatMap { $0 })) < 0.01)
        let perPerson = try #require(report["families_degrees"] as? [String: [String: Any]])
        let perPersonCm = try #require(report["families"] as? [String: [String: Any]])
        for person in ["p00", "p01"] {
            #expect(perPersonCm[person]?["frames"] as? Int == 8)
            #expect(abs((perPersonCm[person]?["mean_cm"] as! Double) - mean(cm[person]!)) < 0.01)
            #expect(abs((perPerson[person]?["mean_deg"] as! Double) - mean(degrees[person]!)) < 0.01)
        }
        // Calibration on the first K targets of each day, in cm and degrees.
        let calibrated = try Run(["eval", "--dataset", root, "--weights", weights, "--calibrate", "2", "--json"])
        #expect(calibrated.status == 0, "\(calibrated.stderr)")
        let c = try #require(try JSONSerialization.jsonObject(with: Data(calibrated.stdout.utf8)) as? [String: Any])
        #expect(c["recordings"] as? Int == 4)
        #expect((c["calibrated_degrees"] as? [String: [String: Any]])?["all"]?["frames"] as? Int == 8)
    }

    @Test func trainingLeavesOnePersonOutAndEvalLoadsTheModel() throws {
        let out = Fixtures.temporaryDirectory() + "/run"
        let train = try Run(["train", "--dataset", root, "--hold-out", "p01", "--out", out, "--epochs", "1", "--batch", "2"])
        #expect(train.status == 0, "\(train.stderr)")
        #expect(train.stdout.contains("training on 4 frames"), "\(train.stdout)")  // p00's first day; its second validates
        let eval = try Run(["eval", "--dataset", root, "--test-person", "p01", "--weights", out + "/best.safetensors", "--json"])
        #expect(eval.status == 0, "\(eval.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Any])
        #expect((report["families"] as? [String: Any])?.keys.sorted() == ["p01"])
        let refused = try Run(["train", "--dataset", root, "--out", out + "2"])
        #expect(refused.status == 1 && refused.stderr.contains("give --hold-out pXX"))
    }
}
