import Foundation
import FovealCapture
import FovealIO
import FovealTestSupport
import FovealTracking
import Testing

@Suite struct Y4MReading {
    let dir = Fixtures.temporaryDirectory()

    func write(_ header: String, frames: [[UInt8]], name: String = "a.y4m") -> String {
        var data = Data((header + "\n").utf8)
        for f in frames { data.append(Data("FRAME\n".utf8)); data.append(Data(f)) }
        let path = dir + "/" + name
        FileManager.default.createFile(atPath: path, contents: data)
        return path
    }

    @Test func yuv420FramesBecomeRGB() throws {
        // 4x2 frame: Y ramps, one chroma sample per 2x2 block.
        let y: [UInt8] = [16, 60, 120, 235, 16, 60, 120, 235], u: [UInt8] = [128, 90], v: [UInt8] = [128, 200]
        let path = write("YUV4MPEG2 W4 H2 F25:1 Ip A1:1 C420jpeg XYSCSS=420JPEG", frames: [y + u + v, y + u + v])
        let source = try Y4MSource(path)
        #expect(source.framesPerSecond == 25 && source.width == 4 && source.height == 2)
        let frame = try #require(try source.next())
        for (i, (cb, cr)) in [(128, 128), (128, 128), (90, 200), (90, 200)].enumerated() {
            let expected = YCbCr.rgb(y[i], UInt8(cb), UInt8(cr))
            #expect(Array(frame.image.pixels[(i * 3)..<(i * 3 + 3)]) == [expected.0, expected.1, expected.2])
        }
        // Video range: Y 16 is black, Y 235 with neutral chroma is white.
        #expect(Array(frame.image.pixels[0..<3]) == [0, 0, 0])
        #expect(try source.next() != nil)
        #expect(try source.next() == nil)
    }

    @Test func brokenFilesAreExplained() throws {
        let truncated = write("YUV4MPEG2 W4 H2 F25:1 C420jpeg", frames: [[1, 2, 3]], name: "t.y4m")
        do { _ = try Y4MSource(truncated).next(); Issue.record("accepted") } catch {
            #expect("\(error)" == "\(truncated): frame 0 is truncated (3 of 12 bytes)")
        }
        let notY4M = write("P6 4 2 255", frames: [], name: "n.y4m")
        #expect(throws: CaptureError.self) { try Y4MSource(notY4M) }
        let interlaced = write("YUV4MPEG2 W4 H2 It C420jpeg", frames: [], name: "i.y4m")
        do { _ = try Y4MSource(interlaced); Issue.record("accepted") } catch { #expect("\(error)".contains("interlaced")) }
    }
}

/// The row kernels against BT.601 in Double, and their AVX2 build against the portable one.
@Suite struct YCbCrConversion {
    /// BT.601 video range, rounded: what every pixel must be within one level of.
    static func reference(_ y: UInt8, _ cb: UInt8, _ cr: UInt8) -> [Double] {
        let (c, d, e) = (1.164 * (Double(y) - 16), Double(cb) - 128, Double(cr) - 128)
        return [c + 1.596 * e, c - 0.392 * d - 0.813 * e, c + 2.017 * d].map { min(255, max(0, $0.rounded())) }
    }

