import FovealIO
import FovealTensor
import GazeCapture

/// What a recording looks like apart from the subject: background, light, sensor.
public struct Look: Sendable {
    public var background: [RGB]        // a few colours the background is built from
    public var backgroundSeed: UInt64
    public var lightX: Double, lightY: Double  // image-plane direction the light comes from
    public var diffuse: Double          // strength of the light's shading across the face
    public var gain: Double             // exposure
    public var noise: Double            // sensor noise, 8-bit levels
    public var jpegQuality: Int
    /// The subject's light relative to the room's: below 1 with a window behind them.
    public var subjectLight = 1.0
    /// The room behind the subject: dark when the screen is the only light, bright with a window.
    public var backgroundLight = 1.0
    /// Per-channel colour of the light (a screen's light is bluish).
    public var tint = (r: 1.0, g: 1.0, b: 1.0)
    /// Opacity of the screen's reflection in glasses (0: none).
    public var screenReflection = 0.0

    /// A hand-held recording's look: daylight or room light, any background.
    public static func random(_ rng: inout SplitMix64) -> Look {
        let angle = rng.uniformDouble(0, 2 * .pi)
        return Look(background: (0..<4).map { _ in RGB(rng.uniformDouble(20, 235), rng.uniformDouble(20, 235), rng.uniformDouble(20, 235)) },
                    backgroundSeed: rng.next(), lightX: cos(angle), lightY: sin(angle),
                    diffuse: rng.uniformDouble(0.05, 0.3), gain: rng.uniformDouble(0.75, 1.15),
                    noise: rng.uniformDouble(1.5, 5), jpegQuality: Int(rng.uniformDouble(70, 96)))
    }

    /// A desk's look: an evenly lit office (half the recordings), a dim room lit mostly by the
    /// screen (dark, noisy, bluish frames), or a window behind the user (a bright room and a
    /// face in shadow). Glasses reflect the screen.
    public static func randomDesk(_ rng: inout SplitMix64) -> Look {
        var look = random(&rng)
        look.screenReflection = rng.uniformDouble(0.15, 0.5)
        let kind = rng.uniformDouble(0, 1)
        if kind < 0.25 {
            look.gain = rng.uniformDouble(0.3, 0.55)
            look.noise = rng.uniformDouble(5, 12)
            look.backgroundLight = rng.uniformDouble(0.2, 0.5)
            look.diffuse = rng.uniformDouble(0.02, 0.12)
            look.tint = (rng.uniformDouble(0.8, 0.9), rng.uniformDouble(0.9, 0.97), 1.1)
            look.screenReflection = rng.uniformDouble(0.4, 0.8)
        } else if kind < 0.5 {
            look.backgroundLight = rng.uniformDouble(1.4, 2.0)
            look.subjectLight = rng.uniformDouble(0.45, 0.7)
            look.gain = rng.uniformDouble(0.9, 1.1)
        }
        return look
    }
}

/// The detections a frame's JSON files record, in GazeCapture's conventions: the face box in
/// frame pixels, eye boxes relative to the face box; nil where the "detector" fails.
public struct Detections: Sendable {
    public var face: DetectionBox?, rightEye: DetectionBox?, leftEye: DetectionBox?, faceGrid: DetectionBox?
}

/// Draws a subject looking at a target, as a front camera sees them.
public struct FaceRenderer {
    public let camera: PinholeCamera
    let background: Canvas

    /// How far behind the eyes the head's outline is centred: about half an adult head's length.
    public static let skullCentreBehindEyesCm = 7.0

    public init(camera: PinholeCamera, look: Look) {
        self.camera = camera
        var canvas = Canvas(width: camera.width, height: camera.height)
        var rng = SplitMix64(seed: look.backgroundSeed)
        let (w, h) = (Double(camera.width), Double(camera.height))
        // A vertical gradient between two colours, then furniture-like blocks and soft blobs.
        let (top, bottom) = (look.background[0], look.background[1])
        canvas.paint(box: (0, 0, w, h), colour: { _, y in
            let t = Double(y) / h
            return RGB(top.r + (bottom.r - top.r) * t, top.g + (bottom.g - top.g) * t, top.b + (bottom.b - top.b) * t)
        }, alpha: { _, _ in 1 })
        for i in 0..<Int(rng.uniformDouble(2, 7)) {
            let c = look.background[2 + i % 2].jittered(&rng, by: 30)
            let x0 = rng.uniformDouble(-0.2, 1) * w, y0 = rng.uniformDouble(-0.2, 1) * h
            let x1 = x0 + rng.uniformDouble(0.05, 0.5) * w, y1 = y0 + rng.uniformDouble(0.05, 0.6) * h
            canvas.paint(box: (x0, y0, x1, y1), colour: { _, _ in c }, alpha: { x, y in
                min(1, max(0, min(x - x0, x1 - x, y - y0, y1 - y) * 0.5))
            })
        }
        for _ in 0..<3 {
            let c = RGB(rng.uniformDouble(0, 255), rng.uniformDouble(0, 255), rng.uniformDouble(0, 255))
            let r = rng.uniformDouble(0.05, 0.2) * w
            canvas.ellipse(centre: (rng.uniformDouble(0, w), rng.uniformDouble(0, h)), (r, 0), (0, r * 0.7), colour: c)
        }
        if look.backgroundLight != 1 {
            let light = Float(look.backgroundLight)
            for i in canvas.pixels.indices { canvas.pixels[i] *= light }
        }
        background = canvas
    }

