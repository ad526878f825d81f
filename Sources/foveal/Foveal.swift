import ArgumentParser
import Foundation

/// The `foveal` command: gaze tracking with a saliency-sampler gaze regressor.
@main
struct Foveal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "foveal",
        abstract: "Gaze tracking on Linux: Learning to Zoom's saliency sampler + AlexNet, in Swift.",
        subcommands: [Track.self, Cameras.self, Calibrate.self, UserCommand.self, ScreenCommand.self, CalibrationCommand.self, Predict.self, Eval.self, Train.self, Visualize.self, Synth.self, Bench.self, Serve.self]
    )
}
