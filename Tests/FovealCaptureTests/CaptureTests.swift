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
        var expected = [UInt8](repeating: 0, count: 3)
        for (i, (cb, cr)) in [(128, 128), (128, 128), (90, 200), (90, 200)].enumerated() {
            expected.withUnsafeMutableBufferPointer { YCbCr.rgb(y[i], UInt8(cb), UInt8(cr), into: $0.baseAddress!) }
            #expect(Array(frame.image.pixels[(i * 3)..<(i * 3 + 3)]) == expected)
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

@Suite struct Negotiation {
    // What vivid offers (RGB3 natively; YUYV too).
    let vivid = [320, 640, 640, 1280].enumerated().flatMap { i, w -> [CameraMode] in
        let h = [180, 360, 480, 720][i], fps = [60.0, 40, 25, 12.5][i]
        return ["RGB3", "YUYV"].map { CameraMode(pixelFormat: $0, width: w, height: h, framesPerSecond: [5, fps]) }
    }

    @Test func prefersGazeCapturesFrameSizeAndTheBestRateUpTo30() {
        #expect(negotiate(vivid) == NegotiatedMode(pixelFormat: "RGB3", width: 640, height: 480, framesPerSecond: 25))
        #expect(negotiate(vivid, framesPerSecond: 30)?.framesPerSecond == 25)
        #expect(negotiate(vivid, size: (1280, 720))?.width == 1280)
        #expect(negotiate(vivid, size: (1200, 700))?.width == 1280)   // nearest area
        #expect(negotiate(vivid, size: (320, 180), framesPerSecond: 5)?.framesPerSecond == 5)
        #expect(negotiate(vivid, pixelFormat: "YUYV")?.pixelFormat == "YUYV")
        #expect(negotiate(vivid, pixelFormat: "MJPG") == nil)
        #expect(FourCC.string(FourCC.code("YUYV")) == "YUYV")
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
}
