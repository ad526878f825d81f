import CJPEG
import CPNG
import CTurboJPEG
import Foundation
import FovealTensor

/// An 8-bit RGB image, rows top to bottom, pixels interleaved R, G, B: what a camera frame or a
/// decoded PNG/JPEG file becomes before the model normalises it.
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// width * height * 3 bytes.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3, "\(pixels.count) bytes for \(width)x\(height) RGB")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    public init(width: Int, height: Int) {
        self.init(width: width, height: height, pixels: [UInt8](repeating: 0, count: width * height * 3))
    }

    /// An image whose bytes the caller writes, every one, before anyone reads them: a decoder's
    /// output buffer, spared the memset of a 1080p frame's 6 MB.
    public init(uninitializedWidth width: Int, height: Int) {
        let count = width * height * 3
        self.init(width: width, height: height, pixels: [UInt8](unsafeUninitializedCapacity: count) { _, n in n = count })
    }
}

extension RGBImage {
    /// Mean BT.601 luma (0-255) over every `step`-th pixel of every `step`-th row: how bright the
    /// frame is, at a cost that barely grows with it.
    public func meanLuma(step: Int = 4) -> Double {
        guard width > 0, height > 0 else { return 0 }
        let step = max(1, step)
        var sum = 0, count = 0
        pixels.withUnsafeBufferPointer { p in
            for y in stride(from: 0, to: height, by: step) {
                var i = y * width * 3
                let end = i + width * 3
                while i < end {
                    // 0.299, 0.587, 0.114 in 1/1024ths.
                    sum += 306 * Int(p[i]) + 601 * Int(p[i + 1]) + 117 * Int(p[i + 2])
                    count += 1
                    i += 3 * step
                }
            }
        }
        return Double(sum) / Double(count) / 1024
    }

    /// Reads a PNG or JPEG file (told apart by its first bytes, not its name); grey and RGBA
    /// images are converted to RGB.
    public init(contentsOf path: String) throws {
        try self.init(encoded: try Self.mapped(path), path: path)
    }

    /// The size a PNG or JPEG file's header declares, without decoding its pixels: what a batch
    /// loader groups frames by before it reads them.
    public static func size(ofFileAt path: String) throws -> (width: Int, height: Int) {
        try size(encoded: try mapped(path), path: path)
    }