    @Test(arguments: [1, 2, 7, 255, 256, 257, 1281])
    func rowsMatchTheFormula(width: Int) {
        var rng = SystemRandomNumberGenerator()
        let luma = (0..<width).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let cb = (0..<width).map { _ in UInt8.random(in: 0...255, using: &rng) }, cr = (0..<width).map { _ in UInt8.random(in: 0...255, using: &rng) }
        // YUYV: pairs share the chroma of their first pixel's position in `cb`/`cr` here.
        var yuyv = [UInt8](repeating: 0, count: 2 * width + 2)
        for x in 0..<width { yuyv[2 * x] = luma[x]; if x % 2 == 0 { yuyv[2 * x + 1] = cb[x / 2]; yuyv[2 * x + 3] = cr[x / 2] } }
        for chroma in [YCbCr.Chroma.none, .full, .halfWidth] {
            var rows: [[UInt8]] = []
            for vector in [false, true] {
                var out = [UInt8](repeating: 0, count: width * 3)
                out.withUnsafeMutableBufferPointer { o in
                    YCbCr.planarRow(y: luma, cb: cb, cr: cr, chroma: chroma, into: o.baseAddress!, width: width, vector: vector && YCbCr.vectorKernel)
                }
                rows.append(out)
            }
            #expect(rows[0] == rows[1], "AVX2 and portable builds differ (\(chroma), width \(width))")
            for x in 0..<width {
                let (u, v) = chroma == .none ? (UInt8(128), UInt8(128)) : chroma == .full ? (cb[x], cr[x]) : (cb[x / 2], cr[x / 2])
                let want = Self.reference(luma[x], u, v)
                #expect((0..<3).allSatisfy { abs(Double(rows[0][x * 3 + $0]) - want[$0]) <= 1 }, "\(chroma) pixel \(x) of \(width)")
            }
        }
        var packed = [UInt8](repeating: 0, count: width * 3)
        packed.withUnsafeMutableBufferPointer { YCbCr.yuyvRow(yuyv, into: $0.baseAddress!, width: width) }
        for x in 0..<width {
            // An odd last pixel has no pair: neutral chroma.
            let (u, v) = x == width - 1 && width % 2 == 1 ? (UInt8(128), UInt8(128)) : (cb[x / 2], cr[x / 2])
            let want = Self.reference(luma[x], u, v)
            #expect((0..<3).allSatisfy { abs(Double(packed[x * 3 + $0]) - want[$0]) <= 1 }, "YUYV pixel \(x) of \(width)")
        }
    }
}

/// Motion-JPEG files made here the way ffmpeg and UVC cameras make them: JPEGs back to back.
@Suite struct MotionJPEGReading {
    let dir = Fixtures.temporaryDirectory()

    /// A frame with a gradient, so that decoding errors show.
    static func image(_ shift: Int) -> RGBImage {
        var image = RGBImage(width: 48, height: 32)
        for y in 0..<32 { for x in 0..<48 { for c in 0..<3 { image.pixels[(y * 48 + x) * 3 + c] = UInt8(x * 2 + y + c * 30 + shift / 4) } } }
        return image
    }

    /// `jpeg` without its Huffman tables (DHT segments), as many UVC cameras send MJPEG.
    static func withoutHuffmanTables(_ jpeg: Data) -> Data {
        let bytes = [UInt8](jpeg)
        var out: [UInt8] = [0xff, 0xd8], i = 2
        while i + 3 < bytes.count, bytes[i] == 0xff, bytes[i + 1] != 0xda {
            let length = Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
            if bytes[i + 1] != 0xc4 { out += bytes[i..<(i + 2 + length)] }
            i += 2 + length
        }
        return Data(out + bytes[i...])
    }

