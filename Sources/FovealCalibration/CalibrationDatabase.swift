import Foundation
import FovealGeometry
import GRDB

/// What goes wrong with the store: one line naming the database or the record.
public struct StoreError: Error, CustomStringConvertible, Equatable {
    /// What went wrong, for callers that answer differently (the service's HTTP status codes).
    public enum Kind: Sendable, Equatable { case invalid, notFound, conflict, storage }
    public let description: String
    public let kind: Kind
    public init(_ description: String, kind: Kind = .invalid) { (self.description, self.kind) = (description, kind) }
}

/// Foveal's SQLite store of users, screens, calibration sessions and fitted calibrations: one
/// file, WAL mode (readers never block the tracker), versioned migrations, each write one
/// transaction. Opening a file that is not Foveal's, or is locked, fails with a clear message.
public final class CalibrationDatabase: Sendable {
    private let writer: any DatabaseWriter
    public let path: String

    /// The default location: $FOVEAL_DB, else $XDG_DATA_HOME/foveal/foveal.sqlite
    /// (~/.local/share/foveal/foveal.sqlite).
    public static var defaultPath: String {
        let env = ProcessInfo.processInfo.environment
        if let path = env["FOVEAL_DB"] { return path }
        let base = env["XDG_DATA_HOME"] ?? (env["HOME"] ?? NSTemporaryDirectory()) + "/.local/share"
        return base + "/foveal/foveal.sqlite"
    }

    /// Opens (creating if needed) and migrates the database at `path`.
    public init(path: String, busyTimeoutSeconds: Double = 5) throws {
        self.path = path
        try? FileManager.default.createDirectory(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path,
                                                 withIntermediateDirectories: true)
        var config = Configuration()
        config.busyMode = .timeout(busyTimeoutSeconds)
        config.foreignKeysEnabled = true
        do {
            let pool = try DatabasePool(path: path, configuration: config)
            writer = pool
            try Self.checkOwnership(pool, path)
            try Self.migrator.migrate(pool)
        } catch let e as StoreError {
            throw e
        } catch let e as DatabaseError {
            throw Self.explain(e, path)
        }
    }

    /// An in-memory database (tests).
    public init(inMemory: Void = ()) throws {
        path = ":memory:"
        var config = Configuration()
        config.foreignKeysEnabled = true
        let queue = try DatabaseQueue(configuration: config)
        writer = queue
        try Self.migrator.migrate(queue)
    }

