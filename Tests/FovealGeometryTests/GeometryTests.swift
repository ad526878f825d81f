import Foundation
import FovealGeometry
import FovealTestSupport
import Testing

/// Camera space <-> screen against GazeCapture's screen2cam/cam2screen, worked out by hand.
@Suite struct ScreenToCamera {
    // iPhone 6 from GazeCapture's table: dX 18.61, dY 8.03, dW 58.5, dH 104.05 mm; 375 x 667 points.
    let phone = DeviceTable.builtin["iPhone 6"]!
    let dX = 18.61, dY = 8.03, dW = 58.5, dH = 104.05

    /// GazeCapture's formulas (shared/reference/README.md), written out independently.
    func gazeCapture(_ x: Double, _ y: Double, _ o: Int) -> (Double, Double) {
        switch o {
        case 1: return ((x - dX) / 10, (-dY - y) / 10)
        case 2: return ((x + dX - dW) / 10, (dY + dH - y) / 10)
        case 3: return ((x + dY) / 10, (dW - dX - y) / 10)
        default: return ((x - dY - dH) / 10, (dX - y) / 10)
        }
    }

    @Test(arguments: Orientation.allCases) func matchesGazeCaptureFormulas(_ o: Orientation) {
        for (x, y) in [(0.0, 0.0), (10.5, 20.25), (58.5, 104.05), (33.3, 7.7), (104.05, 58.5)] {
            let c = phone.cameraSpace(ScreenPoint(xMm: x, yMm: y), o)
            let expected = gazeCapture(x, y, o.rawValue)
            #expect(abs(c.xCm - expected.0) < 1e-9 && abs(c.yCm - expected.1) < 1e-9, "\(o) \(x),\(y)")
            let back = phone.screenPoint(c, o)
            #expect(abs(back.xMm - x) < 1e-9 && abs(back.yMm - y) < 1e-9)
        }
    }

    @Test func handWorkedPortraitValues() {
        // The screen's top-left corner is 1.861 cm left of and 0.803 cm below the camera.
        let corner = phone.cameraSpace(ScreenPoint(xMm: 0, yMm: 0), .portrait)
        #expect(abs(corner.xCm - -1.861) < 1e-12 && abs(corner.yCm - -0.803) < 1e-12)
        // Upside down, the far corner (58.5, 104.05) as the user sees it is the old top-left.
        let c = phone.cameraSpace(ScreenPoint(xMm: 58.5, yMm: 104.05), .portraitUpsideDown)
        #expect(abs(c.xCm - 1.861) < 1e-12 && abs(c.yCm - 0.803) < 1e-12)
        // Landscape, home button right: the camera is left of the screen, by dY.
        #expect(abs(phone.cameraPositionMm(.landscapeHomeRight).xMm - (-8.03)) < 1e-12)
        #expect(abs(phone.cameraPositionMm(.landscapeHomeLeft).xMm - (104.05 + 8.03)) < 1e-12)
    }

    @Test(arguments: Orientation.allCases) func pointsToMillimetres(_ o: Orientation) {
        // Portrait: 58.5 mm over 375 points; landscape: 104.05 mm over 667 points across.
        let across = o.isLandscape ? 667.0 : 375.0, down = o.isLandscape ? 375.0 : 667.0
        let p = phone.screenPoint(units: across, down, o)
        let size = phone.sizeMm(o)
        #expect(abs(p.xMm - size.width) < 1e-9 && abs(p.yMm - size.height) < 1e-9)
        // Display Zoom: a 320-point-wide active area spans the same millimetres.
        let zoomed = phone.screenPoint(units: 160, 0, .portrait, activeWidth: 320, activeHeight: 568)
        #expect(abs(zoomed.xMm - 58.5 / 2) < 1e-9)
        let units = phone.units(p, o)
        #expect(abs(units.x - across) < 1e-9 && abs(units.y - down) < 1e-9)
    }
}

@Suite struct DeviceTables {
    static let csvPath = URL(fileURLWithPath: Fixtures.directory).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("calibration/devices.csv").path

    @Test func builtinTableIsTheShippedCSV() throws {
        let file = try String(contentsOfFile: Self.csvPath, encoding: .utf8)
        #expect(file == DeviceTable.builtinCSV + "\n", "run `make devices` after editing calibration/devices.csv")
        let table = try DeviceTable(contentsOf: Self.csvPath)
        #expect(table.devices == DeviceTable.builtin.devices)
    }

    @Test func everyGazeCaptureDeviceIsThere() {
        let names = ["iPhone 6s Plus", "iPhone 6s", "iPhone 6 Plus", "iPhone 6", "iPhone 5s", "iPhone 5c", "iPhone 5",
                     "iPhone 4s", "iPad Mini", "iPad Air 2", "iPad Air", "iPad 4", "iPad 3", "iPad 2", "iPad Pro"]
        for name in names {
            let d = DeviceTable.builtin[name]
            #expect(d != nil && d!.family == (name.hasPrefix("iPad") ? "iPad" : "iPhone") && d!.unit == .points, "\(name)")
        }
        #expect(DeviceTable.builtin.devices.contains { $0.unit == .pixels && $0.family == "monitor" })
    }

    @Test(arguments: [
        ("name,width_mm\nx,1", "header lacks column 'family'"),
        ("name,family,width_mm,height_mm,width_units,height_units,unit,camera_x_mm,camera_y_mm\nA,m,10,10,100,100,px,5", "8 fields, the header has 9"),
        ("name,family,width_mm,height_mm,width_units,height_units,unit,camera_x_mm,camera_y_mm\nA,m,ten,10,100,100,px,5,-1", "width_mm 'ten' is not a number"),
        ("name,family,width_mm,height_mm,width_units,height_units,unit,camera_x_mm,camera_y_mm\nA,m,-3,10,100,100,px,5,-1", "is not positive"),
        ("name,family,width_mm,height_mm,width_units,height_units,unit,camera_x_mm,camera_y_mm\nA,m,300,200,100,100,in,5,-1", "unit 'in'"),
        ("name,family,width_mm,height_mm,width_units,height_units,unit,camera_x_mm,camera_y_mm\nA,m,300,200,100,100,px,5000,-1", "far from"),
    ])
    func badTablesAreExplained(_ csv: String, _ expected: String) {
        do {
            _ = try DeviceTable(csv: csv, source: "my.csv")
            Issue.record("accepted")
        } catch {
            #expect("\(error)".hasPrefix("my.csv") && "\(error)".contains(expected), "\(error)")
        }
    }
}