    func write(_ frames: [Data], name: String = "a.mjpeg") throws -> String {
        let path = dir + "/" + name
        try frames.reduce(Data(), +).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func framesDecodeAsTheirJPEGsDo() throws {
        let jpegs = try (0..<3).map { try Self.image($0 * 70).jpegData(quality: 90) }
        // A comment segment holding FF D9 (end of image) must not end the frame early.
        var tricky = Data([0xff, 0xd8, 0xff, 0xfe, 0x00, 0x06, 0xff, 0xd9, 0xff, 0xd9])
        tricky.append(jpegs[1].dropFirst(2))
        let stripped = Self.withoutHuffmanTables(jpegs[2])
        #expect(stripped.count < jpegs[2].count - 100)
        let source = try MJPEGSource(try write([jpegs[0], tricky, stripped]))
        var frames: [RGBImage] = []
        while let frame = try source.next() { frames.append(frame.image) }
        #expect(frames.count == 3)
        let expected = try jpegs.map { try RGBImage(encoded: $0, path: "jpeg") }
        #expect(frames == expected)
        // Lossy, but the picture is there.
        let mean = zip(frames[0].pixels, Self.image(0).pixels).map { abs(Int($0) - Int($1)) }.reduce(0, +) / frames[0].pixels.count
        #expect(mean < 4)
        #expect(source.description.hasSuffix("(Motion-JPEG, 48x32)"))
        // Skipping walks the same markers: the frame after a skipped one is the next one.
        let skipping = try MJPEGSource(try write([jpegs[0], tricky, stripped], name: "skip.mjpeg"))
        #expect(try skipping.skip() && skipping.skip())
        #expect(try skipping.next()?.image == expected[2])
        #expect(try skipping.next() == nil && !skipping.skip())
    }

    /// 720p and up is decoded in two bands of rows at once (`JPEGDecoder.banded`): the same
    /// bytes as one piece, with or without Huffman tables, and a truncated frame still fails.
    @Test func hdFramesDecodeInBandsAsInOnePiece() throws {
        var image = RGBImage(width: 1280, height: 720)
        for y in 0..<720 { for x in 0..<1280 { for c in 0..<3 { image.pixels[(y * 1280 + x) * 3 + c] = UInt8((x * 3 + y * (c + 1) + (x * y) % 7 * 9) & 255) } } }
        let jpeg = try image.jpegData(quality: 90)
        let path = try write([jpeg, Self.withoutHuffmanTables(jpeg)], name: "hd.mjpeg")
        let source = try MJPEGSource(path)
        let onePiece = try RGBImage(encoded: jpeg, path: "jpeg")
        #expect(try source.next()?.image == onePiece)
        #expect(try source.next()?.image == onePiece)
        let truncated = try MJPEGSource(try write([jpeg.prefix(jpeg.count / 2) + Data([0xff, 0xd9])], name: "cut.mjpeg"))
        #expect { _ = try truncated.next() } throws: { "\($0)".contains("corrupt JPEG") }
    }

    @Test func brokenFilesAreExplained() throws {
        let jpeg = try Self.image(0).jpegData(quality: 90)
        let truncated = try write([jpeg, jpeg.prefix(jpeg.count - 10)], name: "t.mjpeg")
        let source = try MJPEGSource(truncated)
        #expect(try source.next() != nil)
        do { _ = try source.next(); Issue.record("accepted") } catch {
            #expect("\(error)".hasPrefix("\(truncated): frame 1 (byte \(jpeg.count)): truncated ("))
        }
        let garbage = try write([jpeg, Data("garbage".utf8)], name: "g.mjpeg")
        let second = try MJPEGSource(garbage)
        _ = try second.next()
        #expect(throws: CaptureError.self) { try second.next() }
        let notJPEG = try write([Data("P6 4 2 255".utf8)], name: "n.mjpeg")
        do { _ = try MJPEGSource(notJPEG); Issue.record("accepted") } catch {
            #expect("\(error)" == "\(notJPEG): not Motion-JPEG (it does not start with a JPEG)")
        }
        // A frame whose entropy-coded data is damaged (its markers intact) is a decoding error, named.
        var damaged = [UInt8](jpeg)
        for i in (damaged.count - 60)..<(damaged.count - 2) where damaged[i] != 0xff && damaged[i - 1] != 0xff { damaged[i] = 0x00 }
        let bad = try write([Data(damaged)], name: "d.mjpeg")
        do {
            let frame = try MJPEGSource(bad).next()
            // libjpeg-turbo may decode damaged scan data without complaint: then it must still be a whole frame.
            #expect(frame?.image.width == 48)
        } catch {
            #expect("\(error)".hasPrefix("\(bad): frame 0: corrupt JPEG"))
        }
    }
}

@Suite struct Negotiation {
    // What vivid offers (RGB3 natively; YUYV too).
    let vivid = [320, 640, 640, 1280].enumerated().flatMap { i, w -> [CameraMode] in
        let h = [180, 360, 480, 720][i], fps = [60.0, 40, 25, 12.5][i]
        return ["RGB3", "YUYV"].map { CameraMode(pixelFormat: $0, width: w, height: h, framesPerSecond: [5, fps]) }
    }

    @Test func prefersHDAtVividsRateAndTheBestRateUpTo30() {
        // No HD mode reaches 25 fps; 720p at 12.5 beats 640x480 at 25.
        #expect(negotiate(vivid) == NegotiatedMode(pixelFormat: "RGB3", width: 1280, height: 720, framesPerSecond: 12.5))
        #expect(negotiate(vivid)?.summary == "1280x720 RGB24 at 12.5 fps")
        #expect(negotiate(vivid, size: (640, 480)) == NegotiatedMode(pixelFormat: "RGB3", width: 640, height: 480, framesPerSecond: 25))
        #expect(negotiate(vivid, size: (640, 480), framesPerSecond: 30)?.framesPerSecond == 25)
        #expect(negotiate(vivid, size: (1280, 720))?.width == 1280)
        #expect(negotiate(vivid, size: (1200, 700))?.width == 1280)   // nearest area
        #expect(negotiate(vivid, size: (320, 180), framesPerSecond: 5)?.framesPerSecond == 5)
        #expect(negotiate(vivid, pixelFormat: "YUYV")?.pixelFormat == "YUYV")
        #expect(negotiate(vivid, pixelFormat: "MJPG") == nil)
        #expect(FourCC.string(FourCC.code("YUYV")) == "YUYV")
    }

