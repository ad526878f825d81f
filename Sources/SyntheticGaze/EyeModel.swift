/// Which eye: the subject's right eye sits at camera-space +x (the image's left).
public enum EyeSide: Sendable, CaseIterable {
    case right, left

    /// +1 for the right eye, -1 for the left: the direction from the nose to this eye along the head's right axis.
    var sign: Double { self == .right ? 1 : -1 }
}

/// A head in space: the midpoint between the eyeball centres and the head's orientation.
public struct HeadPose: Sendable {
    public var position: Vector3
    public var yawDeg: Double, pitchDeg: Double, rollDeg: Double

    public init(position: Vector3, yawDeg: Double, pitchDeg: Double, rollDeg: Double) {
        (self.position, self.yawDeg, self.pitchDeg, self.rollDeg) = (position, yawDeg, pitchDeg, rollDeg)
    }

    public var frame: HeadFrame { HeadFrame(yawDeg: yawDeg, pitchDeg: pitchDeg, rollDeg: rollDeg) }
}

/// One eye looking at a target: the geometry that puts the iris where the camera sees it.
public struct EyeState: Sendable {
    public let centre: Vector3
    /// Unit vector from the eyeball centre to the target.
    public let visualAxis: Vector3
    /// The visual axis turned by kappa: where the eyeball (and so the iris) actually points.
    public let opticalAxis: Vector3
    /// Where the optical axis leaves the eyeball, at the iris plane.
    public let irisCentre: Vector3
}

/// A subject looking at a point: the eye model.
public struct GazeScene: Sendable {
    public let subject: Subject
    public let head: HeadPose
    /// The target the subject fixates, in camera space (on the screen, z = 0).
    public let target: Vector3

    public init(subject: Subject, head: HeadPose, target: Vector3) {
        (self.subject, self.head, self.target) = (subject, head, target)
    }

    public func eye(_ side: EyeSide) -> EyeState {
        let f = head.frame
        let centre = head.position + f.right * (side.sign * subject.interpupillaryCm / 2)
        let visual = (target - centre).normalized
        // Kappa: the optical axis lies temporal (away from the nose) of the visual axis by the
        // horizontal angle, and above it by the vertical one; mirrored between the eyes.
        let h = tan(subject.kappaHorizontalDeg * .pi / 180), v = tan(subject.kappaVerticalDeg * .pi / 180)
        let optical = (visual + f.right * (side.sign * h) + f.up * v).normalized
        // The iris plane sits ~0.85 eyeball radii in front of the centre.
        let iris = centre + optical * (subject.eyeballRadiusCm * 0.85)
        return EyeState(centre: centre, visualAxis: visual, opticalAxis: optical, irisCentre: iris)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
