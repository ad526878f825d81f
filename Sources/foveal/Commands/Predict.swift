import ArgumentParser
import Foundation
import FovealIO
import FovealModel
import FovealTensor

extension Foveal {
    struct Predict: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Predict the gaze point (camera-space cm) for each image.")

        @OptionGroup var weights: ModelOptions

        @Flag(help: "One JSON object per image: {\"image\": PATH, \"gaze_cm\": [x, y]}, plus \"presence\" (0-1, a face with open eyes in view) and \"face\" (presence of 0.5 or more) with a model that has the presence head.")
        var json = false

        @Option(help: "Write DIR/<image name>.safetensors with the saliency map, grid, resampled image, gaze, penultimate features and the heads' probabilities (the path joined with _ where two images share a name).")
        var dump: String?

        @Argument(help: "PNG or JPEG images.")
        var images: [String]

        func validate() throws {
            if images.isEmpty { throw ValidationError("name at least one image") }
        }

        func run() throws {
            try reportingErrors {
                Engine.setUp()
                let model = try weights.load()
                if let dump { try createDirectory(dump) }
                var failures = 0
                for (path, stem) in zip(images, outputStems(for: images)) {
                    do {
                        let output = model(try ImageNormalization.pixelBatch([RGBImage(contentsOf: path)]))
                        let estimate = output.estimate(0), gaze = estimate.point
                        if json {
                            var line: [String: Any] = ["image": path, "gaze_cm": [gaze.xCm, gaze.yCm]]
                            if let presence = estimate.presence { (line["presence"], line["face"]) = (presence, estimate.sawFace) }
                            if estimate.presence != nil, let faceInView = estimate.faceInView {
                                (line["face_in_view"], line["eyes_closed"]) = (faceInView, estimate.faceState == .eyesClosed)
                            }
                            emit(jsonLine(line))
                        } else {
                            let presence = estimate.presence.map {
                                String(format: ", presence %.2f%@", $0, estimate.sawFace ? "" : " (\(estimate.faceState.rawValue))")
                            } ?? ""
                            emit("\(path): x \(String(format: "%.2f", gaze.xCm)) cm, y \(String(format: "%.2f", gaze.yCm)) cm\(presence)")
                        }
                        if let dump { try write(output, for: path, into: "\(dump)/\(stem).safetensors") }
                    } catch {
                        printError("foveal: \(error)")
                        failures += 1
                    }
                }
                if failures > 0 { throw ExitCode.failure }
            }
        }

        private func write(_ output: GazeNet.Output, for image: String, into file: String) throws {
            var tensors: [(name: String, tensor: Tensor)] = []
            if let s = output.saliency { tensors.append(("saliency", s)) }
            if let g = output.grid { tensors.append(("grid", g)) }
            tensors.append(("resampled", output.resampled))
            tensors.append(("gaze_cm", output.gazeCm))
            if let f = output.features { tensors.append(("features", f)) }
            if let p = output.presence { tensors.append(("presence", p)) }
            if let p = output.faceInView { tensors.append(("face_in_view", p)) }
            try SafeTensorsWriter.write(tensors, metadata: ["image": image], to: file)
        }
    }
}
