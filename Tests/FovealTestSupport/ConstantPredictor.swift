import Foundation
import FovealIO
import FovealTensor

/// Weights of a model that predicts the same point for every frame: its error is known in closed form.
public func constantPredictorWeights(xCm: Double, yCm: Double) throws -> String {
    let file = try SafeTensorsFile(path: Fixtures.path("model/no_sampler.weights.safetensors"))
    var tensors = try file.names.filter { file.entries[$0]!.dtype != .i64 }.map { (name: $0, tensor: try file.tensor($0)) }
    let w = tensors.firstIndex { $0.name == "task.classifier.6.weight" }!, b = tensors.firstIndex { $0.name == "task.classifier.6.bias" }!
    tensors[w].tensor = Tensor(zeros: tensors[w].tensor.shape)
    // (sigmoid(b) * 2 - 1) * 30 = gaze  <=>  b = logit((gaze / 30 + 1) / 2)
    let logit = { (v: Double) in Float(log((v / 30 + 1) / 2 / (1 - (v / 30 + 1) / 2))) }
    tensors[b].tensor = Tensor(shape: [2], values: [logit(xCm), logit(yCm)])
    let path = Fixtures.temporaryDirectory() + "/constant.safetensors"
    try SafeTensorsWriter.write(tensors, metadata: file.metadata, to: path)
    return path
}

