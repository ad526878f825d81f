import Foundation
import FovealCalibration
import FovealGeometry
import FovealTestSupport
import GRDB
import Testing

func sample(_ target: Int, _ tx: Double, _ ty: Double, _ px: Double, _ py: Double) -> CalibrationSample {
    CalibrationSample(targetIndex: target, target: CameraSpacePoint(xCm: tx, yCm: ty), prediction: CameraSpacePoint(xCm: px, yCm: py),
                      features: [Float(px), Float(py), Float(px * py), 1])
}

@Suite struct Fitting {
    /// A prediction off by a fixed affine map (what kappa and a head offset do) is corrected exactly.
    @Test func affineRemovesAnAffineError() throws {
        var samples: [CalibrationSample] = []
        for (i, (x, y)) in [(-5.0, -2.0), (5, -2), (0, -8), (-5, -14), (5, -14), (0, -4)].enumerated() {
            for k in 0..<3 { samples.append(sample(i, x, y, 0.9 * x + 0.1 * y + 1.5 + Double(k) * 1e-3, 1.1 * y - 0.7)) }
        }
        let fits = CalibrationFitter.fitAll(samples)
        let affine = try #require(fits.first { $0.method == .affine })
        #expect(affine.leaveOneOutErrorCm < 0.05 && affine.uncalibratedErrorCm > 1)
        let p = affine.apply(CameraSpacePoint(xCm: 0.9 * 2 + 0.1 * -6 + 1.5, yCm: 1.1 * -6 - 0.7), features: [])
        #expect(abs(p.xCm - 2) < 0.01 && abs(p.yCm - -6) < 0.01)
        #expect(fits.first!.leaveOneOutErrorCm <= fits.last!.leaveOneOutErrorCm)
    }

    /// A repeatable number in [-1, 1] for each integer.
    func noise(_ i: Int) -> Double {
        let x = sin(Double(i) * 12.9898 + 78.233) * 43758.5453
        return (x - x.rounded(.down)) * 2 - 1
    }

    /// 13 targets of 3 frames each; `residual(target, feature0)` is what the network got wrong, and
    /// the features are per-target noise (feature 0 is what `residual` may depend on).
    func session(seed: Int, features d: Int, residual: (Int, Double) -> (Double, Double)) -> [CalibrationSample] {
        var samples: [CalibrationSample] = []
        for t in 0..<13 {
            let (x, y) = (Double(t % 4) * 3 - 4.5, -2 - Double(t / 4) * 3)
            let features = (0..<d).map { Float(noise(seed * 1000 + t * d + $0)) }
            let (dx, dy) = residual(t, Double(features[0]))
            for k in 0..<3 {
                let jitter = 0.2 * noise(seed * 7919 + t * 3 + k)
                samples.append(CalibrationSample(targetIndex: t, target: CameraSpacePoint(xCm: x, yCm: y),
                                                 prediction: CameraSpacePoint(xCm: x + dx + jitter, yCm: y + dy - jitter),
                                                 features: features.map { $0 + Float(0.01 * jitter) }))
            }
        }
        return samples
    }

    /// An offset plus per-target error the features know nothing about: the ridge's error is
    /// optimistic, and it should rarely be chosen for luck.
    @Test func theRidgeIsRarelyChosenForNoise() {
        var chosen = 0, lowest = 0
        for seed in 1...12 {
            let fits = CalibrationFitter.fitAll(session(seed: seed, features: 32) { t, _ in
                (1 + 0.8 * self.noise(t + 100 * seed), -0.5 + 0.8 * self.noise(t * 3 + 100 * seed))
            })
            #expect(fits.contains { $0.method == .ridge } && fits.contains { $0.method == .affine })
            if fits.first?.method == .ridge { chosen += 1 }
            if fits.min(by: { $0.leaveOneOutErrorCm < $1.leaveOneOutErrorCm })?.method == .ridge { lowest += 1 }
        }
        #expect(chosen <= 2 && chosen < lowest, "ridge chosen \(chosen) times, lowest error \(lowest) times")
    }

