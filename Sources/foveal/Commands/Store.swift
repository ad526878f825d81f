import ArgumentParser
import Foundation
import FovealCalibration
import FovealGeometry

/// Where the calibration store is (shared by every command that uses it).
struct DatabaseOptions: ParsableArguments {
    @Option(help: "The calibration database (default: $FOVEAL_DB, else $XDG_DATA_HOME/foveal/foveal.sqlite).")
    var db: String?

    func open() throws -> CalibrationDatabase { try CalibrationDatabase(path: db ?? CalibrationDatabase.defaultPath) }
}

/// Prints `rows` as JSON or as an aligned table.
func printRows(_ rows: [[String: Any]], columns: [String], json: Bool) {
    if json {
        let data = (try? JSONSerialization.data(withJSONObject: rows, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        emit(String(decoding: data, as: UTF8.self))
        return
    }
    let widths = columns.map { c in max(c.count, rows.map { "\($0[c] ?? "")".count }.max() ?? 0) }
    emit(zip(columns, widths).map { $0.0.padding(toLength: $0.1, withPad: " ", startingAt: 0) }.joined(separator: "  "))
    for row in rows {
        emit(zip(columns, widths).map { "\(row[$0.0] ?? "")".padding(toLength: $0.1, withPad: " ", startingAt: 0) }.joined(separator: "  "))
    }
}

extension Foveal {
    struct UserCommand: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "user", abstract: "Add, list or remove users.",
                                                        subcommands: [Add.self, List.self, Remove.self])

        struct Add: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Add a user.")
            @OptionGroup var database: DatabaseOptions
            @Argument(help: "The user's name.") var name: String
            func run() throws { try reportingErrors { emit("added user '\(try database.open().addUser(name).name)'") } }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List the users.")
            @OptionGroup var database: DatabaseOptions
            @Flag(help: "JSON output.") var json = false
            func run() throws {
                try reportingErrors {
                    let rows: [[String: Any]] = try database.open().users().map { ["id": $0.id ?? 0, "name": $0.name] }
                    printRows(rows, columns: ["id", "name"], json: json)
                }
            }
        }

        struct Remove: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Remove a user and everything recorded for them.")
            @OptionGroup var database: DatabaseOptions
            @Argument(help: "The user's name.") var name: String
            func run() throws { try reportingErrors { try database.open().removeUser(name); emit("removed user '\(name)'") } }
        }
    }

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
                    let geometry: ScreenGeometry
                    if let preset {
                        guard let g = DeviceTable.builtin[preset] else { throw CommandFailure("no preset '\(preset)' in calibration/devices.csv") }
                        geometry = g
                    } else {
                        guard let size = sizeMm.flatMap({ pair($0, "x") }), let px = pixels.flatMap({ pair($0, "x") }),
                              let cam = cameraMm.flatMap({ pair($0, ",") }) else {
                            throw ValidationError("give --preset, or all of --size-mm WxH, --pixels WxH and --camera-mm X,Y")
                        }
                        geometry = ScreenGeometry(name: name, family: "monitor", widthMm: size.0, heightMm: size.1, widthUnits: px.0,
                                                  heightUnits: px.1, unit: .pixels, cameraXMm: cam.0, cameraYMm: cam.1)
                    }
                    guard let o = Orientation(rawValue: orientation) else { throw ValidationError("--orientation must be 1-4") }
                    let s = try database.open().addScreen(Screen(name: name, geometry: geometry, orientation: o))
                    emit("added screen '\(s.name)': \(s.widthMm) x \(s.heightMm) mm, \(Int(s.widthUnits)) x \(Int(s.heightUnits)) \(s.unit)")
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
                         "units": "\(Int($0.widthUnits))x\(Int($0.heightUnits)) \($0.unit)", "camera_mm": "\($0.cameraXMm),\($0.cameraYMm)",
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
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                    emit(String(decoding: try encoder.encode(s), as: UTF8.self))
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

    struct CalibrationCommand: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "calibration", abstract: "List, show, activate or remove calibrations.",
                                                        subcommands: [List.self, Show.self, Activate.self, Remove.self])

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List calibrations with their errors and which is active.")
            @OptionGroup var database: DatabaseOptions
            @Option(help: "Only this user's.") var user: String?
            @Flag(help: "JSON output.") var json = false
            func run() throws {
                try reportingErrors {
                    let store = try database.open()
                    let users = Dictionary(uniqueKeysWithValues: try store.users().map { ($0.id!, $0.name) })
                    let screens = Dictionary(uniqueKeysWithValues: try store.screens().map { ($0.id!, $0.name) })
                    let rows: [[String: Any]] = try store.calibrations(user: user).map {
                        ["id": $0.id ?? 0, "user": users[$0.userId] ?? "?", "screen": screens[$0.screenId] ?? "?", "method": $0.method,
                         "loo_error_cm": String(format: "%.3f", $0.leaveOneOutErrorCm),
                         "uncalibrated_cm": String(format: "%.3f", $0.uncalibratedErrorCm), "active": $0.active]
                    }
                    printRows(rows, columns: ["id", "user", "screen", "method", "loo_error_cm", "uncalibrated_cm", "active"], json: json)
                }
            }
        }

        struct Show: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Show one calibration as JSON.")
            @OptionGroup var database: DatabaseOptions
            @Argument(help: "The calibration's id.") var id: Int64
            func run() throws {
                try reportingErrors {
                    let c = try database.open().calibration(id)
                    emit(jsonLine(["id": id, "method": c.method, "session": c.sessionId, "active": c.active,
                                   "leave_one_out_error_cm": c.leaveOneOutErrorCm, "uncalibrated_error_cm": c.uncalibratedErrorCm,
                                   "parameters": c.calibration?.parameters.count ?? 0]))
                }
            }
        }

        struct Activate: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Make a calibration the active one for its user and screen.")
            @OptionGroup var database: DatabaseOptions
            @Argument(help: "The calibration's id.") var id: Int64
            func run() throws { try reportingErrors { try database.open().activate(id); emit("calibration \(id) is active") } }
        }

        struct Remove: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Remove a calibration.")
            @OptionGroup var database: DatabaseOptions
            @Argument(help: "The calibration's id.") var id: Int64
            func run() throws { try reportingErrors { try database.open().removeCalibration(id); emit("removed calibration \(id)") } }
        }
    }
}
