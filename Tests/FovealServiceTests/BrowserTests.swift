import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import FovealIO
import FovealTestSupport
import FovealTracking
import Logging
import NIOCore
import Testing
import WSClient

/// Headless Chromium driven over the DevTools protocol: load a page, wait on its state, evaluate
/// JavaScript, take a screenshot. Debian's `chromium`, which `make deps` installs.
struct Chromium {
    static let path: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

    struct Visit {
        var state = ""
        var text = ""
        var targets = 0
        var headerHeight = 0
        /// What `probe` evaluated to.
        var probe = ""
        var screenshot = Data()
    }

    /// A window filling a monitor of `width`x`height` pixels at `scale` devicePixelRatio (its page
    /// is `width / scale` CSS pixels wide; screenshots have the monitor's pixels).
    struct Window {
        var width = 1280, height = 800, scale = 1
        var cssWidth: Int { width / scale }
        var cssHeight: Int { height / scale }
    }

    /// Opens `url` in a headless window, waits until `state` (a JavaScript expression, by default
    /// `document.body.dataset.state`) is one of `until`, and reads the page back (`probe`: a
    /// JavaScript expression giving a string).
    static func visit(_ url: String, until states: Set<String>, timeout: Double = 180, window: Window = Window(),
                      state: String = "document.body ? document.body.dataset.state : ''", probe: String = "''") async throws -> Visit {
        let profile = Fixtures.temporaryDirectory()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path!)
        process.arguments = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                             "--remote-debugging-port=0", "--remote-allow-origins=*", "--user-data-dir=\(profile)",
                             "--window-size=\(window.cssWidth),\(window.cssHeight)", "--hide-scrollbars", "about:blank"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { process.terminate(); process.waitUntilExit() }
        // Chromium writes its DevTools port and browser socket path to the profile once it listens.
        let portFile = profile + "/DevToolsActivePort"
        let deadline = Date().addingTimeInterval(60)
        var lines: [Substring] = []
        while lines.count < 2 && Date() < deadline {
            lines = ((try? String(contentsOfFile: portFile, encoding: .utf8)) ?? "").split(separator: "\n")
            if lines.count < 2 { try await Task.sleep(for: .milliseconds(100)) }
        }
        guard lines.count >= 2 else { throw ServerFailure("chromium did not open its DevTools port") }
        let socket = "ws://127.0.0.1:\(lines[0])\(lines[1])"
        var logger = Logger(label: "test.cdp")
        logger.logLevel = .critical
        let result = VisitBox()
        try await WebSocketClient.connect(url: socket, configuration: .init(maxFrameSize: 1 << 26), logger: logger) { inbound, outbound, _ in
            var messages = inbound.messages(maxSize: 1 << 26).makeAsyncIterator()
            var nextId = 0
            var session: String?
            func call(_ method: String, _ params: [String: Any] = [:]) async throws -> [String: Any] {
                nextId += 1
                let id = nextId
                var command: [String: Any] = ["id": id, "method": method, "params": params]
                if let session { command["sessionId"] = session }
                let request = try JSONSerialization.data(withJSONObject: command)
                try await outbound.write(.text(String(decoding: request, as: UTF8.self)))
                while let message = try await messages.next() {
                    guard case .text(let text) = message,
                          let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                          object["id"] as? Int == id else { continue }
                    if let error = object["error"] { throw ServerFailure("\(method): \(error)") }
                    return object["result"] as? [String: Any] ?? [:]
                }
                throw ServerFailure("chromium closed the DevTools socket")
            }
            func evaluate(_ expression: String) async throws -> Any? {
                let r = try await call("Runtime.evaluate", ["expression": expression, "returnByValue": true])
                return (r["result"] as? [String: Any])?["value"]
            }
            // One page of our own, attached in flat mode: its commands carry the session id.
            let target = try await call("Target.createTarget", ["url": "about:blank"])
            session = try await call("Target.attachToTarget", ["targetId": target["targetId"] as? String ?? "", "flatten": true])["sessionId"] as? String
            _ = try await call("Emulation.setDeviceMetricsOverride", ["width": window.cssWidth, "height": window.cssHeight,
                                                                      "screenWidth": window.cssWidth, "screenHeight": window.cssHeight,
                                                                      "deviceScaleFactor": window.scale, "mobile": false])
            _ = try await call("Page.navigate", ["url": url])
            let end = Date().addingTimeInterval(timeout)
            var visit = Visit()
            while Date() < end {
                visit.state = try await evaluate(state) as? String ?? ""
                if states.contains(visit.state) { break }
                try await Task.sleep(for: .milliseconds(250))
            }
            try await Task.sleep(for: .milliseconds(300))  // the last frame painted
            visit.text = try await evaluate("document.getElementById('message').innerText") as? String ?? ""
            visit.targets = try await evaluate("run && run.targets ? run.targets.length : 0") as? Int ?? 0
            visit.headerHeight = try await evaluate("document.querySelector('header').offsetHeight") as? Int ?? 0
            visit.probe = try await evaluate(probe) as? String ?? ""
            let shot = try await call("Page.captureScreenshot", ["format": "png"])
            visit.screenshot = Data(base64Encoded: shot["data"] as? String ?? "") ?? Data()
            result.visit = visit
            try await outbound.close(.normalClosure, reason: nil)
        }
        guard let visit = result.visit else { throw ServerFailure("the DevTools session ended early") }
        return visit
    }
}

