import ArgumentParser
import Foundation
import FovealIO
import FovealCapture

extension Foveal {
    struct Cameras: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the V4L2 cameras with their formats, sizes and frame rates.")

        @Flag(help: "Print the list as JSON.") var json = false

        func run() throws {
            let cameras = V4L2Camera.list()
            if json {
                emit(JSONOutput.line(cameras))
                return
            }
            if cameras.isEmpty { emit("no V4L2 capture devices found under /dev/video*") }
            for camera in cameras {
                emit("\(camera.path): \(camera.card) (driver \(camera.driver), \(camera.bus))")
                for format in Set(camera.modes.map(\.pixelFormat)).sorted() {
                    let modes = camera.modes.filter { $0.pixelFormat == format }
                    let sizes = modes.map { m in "\(m.width)x\(m.height)" + (m.framesPerSecond.last.map { String(format: "@%g", $0) } ?? "") }
                    emit("  \(format)\(modes.first!.emulated ? " (converted by libv4l2)" : ""): \(sizes.joined(separator: " "))")
                }
            }
        }
    }
}
