import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import FovealTestSupport
import Logging
import NIOCore
import WSClient

/// `foveal serve` as a user starts it: a child process on a free loopback port, its URL read from
/// the JSON line it prints once listening.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    let stderrPath: String
    private(set) var url = ""

    init(_ arguments: [String]) throws {
        stderrPath = Fixtures.temporaryDirectory() + "/serve.stderr"
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: Run.binary)
        process.arguments = ["serve", "--port", "0"] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        try process.run()
        // The first stdout line says where it listens; give model loading and startup a minute.
        let ready = DispatchSemaphore(value: 0)
        let box = LineBox()
        Thread {
            var buffer = Data()
            while !buffer.contains(UInt8(ascii: "\n")) {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                buffer += chunk
            }
            box.line = String(decoding: buffer, as: UTF8.self)
            ready.signal()
        }.start()
        guard ready.wait(timeout: .now() + 90) == .success,
              let object = try? JSONSerialization.jsonObject(with: Data(box.line.utf8)) as? [String: Any],
              let url = object["url"] as? String else {
            process.terminate()
            throw ServerFailure("foveal serve did not start: \(box.line) \(stderr)")
        }
        self.url = url.replacingOccurrences(of: "0.0.0.0", with: "127.0.0.1")
    }

    deinit { if process.isRunning { process.interrupt(); process.waitUntilExit() } }

    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
    var port: Int { Int(url.split(separator: ":").last!.filter(\.isNumber))! }
    var webSocketBase: String { url.replacingOccurrences(of: "http://", with: "ws://") }

    /// SIGTERM, then the exit status (nil when it had not exited after `seconds`).
    func terminate(within seconds: Double = 15) -> Int32? {
        process.terminate()
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// One HTTP request: status and the JSON body.
    func request(_ method: String, _ path: String, body: String? = nil, headers: [String: String] = [:]) async throws -> (status: Int, json: [String: Any]) {
        var request = URLRequest(url: URL(string: url + path.dropFirst())!)
        request.httpMethod = method
        request.httpBody = body.map { Data($0.utf8) }
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        let (data, response) = try await URLSession.shared.data(for: request)
        let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? ["raw": String(decoding: data, as: UTF8.self)]
        return ((response as! HTTPURLResponse).statusCode, json)
    }

    func health() async throws -> [String: Any] { try await request("GET", "/v1/health").json }

    /// Waits until `condition` on /v1/health holds.
    func waitForHealth(timeout: Double = 120, _ condition: ([String: Any]) -> Bool) async throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let h = try await health()
            if condition(h) { return h }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ServerFailure("timed out waiting on /v1/health: \(try await health())")
    }
}

final class LineBox: @unchecked Sendable { var line = "" }

struct ServerFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// What a WebSocket client saw: its text messages in order and how the server closed.
actor Received {
    var messages: [String] = []
    var closeCode: String?
    func add(_ m: String) { messages.append(m) }
    func closed(_ code: String?) { closeCode = code }
    /// Connection attempts that failed before any message, with why.
    var failures: [String] = []
    func failed(_ why: String) { failures.append(why) }
    var count: Int { messages.count }
}

/// Connects to `url` and records every text message until the server closes or the task is cancelled.
/// A connection that fails before any message arrives (a handshake timed out on a machine busy
/// with the rest of the suite) is tried again, a few times, as a client program would.
func listen(_ url: String, into received: Received) async throws {
    var logger = Logger(label: "test.ws")
    logger.logLevel = .critical
    for attempt in 1...5 {
        do {
            let close = try await WebSocketClient.connect(url: url, logger: logger) { inbound, _, _ in
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    if case .text(let text) = message { await received.add(text) }
                }
            }
            await received.closed(close.map { "\($0.closeCode)" })
            return
        } catch {
            guard await received.count == 0, attempt < 5, !Task.isCancelled else { throw error }
            await received.failed("\(error)")
            try await Task.sleep(for: .milliseconds(200))
        }
    }
}

/// A TCP client that completes the WebSocket handshake and then never reads: the slow consumer.
final class StalledClient {
    let fd: Int32

    init(port: Int, path: String) throws {
        fd = try Self.connectSocket(port: port)
        let handshake = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        _ = handshake.withCString { write(fd, $0, strlen($0)) }
    }

    static func connectSocket(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var small: Int32 = 1024
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { close(fd); throw ServerFailure("cannot connect to port \(port)") }
        return fd
    }

    /// Sends raw bytes and returns whatever comes back within a second (for malformed requests).
    /// Sends `bytes` and reads until the server closes or stays silent for `wait` seconds.
    static func exchange(port: Int, _ bytes: String, wait: Int = 1) throws -> String {
        let fd = try connectSocket(port: port)
        defer { close(fd) }
        // The server may answer and close before it has read everything: no SIGPIPE for that.
        let payload = Array(bytes.utf8)
        var sent = 0
        while sent < payload.count {
            let n = payload[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }
            sent += n
        }
        var timeout = timeval(tv_sec: wait, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 65536), total = Data()
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            total += buffer[0..<n]
        }
        return String(decoding: total, as: UTF8.self)
    }

    deinit { close(fd) }
}

/// A synthetic recording rendered by `foveal synth`, made once per test run.
enum SampleRecording {
    static let path: String = {
        let dir = Fixtures.temporaryDirectory() + "/gc"
        let run = try! Run(["synth", "--out", dir, "--recordings", "1", "--dots", "12", "--frames-per-dot", "4", "--seed", "5", "--setup", "phone"])
        precondition(run.status == 0, run.stderr)
        let recording = try! FileManager.default.contentsOfDirectory(atPath: dir).filter { !$0.hasPrefix(".") }.sorted()[0]
        return dir + "/" + recording
    }()

    static var info: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path + "/info.json")))) as? [String: Any] ?? [:]
    }

    static var orientation: Int {
        let screen = (try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path + "/screen.json")))) as? [String: Any]
        return ((screen?["Orientation"] as? [Int])?.first) ?? 1
    }
}
