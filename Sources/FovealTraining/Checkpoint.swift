import Foundation
import FovealIO
import FovealModel
import FovealTensor

/// Saving and loading model weights in the PyTorch `state_dict` layout, with the configuration
/// in the header (so `GazeNet(weightsAt:)` and PyTorch both read the file).
public enum Checkpoint {
    /// Writes every parameter and buffer of `model`, with `config` and any `extra` metadata.
    public static func save(_ model: GazeNet, to path: String, metadata extra: [String: String] = [:]) throws {
        var metadata = extra
        metadata["config"] = model.config.json
        try SafeTensorsWriter.write(model.parameters.map { ($0.name, $0.value) }, metadata: metadata, to: path)
    }

    /// What `loadMatching` did: which names it took, and why it left the others.
    public struct LoadReport: Sendable, CustomStringConvertible {
        public var loaded: [String] = []
        public var shapeMismatch: [String] = []
        public var notInFile: [String] = []
        public var unused: [String] = []

        public var description: String {
            var lines = ["loaded \(loaded.count) tensors"]
            if !shapeMismatch.isEmpty { lines.append("skipped \(shapeMismatch.count) of another shape: \(shapeMismatch.prefix(5).joined(separator: ", "))\(shapeMismatch.count > 5 ? ", ..." : "")") }
            if !notInFile.isEmpty { lines.append("\(notInFile.count) model tensors not in the file (kept as initialised)") }
            if !unused.isEmpty { lines.append("\(unused.count) file tensors unused: \(unused.prefix(5).joined(separator: ", "))\(unused.count > 5 ? ", ..." : "")") }
            return lines.joined(separator: "; ")
        }
    }

    /// Copies every tensor of `path` whose name and shape fit a parameter of `model` (for
    /// example torchvision's ImageNet ResNet-18 or AlexNet exported to safetensors); `prefix` is
    /// put before the file's names ("saliency." for a bare ResNet-18, "task." for AlexNet).
    public static func loadMatching(_ path: String, into model: GazeNet, prefix: String = "") throws -> LoadReport {
        let file = try SafeTensorsFile(path: path)
        var report = LoadReport()
        var used = Set<String>()
        for p in model.parameters {
            let fileName = p.name.hasPrefix(prefix) ? String(p.name.dropFirst(prefix.count)) : nil
            guard let fileName, let entry = file.entries[fileName], entry.dtype.isFloatingPoint else {
                report.notInFile.append(p.name)
                continue
            }
            used.insert(fileName)
            guard entry.shape == p.value.shape else {
                report.shapeMismatch.append("\(p.name) \(entry.shape) vs \(p.value.shape)")
                continue
            }
            p.value = try file.tensor(fileName)
            report.loaded.append(p.name)
        }
        report.unused = file.names.filter { !used.contains($0) && file.entries[$0]?.dtype.isFloatingPoint == true }
        return report
    }
}
