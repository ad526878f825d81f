/// What a camera offers, as V4L2 enumerates it: formats, their frame sizes, and each size's rates.
public struct CameraMode: Sendable, Equatable, Codable {
    public var pixelFormat: String   // FourCC, e.g. "YUYV", "RGB3", "MJPG"
    public var width: Int, height: Int
    public var framesPerSecond: [Double]
    /// libv4l2 converts into this format from another (it is not the device's own).
    public var emulated: Bool

    public init(pixelFormat: String, width: Int, height: Int, framesPerSecond: [Double], emulated: Bool = false) {
        (self.pixelFormat, self.width, self.height, self.framesPerSecond, self.emulated) = (pixelFormat, width, height, framesPerSecond, emulated)
    }
}

/// The choice Foveal makes among a camera's modes.
public struct NegotiatedMode: Sendable, Equatable {
    public var pixelFormat: String
    public var width: Int, height: Int
    public var framesPerSecond: Double?
    /// libv4l2 converts into the format (the device sends another).
    public var emulated: Bool

    public init(pixelFormat: String, width: Int, height: Int, framesPerSecond: Double?, emulated: Bool = false) {
        (self.pixelFormat, self.width, self.height, self.framesPerSecond, self.emulated) = (pixelFormat, width, height, framesPerSecond, emulated)
    }

    /// What a person reads at start-up: "1280x720 MJPEG at 30 fps".
    public var summary: String {
        let name = ["MJPG": "MJPEG", "RGB3": "RGB24"][pixelFormat] ?? pixelFormat
        return "\(width)x\(height) \(name)\(emulated ? " (converted by libv4l2)" : "")"
            + (framesPerSecond.map { String(format: " at %g fps", $0) } ?? "")
    }
}

/// Picks format, size and rate.
///
/// Without `size`: the largest mode up to 1920x1080 that reaches 25 fps,
/// since at a desk every extra pixel on the eyes is worth having and the sampler's cost does not
/// grow with the frame. Most webcams give 1080p or 720p at 30 fps only as MJPEG, which the rate
/// test picks over a slow YUYV. Where no HD mode (1280x720 or more) reaches 25 fps but one
/// reaches `minimumHDRate`, the fastest such wins over a smaller, faster mode: at 60 cm a
/// 640x480 frame puts a third of 720p's pixels on each eye, which the desk model needs more than
/// the extra frames. Otherwise the fastest (then largest) mode.
///
/// With `size`: that size if offered, else the offered size closest to it in area.
///
/// Formats: `pixelFormat` if given; otherwise, at equal size, the one cheapest to turn into RGB:
/// the device's own RGB24, then YUYV and MJPEG (converted by Foveal), then libv4l2's conversions.
///
/// Rate: the requested one if offered, else the highest offered up to it (or up to 30).
public func negotiate(_ modes: [CameraMode], size: (width: Int, height: Int)? = nil, framesPerSecond: Double? = nil,
                      pixelFormat: String? = nil) -> NegotiatedMode? {
    let candidates = modes.filter { mode in
        pixelFormat.map { mode.pixelFormat == $0 } ?? (formatCost(mode) != nil)
    }
    guard !candidates.isEmpty else { return nil }
    let cost = { (m: CameraMode) in formatCost(m) ?? 4 }
    let fastest = { (m: CameraMode) in m.framesPerSecond.max() ?? 0 }
    let area = { (m: CameraMode) in m.width * m.height }
    // Orders by a list of keys, the first that differs deciding.
    func best(_ modes: [CameraMode], _ keys: [(CameraMode) -> Double]) -> CameraMode? {
        modes.min { a, b in
            for key in keys where key(a) != key(b) { return key(a) < key(b) }
            return false
        }
    }
    let chosen: CameraMode?
    if let want = size {
        let wantArea = want.width * want.height
        let distance = { (m: CameraMode) in Double(abs(area(m) - wantArea)) }
        let exact = { (m: CameraMode) in m.width == want.width && m.height == want.height ? 0.0 : 1 }
        chosen = best(candidates, [exact, distance, { -min(fastest($0), framesPerSecond ?? 30) }, { Double(cost($0)) }])
    } else {
        let minimumRate = automaticMinimumRate - 0.01
        let desk = candidates.filter { $0.width <= maxAutomaticSize.width && $0.height <= maxAutomaticSize.height }
        let fast = desk.filter { fastest($0) >= minimumRate }
        let largestFast = best(fast, [{ -Double(area($0)) }, { Double(cost($0)) }])
        let hd = desk.filter { $0.width >= 1280 && $0.height >= 720 && fastest($0) >= minimumHDRate - 0.01 }
        if let largestFast, largestFast.width >= 1280 && largestFast.height >= 720 || hd.isEmpty {
            chosen = largestFast
        } else if !hd.isEmpty {
            chosen = best(hd, [{ -fastest($0) }, { -Double(area($0)) }, { Double(cost($0)) }])
        } else if !desk.isEmpty {
            chosen = best(desk, [{ -fastest($0) }, { -Double(area($0)) }, { Double(cost($0)) }])
        } else {
            chosen = best(candidates, [{ Double(area($0)) }, { -fastest($0) }, { Double(cost($0)) }])
        }
    }
    guard let chosen else { return nil }
    let rates = chosen.framesPerSecond.sorted()
    var rate: Double?
    if let framesPerSecond {
        rate = rates.first { abs($0 - framesPerSecond) < 0.01 } ?? rates.filter { $0 <= framesPerSecond }.last ?? rates.first
    } else {
        rate = rates.filter { $0 <= 30.01 }.last ?? rates.first
    }
    return NegotiatedMode(pixelFormat: chosen.pixelFormat, width: chosen.width, height: chosen.height, framesPerSecond: rate,
                          emulated: chosen.emulated)
}

/// The rate a mode chosen without `--size` must reach: slower, head movements blur the eyes.
public let automaticMinimumRate = 25.0

/// The rate an HD mode must reach to be chosen over a faster, smaller one. 12 fps still follows
/// a glance (a fixation lasts 200-300 ms) and takes vivid's and many webcams' 720p at 12.5-15
/// fps, while the 10 fps of cheap cameras' uncompressed 720p stays below it.
public let minimumHDRate = 12.0

/// The largest frame chosen without `--size`: 1080p, the most a desk webcam offers at 30 fps.
public let maxAutomaticSize = (width: 1920, height: 1080)

/// How costly a mode's pixels are to turn into RGB, lowest first; nil for a format Foveal does
/// not take without being asked.
func formatCost(_ mode: CameraMode) -> Int? {
    switch (mode.pixelFormat, mode.emulated) {
    case ("RGB3", false): 0
    case ("YUYV", false): 1
    case ("MJPG", false): 2
    case ("RGB3", true): 3
    default: nil
    }
}
