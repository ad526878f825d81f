import Foundation
import FovealCalibration
import FovealGeometry
import Hummingbird
import HummingbirdWebSocket

/// The calibration store over HTTP: the same users, screens and calibrations the CLI's
/// `foveal user|screen|calibration` commands see (SQLite in WAL mode, so both run together).
extension GazeService {
    package struct NewUser: Decodable { package var name: String }

    /// A screen from a `calibration/devices.csv` preset, or measured: size in mm and pixels and
    /// the camera's centre from the screen's top-left corner in mm.
    package struct NewScreen: Decodable {
        var name: String
        var preset: String?
        var widthMm: Double?, heightMm: Double?
        var widthPx: Double?, heightPx: Double?
        var cameraXMm: Double?, cameraYMm: Double?
        var orientation: Int?
    }

    package struct NewCalibration: Decodable {
        package var user: String
        package var screen: String
        /// A script name from `calibration/` (default "9-point").
        var script: String?
    }

    func addStoreRoutes(to router: Router<BasicWebSocketRequestContext>) {
        router.get("/v1/users") { [store] _, _ in
            ServiceJSON.response(["users": try store.users()])
        }
        router.post("/v1/users") { [store] request, _ in
            let body = try await ServiceJSON.decode(NewUser.self, from: request)
            return ServiceJSON.response(try store.addUser(body.name), status: .created)
        }
        router.get("/v1/screens") { [store] _, _ in
            ServiceJSON.response(["screens": try store.screens()])
        }
        router.get("/v1/screens/{name}") { [store] _, context in
            ServiceJSON.response(try store.screen(try context.parameters.require("name")))
        }
        router.post("/v1/screens") { [store] request, _ in
            let body = try await ServiceJSON.decode(NewScreen.self, from: request)
            return ServiceJSON.response(try store.addScreen(try Self.screen(body)), status: .created)
        }
        router.get("/v1/calibrations") { [self] request, _ in
            ServiceJSON.response(["calibrations": try store.calibrationRows(user: request.uri.queryParameters.get("user"))])
        }
        router.post("/v1/calibrations") { [self] request, _ in
            let body = try await ServiceJSON.decode(NewCalibration.self, from: request)
            let user = try store.user(body.user), screen = try store.screen(body.screen)
            let name = body.script ?? "9-point"
            let script = try CalibrationScript(contentsOf: try scriptPath(name))
            return ServiceJSON.response(try runner.start(user: user, screen: screen, script: script, scriptName: name), status: .accepted)
        }
        router.post("/v1/calibrations/{id}/activate") { [self] _, context in
            let text = try context.parameters.require("id")
            guard let id = Int64(text) else { throw ServiceError(.badRequest, "calibration id '\(text)' is not a number") }
            try store.activate(id)
            let activated = try store.calibration(id)
            if let display = pipeline.display, display.user.id == activated.userId, display.screen.id == activated.screenId {
                try pipeline.setCalibration(activated)
            }
            return ServiceJSON.response(try store.calibrationRows().first { $0.id == id })
        }
        router.get("/v1/calibrations/run") { [runner] _, _ in
            guard let status = runner.status else { throw ServiceError(.notFound, "no calibration has run since the service started") }
            return ServiceJSON.response(status)
        }
        router.get("/v1/calibration-scripts") { [self] _, _ in
            ServiceJSON.response(["scripts": scriptNames()])
        }
    }

    package static func screen(_ body: NewScreen) throws -> Screen {
        let description = Screen.Description(name: body.name, preset: body.preset, widthMm: body.widthMm, heightMm: body.heightMm,
                                             widthPx: body.widthPx, heightPx: body.heightPx, cameraXMm: body.cameraXMm,
                                             cameraYMm: body.cameraYMm, orientation: body.orientation ?? 1)
        return try Screen(description, missing: "give 'preset', or all of width_mm, height_mm, width_px, height_px, camera_x_mm, camera_y_mm")
    }

    /// Script names only, never paths: a request cannot make the service read another file.
    func scriptPath(_ name: String) throws -> String {
        let allowed = name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }
        guard !name.isEmpty, allowed, let directory = configuration.scriptsDirectory,
              FileManager.default.fileExists(atPath: "\(directory)/\(name).json") else {
            throw ServiceError(.badRequest, "no calibration script '\(name)' (see GET /v1/calibration-scripts)")
        }
        return "\(directory)/\(name).json"
    }

    func scriptNames() -> [String] {
        guard let directory = configuration.scriptsDirectory,
              let files = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        return files.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
    }
}
