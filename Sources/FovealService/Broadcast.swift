import Synchronization

/// Fans messages out to any number of subscribers without ever waiting on one of them.
///
/// Each subscriber has a bounded queue. Publishing never blocks: a subscriber whose queue is full
/// is too slow for the stream, so it is dropped (its stream ends, `Subscription.wasDropped` says
/// why) and counted, and the others go on receiving every message in order.
public final class Broadcast<Message: Sendable>: Sendable {
    /// One subscriber's end: its messages, in the order they were published.
    public struct Subscription: Sendable {
        public let id: Int
        public let messages: AsyncStream<Message>
        let broadcast: Broadcast<Message>

        /// True when the stream ended because the subscriber fell `capacity` messages behind.
        public var wasDropped: Bool { broadcast.state.withLock { $0.droppedIds.contains(id) } }
        public func cancel() { broadcast.unsubscribe(id) }
    }

    struct State {
        var subscribers: [Int: AsyncStream<Message>.Continuation] = [:]
        var nextId = 0
        var droppedIds: Set<Int> = []
        var published = 0
        var finished = false
    }

    public let capacity: Int
    let state = Mutex(State())

    public init(capacity: Int) {
        precondition(capacity > 0, "a broadcast queue holds at least one message")
        self.capacity = capacity
    }

    public func subscribe() -> Subscription {
        let (stream, continuation) = AsyncStream<Message>.makeStream(bufferingPolicy: .bufferingOldest(capacity))
        let (id, finished) = state.withLock { s -> (Int, Bool) in
            s.nextId += 1
            if !s.finished { s.subscribers[s.nextId] = continuation }
            return (s.nextId, s.finished)
        }
        continuation.onTermination = { [weak self] _ in self?.unsubscribe(id) }
        if finished { continuation.finish() }
        return Subscription(id: id, messages: stream, broadcast: self)
    }

    /// Hands `message` to every subscriber; drops those whose queue is full. Call it from one
    /// thread at a time (the pipeline's), which is what keeps every subscriber's order.
    public func publish(_ message: Message) {
        let targets = state.withLock { s -> [(Int, AsyncStream<Message>.Continuation)] in
            s.published += 1
            return Array(s.subscribers)
        }
        // Yield outside the lock: yielding resumes a waiting task, which takes that task's own
        // lock, while a task being cancelled holds its lock and calls onTermination, which takes
        // ours. Holding ours across the yield would deadlock the two.
        var full: [(Int, AsyncStream<Message>.Continuation)] = []
        for (id, continuation) in targets {
            if case .dropped = continuation.yield(message) { full.append((id, continuation)) }
        }
        guard !full.isEmpty else { return }
        state.withLock { s in
            for (id, _) in full where s.subscribers.removeValue(forKey: id) != nil { s.droppedIds.insert(id) }
        }
        full.forEach { $0.1.finish() }
    }

    /// Ends every subscriber's stream (at shutdown); later subscribers get an ended stream.
    public func finish() {
        let all = state.withLock { s -> [AsyncStream<Message>.Continuation] in
            s.finished = true
            defer { s.subscribers = [:] }
            return Array(s.subscribers.values)
        }
        all.forEach { $0.finish() }
    }

    func unsubscribe(_ id: Int) {
        let continuation = state.withLock { $0.subscribers.removeValue(forKey: id) }
        continuation?.finish()
    }

    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }
    /// Subscribers dropped for falling behind, since the start.
    public var droppedCount: Int { state.withLock { $0.droppedIds.count } }
    public var publishedCount: Int { state.withLock { $0.published } }
}
