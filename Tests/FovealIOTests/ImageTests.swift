import Foundation
import FovealIO
import FovealTestSupport
import Testing

@Suite struct ImageDecoding {
    let pixels = try! SafeTensorsFile(path: Fixtures.path("images/pixels.safetensors"))
    let dir = Fixtures.temporaryDirectory()

    @Test func greyPNGBecomesRGB() throws {
        let image = try RGBImage(contentsOf: Fixtures.path("images/grey.png"))
        let grey = try pixels.tensor("grey").values
        #expect(image.width == 8 && image.height == 6)
        for i in 0..<48 {
            #expect(image.pixels[i * 3] == UInt8(grey[i]) && image.pixels[i * 3 + 1] == UInt8(grey[i]) && image.pixels[i * 3 + 2] == UInt8(grey[i]))
        }
    }

    @Test func rgbaPNGDropsAlpha() throws {
        let image = try RGBImage(contentsOf: Fixtures.path("images/rgba.png"))
        #expect(image.width == 7 && image.height == 5)
        #expect(image.pixels.map(Float.init) == (try pixels.tensor("rgba").values))
    }

    @Test func jpegDecodesAsPillowDoes() throws {
        let image = try RGBImage(contentsOf: Fixtures.path("images/photo.jpg"))
        let expected = try pixels.tensor("photo").values
        #expect(image.width == 32 && image.height == 24)
        let worst = zip(image.pixels, expected).map { abs(Float($0) - $1) }.max()!
        #expect(worst <= 1)
    }

    @Test func pngAndJPEGRoundTrip() throws {
        var image = RGBImage(width: 5, height: 3)
        for i in 0..<image.pixels.count { image.pixels[i] = UInt8(i * 7 % 256) }
        try image.writePNG(to: dir + "/a.png")
        #expect(try RGBImage(contentsOf: dir + "/a.png") == image)
        let flat = RGBImage(width: 16, height: 16, pixels: [UInt8](repeating: 120, count: 768))
        let jpeg = try RGBImage(encoded: try flat.jpegData(quality: 90), path: "mem")
        #expect(jpeg.pixels.allSatisfy { abs(Int($0) - 120) <= 1 })
    }

    /// The header's size is the decoded image's; a header that cannot give one is explained.
    @Test func sizeComesFromTheHeaderAlone() throws {
        for (name, width, height) in [("grey.png", 8, 6), ("rgba.png", 7, 5), ("photo.jpg", 32, 24)] {
            let size = try RGBImage.size(ofFileAt: Fixtures.path("images/" + name))
            #expect(size.width == width && size.height == height, "\(name): \(size)")
        }
        func sizeError(_ bytes: Data, name: String) -> String {
            let path = dir + "/" + name
            FileManager.default.createFile(atPath: path, contents: bytes)
            do { return "\(try RGBImage.size(ofFileAt: path))" } catch { return "\(error)" }
        }
        let jpeg = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("images/photo.jpg")))
        var png = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("images/rgba.png")))
        #expect(sizeError(jpeg.prefix(40), name: "head.jpg").hasPrefix(dir + "/head.jpg: corrupt JPEG"))
        #expect(sizeError(png.prefix(20), name: "short.png") == "\(dir)/short.png: corrupt PNG: no IHDR header")
        for i in 16..<24 { png[i] = 0xff }  // a width and height of 2^32 - 1
        #expect(sizeError(png, name: "huge.png").hasPrefix(dir + "/huge.png: corrupt PNG: its header gives 4294967295x4294967295"))
        #expect(sizeError(Data("hello".utf8), name: "text.png") == "\(dir)/text.png: not a PNG or JPEG image")
    }

    func error(_ bytes: Data?, name: String) -> String {
        let path = dir + "/" + name
        if let bytes { FileManager.default.createFile(atPath: path, contents: bytes) }
        do { _ = try RGBImage(contentsOf: path); return "decoded" } catch { return "\(error)" }
    }

    @Test func corruptImagesAreExplained() throws {
        let jpeg = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("images/photo.jpg")))
        let png = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("images/rgba.png")))
        let truncatedJPEG = error(jpeg.prefix(jpeg.count / 2), name: "cut.jpg")
        #expect(truncatedJPEG.hasPrefix(dir + "/cut.jpg: corrupt JPEG"), "\(truncatedJPEG)")
        #expect(error(jpeg.prefix(40), name: "head.jpg").contains("corrupt JPEG"))
        var garbled = png
        for i in 40..<garbled.count { garbled[i] = 0x55 }
        #expect(error(garbled, name: "garbled.png").hasPrefix(dir + "/garbled.png: corrupt PNG"))
        #expect(error(png.prefix(png.count - 30), name: "cut.png").contains("corrupt PNG"))
        #expect(error(Data("hello".utf8), name: "text.png") == "\(dir)/text.png: not a PNG or JPEG image")
        #expect(error(Data(), name: "empty.jpg") == "\(dir)/empty.jpg: empty file, not an image")
        #expect(error(nil, name: "missing.png").hasPrefix("\(dir)/missing.png: cannot read"))
    }
}
