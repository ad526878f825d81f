import Foundation
import FovealGeometry
import FovealIO
import GazeCapture

/// An MPIIFaceGaze folder (Zhang, Sugano, Fritz and Bulling, CVPRW 2017): 15 participants,
/// `p00`-`p14`, recorded by their laptops' webcams in daily use. Read into Foveal's dataset model
/// (`GazeCaptureDataset`): one recording per participant and day, one frame per line of `pXX.txt`,
/// each participant its own family, so evaluation reports per participant.
///
/// **Labels.** MPIIFaceGaze gives the 3-D gaze target `gt` in the camera's coordinates (OpenCV's:
/// x right in the image, y down, z forward, mm) and the screen's pose (`monitorPose.mat`): a
/// point s of the screen (mm from its top-left corner, x right and y down as the user sees it,
/// z = 0 on the screen) sits at R s + T, R from the rotation vector. Foveal's label is the target
/// on the screen plane, in cm, measured from the foot of the camera's perpendicular on that plane,
/// x to the user's right and y up: GazeCapture's camera space, which for a screen in the camera's
/// plane is GazeCapture's own, and for a tilted screen is measured in the screen's plane.
///
/// **Degrees.** The angular error of a prediction is the angle at the face centre `fc` between
/// the true target `gt` and the predicted point put back on the screen plane: the error the
/// literature reports for MPIIFaceGaze.
public final class MPIIFaceGaze: Sendable {
    /// The screen's place in the camera's coordinates: s (mm, on the screen) -> R s + T.
    public struct MonitorPose: Sendable, Equatable {
        /// Row-major 3x3.
        public let rotation: [Double]
        public let translationMm: [Double]

        /// From OpenCV's rotation vector (Rodrigues) and translation.
        public init(rotationVector r: [Double], translationMm t: [Double]) {
            let theta = (r[0] * r[0] + r[1] * r[1] + r[2] * r[2]).squareRoot()
            guard theta > 1e-12 else {
                (rotation, translationMm) = ([1, 0, 0, 0, 1, 0, 0, 0, 1], t)
                return
            }
            let (x, y, z) = (r[0] / theta, r[1] / theta, r[2] / theta)
            let (c, s) = (cos(theta), sin(theta)), v = 1 - c
            rotation = [c + x * x * v, x * y * v - z * s, x * z * v + y * s,
                        y * x * v + z * s, c + y * y * v, y * z * v - x * s,
                        z * x * v - y * s, z * y * v + x * s, c + z * z * v]
            translationMm = t
        }

        /// A camera-coordinate point in the screen's coordinates (R^T (p - T)), mm.
        func toScreen(_ p: [Double]) -> [Double] {
            var out = [0.0, 0, 0]
            for row in 0..<3 {
                let d = p[row] - translationMm[row]
                for col in 0..<3 { out[col] += rotation[row * 3 + col] * d }
            }
            return out
        }

        /// A screen point (mm) in the camera's coordinates (R s + T), mm.
        func toCamera(_ s: [Double]) -> [Double] {
            var out = translationMm
            for row in 0..<3 {
                for col in 0..<3 { out[row] += rotation[row * 3 + col] * s[col] }
            }
            return out
        }

        /// The camera centre's foot on the screen plane, in screen mm.
        var cameraFoot: [Double] { toScreen([0, 0, 0]) }

        /// Foveal's label of a 3-D target (camera coordinates, mm): on the screen plane, cm from
        /// the camera's foot, x right and y up.
        public func cameraSpace(targetMm gt: [Double]) -> CameraSpacePoint {
            let s = toScreen(gt), c = cameraFoot
            return CameraSpacePoint(xCm: (s[0] - c[0]) / 10, yCm: -(s[1] - c[1]) / 10)
        }

        /// The inverse: a camera-space point on the screen plane, in camera coordinates (mm).
        public func point(_ p: CameraSpacePoint) -> [Double] {
            let c = cameraFoot
            return toCamera([c[0] + p.xCm * 10, c[1] - p.yCm * 10, 0])
        }
    }

