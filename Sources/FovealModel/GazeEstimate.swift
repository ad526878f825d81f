import FovealGeometry
import FovealIO
import FovealTensor

/// One frame's answer from the network: the gaze point, and the penultimate features that a
/// per-user calibration regresses from.
public struct GazeEstimate: Sendable, Equatable {
    /// Camera space (GazeCapture's prediction space): cm from the camera, x right, y up.
    public var point: CameraSpacePoint
    /// AlexNet's penultimate features (empty when the forward pass did not keep them).
    public var features: [Float]
    /// The probability (0-1) that a face with open eyes is in view; nil for a model without the
    /// presence head.
    public var presence: Double?
    /// The probability (0-1) that a face is in view, eyes open or closed; nil for a model without
    /// the face-in-view head.
    public var faceInView: Double?

    public init(point: CameraSpacePoint, features: [Float], presence: Double? = nil, faceInView: Double? = nil) {
        (self.point, self.features, self.presence, self.faceInView) = (point, features, presence, faceInView)
    }

    /// Whether a face with open eyes is in view (see `seesFace`).
    public var sawFace: Bool { Self.seesFace(presence) }

    /// What the camera saw, as live output names it.
    public var faceState: FaceState { FaceState(presence: presence, faceInView: faceInView) }

    /// Whether a presence probability means a face with open eyes is in view: one half or more,
    /// and always for a model without the presence head (nil), which cannot tell.
    public static func seesFace(_ presence: Double?) -> Bool { (presence ?? 1) >= 0.5 }
}

/// Whether a frame shows a face with open eyes, and if not, why not, from the presence and
/// face-in-view probabilities (each taken at one half).
public enum FaceState: String, Sendable, Equatable {
    /// A face with open eyes: the gaze means something.
    case openEyes = "face"
    /// A face, its eyes closed (a blink, or dozing).
    case eyesClosed = "eyes closed"
    /// Nobody in view (or too little of a face to see).
    case noFace = "no face"
    /// No face with open eyes, from a model without the face-in-view head, which cannot say which.
    case noFaceOrEyesClosed = "no face or eyes closed"

    public init(presence: Double?, faceInView: Double?) {
        if GazeEstimate.seesFace(presence) {
            self = .openEyes
        } else if let faceInView {
            self = faceInView >= 0.5 ? .eyesClosed : .noFace
        } else {
            self = .noFaceOrEyesClosed
        }
    }
}

extension GazeNet.Output {
    /// Frame `i` of the batch as a camera-space point with its features.
    public func estimate(_ i: Int) -> GazeEstimate {
        GazeEstimate(point: CameraSpacePoint(xCm: Double(gazeCm[flat: 2 * i]), yCm: Double(gazeCm[flat: 2 * i + 1])),
                     features: features.map { $0.item(i).values } ?? [], presence: presence.map { Double($0[flat: i]) },
                     faceInView: faceInView.map { Double($0[flat: i]) })
    }

    /// Every frame of the batch, in order.
    public var estimates: [GazeEstimate] { (0..<gazeCm.shape[0]).map(estimate) }
}

extension GazeNet {
    /// The estimates for 8-bit frames of one size: the path every caller takes from pixels to gaze.
    public func estimate(_ frames: [RGBImage]) throws -> [GazeEstimate] {
        self(try ImageNormalization.pixelBatch(frames)).estimates
    }

    /// The estimate for one frame of a video, reusing a recent frame's saliency grid while the
    /// scene has not moved (`SaliencyReuse`).
    public func estimate(_ frame: RGBImage, reusing reuse: SaliencyReuse) throws -> GazeEstimate {
        self(try ImageNormalization.pixelBatch([frame]), reusing: reuse).estimate(0)
    }

    /// Which weights these are: a hash of the configuration and of every `state_dict` tensor's
    /// name, shape and values (64-bit FNV-1a), as 16 hex digits. The same tensors give the same
    /// identity whatever file they came from; a calibration records it, because a fit on one
    /// model's features means nothing under another's.
    public func identity() -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ word: UInt64) {
            hash = (hash ^ word) &* 0x0000_0100_0000_01b3
        }
        for byte in config.json.utf8 { mix(UInt64(byte)) }
        for p in parameters {
            for byte in p.name.utf8 { mix(UInt64(byte)) }
            for d in p.value.shape { mix(UInt64(truncatingIfNeeded: d)) }
            p.value.withUnsafeBufferPointer { values in
                for v in values { mix(UInt64(v.bitPattern)) }
            }
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