    /// An error that follows a feature (no camera-space map can see it) is the ridge's to fix.
    @Test func theRidgeIsChosenWhenTheFeaturesExplainTheError() throws {
        let fits = CalibrationFitter.fitAll(session(seed: 3, features: 4) { _, f in (3 * f, -2 * f) })
        let first = try #require(fits.first)
        #expect(first.method == .ridge)
        #expect(first.leaveOneOutErrorCm < 0.5 * first.uncalibratedErrorCm)
    }

    @Test func outliersAreDropped() {
        var samples = (0..<5).map { sample(0, 1, 1, 1 + Double($0) * 0.01, 1) }
        samples.append(sample(0, 1, 1, 9, 9))
        #expect(CalibrationFitter.withoutOutliers(samples).count == 5)
    }
}

@Suite struct Store {
    let laptop = DeviceTable.builtin["Laptop 14in 1920x1080"]!

    func store() throws -> CalibrationDatabase { try CalibrationDatabase(inMemory: ()) }

    @Test func usersScreensAndSessions() throws {
        let db = try store()
        let ana = try db.addUser("ana")
        let screen = try db.addScreen(Screen(name: "desk", geometry: laptop))
        #expect(try db.users().map(\.name) == ["ana"] && db.screens().map(\.name) == ["desk"])
        let samples = (0..<6).map { sample($0 / 2, Double($0), -Double($0), Double($0) + 1, -Double($0)) }
        let fits = CalibrationFitter.fitAll(samples)
        let stored = try db.saveSession(StoredSession(userId: ana.id!, screenId: screen.id!, script: "9-point", camera: "test"),
                                        samples: samples, fits: fits, model: "m1")
        #expect(stored.count == fits.count && stored.filter(\.active).count == 1)
        #expect(try db.samples(session: stored[0].sessionId) == samples)
        let active = try #require(try db.activeCalibration(userId: ana.id!, screenId: screen.id!))
        #expect(try active.decoded() == fits[0] && active.model == "m1")
        try db.activate(stored.last!.id!)
        #expect(try db.activeCalibration(userId: ana.id!, screenId: screen.id!)?.id == stored.last!.id)
        try db.removeUser("ana")
        #expect(try db.calibrations().isEmpty)  // cascade
        #expect(try db.integrityCheck() == "ok")
    }

    @Test func badInputIsRefusedWithAReason() throws {
        let db = try store()
        _ = try db.addUser("ana")
        #expect(throws: StoreError("user 'ana' exists already", kind: .conflict)) { try db.addUser("ana") }
        #expect(throws: StoreError("no user 'bob' (see `foveal user list`)", kind: .notFound)) { try db.user("bob") }
        #expect(throws: StoreError("no screen 'tv' (see `foveal screen list`)", kind: .notFound)) { try db.screen("tv") }
        var impossible = laptop
        impossible.widthMm = -10
        #expect(throws: StoreError.self) { try db.addScreen(Screen(name: "bad", geometry: impossible)) }
        #expect(throws: StoreError("no calibration 42", kind: .notFound)) { try db.activate(42) }
    }

    @Test func aDatabaseOfAnEarlierSchemaMigrates() throws {
        let path = Fixtures.temporaryDirectory() + "/old.sqlite"
        // Foveal's first schema (v1 only), with a screen in it.
        let old = try DatabaseQueue(path: path)
        try CalibrationDatabase.migrator.migrate(old, upTo: "v1")
        try old.write { db in
            try db.execute(sql: "INSERT INTO user (name, createdAt) VALUES ('ana', '2026-01-01')")
            try db.execute(sql: "INSERT INTO screen (name, family, widthMm, heightMm, widthUnits, heightUnits, unit, cameraXMm, cameraYMm) VALUES ('desk', 'laptop', 300, 170, 1920, 1080, 'px', 150, -8)")
        }
        try old.close()
        let db = try CalibrationDatabase(path: path)
        #expect(try db.screen("desk").orientation == 1)  // the v2 column, with its default
        #expect(try db.users().map(\.name) == ["ana"])
        // A new database opens too.
        let fresh = try CalibrationDatabase(path: Fixtures.temporaryDirectory() + "/new.sqlite")
        #expect(try fresh.users().isEmpty)
    }

