import CKernels
import CMalloc
import Dispatch
import Foundation
import Synchronization

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

    /// Which product the convolutions run: Foveal's own kernel on packed filters (CKernels/gemm.h),
    /// with Winograd's F(4x4, 3x3) and F(2x2, 5x5) where they pay, where the processor has AVX2 and FMA;
    /// or OpenBLAS's `sgemm`. The same sums up to rounding; `foveal bench --conv-product` compares them.
    nonisolated(unsafe) public static var convolutionProduct: ConvolutionProduct = ProcessorFeatures.avx2FMA ? .winograd : .openBLAS

    /// Chunks a parallel loop is cut into per worker. More than one: a worker that the system
    /// does not run for a while (preempted: on the VM here about 0.6% of the time) then delays
    /// its share of a loop, not half of it, because the others take its remaining chunks.
    public static let chunksPerWorker = 4

    /// How long before an expected frame a live source wakes the workers (`wakeWorkers`).
    public static let wakeLeadSeconds = 0.003

    /// Wakes the workers to spin for `WorkerPool.spinSeconds`: a live source calls it just
    /// before its next frame is due, so that the frame's first parallel loop does not wait for a
    /// sleeping thread to be scheduled (up to several ms on the VM here).
    public static func wakeWorkers() {
        if threads > 1 { WorkerPool.shared.wake() }
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
        if WorkerPool.shared.run(count, body) { return }
        // The pool is busy: a loop nested in one of its iterations, or another thread's loop.
        let box = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: count) { i in box.value(i) }
    }
}

/// The engine's workers: `Engine.threads - 1` threads beside the caller's, which after a loop
/// spin for a moment (`spinSeconds`) before they sleep.
///
/// A frame runs some fifty short parallel loops one after another. Handed to libdispatch, each
/// one woke a parked thread on an idle core, and at 30 fps the cores idle between frames: on the
/// 2-core VM here that cost about 5 ms a frame (1080p, p50 16 ms paced against 11.6 ms with the
/// cores kept busy). Spinning workers take the next loop at once; only a frame's first loop
/// wakes them. At most one loop runs on the pool at a time: `run` says false when it is taken.
public final class WorkerPool: @unchecked Sendable {
    /// How long an idle worker waits for the next loop before it sleeps: longer than most gaps
    /// between a frame's loops, shorter than the gap between frames. Measured on 720p and 1080p
    /// frames paced at 30 fps (`Benchmarks/live-hd.sh`): 0.5 ms left the model's p90 at 14 ms,
    /// 5 ms brought it to 9 ms; longer spins gained little and cost CPU.
    public static let spinSeconds = 0.005

    /// The pool for the current `Engine.threads` (made again when that changes).
    public static var shared: WorkerPool {
        current.withLock { pool in
            if pool?.workers != Engine.threads - 1 {
                pool?.stop()
                pool = WorkerPool(workers: Engine.threads - 1)
            }
            return pool!
        }
    }
    private static let current = Mutex<WorkerPool?>(nil)

    /// One loop: iterations are claimed one at a time by whoever is free.
    private final class Job: @unchecked Sendable {
        let count: Int
        /// Cleared when every iteration has finished, before `run` returns: nothing holds the
        /// caller's closure after that.
        var body: ((Int) -> Void)?
        let next = Atomic<Int>(0)
        let unfinished: Atomic<Int>

        init(count: Int, body: @escaping (Int) -> Void) {
            (self.count, self.body) = (count, body)
            unfinished = Atomic(count)
        }

        func work() {
            while true {
                let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard i < count else { return }
                iteration(i)
                unfinished.subtract(1, ordering: .releasing)
            }
        }

        /// Out of line, so that this thread's hold on `body` ends before the iteration counts as
        /// finished (`withoutActuallyEscaping` checks that nothing holds it).
        @inline(never) private func iteration(_ i: Int) { body?(i) }
    }

    public let workers: Int
    private let taken = Atomic<Bool>(false)
    private let generation = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    private let job = Mutex<Job?>(nil)
    private let bell = NSCondition()

    init(workers: Int) {
        self.workers = workers
        for _ in 0..<workers {
            // Each thread holds the pool until `stop`.
            let thread = Thread { self.serve() }
            thread.start()
        }
    }

    /// Runs `body` for `0..<count` on the workers and the calling thread; false (nothing run)
    /// when the pool is taken.
    public func run(_ count: Int, _ body: @escaping (Int) -> Void) -> Bool {
        guard taken.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        defer { taken.store(false, ordering: .releasing) }
        let loop = Job(count: count, body: body)
        job.withLock { $0 = loop }
        wake()
        loop.work()
        var spins = 0
        while loop.unfinished.load(ordering: .acquiring) > 0 {
            spins += 1
            if spins > 1000 { sched_yield() }
        }
        loop.body = nil
        job.withLock { $0 = nil }
        return true
    }

