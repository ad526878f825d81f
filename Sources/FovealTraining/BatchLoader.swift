import Foundation
import FovealIO
import FovealModel
import FovealTensor
import GazeCapture

/// Shuffled training batches from a GazeCapture-layout dataset. A background thread decodes the
/// JPEGs, applies brightness/contrast jitter and normalises, staying up to `prefetch` batches
/// ahead, so the cores spend their time on the network.
public final class BatchLoader: @unchecked Sendable {
    /// One batch: normalised frames of one size, their gaze labels, and their metadata.
    public struct Batch: @unchecked Sendable {
        public let images: PixelBatch
        public let targets: Tensor   // (N, 2) camera-space cm
        public let frames: [GazeCaptureFrame]
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

    public init(frames: [GazeCaptureFrame], batchSize: Int, seed: UInt64) {
        (self.frames, self.batchSize, self.seed) = (frames, batchSize, seed)
    }

    /// Every frame of `selection` (recording by recording, metadata only).
    public static func frames(of dataset: GazeCaptureDataset, _ selection: FrameSelection) -> (frames: [GazeCaptureFrame], problems: [DatasetProblem]) {
        var walk = FrameWalk(dataset, selection)
        var frames: [GazeCaptureFrame] = []
        walk.forEachRecording { _, f in frames += f }
        return (frames, walk.problems)
    }

    /// The batches of one epoch, in an order fixed by (seed, epoch). Frames of different sizes
    /// (portrait and landscape) go to different batches; the last short batch of a size is kept.
    public func plan(epoch: Int) -> [[Int]] {
        var rng = SplitMix64(seed: seed &+ UInt64(epoch) &* 0x9e37_79b9_7f4a_7c15)
        var bySize: [String: [Int]] = [:]
        for (i, f) in frames.enumerated() { bySize[f.orientation.isLandscape ? "l" : "p", default: []].append(i) }
        var batches: [[Int]] = []
        for key in bySize.keys.sorted() {
            var indices = bySize[key]!
            indices.shuffle(using: &rng)
            batches += stride(from: 0, to: indices.count, by: batchSize).map { Array(indices[$0..<min(indices.count, $0 + batchSize)]) }
        }
        batches.shuffle(using: &rng)
        return batches
    }

    /// Streams the epoch's batches, produced on a background thread.
    public func batches(epoch: Int, augment: Bool) -> AnyIterator<Batch> {
        let plan = plan(epoch: epoch)
        let queue = BoundedQueue<Batch?>(capacity: prefetch)
        let thread = Thread { [self] in
            var rng = SplitMix64(seed: seed ^ 0x5eed ^ UInt64(epoch))
            for indices in plan {
                if let batch = load(indices, augment: augment, rng: &rng) { queue.push(batch) }
            }
            queue.push(nil)
        }
        thread.stackSize = 8 << 20
        thread.start()
        return AnyIterator { queue.pop() ?? nil }
    }

    /// Decodes, jitters and normalises one batch; frames that fail are dropped (and listed).
    public func load(_ indices: [Int], augment: Bool, rng: inout SplitMix64) -> Batch? {
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
        var bytes = [UInt8](repeating: 0, count: keep.count * h * w * 3)
        var table = [UInt8](repeating: 0, count: 256)
        bytes.withUnsafeMutableBufferPointer { dst in
            for (b, k) in keep.enumerated() {
                let out = dst.baseAddress! + b * h * w * 3
                guard augment else {
                    images[k].pixels.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: $0.count) }
                    continue
                }
                // Brightness and contrast jitter as one lookup table over the bytes.
                let c = rng.uniform(1 - contrast, 1 + contrast), shift = rng.uniform(-brightness, brightness)
                for v in 0..<256 { table[v] = UInt8(min(255, max(0, ((Float(v) - 128) * c + 128 + shift).rounded()))) }
                images[k].pixels.withUnsafeBufferPointer { px in
                    for i in 0..<px.count { out[i] = table[Int(px[i])] }
                }
            }
        }
        let batch = PixelBatch(count: keep.count, height: h, width: w, bytes: bytes,
                               scale: ImageNormalization.byteScale, offset: ImageNormalization.byteOffset)
        let picked = keep.map { chosen[$0] }
        let targets = Tensor(shape: [picked.count, 2], values: picked.flatMap { [Float($0.gaze.xCm), Float($0.gaze.yCm)] })
        return Batch(images: batch, targets: targets, frames: picked)
    }
}

/// A blocking queue of bounded size between one producer and one consumer.
final class BoundedQueue<Element>: @unchecked Sendable {
    private var items: [Element] = []
    private let condition = NSCondition()
    private let capacity: Int

    init(capacity: Int) { self.capacity = max(1, capacity) }

    func push(_ item: Element) {
        condition.lock()
        while items.count >= capacity { condition.wait() }
        items.append(item)
        condition.broadcast()
        condition.unlock()
    }

    func pop() -> Element {
        condition.lock()
        while items.isEmpty { condition.wait() }
        let item = items.removeFirst()
        condition.broadcast()
        condition.unlock()
        return item
    }
}
