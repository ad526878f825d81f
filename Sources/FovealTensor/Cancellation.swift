import Synchronization

/// A request to stop one run (a tracking loop, a training run), made from another thread or a
/// signal handler and polled by the run between units of work. Each run gets its own, so a
/// stopped run never stops the next one.
public final class Cancellation: Sendable {
    private let flag = Atomic<Bool>(false)

    public init() {}

    /// Asks the run to stop at its next check. Safe from any thread.
    public func cancel() { flag.store(true, ordering: .relaxed) }

    public var isCancelled: Bool { flag.load(ordering: .relaxed) }
}
