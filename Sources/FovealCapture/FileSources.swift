import Foundation
import FovealGeometry
import FovealIO
import FovealTensor
import GazeCapture

/// Images from a folder (sorted by name) or a glob such as "shots/*.jpg", one frame each.
public final class ImageFolderSource: FrameSource {
    public let paths: [String]
    public let description: String
    public var framesPerSecond: Double? { nil }
    private var position = 0

    public init(_ pattern: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: pattern, isDirectory: &isDirectory), isDirectory.boolValue {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: pattern)) ?? []
            paths = names.filter { name in [".jpg", ".jpeg", ".png"].contains { name.lowercased().hasSuffix($0) } }
                .sorted().map { pattern + "/" + $0 }
        } else {
            var g = glob_t()
            defer { globfree(&g) }
            paths = glob(pattern, 0, nil, &g) == 0
                ? (0..<Int(g.gl_pathc)).compactMap { g.gl_pathv[$0].map { String(cString: $0) } }.sorted() : []
        }
        guard !paths.isEmpty else { throw CaptureError(.badFile, pattern, "no PNG or JPEG images there") }
        description = "\(pattern) (\(paths.count) images)"
    }

    public func skip() throws -> Bool {
        guard position < paths.count else { return false }
        position += 1
        return true
    }

    public func next() throws -> Frame? {
        guard position < paths.count else { return nil }
        defer { position += 1 }
        do {
            return Frame(image: try RGBImage(contentsOf: paths[position]), timestamp: MonotonicClock.now(), index: position,
                         name: paths[position])
        } catch {
            throw CaptureError(.badFile, paths[position], "\((error as? FileFormatError)?.problem ?? "\(error)")")
        }
    }

    public func close() {}
}

/// A GazeCapture or synthetic recording: every frame (valid or all) with its dot label.
public final class RecordingSource: FrameSource {
    public let frames: [GazeCaptureFrame]
    public let description: String
    public let framesPerSecond: Double?
    private var position = 0

    /// `path` is a recording folder (with info.json and frames/).
    public init(_ path: String, validOnly: Bool = true, framesPerSecond: Double? = nil) throws {
        let folder = URL(fileURLWithPath: path).standardizedFileURL
        do {
            let dataset = try GazeCaptureDataset(root: folder.deletingLastPathComponent().path)
            let recording = try dataset.recording(folder.lastPathComponent)
            frames = validOnly ? recording.frames.filter(\.isValid) : recording.frames
            description = "\(path) (\(recording.device), \(frames.count) \(validOnly ? "valid " : "")frames)"
        } catch let p as FileFormatError {
            throw CaptureError(.badFile, p.path, p.problem)
        }
        self.framesPerSecond = framesPerSecond
    }

    public func skip() throws -> Bool {
        guard position < frames.count else { return false }
        position += 1
        return true
    }

    public func next() throws -> Frame? {
        guard position < frames.count else { return nil }
        let f = frames[position]
        defer { position += 1 }
        do {
            return Frame(image: try RGBImage(contentsOf: f.imagePath), timestamp: MonotonicClock.now(), index: position,
                         label: f.gaze, name: "\(f.recordingID)/\(f.index)", startsRecording: position == 0)
        } catch {
            throw CaptureError(.badFile, f.imagePath, "\((error as? FileFormatError)?.problem ?? "\(error)")")
        }
    }

    public func close() {}
}

/// A YUV4MPEG2 file (what `ffmpeg -i x.mp4 -pix_fmt yuv420p x.y4m` writes): 4:2:0 (any chroma
/// siting), 4:4:4 or mono, 8 bits, BT.601 video range.
public final class Y4MSource: FrameSource {
    public let path: String
    public let width: Int, height: Int
    public let framesPerSecond: Double?
    public let chroma: String
    public var description: String { "\(path) (Y4M \(width)x\(height) \(chroma)\(framesPerSecond.map { String(format: " at %g fps", $0) } ?? ""))" }
    private let handle: ByteStream
    private var position = 0