    /// A participant's calibration files.
    public struct Participant: Sendable {
        public let id: String
        public let pose: MonitorPose
        public let widthPx: Double, heightPx: Double, widthMm: Double, heightMm: Double
        /// `Camera.mat`'s intrinsics (row-major 3x3) and distortion coefficients.
        public let cameraMatrix: [Double]
        public let distortion: [Double]
    }

    /// What degrees need of a frame: the face centre and the 3-D target, camera coordinates, mm.
    public struct FrameGeometry: Sendable {
        public let participant: String
        public let faceCentreMm: [Double]
        public let targetMm: [Double]
    }

    public let root: String
    public let participants: [Participant]
    /// The frames in Foveal's dataset model, ready for `Evaluator` and `Trainer`.
    public let dataset: GazeCaptureDataset
    /// Lines, images and files that could not be used, each named (they are skipped).
    public let problems: [FileFormatError]
    /// Per frame (image path): what its angular error needs.
    private let geometry: [String: FrameGeometry]

    /// Whether `root` is laid out as MPIIFaceGaze: it has participant folders `pNN` holding `pNN.txt`.
    public static func isLayout(_ root: String) -> Bool {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return entries.contains { Self.isParticipantName($0) && FileManager.default.fileExists(atPath: "\(root)/\($0)/\($0).txt") }
    }

    static func isParticipantName(_ name: String) -> Bool {
        name.count == 3 && name.hasPrefix("p") && name.dropFirst().allSatisfy(\.isNumber)
    }

    /// Reads every participant. `testPerson` (leave-one-person-out) puts that participant in the
    /// test split and the others in train, each one's last day in val; without it, every
    /// participant is in the test split (evaluating a model trained elsewhere).
    public convenience init(root: String, testPerson: String? = nil) throws {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter(Self.isParticipantName).sorted()
        guard !names.isEmpty else { throw FileFormatError(root, "not an MPIIFaceGaze folder (no p00-p14 participant folders)") }
        if let testPerson, !names.contains(testPerson) {
            throw FileFormatError(root, "no participant '\(testPerson)' (it has \(names.joined(separator: ", ")))")
        }
        var read: [(Participant, days: [String: [Line]])] = [], problems: [FileFormatError] = []
        for name in names {
            let folder = "\(root)/\(name)"
            do {
                let participant = try Self.participant(name, folder: folder)
                let path = "\(folder)/\(name).txt"
                guard let text = FileManager.default.contents(atPath: path) else { throw FileFormatError(path, "cannot read the file") }
                let (days, lineProblems) = Self.lines(text, of: participant, folder: folder) {
                    FileManager.default.fileExists(atPath: "\(folder)/\($0)")
                }
                read.append((participant, days))
                problems += lineProblems
            } catch let e as FileFormatError {
                problems.append(e)
            }
        }
        try self.init(root: root, read: read, problems: problems, testPerson: testPerson)
    }

