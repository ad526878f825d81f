import Foundation
import FovealIO
import FovealTensor

/// A small dataset in GazeCapture's layout written by hand (JSON as text, not through Foveal's
/// writer), with the release's quirks: invalid detections, NaN in invalid boxes, integers for
/// floats, every orientation, both families, a missing frame, a corrupt JPEG, a recording with
/// broken JSON and one of another split.
public struct HandMadeDataset {
    public struct Frame {
        public let recording: String, family: String, xCam: Double, yCam: Double
        public let valid: Bool, readable: Bool
    }

    public let root: String
    public private(set) var frames: [Frame] = []
    /// Files a reader must name as unusable.
    public private(set) var brokenFiles: [String] = []

    public init() throws {
        root = Fixtures.temporaryDirectory() + "/gazecapture"
        // id, device, split, orientations, per frame (face, left, right, grid valid), labels, image state
        try recording("00002", device: "iPhone 6", family: "iPhone", split: "test", orientations: [1, 1, 1, 1, 1],
                      validity: ["1111", "0111", "1111", "1011", "1111"],
                      labels: [(1.5, -3), (-2, -7.25), (0, -1), (3, -10), (2.5, -4)], images: ["ok", "ok", "ok", "ok", "missing"])
        try recording("00005", device: "iPad Air 2", family: "iPad", split: "test", orientations: [3, 3, 3, 3],
                      validity: ["1111", "1111", "1111", "1110"],
                      labels: [(-8, 2), (5, -12.5), (10, -3), (1, 1)], images: ["ok", "corrupt", "ok", "ok"], nanInInvalid: true)
        try recording("00007", device: "iPhone 5s", family: "iPhone", split: "test", orientations: [2, 4, 2],
                      validity: ["1111", "1111", "1100"], labels: [(0.5, 0.5), (-4, -2), (1, -6)], images: ["ok", "ok", "ok"],
                      integers: true)
        try recording("00009", device: "iPhone 6s", family: "iPhone", split: "test", orientations: [1, 1],
                      validity: ["1111", "1111"], labels: [(1, -1), (2, -2)], images: ["ok", "ok"], brokenDotInfo: true)
        try recording("00011", device: "iPad Mini", family: "iPad", split: "train", orientations: [1, 1],
                      validity: ["1111", "1111"], labels: [(3, -3), (4, -4)], images: ["ok", "ok"])
    }

    private mutating func recording(_ id: String, device: String, family: String, split: String, orientations: [Int],
                                    validity: [String], labels: [(Double, Double)], images: [String],
                                    nanInInvalid: Bool = false, integers: Bool = false, brokenDotInfo: Bool = false) throws {
        let folder = root + "/" + id
        try FileManager.default.createDirectory(atPath: folder + "/frames", withIntermediateDirectories: true)
        let n = labels.count
        func list(_ values: [String]) -> String { "[" + values.joined(separator: ", ") + "]" }
        func number(_ v: Double) -> String { integers && v == v.rounded() ? String(Int(v)) : String(v) }
        func box(_ which: Int, _ x: Double, _ y: Double, _ size: Double) -> String {
            let valid = validity.map { Array($0)[which] == "1" }
            let xs = valid.map { $0 || !nanInInvalid ? number(x) : "NaN" }
            return "{\"X\": \(list(xs)), \"Y\": \(list(valid.map { _ in number(y) })), \"W\": \(list(valid.map { _ in number(size) })), "
                + "\"H\": \(list(valid.map { _ in number(size) })), \"IsValid\": \(list(valid.map { $0 ? "1" : "0" }))}"
        }
        let names = (0..<n).map { String(format: "%05d.jpg", $0) }
        let files = [
            "appleFace.json": box(0, 10, 8, 30),
            "appleLeftEye.json": box(1, 16, 6, 9),
            "appleRightEye.json": box(2, 4, 6, 9),
            "faceGrid.json": box(3, 5, 4, 12),
            "dotInfo.json": brokenDotInfo ? "{\"DotNum\": [0, 0], \"XPts\": [10, 1" :
                "{\"DotNum\": \(list((0..<n).map(String.init))), \"XPts\": \(list((0..<n).map { _ in "100" })), "
                + "\"YPts\": \(list((0..<n).map { _ in "200" })), \"XCam\": \(list(labels.map { number($0.0) })), "
                + "\"YCam\": \(list(labels.map { number($0.1) })), \"Time\": \(list((0..<n).map { "0.\($0)" }))}",
            "frames.json": list(names.map { "\"\($0)\"" }),
            "screen.json": "{\"H\": \(list((0..<n).map { _ in "568" })), \"W\": \(list((0..<n).map { _ in "320" })), "
                + "\"Orientation\": \(list(orientations.map(String.init)))}",
            "info.json": "{\"TotalFrames\": \(n), \"NumFaceDetections\": \(n), \"NumEyeDetections\": \(n), "
                + "\"Dataset\": \"\(split)\", \"DeviceName\": \"\(device)\"}",
            "motion.json": "[]",
        ]
        for (name, text) in files { try text.write(toFile: folder + "/" + name, atomically: true, encoding: .utf8) }
        if brokenDotInfo { brokenFiles.append(folder + "/dotInfo.json") }
        for i in 0..<n {
            let path = folder + "/frames/" + names[i]
            let landscape = orientations[i] >= 3
            var image = RGBImage(width: landscape ? 64 : 48, height: landscape ? 48 : 64)
            for k in 0..<image.pixels.count { image.pixels[k] = UInt8((k * 37 + i * 11) % 251) }
            switch images[i] {
            case "ok": try image.jpegData(quality: 90).write(to: URL(fileURLWithPath: path))
            case "corrupt":
                try image.jpegData(quality: 90).prefix(200).write(to: URL(fileURLWithPath: path))
                brokenFiles.append(path)
            default: brokenFiles.append(path)  // missing
            }
            if !brokenDotInfo {
                frames.append(Frame(recording: id, family: family, xCam: labels[i].0, yCam: labels[i].1,
                                    valid: !validity[i].contains("0"), readable: images[i] == "ok"))
            }
        }
        _ = split
    }

    /// Frames `foveal eval --split test --frames valid` must evaluate.
    public var evaluatedTestFrames: [Frame] {
        frames.filter { $0.recording != "00011" && $0.valid && $0.readable }
    }
}