    private func serve() {
        var seen = 0
        while !stopped.load(ordering: .relaxed) {
            let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(Self.spinSeconds * 1e9)
            var spins = 0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                if spins % 64 == 0, DispatchTime.now().uptimeNanoseconds > deadline {
                    bell.lock()
                    sleepers.add(1, ordering: .sequentiallyConsistent)
                    while generation.load(ordering: .sequentiallyConsistent) == seen && !stopped.load(ordering: .relaxed) { bell.wait() }
                    sleepers.subtract(1, ordering: .sequentiallyConsistent)
                    bell.unlock()
                    if stopped.load(ordering: .relaxed) { return }
                }
            }
            seen = generation.load(ordering: .acquiring)
            job.withLock { $0 }?.work()
        }
    }

    /// Starts a new generation: spinning workers take the current loop, if any, and sleeping
    /// ones wake to spin for `spinSeconds`, ready for one. Sequentially consistent with the
    /// sleepers' count: a worker going to sleep either is counted here, and woken, or sees the
    /// new generation itself (`serve`).
    public func wake() {
        generation.add(1, ordering: .sequentiallyConsistent)
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
            bell.lock()
            bell.broadcast()
            bell.unlock()
        }
    }

    /// Lets the workers finish their loop and exit.
    func stop() {
        stopped.store(true, ordering: .relaxed)
        bell.lock()
        bell.broadcast()
        bell.unlock()
    }
}

/// Splits `0..<count` into contiguous chunks, `Engine.chunksPerWorker` per worker (of at least
/// `minimumChunk`), and runs `body(range)` on each.
@inlinable
public func parallelChunks(_ count: Int, minimumChunk: Int = 1, _ body: (Range<Int>) -> Void) {
    let chunks = max(1, min(Engine.threads * Engine.chunksPerWorker, count / max(1, minimumChunk)))
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

/// The matrix product behind a convolution (`Engine.convolutionProduct`).
public enum ConvolutionProduct: String, CaseIterable, Sendable {
    /// `packed`, except that 3x3 and 5x5 stride-1 layers that keep their size multiply transformed
    /// tiles of the input by transformed filters where that pays (Winograd's F(4x4, 3x3) and
    /// F(2x2, 5x5), CKernels/winograd.h, `Conv2D.winogradPays`): 4x and 2.8x fewer multiply-adds on
    /// the same kernel. Needs AVX2 and FMA.
    case winograd
    /// Foveal's 6x16 AVX2 kernel, reading the unfolded input where im2col wrote it, on filters
    /// packed beforehand (a layer keeps them until its weights change). Needs AVX2 and FMA.
    case packed
    /// OpenBLAS `sgemm`, which packs both operands on every block's call.
    case openBLAS = "openblas"
}

/// What the processor offers the hand-vectorised kernels of `CKernels`, asked once: the binary is
/// built for any x86-64, and each kernel has a portable twin that gives the same results.
public enum ProcessorFeatures {
    /// AVX2 (YCbCr conversion, row sums, strided gathers).
    public static let avx2 = foveal_has_avx2() != 0
    /// F16C (widening IEEE halves).
    public static let f16c = foveal_has_f16c() != 0
    /// AVX2, FMA and F16C (the 16-bit matrix-vector product).
    public static let avx2FMA = foveal_has_avx2_fma() != 0
}

/// A blocking queue of bounded size between one producer thread and one consumer: a loader stays
/// `capacity` items ahead of the work that consumes them. The consumer closes it when it stops
/// early, which releases a producer waiting for room.
public final class BoundedQueue<Element>: @unchecked Sendable {
    private var items: [Element] = []
    private var closed = false
    private let condition = NSCondition()
    private let capacity: Int

    public init(capacity: Int) { self.capacity = max(1, capacity) }

    /// Waits for room; false (and the item dropped) once the consumer has closed the queue.
    @discardableResult
    public func push(_ item: Element) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while items.count >= capacity && !closed { condition.wait() }
        guard !closed else { return false }
        items.append(item)
        condition.broadcast()
        return true
    }

    public func pop() -> Element {
        condition.lock()
        while items.isEmpty { condition.wait() }
        let item = items.removeFirst()
        condition.broadcast()
        condition.unlock()
        return item
    }

    /// The consumer will take no more: pushes fail from now on, and the items held are dropped.
    public func close() {
        condition.lock()
        (closed, items) = (true, [])
        condition.broadcast()
        condition.unlock()
    }
}