    /// The size PNG or JPEG bytes declare; `path` only names the source in errors.
    public static func size(encoded data: Data, path: String) throws -> (width: Int, height: Int) {
        switch try Encoding(of: data, path: path) {
        case .png:
            // The IHDR chunk comes first: its width and height are big-endian at bytes 16 and 20.
            let bytes = [UInt8](data.prefix(24))
            guard bytes.count == 24, bytes[12..<16].elementsEqual("IHDR".utf8) else { throw FileFormatError(path, "corrupt PNG: no IHDR header") }
            let word = { (at: Int) in bytes[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
            let (width, height) = (word(16), word(20))
            guard (1...(1 << 28)).contains(width), (1...(1 << 28)).contains(height), width * height <= 1 << 28 else { throw FileFormatError(path, "corrupt PNG: its header gives \(width)x\(height) pixels") }
            return (width, height)
        case .jpeg:
            return try data.withUnsafeBytes { try JPEGDecoder(path: path).size($0) }
        }
    }

    /// Decodes PNG or JPEG bytes; `path` only names the source in errors.
    public init(encoded data: Data, path: String) throws {
        switch try Encoding(of: data, path: path) {
        case .png: self = try Self.decodePNG(data, path: path)
        case .jpeg: self = try Self.decodeJPEG(data, path: path)
        }
    }

    /// Which of the two formats some bytes hold, by their first bytes.
    private enum Encoding {
        case png, jpeg

        init(of data: Data, path: String) throws {
            let magic = [UInt8](data.prefix(4))
            if magic.starts(with: [0x89, 0x50, 0x4e, 0x47]) {
                self = .png
            } else if magic.starts(with: [0xff, 0xd8]) {
                self = .jpeg
            } else {
                throw FileFormatError(path, data.isEmpty ? "empty file, not an image" : "not a PNG or JPEG image")
            }
        }
    }

    /// A file's bytes, mapped rather than copied.
    private static func mapped(_ path: String) throws -> Data {
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw FileFormatError(path, "cannot read: \((error as NSError).localizedDescription)")
        }
    }

    private static func decodePNG(_ data: Data, path: String) throws -> RGBImage {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }
        let ok = data.withUnsafeBytes { raw in
            png_image_begin_read_from_memory(&image, raw.baseAddress, raw.count) != 0
        }
        guard ok else { throw FileFormatError(path, "corrupt PNG: \(message(of: image))") }
        image.format = UInt32(PNG_FORMAT_RGB)
        let (width, height) = (Int(image.width), Int(image.height))
        guard width > 0, height > 0, width * height <= 1 << 28 else {
            throw FileFormatError(path, "corrupt PNG: its header gives \(width)x\(height) pixels")
        }
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        let finished = pixels.withUnsafeMutableBytes { out in
            png_image_finish_read(&image, nil, out.baseAddress, 0, nil) != 0
        }
        guard finished else { throw FileFormatError(path, "corrupt PNG: \(message(of: image))") }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    private static func message(of image: png_image) -> String {
        withUnsafeBytes(of: image.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    private static func decodeJPEG(_ data: Data, path: String) throws -> RGBImage {
        var image = RGBImage(width: 0, height: 0)
        try data.withUnsafeBytes { try JPEGDecoder(path: path).decode($0, into: &image) }
        return image
    }

    /// Writes the image as an 8-bit RGB PNG.
    public func writePNG(to path: String) throws {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width)
        image.height = UInt32(height)
        image.format = UInt32(PNG_FORMAT_RGB)
        let ok = pixels.withUnsafeBytes { raw in
            png_image_write_to_file(&image, path, 0, raw.baseAddress, 0, nil) != 0
        }
        png_image_free(&image)
        guard ok else { throw FileFormatError(path, "cannot write PNG: \(Self.message(of: image))") }
    }

    /// Encodes the image as a JPEG of the given quality (1-100).
    public func jpegData(quality: Int) throws -> Data {
        guard let handle = tjInitCompress() else { throw FileFormatError("<memory>", "cannot start the JPEG encoder") }
        defer { tjDestroy(handle) }
        var buffer: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let status = pixels.withUnsafeBufferPointer { src in
            tjCompress2(handle, src.baseAddress, Int32(width), 0, Int32(height), Int32(TJPF_RGB.rawValue),
                        &buffer, &size, Int32(TJSAMP_420.rawValue), Int32(quality), 0)
        }
        defer { if buffer != nil { tjFree(buffer) } }
        guard status == 0, let buffer else {
            throw FileFormatError("<memory>", "JPEG encoding failed: \(String(cString: tjGetErrorStr2(handle)))")
        }
        return Data(bytes: buffer, count: Int(size))
    }
}

/// A JPEG decoder kept open for a stream of frames (a Motion-JPEG file or camera): libjpeg-turbo
/// decodes each frame straight into the pixels of the image it is given, which is reused while
/// frames keep their size. Not for use from two threads at once.
public final class JPEGDecoder {
    /// Names the stream in errors.
    public let path: String
    /// Whether frames of `bandedPixels` or more are decoded in two bands at once: for a live
    /// stream, where latency counts; a batch loader, which keeps the cores busy anyway, decodes in
    /// one piece and spares the second band's extra reading.
    public let banded: Bool
    private let handle: tjhandle?

    public init(path: String, banded: Bool = false) {
        self.path = path
        self.banded = banded
        handle = tjInitDecompress()
    }

    deinit { if let handle { tjDestroy(handle) } }

    /// Decodes one JPEG into `image`, resizing it if the frame's size differs. Motion-JPEG from
    /// UVC cameras often leaves out its Huffman tables; libjpeg-turbo supplies the standard ones.
    public func decode(_ jpeg: UnsafeRawBufferPointer, into image: inout RGBImage) throws {
        guard let handle else { throw FileFormatError(path, "cannot start the JPEG decoder") }
        let source = jpeg.bindMemory(to: UInt8.self)
        let (w, h) = try size(jpeg)
        let (width, height) = (Int32(w), Int32(h))
        // A successful decode writes every byte; a failed one throws the image away.
        if image.width != Int(width) || image.height != Int(height) { image = RGBImage(uninitializedWidth: Int(width), height: Int(height)) }
        if banded && Int(width) * Int(height) >= Self.bandedPixels && Engine.threads > 1 {
            try decodeInBands(source, into: &image)
            return
        }
        // Stop on warnings too: a truncated JPEG otherwise "decodes" with grey rows at the bottom.
        let status = image.pixels.withUnsafeMutableBufferPointer { out in
            tjDecompress2(handle, source.baseAddress, UInt(jpeg.count), out.baseAddress, width, 0, height,
                          Int32(TJPF_RGB.rawValue), TJFLAG_STOPONWARNING)
        }
        guard status == 0 else { throw FileFormatError(path, "corrupt JPEG: \(String(cString: tjGetErrorStr2(handle)))") }
    }

    /// The width and height one JPEG's header declares (at most 2^28 pixels).
    public func size(_ jpeg: UnsafeRawBufferPointer) throws -> (width: Int, height: Int) {
        guard let handle else { throw FileFormatError(path, "cannot start the JPEG decoder") }
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        guard tjDecompressHeader3(handle, jpeg.bindMemory(to: UInt8.self).baseAddress, UInt(jpeg.count),
                                  &width, &height, &subsampling, &colorspace) == 0 else {
            throw FileFormatError(path, "corrupt JPEG: \(String(cString: tjGetErrorStr2(handle)))")
        }
        guard width > 0, height > 0, Int(width) * Int(height) <= 1 << 28 else {
            throw FileFormatError(path, "corrupt JPEG: its header gives \(width)x\(height) pixels")
        }
        return (Int(width), Int(height))
    }

    /// Frames this large (720p and up) are decoded in two bands of rows at once when `banded`,
    /// one per core: a 1080p frame took 8.3 ms in one piece here, in front of the model. The bands
    /// give the same bytes as one piece.
    public static let bandedPixels = 1280 * 720

    /// Where the second band starts, as a fraction of the rows: its decoder still reads (but does
    /// not transform) the entropy-coded data of the rows above, so the first band is the larger.
    static let secondBandStart = 0.58

    private func decodeInBands(_ jpeg: UnsafeBufferPointer<UInt8>, into image: inout RGBImage) throws {
        let (width, height) = (image.width, image.height)
        // On an iMCU row (16 rows at most): the first band's last rows then need nothing below it.
        let split = max(16, Int(Double(height) * Self.secondBandStart) / 16 * 16)
        let bands = [(0, min(split, height)), (min(split, height), height - min(split, height))]
        var messages = [String?](repeating: nil, count: 2)
        image.pixels.withUnsafeMutableBufferPointer { out in
            let (base, source) = (UncheckedSendable(out.baseAddress!), UncheckedSendable(jpeg))
            messages.withUnsafeMutableBufferPointer { failures in
                let failed = UncheckedSendable(failures.baseAddress!)
                parallelFor(2) { band in
                    let (first, count) = bands[band]
                    guard count > 0 else { return }
                    var message = [CChar](repeating: 0, count: Int(FOVEAL_JPEG_MESSAGE))
                    let status = foveal_jpeg_decode_rows(source.value.baseAddress, UInt(source.value.count),
                                                         base.value + first * width * 3, Int32(width), Int32(height),
                                                         Int32(first), Int32(count), &message)
                    if status != 0 { failed.value[band] = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
                }
            }
        }
        if let message = messages.compactMap({ $0 }).first { throw FileFormatError(path, "corrupt JPEG: \(message)") }
    }
}
