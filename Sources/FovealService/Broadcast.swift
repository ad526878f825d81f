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
        let id = state.withLock { s -> Int in
            s.nextId += 1
            if s.finished { continuation.finish() } else { s.subscribers[s.nextId] = continuation }
            return s.nextId
        }
        continuation.onTermination = { [weak self] _ in self?.unsubscribe(id) }
        return Subscription(id: id, messages: stream, broadcast: self)
    }

    /// Hands `message` to every subscriber; drops those whose queue is full.
    public func publish(_ message: Message) {
        let overflowing = state.withLock { s -> [AsyncStream<Message>.Continuation] in
            s.published += 1
            var full: [AsyncStream<Message>.Continuation] = []
            for (id, continuation) in s.subscribers {
                if case .dropped = continuation.yield(message) {
                    full.append(continuation)
                    s.subscribers[id] = nil
                    s.droppedIds.insert(id)
                }
            }
            return full
        }
        // Outside the lock: finishing runs onTermination, which takes it again.
        overflowing.forEach { $0.finish() }
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
