/// A gaze point in GazeCapture's prediction space: centimetres from the camera centre, x to the
/// user's right, y up, whatever way the device is turned.
public struct CameraSpacePoint: Equatable, Hashable, Codable, Sendable {
    public var xCm: Double
    public var yCm: Double

    public init(xCm: Double, yCm: Double) {
        self.xCm = xCm
        self.yCm = yCm
    }

    /// Euclidean distance in cm (GazeCapture's error metric).
    public func distance(to other: CameraSpacePoint) -> Double {
        ((xCm - other.xCm) * (xCm - other.xCm) + (yCm - other.yCm) * (yCm - other.yCm)).squareRoot()
    }
}

/// A point on a screen as the user sees it: millimetres from its top-left corner, x right, y down.
public struct ScreenPoint: Equatable, Hashable, Codable, Sendable {
    public var xMm: Double
    public var yMm: Double

    public init(xMm: Double, yMm: Double) {
        self.xMm = xMm
        self.yMm = yMm
    }

    public var xCm: Double { xMm / 10 }
    public var yCm: Double { yMm / 10 }
}

/// How a device is turned, GazeCapture's `Orientation` codes (iOS `UIDeviceOrientation`).
public enum Orientation: Int, Codable, Sendable, CaseIterable {
    case portrait = 1
    case portraitUpsideDown = 2
    /// Landscape with the home button on the right.
    case landscapeHomeRight = 3
    /// Landscape with the home button on the left.
    case landscapeHomeLeft = 4

    public var isLandscape: Bool { self == .landscapeHomeRight || self == .landscapeHomeLeft }
}

/// Whether a screen's size is given in iOS points or in pixels.
public enum ScreenUnit: String, Codable, Sendable {
    case points = "pt", pixels = "px"
}

/// A screen and where its camera sits: everything needed to move between camera space and
/// positions on the screen. Lengths are in the screen's natural orientation (portrait for
/// phones and tablets), from its top-left corner, x right, y down.
public struct ScreenGeometry: Equatable, Codable, Sendable {
    public var name: String
    /// "iPhone", "iPad", "monitor", "laptop": GazeCapture reports errors per device family.
    public var family: String
    public var widthMm: Double
    public var heightMm: Double
    /// The screen's extent in `unit`s (points for iOS devices, pixels for desktops).
    public var widthUnits: Double
    public var heightUnits: Double
    public var unit: ScreenUnit
    /// The camera centre relative to the screen's top-left corner (negative y: above the screen).
    public var cameraXMm: Double
    public var cameraYMm: Double

    public init(name: String, family: String, widthMm: Double, heightMm: Double, widthUnits: Double,
                heightUnits: Double, unit: ScreenUnit, cameraXMm: Double, cameraYMm: Double) {
        (self.name, self.family, self.widthMm, self.heightMm) = (name, family, widthMm, heightMm)
        (self.widthUnits, self.heightUnits, self.unit) = (widthUnits, heightUnits, unit)
        (self.cameraXMm, self.cameraYMm) = (cameraXMm, cameraYMm)
    }

    /// The screen's width and height in mm as the user sees it.
    public func sizeMm(_ o: Orientation) -> (width: Double, height: Double) {
        o.isLandscape ? (heightMm, widthMm) : (widthMm, heightMm)
    }

    /// The camera centre in the user's screen coordinates (mm from the visible top-left corner).
    /// Turning the device moves the camera around the screen; camera space stays the user's.
    public func cameraPositionMm(_ o: Orientation) -> ScreenPoint {
        switch o {
        case .portrait: ScreenPoint(xMm: cameraXMm, yMm: cameraYMm)
        case .portraitUpsideDown: ScreenPoint(xMm: widthMm - cameraXMm, yMm: heightMm - cameraYMm)
        case .landscapeHomeRight: ScreenPoint(xMm: cameraYMm, yMm: widthMm - cameraXMm)
        case .landscapeHomeLeft: ScreenPoint(xMm: heightMm - cameraYMm, yMm: cameraXMm)
        }
    }

    /// Screen (mm, as the user sees it) -> camera space (cm): GazeCapture's screen2cam.
    public func cameraSpace(_ p: ScreenPoint, _ o: Orientation) -> CameraSpacePoint {
        let c = cameraPositionMm(o)
        return CameraSpacePoint(xCm: (p.xMm - c.xMm) / 10, yCm: (c.yMm - p.yMm) / 10)
    }

    /// Camera space (cm) -> screen (mm, as the user sees it): GazeCapture's cam2screen.
    public func screenPoint(_ p: CameraSpacePoint, _ o: Orientation) -> ScreenPoint {
        let c = cameraPositionMm(o)
        return ScreenPoint(xMm: p.xCm * 10 + c.xMm, yMm: c.yMm - p.yCm * 10)
    }

    /// Millimetres per unit along the visible x and y axes, for a screen whose active area is
    /// `activeWidth` x `activeHeight` units as the user sees it (GazeCapture's screen.json W, H;
    /// defaults to the full screen).
    public func mmPerUnit(_ o: Orientation, activeWidth: Double? = nil, activeHeight: Double? = nil) -> (x: Double, y: Double) {
        let (w, h) = sizeMm(o)
        let (uw, uh) = o.isLandscape ? (heightUnits, widthUnits) : (widthUnits, heightUnits)
        return (w / (activeWidth ?? uw), h / (activeHeight ?? uh))
    }

    /// A position in points or pixels (as the user sees the screen) -> mm.
    public func screenPoint(units x: Double, _ y: Double, _ o: Orientation,
                            activeWidth: Double? = nil, activeHeight: Double? = nil) -> ScreenPoint {
        let s = mmPerUnit(o, activeWidth: activeWidth, activeHeight: activeHeight)
        return ScreenPoint(xMm: x * s.x, yMm: y * s.y)
    }

    /// mm -> points or pixels (as the user sees the screen).
    public func units(_ p: ScreenPoint, _ o: Orientation,
                      activeWidth: Double? = nil, activeHeight: Double? = nil) -> (x: Double, y: Double) {
        let s = mmPerUnit(o, activeWidth: activeWidth, activeHeight: activeHeight)
        return (p.xMm / s.x, p.yMm / s.y)
    }

    /// Why these numbers cannot describe a screen, or nil if they can.
    public var problem: String? {
        let values = [widthMm, heightMm, widthUnits, heightUnits, cameraXMm, cameraYMm]
        if !values.allSatisfy(\.isFinite) { return "a size or camera position is not a number" }
        if widthMm <= 0 || heightMm <= 0 { return "size \(widthMm) x \(heightMm) mm is not positive" }
        if widthMm > 5000 || heightMm > 5000 { return "size \(widthMm) x \(heightMm) mm is larger than 5 m" }
        if widthUnits < 1 || heightUnits < 1 { return "size \(widthUnits) x \(heightUnits) \(unit.rawValue) is not positive" }
        // 16K is 15360 pixels wide: a larger number is a typo, and a whole number of them is a screen.
        if widthUnits > 100_000 || heightUnits > 100_000 { return "size \(widthUnits) x \(heightUnits) \(unit.rawValue) is more than 100000" }
        // The camera must be near the screen: within a screen's size of its edges.
        if abs(cameraXMm - widthMm / 2) > widthMm * 1.5 || abs(cameraYMm - heightMm / 2) > heightMm * 1.5 {
            return "camera at (\(cameraXMm), \(cameraYMm)) mm is far from the \(widthMm) x \(heightMm) mm screen"
        }
        return nil
    }
}