    /// v3 adds the model column: a calibration stored before it survives, marked unknown, and
    /// is still applied, with a note; the unused userScreen table is gone.
    @Test func aCalibrationFromBeforeModelIdentitiesMigrates() throws {
        let path = Fixtures.temporaryDirectory() + "/v2.sqlite"
        let old = try DatabaseQueue(path: path)
        try CalibrationDatabase.migrator.migrate(old, upTo: "v2-screen-orientation")
        try old.write { db in
            try db.execute(sql: "INSERT INTO user (name, createdAt) VALUES ('ana', '2026-01-01')")
            try db.execute(sql: "INSERT INTO screen (name, family, widthMm, heightMm, widthUnits, heightUnits, unit, cameraXMm, cameraYMm, orientation) VALUES ('desk', 'laptop', 300, 170, 1920, 1080, 'px', 150, -8, 1)")
            try db.execute(sql: "INSERT INTO calibrationSession (userId, screenId, script, camera, startedAt) VALUES (1, 1, '9-point', 'cam', '2026-01-01')")
            try db.execute(sql: "INSERT INTO userScreen (userId, screenId) VALUES (1, 1)")
            try db.execute(sql: "INSERT INTO calibration (sessionId, userId, screenId, method, parameters, leaveOneOutErrorCm, uncalibratedErrorCm, active, createdAt) VALUES (1, 1, 1, 'offset', '[0.5,-1]', 1.0, 2.0, 1, '2026-01-01')")
        }
        try old.close()
        let db = try CalibrationDatabase(path: path)
        let rows = try db.calibrationRows(user: "ana")
        #expect(rows.count == 1 && rows[0].model == "" && rows[0].method == "offset" && rows[0].leaveOneOutErrorCm == 1)
        let reopened = try DatabaseQueue(path: path)
        #expect(try reopened.read { try $0.tableExists("userScreen") } == false)
        try reopened.close()
        let display = try #require(try db.display(user: "ana", screen: nil))
        let correction = try display.correction(model: "abcdef0123456789", featureCount: 8)
        #expect(correction.calibration?.parameters == [0.5, -1] && correction.summary.contains("before Foveal recorded models"))
    }

    /// A calibration belongs to its model: under other weights it is not applied, and the
    /// message says which model made it.
    @Test func aCalibrationIsAppliedOnlyToItsOwnModel() throws {
        let db = try store()
        let ana = try db.addUser("ana")
        let screen = try db.addScreen(Screen(name: "desk", geometry: laptop))
        let samples = (0..<6).map { sample($0 / 2, Double($0), -Double($0), Double($0) + 1, -Double($0)) }
        try db.saveSession(StoredSession(userId: ana.id!, screenId: screen.id!, script: "9-point", camera: "test"),
                           samples: samples, fits: CalibrationFitter.fitAll(samples), model: "aaaaaaaaaaaa0001")
        let display = try #require(try db.display(user: "ana", screen: nil))
        #expect(try display.correction(model: "aaaaaaaaaaaa0001", featureCount: samples[0].features.count).calibration != nil)
        let other = try display.correction(model: "bbbbbbbbbbbb0002", featureCount: samples[0].features.count)
        #expect(other.calibration == nil)
        #expect(other.summary.contains("was made with model aaaaaaaaaaaa, not these weights (bbbbbbbbbbbb)"), "\(other.summary)")
    }

