import Foundation
import FovealIO
import FovealModel
import FovealTensor
import GazeCapture

/// Shuffled training batches from a GazeCapture-layout dataset. A background thread decodes the
/// JPEGs, applies brightness/contrast jitter and mirroring and normalises, staying up to
/// `prefetch` batches ahead, so the cores spend their time on the network.
public final class BatchLoader: @unchecked Sendable {
    /// One batch: normalised frames of one size, their gaze labels, and their metadata.
    public struct Batch: @unchecked Sendable {
        public let images: PixelBatch
        public let targets: Tensor   // (N, 2) camera-space cm
        public let frames: [GazeCaptureFrame]
        /// Which images were mirrored (their target's x is negated; `frames` are as stored).
        public let mirrored: [Bool]
    }

    public let frames: [GazeCaptureFrame]
    public let batchSize: Int
    public let seed: UInt64
    /// Brightness (+-levels) and contrast (x [1-c, 1+c]) jitter; 0 turns it off.
    public var brightness: Float = 20, contrast: Float = 0.2
    public var prefetch = 2
    /// Frames that could not be decoded, by path.
    public private(set) var unreadable: [String] = []
    private let lock = NSLock()

    /// Each frame's size ("WxH"), as its file's header declares it: batches hold frames of one
    /// size, so a 480x640 phone frame and a 1280x720 laptop frame never meet. Probed once per
    /// recording and orientation (one camera gives one size per orientation); "?" where the
    /// probe failed, and the frame's load then says why.
    let sizeKeys: [String]

    public init(frames: [GazeCaptureFrame], batchSize: Int, seed: UInt64) {
        (self.frames, self.batchSize, self.seed) = (frames, batchSize, seed)
        var probed: [String: String] = [:]
        sizeKeys = frames.map { frame in
            let key = "\(frame.recordingID)/\(frame.orientation.rawValue)"
            if let size = probed[key] { return size }
            let size = (try? RGBImage.size(ofFileAt: frame.imagePath)).map { "\($0.width)x\($0.height)" } ?? "?"
            probed[key] = size
            return size
        }
    }

    /// Every frame of `selection` (recording by recording, metadata only).
    public static func frames(of dataset: GazeCaptureDataset, _ selection: FrameSelection) -> (frames: [GazeCaptureFrame], problems: [FileFormatError]) {
        var walk = FrameWalk(dataset, selection)
        var frames: [GazeCaptureFrame] = []
        walk.forEachRecording { _, f in frames += f }
        return (frames, walk.problems)
    }

    /// With `pairs`, every batch is made of pairs of frames of one recording in adjacent slots
    /// (for `pairedDifferenceError`; the batch size should be even); each frame still appears
    /// once per epoch.
    public var pairs = false

    /// The batches of one epoch, in an order fixed by (seed, epoch). Frames of different sizes
    /// (portrait and landscape, phone and laptop) go to different batches; the last short batch
    /// of a size is kept.
    public func plan(epoch: Int) -> [[Int]] {
        var rng = SplitMix64(seed: seed &+ UInt64(epoch) &* 0x9e37_79b9_7f4a_7c15)
        var bySize: [String: [Int]] = [:]
        for (i, size) in sizeKeys.enumerated() { bySize[size, default: []].append(i) }
        var batches: [[Int]] = []
        for (_, group) in bySize.sorted(by: { $0.key < $1.key }) {
            var indices = group
            indices.shuffle(using: &rng)
            if pairs { indices = pairedOrder(indices, rng: &rng) }
            batches += stride(from: 0, to: indices.count, by: batchSize).map { Array(indices[$0..<min(indices.count, $0 + batchSize)]) }
        }
        batches.shuffle(using: &rng)
        return batches
    }

    /// `shuffled` reordered so that slots 2k and 2k+1 hold frames of the same recording (a
    /// recording's odd frame out is paired with nothing and goes last); the pairs in random order.
    func pairedOrder(_ shuffled: [Int], rng: inout SplitMix64) -> [Int] {
        var byRecording: [String: [Int]] = [:]
        for i in shuffled { byRecording[frames[i].recordingID, default: []].append(i) }
        var units: [[Int]] = [], singles: [Int] = []
        for (_, members) in byRecording.sorted(by: { $0.key < $1.key }) {
            for k in stride(from: 0, to: members.count - 1, by: 2) { units.append([members[k], members[k + 1]]) }
            if members.count % 2 == 1 { singles.append(members[members.count - 1]) }
        }
        units.shuffle(using: &rng)
        return units.flatMap { $0 } + singles
    }

