import ArgumentParser
import Foundation
import FovealCalibration

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
}
