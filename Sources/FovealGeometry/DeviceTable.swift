import Foundation

/// The table of known screens (`calibration/devices.csv`): every device of GazeCapture plus
/// common desktop screens. The binary carries the table (`DeviceTable.builtin`), so it works from
/// anywhere; a CSV of the same format loads with `DeviceTable(csv:source:)`.
public struct DeviceTable: Sendable {
    public let devices: [ScreenGeometry]

    /// The columns a table needs, in any order.
    public static let columns = ["name", "family", "width_mm", "height_mm", "width_units", "height_units",
                                 "unit", "camera_x_mm", "camera_y_mm"]

    /// Parses a table; lines starting with `#` are comments. `source` names the file in errors.
    public init(csv: String, source: String) throws {
        var header: [String]?
        var devices: [ScreenGeometry] = []
        for (index, raw) in csv.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
            guard let names = header else {
                if let missing = Self.columns.first(where: { !fields.contains($0) }) {
                    throw GeometryError("\(source): line \(index + 1): header lacks column '\(missing)'")
                }
                header = fields
                continue
            }
            guard fields.count == names.count else {
                throw GeometryError("\(source): line \(index + 1): \(fields.count) fields, the header has \(names.count)")
            }
            // Every required column is in the header (checked above), so a missing key reads as empty.
            let row = Dictionary(zip(names, fields), uniquingKeysWith: { a, _ in a })
            func text(_ column: String) -> String { row[column] ?? "" }
            func number(_ column: String) throws -> Double {
                guard let v = Double(text(column)), v.isFinite else {
                    throw GeometryError("\(source): line \(index + 1): \(column) '\(text(column))' is not a number")
                }
                return v
            }
            guard let unit = ScreenUnit(rawValue: text("unit")) else {
                throw GeometryError("\(source): line \(index + 1): unit '\(text("unit"))' is not pt or px")
            }
            let screen = ScreenGeometry(
                name: text("name"), family: text("family"), widthMm: try number("width_mm"),
                heightMm: try number("height_mm"), widthUnits: try number("width_units"),
                heightUnits: try number("height_units"), unit: unit,
                cameraXMm: try number("camera_x_mm"), cameraYMm: try number("camera_y_mm"))
            if let problem = screen.problem {
                throw GeometryError("\(source): line \(index + 1) (\(screen.name)): \(problem)")
            }
            devices.append(screen)
        }
        guard header != nil else { throw GeometryError("\(source): no header line") }
        self.devices = devices
    }

    /// Reads a table from a file.
    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GeometryError("\(path): cannot read")
        }
        try self.init(csv: String(decoding: data, as: UTF8.self), source: path)
    }

    /// The device called `name` (GazeCapture's `DeviceName`), if known.
    public subscript(name: String) -> ScreenGeometry? { devices.first { $0.name == name } }

    /// The table compiled into the binary: `calibration/devices.csv` as of the build.
    public static let builtin: DeviceTable = try! DeviceTable(csv: builtinCSV, source: "calibration/devices.csv")
}

/// A geometry table or screen that cannot be used; the message names the source.
public struct GeometryError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