    /// The schema's history; migrations are never edited once shipped, only appended.
    public static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.create(table: "user") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("name", .text).notNull().unique()
                t.column("createdAt", .datetime).notNull()
            }
            try db.create(table: "screen") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("name", .text).notNull().unique()
                t.column("family", .text).notNull()
                t.column("widthMm", .double).notNull().check { $0 > 0 }
                t.column("heightMm", .double).notNull().check { $0 > 0 }
                t.column("widthUnits", .double).notNull().check { $0 > 0 }
                t.column("heightUnits", .double).notNull().check { $0 > 0 }
                t.column("unit", .text).notNull()
                t.column("cameraXMm", .double).notNull()
                t.column("cameraYMm", .double).notNull()
            }
            try db.create(table: "userScreen") { t in
                t.column("userId", .integer).notNull().references("user", onDelete: .cascade)
                t.column("screenId", .integer).notNull().references("screen", onDelete: .cascade)
                t.primaryKey(["userId", "screenId"])
            }
            try db.create(table: "calibrationSession") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("userId", .integer).notNull().indexed().references("user", onDelete: .cascade)
                t.column("screenId", .integer).notNull().references("screen", onDelete: .cascade)
                t.column("script", .text).notNull()
                t.column("camera", .text).notNull()
                t.column("startedAt", .datetime).notNull()
            }
            try db.create(table: "calibrationSample") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("sessionId", .integer).notNull().indexed().references("calibrationSession", onDelete: .cascade)
                t.column("targetIndex", .integer).notNull()
                t.column("targetXCm", .double).notNull()
                t.column("targetYCm", .double).notNull()
                t.column("predictionXCm", .double).notNull()
                t.column("predictionYCm", .double).notNull()
                t.column("features", .blob).notNull()
            }
            try db.create(table: "calibration") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("sessionId", .integer).notNull().references("calibrationSession", onDelete: .cascade)
                t.column("userId", .integer).notNull().indexed().references("user", onDelete: .cascade)
                t.column("screenId", .integer).notNull().references("screen", onDelete: .cascade)
                t.column("method", .text).notNull()
                t.column("parameters", .blob).notNull()
                t.column("leaveOneOutErrorCm", .double).notNull()
                t.column("uncalibratedErrorCm", .double).notNull()
                t.column("active", .boolean).notNull().defaults(to: false)
                t.column("createdAt", .datetime).notNull()
            }
        }
        m.registerMigration("v2-screen-orientation") { db in
            // Screens remember how they are turned (GazeCapture's orientation codes 1-4).
            try db.alter(table: "screen") { t in t.add(column: "orientation", .integer).notNull().defaults(to: 1) }
        }
        m.registerMigration("v3-calibration-model") { db in
            // A calibration belongs to the weights it was fitted on; rows from before are marked
            // unknown (''). The userScreen table was written and never read.
            try db.alter(table: "calibration") { t in t.add(column: "model", .text).notNull().defaults(to: "") }
            try db.drop(table: "userScreen")
        }
        return m
    }

    // MARK: Users

    public func addUser(_ name: String) throws -> User {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw StoreError("a user needs a name") }
        return try write { db in
            if try User.filter(User.Columns.name == trimmed).fetchOne(db) != nil { throw StoreError("user '\(trimmed)' exists already", kind: .conflict) }
            var u = User(name: trimmed)
            try u.insert(db)
            return u
        }
    }

    public func users() throws -> [User] { try read { try User.order(User.Columns.name).fetchAll($0) } }

    public func user(_ name: String) throws -> User {
        guard let u = try read({ try User.filter(User.Columns.name == name).fetchOne($0) }) else {
            throw StoreError("no user '\(name)' (see `foveal user list`)", kind: .notFound)
        }
        return u
    }

    /// Removes a user and everything recorded for them.
    public func removeUser(_ name: String) throws {
        let u = try user(name)
        _ = try write { try User.deleteOne($0, key: u.id) }
    }

    // MARK: Screens

    public func addScreen(_ screen: Screen) throws -> Screen {
        if let problem = screen.geometry.problem { throw StoreError("screen '\(screen.name)': \(problem)") }
        guard (1...4).contains(screen.orientation) else { throw StoreError("screen '\(screen.name)': orientation must be 1-4") }
        return try write { db in
            if try Screen.filter(Screen.Columns.name == screen.name).fetchOne(db) != nil { throw StoreError("screen '\(screen.name)' exists already", kind: .conflict) }
            var s = screen
            try s.insert(db)
            return s
        }
    }

    public func screens() throws -> [Screen] { try read { try Screen.order(Screen.Columns.name).fetchAll($0) } }

    public func screen(_ name: String) throws -> Screen {
        guard let s = try read({ try Screen.filter(Screen.Columns.name == name).fetchOne($0) }) else {
            throw StoreError("no screen '\(name)' (see `foveal screen list`)", kind: .notFound)
        }
        return s
    }

    public func removeScreen(_ name: String) throws {
        let s = try screen(name)
        _ = try write { try Screen.deleteOne($0, key: s.id) }
    }

    // MARK: Calibrations

    /// Stores a finished session with its samples and fits (made with the model `model`, see
    /// `GazeNet.identity()`), and activates the best fit: all in one transaction, so an
    /// interrupted session leaves no trace and earlier ones stay intact.
    @discardableResult
    public func saveSession(_ session: StoredSession, samples: [CalibrationSample], fits: [Calibration], model: String) throws -> [StoredCalibration] {
        try write { db in
            var s = session
            try s.insert(db)
            guard let sessionId = s.id else { throw StoreError("\(path): the session was not stored", kind: .storage) }
            for sample in samples {
                var stored = StoredSample(sessionId: sessionId, sample)
                try stored.insert(db)
            }
            try db.execute(sql: "UPDATE calibration SET active = 0 WHERE userId = ? AND screenId = ?", arguments: [s.userId, s.screenId])
            return try fits.enumerated().map { i, fit in
                var c = StoredCalibration(sessionId: sessionId, userId: s.userId, screenId: s.screenId, fit, active: i == 0, model: model)
                try c.insert(db)
                return c
            }
        }
    }

    /// The calibrations (of `user`, or everyone's) as lists show them, with user and screen names.
    public func calibrationRows(user: String? = nil) throws -> [CalibrationRow] {
        let users = Dictionary(uniqueKeysWithValues: try users().compactMap { u in u.id.map { ($0, u.name) } })
        let screens = Dictionary(uniqueKeysWithValues: try screens().compactMap { s in s.id.map { ($0, s.name) } })
        return try calibrations(user: user).map {
            CalibrationRow(id: $0.id ?? 0, user: users[$0.userId] ?? "?", screen: screens[$0.screenId] ?? "?", method: $0.method,
                           leaveOneOutErrorCm: $0.leaveOneOutErrorCm, uncalibratedErrorCm: $0.uncalibratedErrorCm,
                           active: $0.active, createdAt: $0.createdAt, model: $0.model)
        }
    }

    public func calibrations(user: String? = nil) throws -> [StoredCalibration] {
        let u = try user.map { try self.user($0) }
        return try read { db in
            var request = StoredCalibration.order(Column("id"))
            if let id = u?.id { request = request.filter(Column("userId") == id) }
            return try request.fetchAll(db)
        }
    }

    public func calibration(_ id: Int64) throws -> StoredCalibration {
        guard let c = try read({ try StoredCalibration.fetchOne($0, key: id) }) else { throw StoreError("no calibration \(id)", kind: .notFound) }
        return c
    }

    public func samples(session: Int64) throws -> [CalibrationSample] {
        try read { try StoredSample.filter(Column("sessionId") == session).fetchAll($0).map(\.sample) }
    }

    /// Makes calibration `id` the active one for its user and screen.
    public func activate(_ id: Int64) throws {
        let c = try calibration(id)
        try write { db in
            try db.execute(sql: "UPDATE calibration SET active = (id = ?) WHERE userId = ? AND screenId = ?", arguments: [id, c.userId, c.screenId])
        }
    }

    public func removeCalibration(_ id: Int64) throws {
        _ = try calibration(id)
        _ = try write { try StoredCalibration.deleteOne($0, key: id) }
    }

    /// The active calibration of a user on a screen, if any.
    public func activeCalibration(userId: Int64, screenId: Int64) throws -> StoredCalibration? {
        try read { try StoredCalibration.filter(Column("userId") == userId && Column("screenId") == screenId && Column("active") == true).fetchOne($0) }
    }

    /// Where `user` looks and how to correct it: `screen` if named, else the screen of their
    /// latest calibration, with its active calibration; nil when the user has calibrated nowhere yet.
    public func display(user name: String, screen screenName: String?) throws -> Display? {
        let person = try user(name)
        guard let id = person.id, let chosen = try screenName.map({ try screen($0) }) ?? lastCalibratedScreen(userId: id),
              let screenId = chosen.id else { return nil }
        return Display(user: person, screen: chosen, calibration: try activeCalibration(userId: id, screenId: screenId))
    }

    /// The screen of the user's most recent active calibration.
    public func lastCalibratedScreen(userId: Int64) throws -> Screen? {
        try read { db in
            guard let c = try StoredCalibration.filter(Column("userId") == userId && Column("active") == true)
                .order(Column("id").desc).fetchOne(db) else { return nil }
            return try Screen.fetchOne(db, key: c.screenId)
        }
    }

    /// `PRAGMA integrity_check`'s verdict.
    public func integrityCheck() throws -> String {
        try read { try String.fetchOne($0, sql: "PRAGMA integrity_check") ?? "" }
    }

    // MARK: Plumbing

    private func read<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try writer.read(body) } catch let e as DatabaseError { throw Self.explain(e, path) }
    }

    private func write<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try writer.write(body) } catch let e as DatabaseError { throw Self.explain(e, path) }
    }

    /// A database with tables but no Foveal migration history is someone else's.
    static func checkOwnership(_ pool: DatabasePool, _ path: String) throws {
        let (tables, migrated) = try pool.read { db in
            (try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"),
             try db.tableExists("grdb_migrations") ? try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations") : [])
        }
        if !tables.isEmpty && (!tables.contains("grdb_migrations") || !migrated.contains("v1")) {
            throw StoreError("\(path): not a Foveal database (it has tables \(tables.prefix(3).joined(separator: ", ")))", kind: .storage)
        }
        let known = Set(migrator.migrations)
        if let unknown = migrated.first(where: { !known.contains($0) }) {
            throw StoreError("\(path): written by a newer Foveal (migration '\(unknown)')", kind: .storage)
        }
    }

    static func explain(_ e: DatabaseError, _ path: String) -> StoreError {
        switch e.resultCode {
        case .SQLITE_BUSY, .SQLITE_LOCKED: StoreError("\(path): database is locked by another process", kind: .storage)
        case .SQLITE_NOTADB: StoreError("\(path): not a SQLite database", kind: .storage)
        case .SQLITE_CONSTRAINT: StoreError("\(path): \(e.message ?? "constraint failed")", kind: .storage)
        case .SQLITE_CANTOPEN: StoreError("\(path): cannot open the database", kind: .storage)
        default: StoreError("\(path): \(e.message ?? "\(e)")", kind: .storage)
        }
    }
}
