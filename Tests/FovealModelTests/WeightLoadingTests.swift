import FovealIO
import FovealModel
import FovealTensor
import FovealTestSupport
import Testing

/// Weight files that do not fit their configuration are refused, naming the first misfit.
@Suite struct WeightLoading {
    let source = Fixtures.path("model/depth6.weights.safetensors")

    /// The fixture's tensors and metadata, changed by `edit`, written to a temporary file.
    func rewritten(_ edit: (inout [(name: String, tensor: Tensor)], inout [String: String]) -> Void) throws -> String {
        let path = Fixtures.temporaryDirectory() + "/w.safetensors"
        try rewriteSafeTensors(source, to: path, edit)
        return path
    }

    func loadError(_ path: String) -> String {
        do {
            _ = try GazeNet(weightsAt: path)
            return "loaded"
        } catch {
            return "\(error)"
        }
    }

    @Test func roundTripThroughWriterLoads() throws {
        let path = try rewritten { _, _ in }
        let a = try GazeNet(weightsAt: path), b = try GazeNet(weightsAt: source)
        let x = randomTensor([1, 3, 72, 96], seed: 1)
        #expect(maxError(a(x).gazeCm, b(x).gazeCm) == 0)
    }

    @Test func missingTensorIsNamed() throws {
        let path = try rewritten { t, _ in t.removeAll { $0.name == "saliency.layer1.0.bn2.running_var" } }
        let e = loadError(path)
        #expect(e.contains(path) && e.contains("missing tensor 'saliency.layer1.0.bn2.running_var'"), "\(e)")
    }

    @Test func wrongShapeIsNamed() throws {
        let path = try rewritten { t, _ in
            let i = t.firstIndex { $0.name == "task.classifier.4.weight" }!
            t[i].tensor = Tensor(zeros: [32, 31])
        }
        let e = loadError(path)
        #expect(e.contains("'task.classifier.4.weight' has shape [32, 31]") && e.contains("[32, 32]"), "\(e)")
    }

    @Test func extraTensorIsNamed() throws {
        let path = try rewritten { t, _ in t.append((name: "task.classifier.9.weight", tensor: Tensor(zeros: [2]))) }
        #expect(loadError(path).contains("'task.classifier.9.weight' has no place"))
    }

    @Test func configOfAnotherModelIsRefused() throws {
        let path = try rewritten { _, m in m["config"] = m["config"]!.replacingOccurrences(of: "\"depth\": 6", with: "\"depth\": 10") }
        #expect(loadError(path).contains("missing tensor 'saliency.layer2.0.conv1.weight'"))
    }

    @Test(arguments: [
        (nil, "no model configuration"),
        ("{\"task_size\": 96", "not valid JSON"),
        ("{\"task_size\": 96}", "missing field"),
        ("{\"task_size\": 96, \"saliency_size\": 64, \"depth\": 7, \"saliency_width\": 8, \"alex_widths\": [8,16,24,16,16], \"hidden\": 32, \"range_cm\": 30, \"sampler\": true}", "depth 7"),
        ("{\"task_size\": 20, \"saliency_size\": 64, \"depth\": 6, \"saliency_width\": 8, \"alex_widths\": [8,16,24,16,16], \"hidden\": 32, \"range_cm\": 30, \"sampler\": true}", "task_size 20"),
    ] as [(String?, String)])
    func badConfigurationIsExplained(_ config: String?, _ expected: String) throws {
        let path = try rewritten { _, m in m["config"] = config }
        let e = loadError(path)
        #expect(e.hasPrefix(path) && e.contains(expected), "\(e)")
    }
}