final class VisitBox: @unchecked Sendable { var visit: Chromium.Visit? }

@Suite(.serialized, .enabled(if: Chromium.path != nil, "needs Debian's chromium (make deps installs it)"))
struct BrowserTests {
    /// Where screenshots go to be looked at: .build/screenshots/ of the checkout.
    static let screenshots = URL(fileURLWithPath: Fixtures.directory).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".build/screenshots").path

    @Test func thePageRunsANinePointCalibrationAgainstAReplay() async throws {
        let db = Fixtures.temporaryDirectory() + "/foveal.sqlite"
        let device = try #require(SampleRecording.info["DeviceName"] as? String)
        let server = try ServerProcess(["--source", SampleRecording.path, "--loop", "--fps", "0", "--db", db])
        #expect(try await server.request("POST", "/v1/users", body: #"{"name": "ana"}"#).status == 201)
        let screen = try await server.request("POST", "/v1/screens", body: #"{"name": "phone", "preset": "\#(device)", "orientation": \#(SampleRecording.orientation)}"#)
        #expect(screen.status == 201)

        let visit = try await Chromium.visit(server.url + "?user=ana&screen=phone&script=9-point&calibrate=1", until: ["done", "failed"])
        try FileManager.default.createDirectory(atPath: Self.screenshots, withIntermediateDirectories: true)
        let shotPath = Self.screenshots + "/calibration-done.png"
        try visit.screenshot.write(to: URL(fileURLWithPath: shotPath))

        #expect(visit.state == "done", "\(visit.text)")
        #expect(visit.targets == 9)
        #expect(visit.text.contains("Calibration stored") && visit.text.contains("before") && visit.text.contains("after"), "\(visit.text)")
        // What a person sees: a 1280x800 page with the nine visited targets drawn in green.
        let image = try RGBImage(contentsOf: shotPath)
        #expect(image.width == 1280 && image.height == 800)
        var green = 0
        image.pixels.withUnsafeBufferPointer { p in
            for i in stride(from: 0, to: p.count, by: 3) where abs(Int(p[i]) - 0x4c) < 12 && abs(Int(p[i + 1]) - 0xd6) < 12 && abs(Int(p[i + 2]) - 0x94) < 12 {
                green += 1
            }
        }
        #expect(green > 9 * 150, "green target pixels: \(green)")

        let cli = try Run(["calibration", "list", "--json", "--user", "ana", "--db", db])
        #expect(cli.status == 0 && cli.stdout.contains("\"active\":true") && cli.stdout.contains("\"user\":\"ana\""), "\(cli.stdout)")
        #expect(server.terminate() == 0)
    }

    /// The full-screen calibration on desk monitors: 1920x1080 and 2560x1440 at devicePixelRatio 1
    /// and 2, seen as the user sees it while the ninth target shows. Every target must land on the
    /// monitor pixel the script puts it at: the eight visited ones are grey discs centred there,
    /// the current one a red dot in a white ring.
    @Test(arguments: [(1920, 1080, 1), (1920, 1080, 2), (2560, 1440, 1), (2560, 1440, 2)])
    func theCalibrationFillsADeskMonitor(width: Int, height: Int, scale: Int) async throws {
        let db = Fixtures.temporaryDirectory() + "/foveal.sqlite"
        // Frames without labels (a folder of images, looping): the script's 9 targets are used.
        let server = try ServerProcess(["--source", SampleRecording.path + "/frames", "--loop", "--fps", "30", "--db", db])
        #expect(try await server.request("POST", "/v1/users", body: #"{"name": "ana"}"#).status == 201)
        let (widthMm, heightMm) = (Double(width) * 0.2745, Double(height) * 0.2745)  // a 24- or 32-inch panel
        let screen = try await server.request("POST", "/v1/screens", body: """
            {"name": "desk", "width_mm": \(widthMm), "height_mm": \(heightMm), "width_px": \(width), "height_px": \(height),
             "camera_x_mm": \(widthMm / 2), "camera_y_mm": -10}
            """)
        #expect(screen.status == 201)
        let visit = try await Chromium.visit(server.url + "?user=ana&screen=desk&script=9-point&calibrate=1", until: ["ninth", "failed"],
                                             window: .init(width: width, height: height, scale: scale),
                                             state: "run && run.state === 'running' && (run.targets || []).length === 9 ? 'ninth' : document.body.dataset.state",
                                             probe: "JSON.stringify(run.targets.map(t => [t.screen_px[0], t.screen_px[1], toPage(t.screen_px).mapping]))")
        try FileManager.default.createDirectory(atPath: Self.screenshots, withIntermediateDirectories: true)
        let shotPath = Self.screenshots + "/calibration-\(width)x\(height)-dpr\(scale).png"
        try visit.screenshot.write(to: URL(fileURLWithPath: shotPath))
        #expect(visit.state == "ninth", "\(visit.text)")
        let targets = try #require(try JSONSerialization.jsonObject(with: Data(visit.probe.utf8)) as? [[Any]])
        #expect(targets.count == 9)
        // The script's 10% / 50% / 90% grid, in the monitor's pixels.
        let expected = [0.1, 0.5, 0.9].flatMap { fy in [0.1, 0.5, 0.9].map { fx in (fx * Double(width), fy * Double(height)) } }
        for (target, (x, y)) in zip(targets, expected) {
            #expect(abs((target[0] as? Double ?? -1) - x) < 1 && abs((target[1] as? Double ?? -1) - y) < 1, "\(target) vs \(x), \(y)")
        }
        // The screenshot has the monitor's pixels, and each target's disc is centred on its pixel.
        let image = try RGBImage(contentsOf: shotPath)
        #expect(image.width == width && image.height == height)
        for (i, target) in targets.enumerated() {
            let (x, y) = (try #require(target[0] as? Double), try #require(target[1] as? Double))
            #expect(target[2] as? String == "physical", "target at \(x), \(y) was drawn \(target[2])")
            let colour = i < 8 ? (0x66, 0x66, 0x66) : (0xff, 0x30, 0x30)
            var count = 0, sumX = 0, sumY = 0
            let r = 30 * scale
            for py in max(0, Int(y) - r)..<min(height, Int(y) + r) {
                for px in max(0, Int(x) - r)..<min(width, Int(x) + r) {
                    let j = (py * width + px) * 3
                    if abs(Int(image.pixels[j]) - colour.0) < 8 && abs(Int(image.pixels[j + 1]) - colour.1) < 8
                        && abs(Int(image.pixels[j + 2]) - colour.2) < 8 { count += 1; sumX += px; sumY += py }
                }
            }
            // A disc of 9 CSS px (visited) or 6 (current), at the page's scale.
            #expect(count > (i < 8 ? 150 : 60) * scale * scale, "target \(i + 1) at \(x), \(y): \(count) pixels of its colour")
            if count > 0 {
                let centre = (Double(sumX) / Double(count) + 0.5, Double(sumY) / Double(count) + 0.5)
                #expect(abs(centre.0 - x) < 2 && abs(centre.1 - y) < 2, "target \(i + 1) at \(x), \(y) drawn at \(centre)")
            }
        }
        #expect(server.terminate() == 0)
    }

    /// Frames too dark to read put a banner on the page and `low_light` in `/v1/health`.
    @Test func lowLightIsShownOnThePage() async throws {
        let folder = Fixtures.temporaryDirectory()
        let frame = try RGBImage(contentsOf: SampleRecording.path + "/frames/00000.jpg")
        var dark = frame
        for i in dark.pixels.indices { dark.pixels[i] = UInt8(Int(frame.pixels[i]) / 16) }
        try dark.writePNG(to: folder + "/dark.png")
        let server = try ServerProcess(["--source", folder, "--loop", "--fps", "10"])
        let visit = try await Chromium.visit(server.url, until: ["live"], timeout: 60,
                                             probe: "getComputedStyle(document.getElementById('light')).display + ' ' + document.getElementById('light').innerText")
        try FileManager.default.createDirectory(atPath: Self.screenshots, withIntermediateDirectories: true)
        try visit.screenshot.write(to: URL(fileURLWithPath: Self.screenshots + "/low-light.png"))
        #expect(visit.probe.hasPrefix("block Low light"), "\(visit.probe)")
        let health = try await server.request("GET", "/v1/health")
        let source = try #require(health.json["source"] as? [String: Any])
        #expect(source["low_light"] as? Bool == true && (source["luma"] as? Double ?? 99) < LowLight.thresholdLuma, "\(health.json)")
        #expect(server.terminate() == 0)
        #expect(server.stderr.contains("foveal serve: low light: the camera's frames average"), "\(server.stderr)")
    }

    /// Without a face with open eyes the marker greys and the header says why, from the shipped
    /// model's heads: frames of a desk recording (seed 4) with the eyes closed and with nobody there.
    @Test(arguments: [(8, "eyes closed"), (0, "no face")])
    func thePageSaysWhyThereIsNoGaze(frame: Int, says: String) async throws {
        let desk = Fixtures.temporaryDirectory()
        #expect(try Run(["synth", "--out", desk, "--setup", "laptop", "--recordings", "1", "--dots", "6", "--frames-per-dot", "2",
                         "--seed", "4"]).status == 0)
        let folder = Fixtures.temporaryDirectory()
        try FileManager.default.copyItem(atPath: String(format: "%@/00000/frames/%05d.jpg", desk, frame), toPath: folder + "/frame.jpg")
        let server = try ServerProcess(["--source", folder, "--loop", "--fps", "10"])
        let visit = try await Chromium.visit(server.url, until: ["live"], timeout: 60,
                                             probe: "document.getElementById('gaze').innerText + ' / ' + document.body.classList.contains('away')")
        try FileManager.default.createDirectory(atPath: Self.screenshots, withIntermediateDirectories: true)
        try visit.screenshot.write(to: URL(fileURLWithPath: Self.screenshots + "/\(says.replacingOccurrences(of: " ", with: "-")).png"))
        #expect(visit.probe == "\(says) / true", "\(visit.probe)")
        #expect(server.terminate() == 0)
    }

    @Test func theLiveViewDrawsGazeOnTheUsersScreen() async throws {
        let db = Fixtures.temporaryDirectory() + "/foveal.sqlite"
        let device = try #require(SampleRecording.info["DeviceName"] as? String)
        #expect(try Run(["user", "add", "ana", "--db", db]).status == 0)
        #expect(try Run(["screen", "add", "phone", "--preset", device, "--orientation", "\(SampleRecording.orientation)", "--db", db]).status == 0)
        let server = try ServerProcess(["--source", SampleRecording.path, "--loop", "--fps", "10", "--user", "ana", "--screen", "phone", "--db", db])
        let visit = try await Chromium.visit(server.url, until: ["live"], timeout: 60)
        try FileManager.default.createDirectory(atPath: Self.screenshots, withIntermediateDirectories: true)
        try visit.screenshot.write(to: URL(fileURLWithPath: Self.screenshots + "/live-view.png"))
        #expect(visit.state == "live")
        #expect(visit.text.contains("ana on phone"), "\(visit.text)")
        // The gaze marker and its fading trail (amber, at any brightness: the marker is a dashed ring
        // when the gaze is off the screen) are drawn below the header, whose button is amber too.
        let image = try RGBImage(contentsOf: Self.screenshots + "/live-view.png")
        var amber = 0
        image.pixels.withUnsafeBufferPointer { p in
            for i in stride(from: 3 * image.width * visit.headerHeight, to: p.count, by: 3) {
                let (r, g, b) = (Int(p[i]), Int(p[i + 1]), Int(p[i + 2]))
                if r > 0x40 && r > g + 0x18 && g > b + 0x18 { amber += 1 }
            }
        }
        #expect(amber > 150, "amber pixels: \(amber)")
        #expect(server.terminate() == 0)
    }
}
