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
                abstract: "Add a screen from a calibration/devices.csv preset, measured values, or the monitor's own EDID.",
                discussion: """
                    --detect reads the physical size and native resolution of a connected monitor from its \
                    EDID (/sys/class/drm/*/edid): the preferred detailed timing's mm, else the basic block's \
                    cm. With several monitors connected, name one with --output (they are listed). The camera \
                    offset is asked for on a terminal, and otherwise (or when the answer is empty) taken as \
                    centred on the top edge, 10 mm above the picture; --camera-mm sets it.
                    """)
            @OptionGroup var database: DatabaseOptions
            @Argument(help: "A name for the screen.") var name: String
            @Option(help: "A device of calibration/devices.csv, e.g. \"Laptop 14in 1920x1080\" or \"iPad Air 2\".") var preset: String?
            @Option(help: "Width and height in mm, e.g. 309.9x174.3.") var sizeMm: String?
            @Option(help: "Width and height in pixels, e.g. 1920x1080.") var pixels: String?
            @Option(help: "Camera centre from the screen's top-left corner in mm, x,y (negative y: above the screen; a negative x, for a camera left of the screen, is written --camera-mm=-200,-50).") var cameraMm: String?
            @Option(help: "Orientation 1-4 (GazeCapture's codes).") var orientation = 1
            @Flag(help: "Read the size and resolution from a connected monitor's EDID.") var detect = false
            @Option(help: "With --detect: the output (connector) to read, e.g. DP-1 or eDP-1.") var output: String?
            @Option(help: "Read the size and resolution from this EDID file instead.") var edid: String?
            @Option(help: .hidden) var drmRoot = "/sys/class/drm"

            func validate() throws {
                if (detect || edid != nil) && (preset != nil || sizeMm != nil || pixels != nil) {
                    throw ValidationError("--detect and --edid read the size and pixels: leave out --preset, --size-mm and --pixels")
                }
                if output != nil && !detect { throw ValidationError("--output needs --detect") }
                if detect && edid != nil { throw ValidationError("give --detect or --edid, not both") }
            }

            func run() throws {
                try reportingErrors {
                    var description = Screen.Description(name: name, preset: preset, orientation: orientation)
                    if let display = try detectedDisplay() {
                        emit("read \(display.summary)")
                        (description.widthMm, description.heightMm) = (display.widthMm, display.heightMm)
                        guard let w = display.nativeWidthPx, let h = display.nativeHeightPx else {
                            throw CommandFailure("the EDID has no detailed timing, so no native resolution: give --size-mm and --pixels instead")
                        }
                        (description.widthPx, description.heightPx) = (Double(w), Double(h))
                        let centred = (display.widthMm / 2, -10.0)
                        let camera = try cameraMm.map { text in
                            guard let p = pair(text, ",") else { throw CommandFailure("--camera-mm must look like 259,-10") }
                            return p
                        } ?? askCameraOffset(default: centred)
                        (description.cameraXMm, description.cameraYMm) = camera
                    } else if preset == nil {
                        if let size = sizeMm.flatMap({ pair($0, "x") }) { (description.widthMm, description.heightMm) = size }
                        if let px = pixels.flatMap({ pair($0, "x") }) { (description.widthPx, description.heightPx) = px }
                        if let cam = cameraMm.flatMap({ pair($0, ",") }) { (description.cameraXMm, description.cameraYMm) = cam }
                    }
                    let screen = try Screen(description, missing: "give --preset, or all of --size-mm WxH, --pixels WxH and --camera-mm X,Y")
                    let s = try database.open().addScreen(screen)
                    emit("added screen '\(s.name)': \(s.widthMm) x \(s.heightMm) mm, " + String(format: "%.0f x %.0f ", s.widthUnits, s.heightUnits) + s.unit)
                }
            }

            /// The EDID `--detect` or `--edid` names, or nil without either.
            private func detectedDisplay() throws -> EDID? {
                if let edid { return try EDID(contentsOf: edid) }
                guard detect else { return nil }
                let outputs = EDID.connectedOutputs(root: drmRoot)
                let listing = outputs.map { "  \($0.name): " + ((try? $0.edid.get())?.summary ?? "unreadable EDID") }.joined(separator: "\n")
                if let output {
                    guard let chosen = outputs.first(where: { $0.name == output }) else {
                        throw CommandFailure("no connected output '\(output)' with an EDID" + (outputs.isEmpty ? "" : "; connected:\n" + listing))
                    }
                    return try chosen.edid.get()
                }
                switch outputs.count {
                case 0: throw CommandFailure("no connected monitor reports an EDID under \(drmRoot): give --size-mm, --pixels and --camera-mm")
                case 1: return try outputs[0].edid.get()
                default: throw CommandFailure("\(outputs.count) monitors are connected; choose one with --output:\n" + listing)
                }
            }

            /// On a terminal, asks where the camera is; elsewhere, or on an empty answer, `centred`.
            private func askCameraOffset(default centred: (Double, Double)) throws -> (Double, Double) {
                let fallback = String(format: "%.1f,%.0f", centred.0, centred.1)
                guard isatty(0) == 1 else {
                    emit("camera assumed centred on the top edge, at \(fallback) mm from the picture's top-left corner (set it with --camera-mm X,Y)")
                    return centred
                }
                print("camera centre from the picture's top-left corner in mm, x,y (negative y: above) [\(fallback)]: ", terminator: "")
                guard let answer = readLine()?.trimmingCharacters(in: .whitespaces), !answer.isEmpty else { return centred }
                guard let p = pair(answer, ",") else { throw CommandFailure("'\(answer)' is not x,y in mm") }
                return p
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