    /// The dataset from participants already read: their days' lines become recordings, one per
    /// participant-day, and frames numbered by dot. The fuzz harness enters here with lines parsed
    /// from memory.
    package init(root: String, read: [(Participant, days: [String: [Line]])], problems: [FileFormatError], testPerson: String?) throws {
        self.root = root
        var recordings: [Recording] = [], geometry: [String: FrameGeometry] = [:]
        for (participant, days) in read {
            let name = participant.id, folder = "\(root)/\(name)"
            let dayNames = days.keys.sorted()
            for day in dayNames {
                guard let lines = days[day] else { continue }
                let split = testPerson == nil || testPerson == name ? "test" : day == dayNames.last && dayNames.count > 1 ? "val" : "train"
                let id = "\(name)/\(day)"
                var frames: [GazeCaptureFrame] = []
                var dotNumber = -1, lastTarget: [Double]?
                for (index, line) in lines.enumerated() {
                    if line.targetPx != lastTarget { dotNumber += 1; lastTarget = line.targetPx }
                    let dot = Dot(number: dotNumber, xPts: line.targetPx[0], yPts: line.targetPx[1],
                                  camera: participant.pose.cameraSpace(targetMm: line.targetMm), time: 0)
                    let boxes = Self.boxes(line.landmarks)
                    let frame = GazeCaptureFrame(recordingID: id, index: index, imagePath: "\(folder)/\(line.image)",
                                                 device: "MPIIFaceGaze \(name)", family: name, split: split, orientation: .portrait,
                                                 screenWidthPts: participant.widthPx, screenHeightPts: participant.heightPx, dot: dot,
                                                 face: boxes.face, leftEye: boxes.left, rightEye: boxes.right, faceGrid: boxes.grid)
                    frames.append(frame)
                    geometry[frame.imagePath] = FrameGeometry(participant: name, faceCentreMm: line.faceCentreMm, targetMm: line.targetMm)
                }
                recordings.append(Recording(id: id, path: "\(folder)/\(day)", device: "MPIIFaceGaze \(name)", family: name,
                                            split: split, frames: frames))
            }
        }
        guard !recordings.isEmpty else {
            throw FileFormatError(root, "no usable frames: " + (problems.first.map { "\($0)" } ?? "every participant is empty"))
        }
        self.participants = read.map(\.0)
        self.problems = problems
        self.geometry = geometry
        dataset = GazeCaptureDataset(root: root, recordings: recordings)
    }

    /// The angle in degrees, at the frame's face centre, between its true target and `predicted`
    /// put back on its screen plane; nil for a frame this dataset did not read.
    public func angularErrorDegrees(_ frame: GazeCaptureFrame, predicted: CameraSpacePoint) -> Double? {
        guard let g = geometry[frame.imagePath], let p = participants.first(where: { $0.id == g.participant }) else { return nil }
        let onScreen = p.pose.point(predicted)
        var dot = 0.0, aa = 0.0, bb = 0.0
        for i in 0..<3 {
            let a = g.targetMm[i] - g.faceCentreMm[i], b = onScreen[i] - g.faceCentreMm[i]
            (dot, aa, bb) = (dot + a * b, aa + a * a, bb + b * b)
        }
        let norms = (aa * bb).squareRoot()
        guard norms > 0 else { return nil }
        return acos(max(-1, min(1, dot / norms))) * 180 / .pi
    }

    // MARK: Reading

    /// One line of pXX.txt.
    package struct Line {
        var image: String
        var targetPx: [Double]
        var landmarks: [Double]
        var faceCentreMm: [Double]
        var targetMm: [Double]
    }

    package static func participant(_ name: String, folder: String) throws -> Participant {
        let calibration = "\(folder)/Calibration"
        let camera = try MATFile(path: "\(calibration)/Camera.mat")
        let pose = try MATFile(path: "\(calibration)/monitorPose.mat")
        let screen = try MATFile(path: "\(calibration)/screenSize.mat")
        let rvec = try pose.numbers(try pose.matrix(anyOf: ["rvects", "rvecs"]), count: 3)
        let tvec = try pose.numbers(try pose.matrix(anyOf: ["tvecs", "tvects"]), count: 3)
        let size = try ["width_pixel", "height_pixel", "width_mm", "height_mm"].map { try screen.numbers($0, count: 1)[0] }
        guard size.allSatisfy({ $0 > 0 && $0 < 1e6 }) else {
            throw FileFormatError(screen.path, "screen sizes must be positive and plausible, not \(size)")
        }
        let intrinsics = try camera.matrix("cameraMatrix")
        let k = try camera.numbers(intrinsics, count: 9)
        let distortion = try camera.matrix("distCoeffs")
        guard distortion.values.allSatisfy(\.isFinite) else { throw FileFormatError(camera.path, "'distCoeffs' holds a non-finite number") }
        // Column-major as stored: row-major here.
        let rowMajor = (0..<9).map { k[($0 % 3) * 3 + $0 / 3] }
        return Participant(id: name, pose: MonitorPose(rotationVector: rvec, translationMm: tvec), widthPx: size[0], heightPx: size[1],
                           widthMm: size[2], heightMm: size[3], cameraMatrix: rowMajor, distortion: distortion.values)
    }

