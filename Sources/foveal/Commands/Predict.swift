import ArgumentParser
import Foundation
import FovealIO
import FovealModel
import FovealTensor

extension Foveal {
    struct Predict: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Predict the gaze point (camera-space cm) for each image.")

        @Option(help: "Model weights (.safetensors with the configuration in its metadata; default: the shipped model).")
        var weights: String?

        @Flag(help: "One JSON object per image: {\"image\": PATH, \"gaze_cm\": [x, y]}.")
        var json = false

        @Option(help: "Write DIR/<image name>.safetensors with the saliency map, grid, resampled image and gaze (the path joined with _ where two images share a name).")
        var dump: String?

        @Argument(help: "PNG or JPEG images.")
        var images: [String]

        func validate() throws {
            if images.isEmpty { throw ValidationError("name at least one image") }
        }

        func run() throws {
            try reportingErrors {
                BLAS.configure()
                let model = try GazeNet(weightsAt: try ShippedModel.resolve(weights))
                if let dump { try createDirectory(dump) }
                var failures = 0
                for (path, stem) in zip(images, outputStems(for: images)) {
                    do {
                        let frame = try ImageNormalization.pixelBatch([RGBImage(contentsOf: path)])
                        let output = model(frame)
                        let (x, y) = (output.gazeCm[flat: 0], output.gazeCm[flat: 1])
                        if json {
                            emit(jsonLine(["image": path, "gaze_cm": [Double(x), Double(y)]]))
                        } else {
                            emit("\(path): x \(String(format: "%.2f", x)) cm, y \(String(format: "%.2f", y)) cm")
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
            try SafeTensorsWriter.write(tensors, metadata: ["image": image], to: file)
        }
    }
}

/// One output file name (without extension) per input image: its name without the extension, or,
/// where two inputs share that name (`a/frames/00030.jpg`, `b/frames/00030.jpg`), the path's
/// folders joined in front of it (`a_frames_00030`), so that no output overwrites another.
func outputStems(for paths: [String]) -> [String] {
    let withoutExtensions = paths.map { ($0 as NSString).deletingPathExtension }
    let stems = withoutExtensions.map { ($0 as NSString).lastPathComponent }
    let counts = Dictionary(stems.map { ($0, 1) }, uniquingKeysWith: +)
    return zip(withoutExtensions, stems).map { path, stem in
        counts[stem, default: 0] > 1 ? path.split(separator: "/").filter { $0 != "." && $0 != ".." }.joined(separator: "_") : stem
    }
}

/// Creates a directory (and its parents) or explains why it cannot.
func createDirectory(_ path: String) throws {
    do {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    } catch {
        throw CommandFailure("\(path): cannot create directory: \(error.localizedDescription)")
    }
}

/// One compact JSON object, keys sorted, on one line.
func jsonLine(_ object: [String: Any]) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
    return String(decoding: data, as: UTF8.self)
}