    /// The room with nobody in it: what the camera sees while the subject is away.
    public func renderEmpty(look: Look, exposure: Double, rng: inout SplitMix64) -> (image: RGBImage, detections: Detections) {
        (background.image(noise: look.noise, gain: look.gain * exposure, tint: look.tint, rng: &rng), Detections())
    }

    /// Renders `scene`; `blink` runs from 0 (open) to 1 (closed). Returns the image and the
    /// detector's view of it; `rng` drives detector jitter and sensor noise.
    public func render(_ scene: GazeScene, look: Look, blink: Double, exposure: Double,
                       rng: inout SplitMix64) -> (image: RGBImage, detections: Detections) {
        var canvas = background
        let s = scene.subject, head = scene.head, f = head.frame
        let z = head.position.z
        let project = camera.project, off = { (d: Vector3) in camera.offset(d, atDepth: z) }
        // The outline (hair, face, neck) is a skull's silhouette: its centre lies behind the eyes,
        // so a turned or tilted head shows as the features sliding within the outline, as on a
        // real face. The features themselves (eyes, nose, mouth, fringe) sit in front.
        let faceCentre3 = head.position - f.up * 2.3
        let outlineCentre3 = faceCentre3 - f.forward * Self.skullCentreBehindEyesCm
        let faceCentre = project(outlineCentre3)
        let faceA1 = off(f.right * s.faceHalfWidthCm), faceA2 = off(f.up * s.faceHalfHeightCm)
        let radius = (faceA1.x * faceA1.x + faceA1.y * faceA1.y).squareRoot()
        let shade = { (x: Double, y: Double) -> Double in
            look.subjectLight + look.subjectLight * look.diffuse * ((x - faceCentre.x) * look.lightX + (y - faceCentre.y) * look.lightY) / radius
        }

        // Hair behind the head, neck, face.
        let hairScale = [1.12, 1.2, 1.05][s.hairStyle], hairDrop = [0.6, 2.5, 0.2][s.hairStyle]
        canvas.ellipse(centre: project(outlineCentre3 + f.up * (1.6 - hairDrop)),
                       off(f.right * (s.faceHalfWidthCm * hairScale)), off(f.up * (s.faceHalfHeightCm * (0.95 + hairDrop / 12))),
                       colour: s.hair, shade: shade)
        canvas.ellipse(centre: project(outlineCentre3 - f.up * (s.faceHalfHeightCm * 1.05)),
                       off(f.right * (s.faceHalfWidthCm * 0.55)), off(f.up * (s.faceHalfHeightCm * 0.5)),
                       colour: s.skin.scaled(0.82), shade: shade)
        canvas.ellipse(centre: faceCentre, faceA1, faceA2, colour: s.skin, shade: shade)
        // Fringe over the forehead.
        canvas.ellipse(centre: project(faceCentre3 + f.up * (s.faceHalfHeightCm * 0.95)),
                       off(f.right * (s.faceHalfWidthCm * 0.92)), off(f.up * (s.faceHalfHeightCm * 0.22)),
                       colour: s.hair, shade: shade)

        // Nose (its tip stands out towards the camera, so it shows head yaw) and mouth.
        let noseTip = head.position - f.up * 3.3 + f.forward * 2.2
        canvas.stroke([project(head.position - f.up * 0.6 + f.forward * 1.2), project(noseTip)],
                      width: off(f.right * 0.5).x.magnitude, colour: s.skin.scaled(0.88 * look.subjectLight), opacity: 0.8)
        canvas.ellipse(centre: project(noseTip - f.up * 0.25), off(f.right * 0.9), off(f.up * 0.35), colour: s.skin.scaled(0.7), shade: shade)
        canvas.ellipse(centre: project(head.position - f.up * 6.0 + f.forward * 1.0), off(f.right * 2.1), off(f.up * 0.32),
                       colour: RGB(150, 60, 60).scaled(s.skin.r / 230), shade: shade)

        for side in EyeSide.allCases {
            drawEye(scene.eye(side), side, scene, look: look, blink: blink, shade: shade, canvas: &canvas)
        }

        let image = canvas.image(noise: look.noise, gain: look.gain * exposure, tint: look.tint, rng: &rng)
        return (image, detections(scene, blink: blink, rng: &rng))
    }