    /// Streams the epoch's batches, produced on a background thread. With `augment`, frames are
    /// jittered; with `mirror`, half of them are mirrored left-right and their label's x negated.
    /// Camera space has its origin at the camera, which projects to the frame's centre column, and
    /// x across the frame, so a mirrored frame is exactly the mirrored scene looking at the mirrored
    /// target: a new subject for free (kappa, mirrored between the eyes, stays plausible).
    public func batches(epoch: Int, augment: Bool, mirror: Bool = false) -> AnyIterator<Batch> {
        let plan = plan(epoch: epoch)
        let queue = BoundedQueue<Batch?>(capacity: prefetch)
        let thread = Thread { [self] in
            var rng = SplitMix64(seed: seed ^ 0x5eed ^ UInt64(epoch))
            for indices in plan {
                if let batch = load(indices, augment: augment, mirror: mirror, rng: &rng) { queue.push(batch) }
            }
            queue.push(nil)
        }
        thread.stackSize = 8 << 20
        thread.start()
        return AnyIterator { queue.pop() ?? nil }
    }

    /// Decodes, jitters, mirrors and normalises one batch; frames that fail are dropped (and listed).
    public func load(_ indices: [Int], augment: Bool, mirror: Bool = false, rng: inout SplitMix64) -> Batch? {
        var images: [RGBImage] = [], chosen: [GazeCaptureFrame] = []
        for i in indices {
            do {
                images.append(try RGBImage(contentsOf: frames[i].imagePath))
                chosen.append(frames[i])
            } catch {
                lock.lock(); unreadable.append("\(error)"); lock.unlock()
            }
        }
        guard let first = images.first else { return nil }
        let (w, h) = (first.width, first.height)
        let keep = images.indices.filter { images[$0].width == w && images[$0].height == h }
        for k in images.indices where images[k].width != w || images[k].height != h {
            let problem = FileFormatError(chosen[k].imagePath, "is \(images[k].width)x\(images[k].height) where its recording's other frames "
                                          + "in this orientation are \(w)x\(h): left out of its batch")
            lock.lock(); unreadable.append("\(problem)"); lock.unlock()
        }
        var bytes = [UInt8](repeating: 0, count: keep.count * h * w * 3)
        var table = [UInt8](repeating: 0, count: 256)
        var mirrored = [Bool](repeating: false, count: keep.count)
        bytes.withUnsafeMutableBufferPointer { dst in
            for (b, k) in keep.enumerated() {
                let out = dst.baseAddress! + b * h * w * 3
                mirrored[b] = mirror && rng.uniform(0, 1) < 0.5
                guard augment || mirrored[b] else {
                    images[k].pixels.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: $0.count) }
                    continue
                }
                // Brightness and contrast jitter as one lookup table over the bytes.
                let (c, shift) = augment ? (rng.uniform(1 - contrast, 1 + contrast), rng.uniform(-brightness, brightness)) : (1, 0)
                for v in 0..<256 { table[v] = UInt8(min(255, max(0, ((Float(v) - 128) * c + 128 + shift).rounded()))) }
                images[k].pixels.withUnsafeBufferPointer { px in
                    if mirrored[b] {
                        for y in 0..<h {
                            let row = y * w * 3
                            for x in 0..<w {
                                let from = row + (w - 1 - x) * 3, to = row + x * 3
                                (out[to], out[to + 1], out[to + 2]) = (table[Int(px[from])], table[Int(px[from + 1])], table[Int(px[from + 2])])
                            }
                        }
                    } else {
                        for i in 0..<px.count { out[i] = table[Int(px[i])] }
                    }
                }
            }
        }
        let batch = PixelBatch(count: keep.count, height: h, width: w, bytes: bytes,
                               scale: ImageNormalization.byteScale, offset: ImageNormalization.byteOffset)
        let picked = keep.map { chosen[$0] }
        let targets = Tensor(shape: [picked.count, 2], values: zip(picked, mirrored).flatMap { frame, flip in
            [Float(flip ? -frame.gaze.xCm : frame.gaze.xCm), Float(frame.gaze.yCm)]
        })
        return Batch(images: batch, targets: targets, frames: picked, mirrored: mirrored)
    }
}