    public convenience init(_ path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw CaptureError(.notFound, path, "cannot open") }
        try self.init(handle, path: path)
    }

    /// A Y4M stream already in memory, named `path` in errors (fuzzing).
    public convenience init(data: Data, path: String) throws {
        try self.init(MemoryStream(data), path: path)
    }

    private init(_ handle: ByteStream, path: String) throws {
        self.path = path
        self.handle = handle
        let header = try Self.line(handle, path)
        let fields = header.split(separator: " ")
        guard fields.first == "YUV4MPEG2" else { throw CaptureError(.badFile, path, "not a Y4M file (no YUV4MPEG2 header)") }
        var w = 0, h = 0, fps: Double?, c = "420jpeg"
        for f in fields.dropFirst() {
            let value = f.dropFirst()
            switch f.first {
            case "W": w = Int(value) ?? 0
            case "H": h = Int(value) ?? 0
            case "F":
                let parts = value.split(separator: ":").compactMap { Double($0) }
                if parts.count == 2, parts[1] > 0, parts[0] > 0, (parts[0] / parts[1]).isFinite { fps = parts[0] / parts[1] }
            case "C": c = String(value)
            case "I": if value != "p" && value != "?" { throw CaptureError(.badFile, path, "interlaced Y4M (I\(value)) is not supported") }
            default: break
            }
        }
        guard w > 0, h > 0, w <= 8192, h <= 8192 else { throw CaptureError(.badFile, path, "bad frame size \(w)x\(h) in the header") }
        // Only 8-bit layouts: C420p10, C444p12, Cmono16 and the like hold 2 bytes a sample.
        guard Self.eightBitColourSpaces.contains(c) else {
            throw CaptureError(.badFile, path, "colour space C\(c) is not supported: Foveal reads 8-bit 4:2:0, 4:4:4 or mono (use -pix_fmt yuv420p)")
        }
        (width, height, framesPerSecond, chroma) = (w, h, fps, c)
    }

    public func next() throws -> Frame? {
        let marker: String
        do { marker = try Self.line(handle, path) } catch let e as CaptureError where e.kind == .stalled { return nil }
        guard marker.hasPrefix("FRAME") else { throw CaptureError(.badFile, path, "frame \(position): expected FRAME, found '\(marker.prefix(16))'") }
        let (cw, ch) = chroma.hasPrefix("420") ? ((width + 1) / 2, (height + 1) / 2) : chroma == "444" ? (width, height) : (0, 0)
        let size = width * height + 2 * cw * ch
        let data = handle.readData(ofLength: size)
        guard data.count == size else { throw CaptureError(.badFile, path, "frame \(position) is truncated (\(data.count) of \(size) bytes)") }
        var image = RGBImage(uninitializedWidth: width, height: height)
        let layout: YCbCr.Chroma = chroma == "mono" ? .none : chroma == "444" ? .full : .halfWidth
        data.withUnsafeBytes { raw in
            let y = raw.bindMemory(to: UInt8.self).baseAddress!, u = y + width * height, v = u + cw * ch
            let (width, cw) = (width, cw)
            image.pixels.withUnsafeMutableBufferPointer { pixels in
                let base = pixels.baseAddress!
                parallelChunks(height, minimumChunk: YCbCr.rowsPerChunk) { rows in
                    for row in rows {
                        let chromaRow = layout == .full ? row : row / 2
                        YCbCr.planarRow(y: y + row * width, cb: u + chromaRow * cw, cr: v + chromaRow * cw, chroma: layout,
                                        into: base + row * width * 3, width: width)
                    }
                }
            }
        }
        defer { position += 1 }
        return Frame(image: image, timestamp: MonotonicClock.now(), index: position)
    }

    public func close() { handle.closeStream() }

    /// The 8-bit colour spaces Y4M names (4:2:0 with any chroma siting, 4:4:4, mono).
    static let eightBitColourSpaces: Set<String> = ["420", "420jpeg", "420paldv", "420mpeg2", "444", "mono"]

    /// One header or frame line (up to '\n'); `.stalled` at a clean end of file.
    static func line(_ handle: ByteStream, _ path: String) throws -> String {
        var bytes: [UInt8] = []
        while true {
            let b = handle.readData(ofLength: 1)
            guard let c = b.first else {
                if bytes.isEmpty { throw CaptureError(.stalled, path, "end of file") }
                throw CaptureError(.badFile, path, "truncated header line")
            }
            if c == 0x0a { break }
            bytes.append(c)
            if bytes.count > 4096 { throw CaptureError(.badFile, path, "header line too long (not a Y4M file?)") }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Where a Y4M stream's bytes come from: an open file, or bytes in memory.
protocol ByteStream: AnyObject {
    /// Up to `count` bytes; fewer at the end.
    func readData(ofLength count: Int) -> Data
    func closeStream()
}

extension FileHandle: ByteStream {
    func closeStream() { try? close() }
}

final class MemoryStream: ByteStream {
    private let data: Data
    private var offset: Int

    init(_ data: Data) { (self.data, offset) = (data, data.startIndex) }

    func readData(ofLength count: Int) -> Data {
        let end = min(data.endIndex, offset + max(0, count))
        defer { offset = end }
        return data[offset..<end]
    }

    func closeStream() {}
}

/// Plays a file source in real time at `framesPerSecond`: each call returns the newest frame due
/// by now, skipping (and counting) the frames whose time has passed, as a live camera would.
public final class PacedSource: FrameSource {
    public let inner: FrameSource
    public var framesPerSecond: Double? { rate }
    public private(set) var dropped = 0
    public var description: String { inner.description + String(format: " played at %g fps", rate) }
    private let rate: Double
    private var start: Double?
    private var delivered = -1

    /// `framesPerSecond` is a positive rate (the command line's `--fps` allows 0.1-1000).
    public init(_ inner: FrameSource, framesPerSecond: Double) {
        self.inner = inner
        rate = framesPerSecond
    }

    public func next() throws -> Frame? {
        let now = MonotonicClock.now()
        let start = self.start ?? now
        self.start = start
        func dueBy(_ time: Double) -> Int { Int(((time - start) * rate).rounded(.down)) }
        // The frame due now, but never one already delivered.
        var due = max(delivered + 1, dueBy(now))
        let dueTime = start + Double(due) / rate
        if dueTime - now > Engine.wakeLeadSeconds {
            usleep(useconds_t((dueTime - Engine.wakeLeadSeconds - now) * 1e6))
            Engine.wakeWorkers()
        }
        let left = dueTime - MonotonicClock.now()
        if left > 0 { usleep(useconds_t(left * 1e6)) }
        due = max(due, dueBy(MonotonicClock.now()))
        for _ in (delivered + 1)..<due {
            guard try inner.skip() else { return nil }
        }
        guard var frame = try inner.next() else { return nil }
        dropped += due - delivered - 1
        delivered = due
        frame.timestamp = start + Double(due) / rate
        return frame
    }

    public func close() { inner.close() }
}

/// Replays a file source endlessly: at its end the source is opened again, and frame indices keep
/// counting up, so that a long-running service (`foveal serve --source ... --loop`) sees one stream.
public final class LoopingSource: FrameSource {
    private let open: () throws -> FrameSource
    private var current: FrameSource
    private var offset = 0, lastIndex = -1
    public private(set) var loops = 0
    /// Frames the passes before the current one dropped.
    private var droppedBefore = 0
    public var dropped: Int { droppedBefore + current.dropped }
    public var framesPerSecond: Double? { current.framesPerSecond }
    public var description: String { current.description + " (looping)" }

    /// `open` makes a fresh source for each pass; the first pass opens it at once, so that a bad
    /// path fails here and not later.
    public init(_ open: @escaping () throws -> FrameSource) throws {
        self.open = open
        self.current = try open()
    }

    public func next() throws -> Frame? {
        if var frame = try current.next() {
            frame.index += offset
            lastIndex = frame.index
            return frame
        }
        // An empty source would loop forever without a frame: end instead.
        guard lastIndex >= offset else { return nil }
        droppedBefore += current.dropped
        current.close()
        current = try open()
        loops += 1
        offset = lastIndex + 1
        return try next()
    }

    public func close() { current.close() }
}
