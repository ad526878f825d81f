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

    public init(pixelFormat: String, width: Int, height: Int, framesPerSecond: Double?) {
        (self.pixelFormat, self.width, self.height, self.framesPerSecond) = (pixelFormat, width, height, framesPerSecond)
    }
}

/// Picks size and rate: the requested size if offered, else 640x480 (GazeCapture's frame size),
/// else the offered size closest to it in area; the requested rate if offered, else the highest
/// offered rate up to 30. The pixel format is RGB24 ("RGB3"), which libv4l2 provides from YUYV,
/// MJPEG and the rest, unless `pixelFormat` asks for another (e.g. "YUYV" to convert in Foveal).
public func negotiate(_ modes: [CameraMode], size: (width: Int, height: Int)? = nil, framesPerSecond: Double? = nil,
                      pixelFormat: String = "RGB3") -> NegotiatedMode? {
    let candidates = modes.filter { $0.pixelFormat == pixelFormat }
    guard !candidates.isEmpty else { return nil }
    let want = size ?? (640, 480)
    let exact = candidates.first { $0.width == want.width && $0.height == want.height }
    let chosen = exact ?? candidates.min { a, b in
        abs(a.width * a.height - want.width * want.height) < abs(b.width * b.height - want.width * want.height)
    }!
    let rates = chosen.framesPerSecond.sorted()
    var rate: Double?
    if let framesPerSecond {
        rate = rates.first { abs($0 - framesPerSecond) < 0.01 } ?? rates.filter { $0 <= framesPerSecond }.last ?? rates.first
    } else {
        rate = rates.filter { $0 <= 30.01 }.last ?? rates.first
    }
    return NegotiatedMode(pixelFormat: pixelFormat, width: chosen.width, height: chosen.height, framesPerSecond: rate)
}