    /// A typical 1080p UVC webcam: MJPEG at 30 fps up to 1080p, YUYV at 30 fps only at 640x480,
    /// and libv4l2's RGB24 made from either.
    static func webcam(yuyv: [(Int, Int, Double)] = [(640, 480, 30), (1280, 720, 10), (1920, 1080, 5)],
                       mjpeg: [(Int, Int, Double)] = [(640, 480, 30), (1280, 720, 30), (1920, 1080, 30)]) -> [CameraMode] {
        yuyv.map { CameraMode(pixelFormat: "YUYV", width: $0.0, height: $0.1, framesPerSecond: [5, $0.2]) }
            + mjpeg.map { CameraMode(pixelFormat: "MJPG", width: $0.0, height: $0.1, framesPerSecond: [15, $0.2]) }
            + (yuyv + mjpeg).map { CameraMode(pixelFormat: "RGB3", width: $0.0, height: $0.1, framesPerSecond: [$0.2], emulated: true) }
    }

    @Test func atADeskTheLargestModeAt25FpsUpTo1080p() {
        // MJPEG is the only way to 1080p at 30 fps.
        let hd = negotiate(Self.webcam())
        #expect(hd == NegotiatedMode(pixelFormat: "MJPG", width: 1920, height: 1080, framesPerSecond: 30))
        #expect(hd?.summary == "1920x1080 MJPEG at 30 fps")
        // Without MJPEG, 1080p in YUYV is too slow: the largest size that keeps 25 fps.
        let yuyvOnly = Self.webcam(yuyv: [(640, 480, 30), (1280, 720, 30), (1920, 1080, 5)], mjpeg: [])
        #expect(negotiate(yuyvOnly) == NegotiatedMode(pixelFormat: "YUYV", width: 1280, height: 720, framesPerSecond: 30))
        // At the same size, YUYV (no decoding) beats MJPEG, and both beat libv4l2's conversion.
        #expect(negotiate(Self.webcam(yuyv: [(1920, 1080, 30)]))?.pixelFormat == "YUYV")
        let emulatedOnly = [CameraMode(pixelFormat: "RGB3", width: 1280, height: 720, framesPerSecond: [30], emulated: true),
                            CameraMode(pixelFormat: "NV12", width: 1920, height: 1080, framesPerSecond: [30])]
        #expect(negotiate(emulatedOnly)?.summary == "1280x720 RGB24 (converted by libv4l2) at 30 fps")
        // A 4K camera is not asked for 4K; a camera slower than 25 fps everywhere gives its fastest mode.
        let fourK = Self.webcam(mjpeg: [(1920, 1080, 30), (3840, 2160, 30)])
        #expect(negotiate(fourK)?.width == 1920)
        let slow = Self.webcam(yuyv: [(640, 480, 15), (1280, 720, 10)], mjpeg: [])
        #expect(negotiate(slow) == NegotiatedMode(pixelFormat: "YUYV", width: 640, height: 480, framesPerSecond: 15))
        // Uncompressed 720p at 10 fps is below the HD floor: 640x480 at 30; at 15 fps it is not.
        #expect(negotiate(Self.webcam(mjpeg: []))?.width == 640)
        #expect(negotiate(Self.webcam(yuyv: [(640, 480, 30), (1280, 720, 15), (1920, 1080, 5)], mjpeg: []))
                == NegotiatedMode(pixelFormat: "YUYV", width: 1280, height: 720, framesPerSecond: 15))
        // --size and --pixel-format still decide.
        #expect(negotiate(Self.webcam(), size: (640, 480)) == NegotiatedMode(pixelFormat: "YUYV", width: 640, height: 480, framesPerSecond: 30))
        #expect(negotiate(Self.webcam(), size: (1280, 720))?.pixelFormat == "MJPG")
        #expect(negotiate(Self.webcam(), pixelFormat: "YUYV") == NegotiatedMode(pixelFormat: "YUYV", width: 640, height: 480, framesPerSecond: 30))
        #expect(negotiate(Self.webcam(), pixelFormat: "RGB3")?.emulated == true)
    }
}

@Suite struct OneEuro {
    @Test func stillInputStaysStillAndJitterShrinks() {
        var f = OneEuroFilter()
        for i in 0..<10 { #expect(abs(f(3, at: Double(i) / 30) - 3) < 1e-12) }
        var g = OneEuroFilter(), raw: [Double] = [], smooth: [Double] = []
        for i in 0..<300 {
            let noisy = 2 + (i % 2 == 0 ? 0.5 : -0.5)
            raw.append(noisy)
            smooth.append(g(noisy, at: Double(i) / 30))
        }
        let spread = { (v: [Double]) in v.suffix(100).max()! - v.suffix(100).min()! }
        #expect(spread(smooth) < 0.5 * spread(raw))
    }

    @Test func withoutBetaItIsTheTextbookLowPass() {
        var f = OneEuroFilter(minCutoffHz: 2, beta: 0, derivativeCutoffHz: 1)
        _ = f(0, at: 0)
        let dt = 0.05, alpha = 1 / (1 + 1 / (2 * Double.pi * 2) / dt)
        #expect(abs(f(1, at: dt) - alpha) < 1e-12)
    }

    @Test func fastMovesAreFollowedSoonerWithBeta() {
        var slow = OneEuroFilter(minCutoffHz: 0.5, beta: 0), fast = OneEuroFilter(minCutoffHz: 0.5, beta: 0.5)
        var a = 0.0, b = 0.0
        for i in 0..<10 { let t = Double(i) / 30; a = slow(i == 0 ? 0 : 20, at: t); b = fast(i == 0 ? 0 : 20, at: t) }
        #expect(b > a + 2)
    }
}

@Suite struct Pacing {
    final class Counter: FrameSource {
        var n = 0
        var framesPerSecond: Double? { nil }
        var description: String { "counter" }
        func next() throws -> Frame? {
            defer { n += 1 }
            return n < 40 ? Frame(image: RGBImage(width: 1, height: 1), timestamp: 0, index: n) : nil
        }
        func close() {}
    }

