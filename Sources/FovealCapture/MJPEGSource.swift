import Foundation
import FovealIO

/// A Motion-JPEG file: JPEG images back to back, as `ffmpeg -i x.mp4 -f mjpeg x.mjpeg` writes
/// them and as UVC webcams send them. Each frame is found by walking its JPEG markers (not by
/// searching for an end marker, which entropy-coded data may seem to hold) and decoded with
/// libjpeg-turbo straight into the frame's pixels. The file has no frame rate: `--fps` paces it.
public final class MJPEGSource: FrameSource {
    public let path: String
    public var framesPerSecond: Double? { nil }
    public var description: String { "\(path) (Motion-JPEG\(size.map { ", \($0.width)x\($0.height)" } ?? ""))" }
    private let data: Data
    private var offset: Int
    private var position = 0
    private let decoder: JPEGDecoder
    private var size: (width: Int, height: Int)?

    public convenience init(_ path: String) throws {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw CaptureError(FileManager.default.fileExists(atPath: path) ? .badFile : .notFound, path, "cannot open")
        }
        try self.init(data: data, path: path)
    }

    /// A Motion-JPEG stream already in memory, named `path` in errors (fuzzing).
    public init(data: Data, path: String) throws {
        (self.data, self.path, offset) = (data, path, data.startIndex)
        decoder = JPEGDecoder(path: path, banded: true)
        guard data.count >= 2, data[data.startIndex] == 0xff, data[data.startIndex + 1] == 0xd8 else {
            throw CaptureError(.badFile, path, data.isEmpty ? "empty file, not Motion-JPEG" : "not Motion-JPEG (it does not start with a JPEG)")
        }
    }

    public func next() throws -> Frame? {
        guard offset < data.endIndex else { return nil }
        let end = try Self.frameEnd(data, from: offset, frame: position, path: path)
        var image = RGBImage(width: 0, height: 0)
        do {
            try data[offset..<end].withUnsafeBytes { try decoder.decode($0, into: &image) }
        } catch let e as FileFormatError {
            throw CaptureError(.badFile, path, "frame \(position): \(e.problem)")
        }
        size = (image.width, image.height)
        offset = end
        defer { position += 1 }
        return Frame(image: image, timestamp: MonotonicClock.now(), index: position)
    }

    public func skip() throws -> Bool {
        guard offset < data.endIndex else { return false }
        offset = try Self.frameEnd(data, from: offset, frame: position, path: path)
        position += 1
        return true
    }

    public func close() {}

    /// Where the JPEG starting at `start` ends (just past its EOI marker), by its segments:
    /// marker segments carry their length; after a start of scan, entropy-coded data runs to the
    /// next marker that is not a stuffed 0xFF00 or a restart marker. The scan over the
    /// entropy-coded data (most of a frame's bytes) jumps from 0xFF to 0xFF with memchr.
    static func frameEnd(_ data: Data, from start: Int, frame: Int, path: String) throws -> Int {
        let base = data.startIndex
        return try data.withUnsafeBytes { bytes in
            try base + frameEnd(bytes, from: start - base, frame: frame, path: path)
        }
    }

    /// `frameEnd` on raw bytes; offsets count from the buffer's start.
    static func frameEnd(_ data: UnsafeRawBufferPointer, from start: Int, frame: Int, path: String) throws -> Int {
        func fail(_ problem: String) -> CaptureError { CaptureError(.badFile, path, "frame \(frame) (byte \(start)): \(problem)") }
        let end = data.count
        guard start + 1 < end, data[start] == 0xff, data[start + 1] == 0xd8 else { throw fail("expected a JPEG start (FF D8)") }
        var i = start + 2
        while true {
            guard i < end else { throw fail("truncated (no end of image)") }
            guard data[i] == 0xff else { throw fail("expected a marker at byte \(i)") }
            while i < end, data[i] == 0xff { i += 1 }  // fill bytes
            guard i < end else { throw fail("truncated (no end of image)") }
            let marker = data[i]
            i += 1
            switch marker {
            case 0xd9:
                return i
            case 0xd0...0xd7, 0x01:
                continue  // standalone markers
            case 0xd8:
                throw fail("a second start of image before the end of the first")
            default:
                guard i + 1 < end else { throw fail("truncated segment header") }
                let length = Int(data[i]) << 8 | Int(data[i + 1])
                guard length >= 2, i + length <= end else { throw fail("truncated (a segment runs past the end)") }
                i += length
                guard marker == 0xda else { continue }
                // Entropy-coded data up to the next real marker.
                while true {
                    guard i + 1 < end, let base = data.baseAddress,
                          let hit = memchr(base + i, 0xff, end - 1 - i) else { throw fail("truncated (no end of image)") }
                    i = base.distance(to: UnsafeRawPointer(hit))
                    let next = data[i + 1]
                    if next != 0, !(0xd0...0xd7).contains(next), next != 0xff { break }
                    i += 1
                }
            }
        }
    }
}