    /// The participant's lines (the bytes of `pXX.txt` in `folder`) by day folder, in file order;
    /// malformed lines and images for which `imageExists` (given `DAY/FILE`) is false are skipped
    /// and named.
    package static func lines(_ data: Data, of p: Participant, folder: String,
                              imageExists: (String) -> Bool) -> (days: [String: [Line]], problems: [FileFormatError]) {
        let path = "\(folder)/\(p.id).txt"
        var days: [String: [Line]] = [:], problems: [FileFormatError] = []
        for (number, raw) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let text = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if text.isEmpty { continue }
            let fields = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            func bad(_ problem: String) { problems.append(FileFormatError(path, "line \(number + 1): \(problem)")) }
            guard fields.count == 28 else { bad("\(fields.count) fields, expected 28"); continue }
            let numbers = fields[1...26].map { Double($0) }
            guard numbers.allSatisfy({ $0?.isFinite == true }) else { bad("a field that is not a finite number"); continue }
            let n = numbers.map { $0 ?? 0 }
            guard fields[27] == "left" || fields[27] == "right" else { bad("the last field must be 'left' or 'right'"); continue }
            let image = fields[0]
            let parts = image.split(separator: "/")
            guard parts.count == 2, !image.contains(".."), !image.hasPrefix("/") else { bad("image path '\(image)' is not DAY/FILE"); continue }
            guard imageExists(image) else {
                problems.append(FileFormatError("\(folder)/\(image)", "missing image (line \(number + 1) of \(p.id).txt)"))
                continue
            }
            days[String(parts[0]), default: []].append(Line(image: image, targetPx: Array(n[0..<2]), landmarks: Array(n[2..<14]),
                                                            faceCentreMm: Array(n[20..<23]), targetMm: Array(n[23..<26])))
        }
        return (days, problems)
    }

    /// MPIIFaceGaze's frames are 1280x720; GazeCapture's face grid is 25x25 over the frame.
    static let frameSize = (width: 1280.0, height: 720.0), gridCells = 25.0

    /// Face and eye boxes (eyes relative to the face box, as GazeCapture's) from the six
    /// landmarks: two eyes' corners, then the mouth's. The subject's left eye is on the image's right.
    static func boxes(_ l: [Double]) -> (face: DetectionBox, left: DetectionBox, right: DetectionBox, grid: DetectionBox) {
        let xs = stride(from: 0, to: 12, by: 2).map { l[$0] }, ys = stride(from: 1, to: 12, by: 2).map { l[$0] }
        let span = max(1, (xs.max() ?? 0) - (xs.min() ?? 0))
        let side = 2.2 * span
        let cx = xs.reduce(0, +) / 6, cy = ys.reduce(0, +) / 6
        let face = DetectionBox(x: cx - side / 2, y: cy - 0.55 * side, width: side, height: side)
        func eye(_ i: Int) -> DetectionBox {
            let (x0, y0, x1, y1) = (l[i], l[i + 1], l[i + 2], l[i + 3])
            let w = max(1, 1.6 * abs(x1 - x0)), mx = (x0 + x1) / 2, my = (y0 + y1) / 2
            return DetectionBox(x: mx - w / 2 - face.x, y: my - w / 2 - face.y, width: w, height: w)
        }
        let (a, b) = (eye(0), eye(4))
        let (left, right) = a.x > b.x ? (a, b) : (b, a)
        let cell = (x: frameSize.width / gridCells, y: frameSize.height / gridCells)
        let gx = min(gridCells, max(1, (face.x / cell.x).rounded(.down) + 1)), gy = min(gridCells, max(1, (face.y / cell.y).rounded(.down) + 1))
        let grid = DetectionBox(x: gx, y: gy, width: min(gridCells, max(1, (side / cell.x).rounded())), height: min(gridCells, max(1, (side / cell.y).rounded())))
        return (face, left, right, grid)
    }
}