    @Test func pacedSourceDeliversDueFramesInOrderAndCountsTheRest() throws {
        let paced = PacedSource(Counter(), framesPerSecond: 200)
        var seen: [Int] = []
        while let f = try paced.next() {
            seen.append(f.index)
            usleep(12_000)  // slower than the source: frames must be dropped
        }
        #expect(seen == seen.sorted() && Set(seen).count == seen.count)
        #expect(paced.dropped > 0 && seen.count + paced.dropped <= 40)
    }

    /// A source that can pass over a frame without decoding it (`skip`) has only the frames
    /// delivered decoded: the dropped ones cost a live replay nothing, as at a camera.
    @Test func pacedSourceDecodesOnlyTheFramesItDelivers() throws {
        final class Skippable: FrameSource {
            var n = 0, decoded = 0
            var framesPerSecond: Double? { nil }
            var description: String { "skippable" }
            func next() throws -> Frame? {
                guard try skip() else { return nil }
                decoded += 1
                return Frame(image: RGBImage(width: 1, height: 1), timestamp: 0, index: n - 1)
            }
            func skip() throws -> Bool {
                guard n < 40 else { return false }
                n += 1
                return true
            }
            func close() {}
        }
        let inner = Skippable()
        let paced = PacedSource(inner, framesPerSecond: 200)
        var seen: [Int] = []
        while let f = try paced.next() {
            seen.append(f.index)
            usleep(12_000)
        }
        #expect(paced.dropped > 0)
        #expect(inner.decoded == seen.count)
        #expect(seen == seen.sorted() && seen.count + paced.dropped <= 40)
    }

    /// `serve --source FILE --loop` replays a paced file pass after pass: the frames each pass
    /// dropped are reported, not only the current pass's (they were once not reported at all).
    @Test func aLoopingReplayCountsTheFramesEveryPassDropped() throws {
        var passes: [PacedSource] = []
        let looping = try LoopingSource {
            let paced = PacedSource(Counter(), framesPerSecond: 200)
            passes.append(paced)
            return paced
        }
        let source: FrameSource = looping
        var delivered = 0
        while passes.count < 3, let _ = try source.next() {
            delivered += 1
            usleep(12_000)
        }
        let earlier = passes.dropLast().map(\.dropped)
        #expect(earlier.count == 2 && earlier.allSatisfy { $0 > 0 })
        #expect(source.dropped == passes.map(\.dropped).reduce(0, +))
    }
}