    /// A stored row that does not fit its method is refused, naming the row, never applied half-way.
    @Test func aMalformedStoredCalibrationIsRefused() throws {
        for (method, parameters, problem) in [("offset", "[1]", "an offset needs 2 parameters, not 1"), ("spline", "[1, 2]", "unknown method 'spline'"),
                                              ("affine", "not json", "not a JSON array"), ("ridge", "[1, 0, 0, 0, 0, 0, 0]", "feature scale is not positive")] {
            var row = StoredCalibration(sessionId: 1, userId: 1, screenId: 1,
                                        Calibration(method: .offset, parameters: [0, 0], leaveOneOutErrorCm: 1, uncalibratedErrorCm: 1),
                                        active: true, model: "m")
            row.id = 7
            row.method = method
            row.parameters = Data(parameters.utf8)
            do { _ = try row.decoded(); Issue.record("accepted \(method) \(parameters)") } catch {
                #expect("\(error)".hasPrefix("calibration 7: ") && "\(error)".contains(problem), "\(error)")
            }
        }
    }

    @Test func someoneElsesDatabaseIsRefused() throws {
        let path = Fixtures.temporaryDirectory() + "/other.sqlite"
        let other = try DatabaseQueue(path: path)
        try other.write { try $0.execute(sql: "CREATE TABLE invoices (id INTEGER PRIMARY KEY)") }
        try other.close()
        #expect(throws: StoreError("\(path): not a Foveal database (it has tables invoices)", kind: .storage)) { try CalibrationDatabase(path: path) }
        let text = Fixtures.temporaryDirectory() + "/text.sqlite"
        try "not sqlite at all, just text".write(toFile: text, atomically: true, encoding: .utf8)
        #expect(throws: StoreError("\(text): not a SQLite database", kind: .storage)) { try CalibrationDatabase(path: text) }
    }
}

@Suite struct LockingAndScripts {
    @Test func aLockedDatabaseIsReportedNotWaitedOnForever() throws {
        let path = Fixtures.temporaryDirectory() + "/locked.sqlite"
        let db = try CalibrationDatabase(path: path, busyTimeoutSeconds: 0.2)
        let other = try DatabaseQueue(path: path)
        // Another connection holds an exclusive lock while the store tries to write.
        try other.writeWithoutTransaction { conn in
            try conn.execute(sql: "BEGIN EXCLUSIVE")
            #expect(throws: StoreError("\(path): database is locked by another process", kind: .storage)) { try db.addUser("ana") }
            try conn.execute(sql: "ROLLBACK")
        }
        #expect(try db.addUser("ana").name == "ana")
    }

    @Test func shippedScriptsParseAndMalformedOnesAreExplained() throws {
        let dir = URL(fileURLWithPath: Fixtures.directory).deletingLastPathComponent().deletingLastPathComponent().path + "/calibration"
        for (name, count) in [("5-point", 5), ("9-point", 9), ("13-point", 13), ("smooth-pursuit", 48)] {
            #expect(try CalibrationScript(contentsOf: "\(dir)/\(name).json").targets.count == count)
        }
        let tmp = Fixtures.temporaryDirectory()
        for (text, problem) in [("{\"name\": \"x\"", "not valid JSON"), ("{\"name\": \"x\", \"settle_s\": 1, \"targets\": []}", "missing 'dwell_s'"),
                                ("{\"name\": \"x\", \"settle_s\": 1, \"dwell_s\": 1, \"targets\": [{\"x\": 0.5, \"y\": 0.5}, {\"x\": 1.5, \"y\": 0}]}", "target 1 lies outside"),
                                ("{\"name\": \"x\", \"settle_s\": 1, \"dwell_s\": 1, \"targets\": [{\"x\": 0.5}, {\"x\": 0.5, \"y\": 0}]}", "target 0 needs")] {
            let path = tmp + "/s.json"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            do { _ = try CalibrationScript(contentsOf: path); Issue.record("accepted \(text)") } catch {
                #expect("\(error)".hasPrefix(path + ": malformed calibration script") && "\(error)".contains(problem), "\(error)")
            }
        }
    }
}
