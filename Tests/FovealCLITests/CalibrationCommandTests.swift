import Foundation
import FovealTestSupport
import Testing

@Suite(.serialized) struct CalibrationCommands {
    static let repository = URL(fileURLWithPath: Fixtures.directory).deletingLastPathComponent().deletingLastPathComponent().path
    let recording = repository + "/data/samples/gazecapture/00000"
    let weights = Fixtures.path("model/depth6.weights.safetensors")

    func freshStore() throws -> String {
        let db = Fixtures.temporaryDirectory() + "/foveal.sqlite"
        #expect(try Run(["user", "add", "ana", "--db", db]).status == 0)
        #expect(try Run(["screen", "add", "phone", "--preset", "iPhone 5s", "--orientation", "3", "--db", db]).status == 0)
        return db
    }

    func calibrationCount(_ db: String) throws -> Int {
        let run = try Run(["calibration", "list", "--json", "--db", db])
        return (try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [[String: Any]])?.count ?? -1
    }

    @Test func replayCalibratesStoresAndTrackUsesIt() throws {
        let db = try freshStore()
        let run = try Run(["calibrate", "--user", "ana", "--screen", "phone", "--source", recording, "--weights", weights, "--db", db,
                           "--on-target", "echo hook $FOVEAL_TARGET_INDEX $FOVEAL_TARGET_X_PX $FOVEAL_TARGET_Y_PX"])
        #expect(run.status == 0, "\(run.stderr)")
        let targets = run.stdoutLines.filter { $0.contains("\"phase\":\"target\"") }
        #expect(targets.count == 10 && run.stderr.contains("hook 9 "))
        #expect(run.stdoutLines.filter { $0.contains("\"phase\":\"fit\"") }.count == 3 && run.stderr.contains("before"))
        #expect(try calibrationCount(db) == 3)
        let track = try Run(["track", "--source", recording, "--weights", weights, "--user", "ana", "--db", db, "--format", "jsonl", "--count", "3"])
        #expect(track.status == 0, "\(track.stderr)")
        let first = try JSONSerialization.jsonObject(with: Data(track.stdoutLines[0].utf8)) as! [String: Any]
        #expect(first["screen_px"] is [Double] && first["screen_cm"] is [Double] && first["uncalibrated_cm"] is [Double])
    }

    /// A calibration belongs to the weights it was made with: the list shows the model, and
    /// tracking under other weights says so and reports uncorrected gaze, marked as such.
    @Test func aCalibrationUnderOtherWeightsIsNotApplied() throws {
        let db = try freshStore()
        #expect(try Run(["calibrate", "--user", "ana", "--screen", "phone", "--source", recording, "--weights", weights, "--db", db]).status == 0)
        let list = try Run(["calibration", "list", "--json", "--db", db])
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        let model = try #require(rows.first?["model"] as? String)
        #expect(model.count == 16 && rows.allSatisfy { $0["model"] as? String == model && $0["leave_one_out_error_cm"] is Double })
        let table = try Run(["calibration", "list", "--db", db])
        #expect(table.stdoutLines.first?.contains("model") == true && table.stdout.contains(String(model.prefix(12))))
        let same = try Run(["track", "--source", recording, "--weights", weights, "--user", "ana", "--db", db, "--format", "jsonl", "--count", "2"])
        #expect(same.status == 0 && same.stdout.contains("\"calibrated\":true"), "\(same.stderr)")
        let other = Fixtures.path("model/depth14.weights.safetensors")
        let track = try Run(["track", "--source", recording, "--weights", other, "--user", "ana", "--db", db, "--format", "jsonl", "--count", "2"])
        #expect(track.status == 0, "\(track.stderr)")
        #expect(track.stderr.contains("was made with model \(model.prefix(12)), not these weights"), "\(track.stderr)")
        let first = try JSONSerialization.jsonObject(with: Data(track.stdoutLines[0].utf8)) as! [String: Any]
        #expect(first["calibrated"] as? Bool == false && first["gaze_cm"] as? [Double] == first["uncalibrated_cm"] as? [Double])
    }

