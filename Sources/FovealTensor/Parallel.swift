import CMalloc
import Dispatch
import Foundation

/// Process-wide engine settings.
public enum Engine {
    /// How many workers parallel loops use (set by `setUp`).
    nonisolated(unsafe) public static var threads = ProcessInfo.processInfo.activeProcessorCount

    /// Readies the process for the engine, once, before the first model runs: sets the worker
    /// count (default: one per core); keeps freed activation buffers in the heap instead of
    /// handing them back to the kernel, which would zero fresh pages on every allocation (~8% of
    /// a training step); makes OpenBLAS single-threaded and runs one large product, because
    /// OpenBLAS runs small products about 3x slower until the process has done a large one.
    public static func setUp(threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        BLAS.singleThreaded
        mallopt(M_MMAP_THRESHOLD, 32 << 20)
        mallopt(M_TRIM_THRESHOLD, 1 << 30)
        Engine.threads = max(1, threads)
        BLAS.warmUp
    }
}

/// Runs `count` independent iterations on the engine's workers; inline when there is one worker
/// or one iteration. The body must only write memory that no other iteration writes.
@inlinable
public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    if count <= 1 || Engine.threads == 1 {
        for i in 0..<count { body(i) }
        return
    }
    withoutActuallyEscaping(body) { body in
        let box = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: count) { i in box.value(i) }
    }
}

/// Splits `0..<count` into one contiguous chunk per worker (chunks of at least `minimumChunk`)
/// and runs `body(range)` on each.
@inlinable
public func parallelChunks(_ count: Int, minimumChunk: Int = 1, _ body: (Range<Int>) -> Void) {
    let chunks = max(1, min(Engine.threads, count / max(1, minimumChunk)))
    if chunks == 1 {
        body(0..<count)
        return
    }
    parallelFor(chunks) { c in
        body((count * c / chunks)..<(count * (c + 1) / chunks))
    }
}

/// A value handed across threads where the caller guarantees the accesses do not race
/// (disjoint writes in a parallel loop).
public struct UncheckedSendable<Value>: @unchecked Sendable {
    public let value: Value
    @inlinable public init(_ value: Value) { self.value = value }
}
