import Foundation
import FovealTestSupport
import Testing

/// `foveal serve` over the network, the way other programs use it.
@Suite(.serialized) struct ServiceTests {
    func freshStore() -> String { Fixtures.temporaryDirectory() + "/foveal.sqlite" }

    @Test func threeClientsGetEveryFrameInOrderWhileAFourthNeverReads() async throws {
        let server = try ServerProcess(["--source", SampleRecording.path, "--fps", "0", "--wait-for-clients", "4", "--db", freshStore()])
        let readers = (0..<3).map { _ in Received() }
        let tasks = readers.map { r in Task { try await listen(server.webSocketBase + "v1/gaze/stream", into: r) } }
        let stalled = try StalledClient(port: server.port, path: "/v1/gaze/stream")
        let ended: [String: Any]
        do {
            ended = try await server.waitForHealth { ($0["source"] as? [String: Any])?["phase"] as? String == "ended" }
        } catch {
            var failures: [String] = []
            for r in readers { failures += await r.failures }
            Issue.record("the replay never ended; reader connections that failed: \(failures)")
            throw error
        }
        let frames = try #require((ended["source"] as? [String: Any])?["frames"] as? Int)
        #expect(frames > 40)
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            var counts: [Int] = []
            for r in readers { counts.append(await r.count) }
            if counts.allSatisfy({ $0 >= frames }) { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        var sequences: [[Int]] = []
        for r in readers {
            let messages = await r.messages
            let decoded = messages.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            #expect(decoded.count == frames)
            // A frame the model sees no face in carries a null gaze, said so by `face`.
            #expect(decoded.allSatisfy { ($0["gaze_cm"] is [Double] || ($0["face"] as? Bool == false && $0["gaze_cm"] is NSNull))
                                         && $0["latency_ms"] is Double && $0["label_cm"] is [Double] })
            sequences.append(decoded.compactMap { $0["frame"] as? Int })
        }
        #expect(sequences[0] == sequences[0].sorted() && Set(sequences[0]).count == frames, "in order, no repeats")
        #expect(sequences[1] == sequences[0] && sequences[2] == sequences[0])
        let clients = try #require(ended["clients"] as? [String: Any])
        #expect(clients["connected"] as? Int == 4)
        // Swift may release an object after its last use: keep the stalled client connected to here.
        withExtendedLifetime(stalled) {}
        tasks.forEach { $0.cancel() }
        #expect(server.terminate() == 0)
    }

    @Test func sigtermTellsClientsAndExitsCleanly() async throws {
        let server = try ServerProcess(["--source", SampleRecording.path, "--loop", "--fps", "20", "--db", freshStore()])
        let received = Received()
        let client = Task { try await listen(server.webSocketBase + "v1/gaze/stream", into: received) }
        while await received.count < 3 { try await Task.sleep(for: .milliseconds(50)) }
        #expect(server.terminate() == 0)
        try await client.value
        // Told, not cut off: a close frame (going away from the stream, or Hummingbird's own normal closure).
        let code = await received.closeCode
        #expect(code == "goingAway" || code == "normalClosure", "\(code ?? "no close frame")")
        #expect(server.stderr.contains("foveal serve stopped"))
    }

    @Test func latestAndHealthDescribeTheService() async throws {
        let server = try ServerProcess(["--source", SampleRecording.path, "--loop", "--fps", "20", "--db", freshStore()])
        #expect(server.url.hasPrefix("http://127.0.0.1:"))
        // Bound to loopback: /proc/net/tcp lists the listening socket as 127.0.0.1 (0100007F).
        let table = try String(contentsOfFile: "/proc/net/tcp", encoding: .utf8)
        let hexPort = String(format: "%04X", server.port)
        #expect(table.contains("0100007F:\(hexPort) 00000000:0000 0A"))
        let health = try await server.waitForHealth { ($0["source"] as? [String: Any])?["frames"] as? Int ?? 0 > 2 }
        #expect(health["status"] as? String == "ok")
        #expect((health["model"] as? [String: Any])?["config"] as? String != nil)
        #expect(health["uptime_s"] as? Double ?? -1 >= 0)
        let latest = try await server.request("GET", "/v1/gaze/latest")
        #expect(latest.status == 200 && (latest.json["gaze_cm"] is [Double] || latest.json["face"] as? Bool == false))
        let page = try await server.request("GET", "/")
        #expect(page.status == 200 && (page.json["raw"] as? String ?? "").contains("<canvas"))
        #expect(server.terminate() == 0)
    }

    /// Two screens around the camera: health lists both, and each streamed point names its screen.
    @Test func aLayoutOfScreensIsServed() async throws {
        let db = freshStore()
        #expect(try Run(["user", "add", "ana", "--db", db]).status == 0)
        #expect(try Run(["screen", "add", "laptop", "--preset", "Laptop 14in 1920x1080", "--db", db]).status == 0)
        #expect(try Run(["screen", "add", "side", "--size-mm", "600x340", "--pixels", "2560x1440", "--camera-mm=-200,-50", "--db", db]).status == 0)
        let server = try ServerProcess(["--source", SampleRecording.path, "--loop", "--fps", "20", "--db", db,
                                        "--user", "ana", "--screen", "laptop", "--screen", "side"])
        let health = try await server.waitForHealth { ($0["source"] as? [String: Any])?["frames"] as? Int ?? 0 > 2 }
        #expect((health["screen"] as? [String: Any])?["name"] as? String == "laptop")
        #expect(health["other_screens"] as? [String] == ["side"])
        let latest = try await server.request("GET", "/v1/gaze/latest")
        if latest.json["face"] as? Bool != false {
            let onScreen = try #require(latest.json["on_screen"] as? Bool)
            #expect(onScreen ? ["laptop", "side"].contains(latest.json["screen"] as? String ?? "") : latest.json["screen"] is NSNull)
        }
        #expect(server.terminate() == 0)
    }

    @Test func badRequestsGetJSONErrorsAndTheServiceStaysUp() async throws {
        let server = try ServerProcess(["--source", SampleRecording.path, "--loop", "--fps", "20", "--db", freshStore()])
        let user = try await server.request("POST", "/v1/users", body: #"{"name": "ana"}"#)
        #expect(user.status == 201 && user.json["name"] as? String == "ana")
        let oversized = String(repeating: "x", count: 200_000)
        let cases: [(String, String, String?, Int, String)] = [
            ("POST", "/v1/users", #"{"name": "ana"}"#, 409, "exists already"),
            ("POST", "/v1/users", #"{"nom": "bo"}"#, 400, "missing 'name'"),
            ("POST", "/v1/users", "{not json", 400, "malformed body"),
            ("POST", "/v1/users", #"{"name": "\#(oversized)"}"#, 413, "over 64 KiB"),
            ("POST", "/v1/screens", #"{"name": "s", "preset": "Commodore 64"}"#, 400, "no preset"),
            ("POST", "/v1/screens", #"{"name": "s", "width_mm": -3, "height_mm": 100, "width_px": 10, "height_px": 10, "camera_x_mm": 0, "camera_y_mm": -5}"#, 400, "screen 's'"),
            ("POST", "/v1/screens", #"{"name": "s", "width_mm": "wide"}"#, 400, "wrong type"),
            ("POST", "/v1/screens", #"{"name": "big", "width_mm": 300, "height_mm": 200, "width_px": 1e300, "height_px": 1080, "camera_x_mm": 150, "camera_y_mm": -5}"#, 400, "more than 100000"),
            ("POST", "/v1/calibrations", #"{"user": "zed", "screen": "s"}"#, 404, "no user 'zed'"),
            ("POST", "/v1/calibrations", #"{"user": "ana", "screen": "nowhere"}"#, 404, "no screen 'nowhere'"),
            ("GET", "/v1/screens/nowhere", nil, 404, "no screen"),
            ("POST", "/v1/calibrations/abc/activate", nil, 400, "not a number"),
            ("POST", "/v1/calibrations/99/activate", nil, 404, "no calibration 99"),
            ("GET", "/v1/calibrations/run", nil, 404, "no calibration has run"),
            ("GET", "/v1/nothing-here", nil, 404, "no such endpoint"),
            ("DELETE", "/v1/health", nil, 404, "no such endpoint: DELETE /v1/health"),
        ]
        for (method, path, body, status, message) in cases {
            let r = try await server.request(method, path, body: body)
            #expect(r.status == status, "\(method) \(path)")
            #expect(r.json["status"] as? Int == status, "\(method) \(path): \(r.json)")
            #expect((r.json["error"] as? String ?? "").contains(message), "\(method) \(path): \(r.json)")
        }
        let screen = try await server.request("POST", "/v1/screens", body: #"{"name": "phone", "preset": "iPhone 6"}"#)
        #expect(screen.status == 201)
        let script = try await server.request("POST", "/v1/calibrations", body: #"{"user": "ana", "screen": "phone", "script": "../../etc/passwd"}"#)
        #expect(script.status == 400 && (script.json["error"] as? String ?? "").contains("no calibration script"))
        // Not HTTP, or more than the service reads: a JSON 4xx and a closed connection, whether or not
        // the client waits for 100-continue, and the service carries on.
        let upgrade = "GET /v1/gaze/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        let refused: [(String, Int, String)] = [
            ("GARBAGE\r\n\r\n", 400, "malformed HTTP request"),
            ("GET / HTTP/9.9\r\nHost: x\r\n\r\n", 400, "malformed HTTP request"),
            ("GET / HTTP/1.1\r\nHost x\r\n\r\n", 400, "malformed HTTP request"),
            ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", 400, "malformed HTTP request"),
            ("\u{0}\u{1}\u{2}\r\n\r\n", 400, "malformed HTTP request"),
            ("GET / HTTP/1.1\r\nHost: x\r\nX: " + String(repeating: "a", count: 8 << 20) + "\r\n\r\n", 431, "headers too large"),
            ("POST /v1/users HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n" + String(repeating: "x", count: 5_000_000), 413, "over 64 KiB"),
            ("POST /v1/users HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + String(repeating: "10000\r\n" + String(repeating: "x", count: 65536) + "\r\n", count: 3), 413, "over 64 KiB"),
            (upgrade + "Sec-WebSocket-Key: not base64!!\r\n\r\n", 400, "Sec-WebSocket-Key"),
            (upgrade + "\r\n", 400, "needs Sec-WebSocket-Key"),
        ]
        for (request, status, message) in refused {
            let answer = try StalledClient.exchange(port: server.port, request)
            #expect(answer.hasPrefix("HTTP/1.1 \(status)") && answer.lowercased().contains("connection: close") && answer.contains(message),
                    "\(request.prefix(40)): \(answer.prefix(200))")
        }
        let health = try await server.request("GET", "/v1/health")
        #expect(health.status == 200 && health.json["status"] as? String == "ok")
        let users = try await server.request("GET", "/v1/users")
        #expect((users.json["users"] as? [[String: Any]])?.map { $0["name"] as? String } == ["ana"])
        #expect(server.terminate() == 0)
    }

    /// Slowloris: a head or body that trickles in past the limit gets 408 and a close; a connection
    /// that sends nothing is closed without an answer; the service carries on.
    @Test func slowClientsGet408AndIdleOnesAreClosed() async throws {
        let server = try ServerProcess(["--source", SampleRecording.path, "--loop", "--fps", "10", "--request-timeout", "1", "--db", freshStore()])
        let partial = try StalledClient.exchange(port: server.port, "GET /v1/health HTTP/1.1\r\nHost: x\r\n", wait: 5)
        #expect(partial.hasPrefix("HTTP/1.1 408") && partial.contains("the request head took longer than 1 s"), "\(partial)")
        let body = try StalledClient.exchange(port: server.port, "POST /v1/users HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n{\"na", wait: 6)
        #expect(body.hasPrefix("HTTP/1.1 408") && body.contains("the request body took longer than 2 s"), "\(body)")
        let start = Date()
        let idle = try StalledClient.exchange(port: server.port, "", wait: 8)
        #expect(idle.isEmpty && Date().timeIntervalSince(start) < 6, "closed after \(Date().timeIntervalSince(start)) s: \(idle)")
        #expect(try await server.request("GET", "/v1/health").status == 200)
        #expect(server.terminate() == 0)
    }

    @Test func offLoopbackEveryRequestNeedsTheToken() async throws {
        let refused = try Run(["serve", "--source", SampleRecording.path, "--host", "0.0.0.0", "--port", "0", "--db", freshStore()])
        #expect(refused.status == 1 && refused.stderr.contains("give --token or set FOVEAL_TOKEN"))

        let server = try ServerProcess(["--source", SampleRecording.path, "--loop", "--fps", "10", "--host", "0.0.0.0", "--token", "s3cret", "--db", freshStore()])
        for headers in [[:], ["Authorization": "Bearer wrong"], ["Authorization": "s3cret"]] {
            for path in ["/v1/health", "/v1/users", "/", "/v1/gaze/latest", "/v1/nothing"] {
                let r = try await server.request("GET", path, headers: headers)
                #expect(r.status == 401 && r.json["status"] as? Int == 401, "\(path) \(headers)")
            }
        }
        let post = try await server.request("POST", "/v1/users", body: #"{"name": "eve"}"#)
        #expect(post.status == 401)
        #expect(try await server.request("GET", "/v1/health", headers: ["Authorization": "Bearer s3cret"]).status == 200)
        #expect(try await server.request("GET", "/v1/health?token=s3cret").status == 200)
        // A WebSocket upgrade without the token is refused with 401 too.
        let upgrade = try StalledClient.exchange(port: server.port, "GET /v1/gaze/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        #expect(upgrade.hasPrefix("HTTP/1.1 401") && upgrade.contains("needs a token"), "\(upgrade)")
        let received = Received()
        let client = Task { try await listen(server.webSocketBase + "v1/gaze/stream?token=s3cret", into: received) }
        let deadline = Date().addingTimeInterval(30)
        while await received.count < 2 && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(await received.count >= 2)
        client.cancel()
        #expect(server.terminate() == 0)
    }

    @Test func calibrationThroughTheAPIIsStoredForTheCLI() async throws {
        let db = freshStore()
        let device = try #require(SampleRecording.info["DeviceName"] as? String)
        // Every replayed frame must become a sample (3 per dot), so the run is paced at 5 fps with a
        // small fixture model (~25 ms a frame in a debug build, where the shipped model needs up to
        // 100 ms): nothing is dropped even on a busy machine. Unpaced, the run could also finish
        // before the second request arrives.
        let server = try ServerProcess(["--source", SampleRecording.path, "--loop", "--fps", "5", "--db", db,
                                        "--weights", Fixtures.path("model/no_sampler.weights.safetensors")])
        _ = try await server.request("POST", "/v1/users", body: #"{"name": "ana"}"#)
        let screen = try await server.request("POST", "/v1/screens", body: #"{"name": "phone", "preset": "\#(device)", "orientation": \#(SampleRecording.orientation)}"#)
        #expect(screen.status == 201, "\(screen.json)")
        let started = try await server.request("POST", "/v1/calibrations", body: #"{"user": "ana", "screen": "phone", "script": "5-point"}"#)
        #expect(started.status == 202 && started.json["state"] as? String == "running", "\(started.json)")
        let again = try await server.request("POST", "/v1/calibrations", body: #"{"user": "ana", "screen": "phone", "script": "5-point"}"#)
        #expect(again.status == 409)
        var run: [String: Any] = [:]
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            run = try await server.request("GET", "/v1/calibrations/run").json
            if run["state"] as? String != "running" { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(run["state"] as? String == "done", "\(run)")
        #expect((run["targets"] as? [Any])?.count == 5)
        let result = try #require(run["result"] as? [String: Any])
        #expect(result["samples"] as? Int ?? 0 >= 5 * 3)
        let listed = try await server.request("GET", "/v1/calibrations?user=ana")
        let rows = try #require(listed.json["calibrations"] as? [[String: Any]])
        #expect(rows.count >= 2 && rows.filter { $0["active"] as? Bool == true }.count == 1, "\(rows)")
        #expect(rows.contains { $0["id"] as? Int == result["calibration_id"] as? Int && $0["active"] as? Bool == true })
        // The CLI reads the same store while the service runs.
        let cli = try Run(["calibration", "list", "--json", "--db", db])
        #expect(cli.status == 0 && cli.stdout.contains("\"user\":\"ana\""))
        #expect(server.terminate() == 0)
    }
}
