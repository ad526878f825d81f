import ArgumentParser
import Foundation
import FovealCalibration
import FovealIO

extension Foveal {
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
                    let rows = try database.open().calibrationRows(user: user)
                    if json {
                        emit(JSONOutput.line(rows))
                        return
                    }
                    let table: [[String: Any]] = rows.map {
                        ["id": $0.id, "user": $0.user, "screen": $0.screen, "method": $0.method, "model": StoredCalibration.short($0.model),
                         "leave_one_out_error_cm": String(format: "%.3f", $0.leaveOneOutErrorCm),
                         "uncalibrated_error_cm": String(format: "%.3f", $0.uncalibratedErrorCm), "active": $0.active]
                    }
                    printRows(table, columns: ["id", "user", "screen", "method", "model", "leave_one_out_error_cm", "uncalibrated_error_cm", "active"], json: false)
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
                    emit(jsonLine(["id": id, "method": c.method, "session": c.sessionId, "active": c.active, "model": c.model,
                                   "leave_one_out_error_cm": c.leaveOneOutErrorCm, "uncalibrated_error_cm": c.uncalibratedErrorCm,
                                   "parameters": try c.decoded().parameters.count]))
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
