import ArgumentParser
import Foundation
import FovealIO
import FovealModel
import FovealTensor

extension Foveal {
    struct Visualize: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Draw the paper's Fig. 4 for each image: input, saliency map, sampling grid, resampled image.")

        @OptionGroup var weights: ModelOptions
        @Option(help: "Output folder for <image name>.png (the path joined with _ where two images share a name).") var out: String
        @Option(help: "Panel height in pixels.") var height = 320
        @Argument(help: "PNG or JPEG images.") var images: [String]

        func validate() throws {
            if images.isEmpty { throw ValidationError("name at least one image") }
            if height < 32 || height > 4096 { throw ValidationError("--height must be in 32...4096") }
        }

        func run() throws {
            try reportingErrors {
                Engine.setUp()
                let model = try weights.load()
                try createDirectory(out)
                var failures = 0
                for (path, stem) in zip(images, outputStems(for: images)) {
                    do {
                        let figure = try SamplerFigure.render(model, frame: try RGBImage(contentsOf: path), panelHeight: height)
                        let target = "\(out)/\(stem).png"
                        try figure.writePNG(to: target)
                        emit(target)
                    } catch {
                        printError("foveal: \(error)")
                        failures += 1
                    }
                }
                if failures > 0 { throw ExitCode.failure }
            }
        }
    }
}
