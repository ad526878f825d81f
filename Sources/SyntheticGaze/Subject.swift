import FovealTensor

/// A synthetic person, fixed for a recording: the anatomy that decides where the iris appears
/// for a given gaze target, and the appearance that makes frames varied.
public struct Subject: Sendable {
    /// Distance between the eyeball centres.
    public var interpupillaryCm: Double
    public var eyeballRadiusCm: Double
    public var irisRadiusCm: Double
    public var pupilRadiusCm: Double
    /// Kappa: the angle between the eye's optical axis and its visual axis (the line to what it
    /// looks at), horizontal (temporal positive, mirrored between the eyes) and vertical. It
    /// differs per person and only calibration can remove it.
    public var kappaHorizontalDeg: Double
    public var kappaVerticalDeg: Double
    /// The visible eye opening between the lids.
    public var eyeWidthCm: Double
    public var eyeOpeningCm: Double
    public var faceHalfWidthCm: Double
    public var faceHalfHeightCm: Double
    public var glasses: Bool
    public var skin: RGB, hair: RGB, iris: RGB, brow: RGB
    public var hairStyle: Int

    /// A random person: figures from anthropometric ranges (eyeball radius ~1.2 cm, iris ~0.6 cm,
    /// kappa ~2 +- 1.5 deg horizontal, 0.5 +- 1 deg vertical).
    public static func random(_ rng: inout SplitMix64) -> Subject {
        let skinTones: [RGB] = [RGB(236, 200, 170), RGB(224, 172, 140), RGB(198, 134, 100), RGB(160, 104, 72),
                                RGB(118, 76, 52), RGB(84, 54, 38), RGB(250, 214, 190)]
        let hairTones: [RGB] = [RGB(20, 16, 14), RGB(60, 40, 24), RGB(110, 76, 40), RGB(170, 130, 70),
                                RGB(200, 180, 120), RGB(130, 130, 130), RGB(90, 30, 20)]
        let irisTones: [RGB] = [RGB(60, 36, 20), RGB(90, 60, 30), RGB(60, 90, 130), RGB(70, 110, 70), RGB(40, 30, 24)]
        let skin = skinTones[Int(rng.next() % UInt64(skinTones.count))].jittered(&rng, by: 12)
        let hair = hairTones[Int(rng.next() % UInt64(hairTones.count))].jittered(&rng, by: 10)
        return Subject(
            interpupillaryCm: rng.normal(6.3, 0.35).clamped(5.5, 7.1),
            eyeballRadiusCm: rng.normal(1.2, 0.04),
            irisRadiusCm: rng.normal(0.6, 0.03),
            pupilRadiusCm: rng.uniformDouble(0.15, 0.3),
            kappaHorizontalDeg: rng.normal(2, 1.5),
            kappaVerticalDeg: rng.normal(0.5, 1),
            eyeWidthCm: rng.uniformDouble(2.5, 3.0),
            eyeOpeningCm: rng.uniformDouble(0.8, 1.15),
            faceHalfWidthCm: rng.uniformDouble(6.6, 7.8),
            faceHalfHeightCm: rng.uniformDouble(9.2, 10.6),
            glasses: rng.uniformDouble(0, 1) < 0.15,
            skin: skin, hair: hair,
            iris: irisTones[Int(rng.next() % UInt64(irisTones.count))].jittered(&rng, by: 10),
            brow: hair.scaled(0.8),
            hairStyle: Int(rng.next() % 3))
    }
}

/// A colour with components in 0...255.
public struct RGB: Sendable, Equatable {
    public var r: Double, g: Double, b: Double

    public init(_ r: Double, _ g: Double, _ b: Double) { (self.r, self.g, self.b) = (r, g, b) }

    public func scaled(_ s: Double) -> RGB { RGB(r * s, g * s, b * s) }

    func jittered(_ rng: inout SplitMix64, by amount: Double) -> RGB {
        RGB(r + rng.uniformDouble(-amount, amount), g + rng.uniformDouble(-amount, amount), b + rng.uniformDouble(-amount, amount))
    }
}

extension SplitMix64 {
    /// Uniform in [lo, hi).
    mutating func uniformDouble(_ lo: Double, _ hi: Double) -> Double {
        lo + (hi - lo) * Double(next() >> 11) * 0x1p-53
    }

    /// Normal (Box-Muller).
    mutating func normal(_ mean: Double, _ std: Double) -> Double {
        let u1 = max(1e-300, uniformDouble(0, 1)), u2 = uniformDouble(0, 1)
        return mean + std * (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
}

extension Double {
    func clamped(_ lo: Double, _ hi: Double) -> Double { Swift.min(hi, Swift.max(lo, self)) }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
