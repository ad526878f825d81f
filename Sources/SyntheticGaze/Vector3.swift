/// A 3-D vector in camera space (cm): x to the user's right, y up, z from the camera towards the user.
public struct Vector3: Equatable, Sendable {
    public var x: Double, y: Double, z: Double

    public init(_ x: Double, _ y: Double, _ z: Double) { (self.x, self.y, self.z) = (x, y, z) }

    public static func + (a: Vector3, b: Vector3) -> Vector3 { Vector3(a.x + b.x, a.y + b.y, a.z + b.z) }
    public static func - (a: Vector3, b: Vector3) -> Vector3 { Vector3(a.x - b.x, a.y - b.y, a.z - b.z) }
    public static func * (a: Vector3, s: Double) -> Vector3 { Vector3(a.x * s, a.y * s, a.z * s) }
    public func dot(_ b: Vector3) -> Double { x * b.x + y * b.y + z * b.z }
    public var length: Double { dot(self).squareRoot() }
    public var normalized: Vector3 { self * (1 / length) }
}

/// A head's orientation as the three axes it carries: its right, up and forward (the way the
/// face points) in camera space. Neutral: facing the camera.
public struct HeadFrame: Sendable {
    public let right: Vector3, up: Vector3, forward: Vector3

    /// Yaw turns the face towards the user's right, pitch raises it, roll tilts it (degrees).
    public init(yawDeg: Double, pitchDeg: Double, rollDeg: Double) {
        let (y, p, r) = (yawDeg * .pi / 180, pitchDeg * .pi / 180, rollDeg * .pi / 180)
        // Neutral axes: right (1,0,0), up (0,1,0), forward (0,0,-1); rotate by roll, pitch, yaw.
        func rotate(_ v: Vector3) -> Vector3 {
            // roll about the forward axis (z)
            var a = Vector3(v.x * cos(r) - v.y * sin(r), v.x * sin(r) + v.y * cos(r), v.z)
            // pitch about x: raising the face turns forward (0,0,-1) towards +y
            a = Vector3(a.x, a.y * cos(p) - a.z * sin(p), a.y * sin(p) + a.z * cos(p))
            // yaw about y: turning towards the user's right turns forward towards +x
            return Vector3(a.x * cos(y) - a.z * sin(y), a.y, a.x * sin(y) + a.z * cos(y))
        }
        right = rotate(Vector3(1, 0, 0))
        up = rotate(Vector3(0, 1, 0))
        forward = rotate(Vector3(0, 0, -1))
    }
}

/// A pinhole camera at the origin looking along +z, image not mirrored: the subject's right
/// (camera-space +x) appears on the image's left, as in GazeCapture's frames.
public struct PinholeCamera: Sendable {
    public let width: Int, height: Int
    public let focalPx: Double

    public init(width: Int, height: Int, focalPx: Double) {
        (self.width, self.height, self.focalPx) = (width, height, focalPx)
    }

    /// Image position (pixels, origin top-left) of a point in front of the camera.
    public func project(_ p: Vector3) -> (x: Double, y: Double) {
        (Double(width) / 2 - focalPx * p.x / p.z, Double(height) / 2 - focalPx * p.y / p.z)
    }

    /// The image-plane offset of a small displacement `d` at depth `z` (first-order projection).
    public func offset(_ d: Vector3, atDepth z: Double) -> (x: Double, y: Double) {
        (-focalPx * d.x / z, -focalPx * d.y / z)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