    /// SIGKILL at any moment of a session leaves the database consistent with earlier sessions intact;
    /// a tracker reading the store keeps running meanwhile.
    @Test func killedSessionsLoseNothingElse() throws {
        let db = try freshStore()
        #expect(try Run(["calibrate", "--user", "ana", "--screen", "phone", "--source", recording, "--weights", weights, "--db", db]).status == 0)
        let tracker = Process()
        tracker.executableURL = URL(fileURLWithPath: Run.binary)
        tracker.arguments = ["track", "--source", Self.repository + "/data/samples/gazecapture/*/frames/*.jpg", "--weights", weights,
                             "--user", "ana", "--db", db, "--fps", "5"]
        tracker.standardOutput = FileHandle.nullDevice
        tracker.standardError = FileHandle.nullDevice
        try tracker.run()
        for delay in [0.05, 0.3, 0.6, 0.9, 1.2, 1.6] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Run.binary)
            p.arguments = ["calibrate", "--user", "ana", "--screen", "phone", "--source", recording, "--weights", weights, "--db", db]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            usleep(useconds_t(delay * 1e6))
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            let count = try calibrationCount(db)
            #expect(count >= 3 && count % 3 == 0, "after a kill at \(delay) s: \(count) calibrations")
        }
        #expect(tracker.isRunning)
        tracker.terminate()
        tracker.waitUntilExit()
        #expect(tracker.terminationStatus == 0)
        let check = try Run(["calibration", "list", "--db", db])
        #expect(check.status == 0)
    }

    @Test func evalWithCalibrationReportsBothSides() throws {
        let run = try Run(["eval", "--dataset", Self.repository + "/data/samples/gazecapture", "--split", "all", "--weights", weights,
                           "--calibrate", "5", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as! [String: Any]
        let before = report["uncalibrated"] as! [String: [String: Any]], after = report["calibrated"] as! [String: [String: Any]]
        #expect(report["recordings"] as? Int == 3)
        #expect(Set(before.keys) == ["iPhone", "iPad", "all"] && Set(after.keys) == Set(before.keys))
        // Frames of the 5 calibration dots are left out: 45 of the 90 sample frames remain.
        #expect(before["all"]?["frames"] as? Int == 45 && after["all"]?["frames"] as? Int == 45)
        #expect(before["all"]?["mean_cm"] as? Double != after["all"]?["mean_cm"] as? Double)
        #expect(report["dot_choice"] as? String == "first")
        // Calibration dots interleaved with the test dots: other frames left out.
        let spread = try Run(["eval", "--dataset", Self.repository + "/data/samples/gazecapture", "--split", "all", "--weights", weights,
                              "--calibrate", "5", "--calibration-dots", "spread", "--json"])
        #expect(spread.status == 0, "\(spread.stderr)")
        let other = try JSONSerialization.jsonObject(with: Data(spread.stdout.utf8)) as! [String: Any]
        let otherBefore = other["uncalibrated"] as! [String: [String: Any]]
        #expect(other["dot_choice"] as? String == "spread" && (30...60).contains(otherBefore["all"]?["frames"] as? Int ?? 0))
        #expect(otherBefore["all"]?["mean_cm"] as? Double != before["all"]?["mean_cm"] as? Double)
        let alone = try Run(["eval", "--dataset", Self.repository + "/data/samples/gazecapture", "--calibration-dots", "spread"])
        #expect(alone.status != 0 && alone.stderr.contains("--calibration-dots needs --calibrate"))
    }

    @Test func badInputIsExplained() throws {
        let db = try freshStore()
        let unknown = try Run(["calibrate", "--user", "bob", "--screen", "phone", "--source", recording, "--weights", weights, "--db", db])
        #expect(unknown.status == 1 && unknown.stderrLines == ["foveal: no user 'bob' (see `foveal user list`)"])
        let screen = try Run(["screen", "add", "tv", "--size-mm=-5x300", "--pixels", "1920x1080", "--camera-mm", "0,-10", "--db", db])
        #expect(screen.status == 1 && screen.stderr.contains("is not positive"))
        let duplicate = try Run(["user", "add", "ana", "--db", db])
        #expect(duplicate.status == 1 && duplicate.stderrLines == ["foveal: user 'ana' exists already"])
    }
}

/// `screen add --detect` and `--edid`: the size and resolution from the monitor itself.
@Suite struct ScreenFromEDID {
    @Test func detectListsSeveralMonitorsAndReadsTheChosenOne() throws {
        let db = Fixtures.temporaryDirectory() + "/s.sqlite", drm = try fakeDRM()
        let several = try Run(["screen", "add", "desk", "--detect", "--drm-root", drm, "--db", db])
        #expect(several.status == 1 && several.stderr.contains("2 monitors are connected; choose one with --output"))
        #expect(several.stderr.contains("DP-1: DELL U2415, 1920x1200 px, 518 x 324 mm") && several.stderr.contains("eDP-1: AUO 103D"))
        let laptop = try Run(["screen", "add", "laptop", "--detect", "--output", "eDP-1", "--drm-root", drm, "--db", db])
        #expect(laptop.status == 0, "\(laptop.stderr)")
        #expect(laptop.stdout.contains("camera assumed centred on the top edge, at 154.5,-10 mm"))
        let show = try Run(["screen", "show", "laptop", "--db", db])
        let screen = try #require(try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any])
        #expect(screen["widthMm"] as? Double == 309 && screen["heightMm"] as? Double == 173)
        #expect(screen["widthUnits"] as? Double == 1920 && screen["cameraXMm"] as? Double == 154.5 && screen["cameraYMm"] as? Double == -10)
        let missing = try Run(["screen", "add", "tv", "--detect", "--output", "HDMI-A-1", "--drm-root", drm, "--db", db])
        #expect(missing.status == 1 && missing.stderr.contains("no connected output 'HDMI-A-1'"))
    }

    @Test func anEDIDFileWithTheCameraWhereItIs() throws {
        let db = Fixtures.temporaryDirectory() + "/s.sqlite"
        let run = try Run(["screen", "add", "dell", "--edid", Fixtures.path("edid/dell-u2415.bin"), "--camera-mm", "259,-18", "--db", db])
        #expect(run.status == 0 && run.stdout.contains("added screen 'dell': 518.0 x 324.0 mm, 1920 x 1200 px"), "\(run.stdout) \(run.stderr)")
        let corrupt = try Run(["screen", "add", "bad", "--edid", Fixtures.path("edid/bad-checksum.bin"), "--db", db])
        #expect(corrupt.status == 1 && corrupt.stderr.contains("bad-checksum.bin") && corrupt.stderr.contains("checksum"))
        let both = try Run(["screen", "add", "x", "--edid", Fixtures.path("edid/dell-u2415.bin"), "--preset", "iPhone 6", "--db", db])
        #expect(both.status != 0 && both.stderr.contains("leave out --preset"))
    }
}