    private func drawEye(_ eye: EyeState, _ side: EyeSide, _ scene: GazeScene, look: Look, blink: Double,
                         shade: (Double, Double) -> Double, canvas: inout Canvas) {
        let s = scene.subject, f = scene.head.frame, z = scene.head.position.z
        let off = { (d: Vector3) in camera.offset(d, atDepth: z) }
        let r = s.eyeballRadiusCm
        let front = eye.centre + f.forward * (0.6 * r)
        let inner = camera.project(front - f.right * (side.sign * s.eyeWidthCm / 2))
        let outer = camera.project(front + f.right * (side.sign * s.eyeWidthCm / 2) + f.up * 0.08)
        // The upper lid follows the eye up and down; a blink lowers it to the lower lid.
        let lookUp = eye.opticalAxis.dot(f.up)
        let lower = s.eyeOpeningCm * 0.42 - 0.25 * r * lookUp
        let upperOpen = s.eyeOpeningCm * 0.58 + 0.45 * r * lookUp
        let upper = upperOpen * (1 - blink) - lower * 0.9 * blink
        let upPx = off(f.up), upLength = (upPx.x * upPx.x + upPx.y * upPx.y).squareRoot()
        let n = (upPx.x / upLength, upPx.y / upLength)  // image direction of the head's up axis
        let ax = outer.x - inner.x, ay = outer.y - inner.y, length2 = ax * ax + ay * ay
        let (upperPx, lowerPx) = (upper * upLength, lower * upLength)
        // Coverage of the eye opening at an image point: between the two parabolic lids.
        let opening = { (x: Double, y: Double) -> Double in
            let t = ((x - inner.x) * ax + (y - inner.y) * ay) / length2
            guard t > -0.05, t < 1.05 else { return 0 }
            let bx = inner.x + t * ax, by = inner.y + t * ay
            let h = (x - bx) * n.0 + (y - by) * n.1  // signed offset along the head's up direction
            let bulge = max(0, 4 * t * (1 - t))
            return min(1, max(0, min(upperPx * bulge - h, h + lowerPx * bulge) + 0.5))
        }
        // Iris and pupil: discs in the plane across the optical axis, seen in perspective.
        let e1 = Vector3(eye.opticalAxis.z, 0, -eye.opticalAxis.x).normalized
        let e2 = Vector3(eye.opticalAxis.y * e1.z - eye.opticalAxis.z * e1.y,
                         eye.opticalAxis.z * e1.x - eye.opticalAxis.x * e1.z,
                         eye.opticalAxis.x * e1.y - eye.opticalAxis.y * e1.x)
        let irisZ = eye.irisCentre.z
        let c = camera.project(eye.irisCentre)
        let i1 = camera.offset(e1 * s.irisRadiusCm, atDepth: irisZ), i2 = camera.offset(e2 * s.irisRadiusCm, atDepth: irisZ)
        let det = i1.x * i2.y - i2.x * i1.y
        let irisPx = s.irisRadiusCm * camera.focalPx / irisZ
        let glint = camera.project(eye.centre + (Vector3(0, 0, 0) - eye.centre).normalized * (r * 0.82))
        let sclera = RGB(228, 222, 216)
        let box = (min(inner.x, outer.x) - 3, min(inner.y, outer.y) - upperOpen * upLength - 3,
                   max(inner.x, outer.x) + 3, max(inner.y, outer.y) + lower * upLength + 3)
        canvas.paint(box: box, colour: { x, y in
            let px = Double(x) + 0.5 - c.x, py = Double(y) + 0.5 - c.y
            let a = (px * i2.y - py * i2.x) / det, b = (i1.x * py - i1.y * px) / det
            let rho = (a * a + b * b).squareRoot() * irisPx  // distance from the iris centre, in pixels
            let limbus = min(1, max(0, irisPx + 0.5 - rho))
            let iris = min(1, max(0, irisPx * 0.82 + 0.5 - rho))
            let pupil = min(1, max(0, irisPx * s.pupilRadiusCm / s.irisRadiusCm + 0.5 - rho))
            let gx = Double(x) + 0.5 - glint.x, gy = Double(y) + 0.5 - glint.y
            let spark = min(1, max(0, 1.2 - (gx * gx + gy * gy).squareRoot()))
            func mix(_ a: RGB, _ b: RGB, _ t: Double) -> RGB { RGB(a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t) }
            var colour = mix(sclera, s.iris.scaled(0.45), limbus)
            colour = mix(colour, s.iris, iris)
            colour = mix(colour, RGB(12, 10, 10), pupil)
            colour = mix(colour, RGB(250, 250, 250), spark)
            return colour.scaled(shade(Double(x), Double(y)))
        }, alpha: opening)
        // Lashes along the upper lid; a brow above.
        let lid = (0...8).map { k -> (x: Double, y: Double) in
            let t = Double(k) / 8, bulge = 4 * t * (1 - t) * upperPx
            return (inner.x + t * ax + n.0 * bulge, inner.y + t * ay + n.1 * bulge)
        }
        canvas.stroke(lid, width: max(1, 0.1 * upLength), colour: RGB(30, 24, 22), opacity: 0.9)
        let brow = (0...6).map { k -> (x: Double, y: Double) in
            let t = Double(k) / 6
            let p = front - f.right * (side.sign * s.eyeWidthCm * (0.6 - 1.3 * t)) + f.up * (1.2 + 0.35 * sin(t * .pi))
            return camera.project(p)
        }
        canvas.stroke(brow, width: max(1.5, 0.28 * upLength), colour: s.brow.scaled(look.subjectLight), opacity: 0.9)
        if s.glasses {
            let rim = (0...24).map { k -> (x: Double, y: Double) in
                let a = Double(k) / 24 * 2 * .pi
                return camera.project(eye.centre + f.forward * 1.4 + f.right * (1.9 * cos(a)) + f.up * (1.4 * sin(a) - 0.1))
            }
            canvas.stroke(rim, width: max(1, 0.15 * upLength), colour: RGB(25, 25, 30))
            if look.screenReflection > 0 {
                // The screen mirrored in the lens: a bright bluish patch over part of the eye,
                // where the lens faces the screen (up and in front of the eye).
                let centre = camera.project(eye.centre + f.forward * 1.5 + f.up * 0.35 - f.right * (side.sign * 0.3))
                canvas.ellipse(centre: centre, off(f.right * 1.0), off(f.up * 0.55), colour: RGB(205, 220, 255),
                               opacity: look.screenReflection)
            }
            if side == .right {
                canvas.stroke([camera.project(scene.head.position + f.forward * 1.6 + f.right * 1.2),
                               camera.project(scene.head.position + f.forward * 1.6 - f.right * 1.2)],
                              width: max(1, 0.15 * upLength), colour: RGB(25, 25, 30))
            }
        }
    }

