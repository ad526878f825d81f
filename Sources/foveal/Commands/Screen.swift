import ArgumentParser
import Foundation
import FovealCalibration
import FovealGeometry
import FovealIO

extension Foveal {
    struct ScreenCommand: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "screen", abstract: "Add, list, show or remove screens.",
                                                        subcommands: [Add.self, List.self, Show.self, Remove.self])

        struct Add: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Add a screen from a calibration/devices.csv preset or measured values.")
            @OptionGroup var database: DatabaseOptions
            @Argument(help: "A name for the screen.") var name: String
            @Option(help: "A device of calibration/devices.csv, e.g. \"Laptop 14in 1920x1080\" or \"iPad Air 2\".") var preset: String?
            @Option(help: "Width and height in mm, e.g. 309.9x174.3.") var sizeMm: String?
            @Option(help: "Width and height in pixels, e.g. 1920x1080.") var pixels: String?
            @Option(help: "Camera centre from the screen's top-left corner in mm, x,y (negative y: above the screen).") var cameraMm: String?
            @Option(help: "Orientation 1-4 (GazeCapture's codes).") var orientation = 1

            func run() throws {
                try reportingErrors {
                    var description = Screen.Description(name: name, preset: preset, orientation: orientation)
                    if preset == nil {
                        if let size = sizeMm.flatMap({ pair($0, "x") }) { (description.widthMm, description.heightMm) = size }
                        if let px = pixels.flatMap({ pair($0, "x") }) { (description.widthPx, description.heightPx) = px }
                        if let cam = cameraMm.flatMap({ pair($0, ",") }) { (description.cameraXMm, description.cameraYMm) = cam }
                    }
                    let screen = try Screen(description, missing: "give --preset, or all of --size-mm WxH, --pixels WxH and --camera-mm X,Y")
                    let s = try database.open().addScreen(screen)
                    emit("added screen '\(s.name)': \(s.widthMm) x \(s.heightMm) mm, " + String(format: "%.0f x %.0f ", s.widthUnits, s.heightUnits) + s.unit)
                }
            }

            func pair(_ text: String, _ separator: Character) -> (Double, Double)? {
                let parts = text.split(separator: separator).compactMap { Double($0) }
                return parts.count == 2 ? (parts[0], parts[1]) : nil
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List the screens.")
            @OptionGroup var database: DatabaseOptions
            @Flag(help: "JSON output.") var json = false
            func run() throws {
                try reportingErrors {
                    let rows: [[String: Any]] = try database.open().screens().map {
                        ["id": $0.id ?? 0, "name": $0.name, "size_mm": "\($0.widthMm)x\($0.heightMm)",
                         "units": String(format: "%.0fx%.0f ", $0.widthUnits, $0.heightUnits) + $0.unit, "camera_mm": "\($0.cameraXMm),\($0.cameraYMm)",
                         "orientation": $0.orientation]
                    }
                    printRows(rows, columns: ["id", "name", "size_mm", "units", "camera_mm", "orientation"], json: json)
                }
            }
        }

        struct Show: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Show a screen's geometry as JSON.")
            @OptionGroup var database: DatabaseOptions
            @Argument(help: "The screen's name.") var name: String
            func run() throws {
                try reportingErrors {
                    let s = try database.open().screen(name)
                    emit(String(decoding: try JSONOutput.encoder([.prettyPrinted]).encode(s), as: UTF8.self))
                }
            }
        }

        struct Remove: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Remove a screen.")
            @OptionGroup var database: DatabaseOptions
            @Argument(help: "The screen's name.") var name: String
            func run() throws { try reportingErrors { try database.open().removeScreen(name); emit("removed screen '\(name)'") } }
        }
    }
}
