import Foundation
import FovealGeometry
import FovealIO

/// One captured frame: pixels, when it was captured (seconds on the monotonic clock), and the
/// gaze label when the source knows it (a recorded dataset).
public struct Frame: Sendable {
    public var image: RGBImage
    public var timestamp: Double
    /// Position in its source (0, 1, 2, ...).
    public var index: Int
    public var label: CameraSpacePoint?
    /// For recordings: the frame's identity in the dataset ("00002/00017").
    public var name: String?
    /// For recordings: the first frame of a pass through the recording (a looping replay starts
    /// over here), where a replayed calibration begins.
    public var startsRecording = false

    public init(image: RGBImage, timestamp: Double, index: Int, label: CameraSpacePoint? = nil, name: String? = nil,
                startsRecording: Bool = false) {
        (self.image, self.timestamp, self.index, self.label, self.name) = (image, timestamp, index, label, name)
        self.startsRecording = startsRecording
    }
}

/// Anything frames come from: a V4L2 camera, a folder of images, a recording, a Y4M file.
public protocol FrameSource: AnyObject {
    /// The next frame, or nil at the end of a finite source. Throws `CaptureError` on failure.
    func next() throws -> Frame?
    /// Frames per second the source delivers at (nil: as fast as they are asked for).
    var framesPerSecond: Double? { get }
    /// What the source is, for messages ("/dev/video0 (vivid, 640x480 RGB3 at 25 fps)").
    var description: String { get }
    /// Releases the device or file.
    func close()
    /// Frames skipped so that the newest could be delivered (a camera's older buffers, a paced
    /// file's frames that fell due while the caller was busy).
    var dropped: Int { get }
    /// Passes over the next frame, without decoding it where the source can tell where it ends;
    /// false at the end of a finite source. A paced replay skips the frames it drops, as a camera
    /// never decodes the buffers it drops.
    func skip() throws -> Bool
}

extension FrameSource {
    public var dropped: Int { 0 }
    public func skip() throws -> Bool { try next() != nil }
}

/// Why frames cannot be had: one line naming the device or file.
public struct CaptureError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable { case notFound, busy, notACamera, disconnected, stalled, badFile, failed }
    public let kind: Kind
    public let source: String
    public let problem: String

    public init(_ kind: Kind, _ source: String, _ problem: String) { (self.kind, self.source, self.problem) = (kind, source, problem) }

    public var description: String { "\(source): \(problem)" }
}

/// Seconds on the monotonic clock V4L2 stamps its buffers with.
public enum MonotonicClock {
    public static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }
}