    /// The boxes a face and eye detector would report, with detector-like jitter.
    private func detections(_ scene: GazeScene, blink: Double, rng: inout SplitMix64) -> Detections {
        let s = scene.subject, f = scene.head.frame, z = scene.head.position.z
        let (w, h) = (Double(camera.width), Double(camera.height))
        let centre = camera.project(scene.head.position - f.up * 1.6)
        let side = 2 * s.faceHalfWidthCm * camera.focalPx / z * rng.uniformDouble(0.96, 1.06)
        let fx = centre.x - side / 2 + side * rng.normal(0, 0.02), fy = centre.y - side / 2 + side * rng.normal(0, 0.02)
        // A face detector still finds a face whose forehead or chin leaves the frame (a webcam
        // above a screen often cuts the forehead): the box may cross the edge, and the face is
        // lost once a quarter of it is outside. Whether its eyes are seen is decided below.
        let inside = (min(fx + side, w) - max(fx, 0)) * (min(fy + side, h) - max(fy, 0))
        guard fx + side > 0, fy + side > 0, fx < w, fy < h, inside >= 0.75 * side * side else { return Detections() }
        let face = DetectionBox(x: fx, y: fy, width: side, height: side)
        var result = Detections(face: face)
        // The face grid marks the part of the face inside the frame.
        let grid = { (v: Double, extent: Double) in v / extent * 25 }
        let (x0, y0) = (max(fx, 0), max(fy, 0))
        let gx = Int(grid(x0, w)), gy = Int(grid(y0, h))
        result.faceGrid = DetectionBox(x: Double(min(24, gx) + 1), y: Double(min(24, gy) + 1),
                                       width: Double(max(1, min(25 - gx, Int(grid(min(fx + side, w) - x0, w).rounded())))),
                                       height: Double(max(1, min(25 - gy, Int(grid(min(fy + side, h) - y0, h).rounded())))))
        guard blink < 0.5 else { return result }
        for eyeSide in EyeSide.allCases {
            let eye = scene.eye(eyeSide)
            let c = camera.project(eye.centre + f.forward * (0.6 * s.eyeballRadiusCm))
            let size = s.eyeWidthCm * 1.5 * camera.focalPx / z * rng.uniformDouble(0.93, 1.07)
            let ex = c.x - size / 2 + size * rng.normal(0, 0.04), ey = c.y - size / 2 + size * rng.normal(0, 0.04)
            guard ex >= 0, ey >= 0, ex + size <= w, ey + size <= h else { continue }
            let box = DetectionBox(x: ex - fx, y: ey - fy, width: size, height: size)
            if eyeSide == .right { result.rightEye = box } else { result.leftEye = box }
        }
        return result
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
