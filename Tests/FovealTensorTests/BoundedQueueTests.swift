import Dispatch
import Foundation
import FovealTensor
import Testing

/// The queue between a loader thread and the work it feeds (`BatchLoader`, `Evaluation.run`).
@Suite struct BoundedQueueTests {
    @Test func itemsArriveInOrderAndTheProducerWaitsForRoom() {
        let queue = BoundedQueue<Int>(capacity: 2)
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            for i in 0..<100 { queue.push(i) }
            done.signal()
        }
        #expect((0..<100).map { _ in queue.pop() } == Array(0..<100))
        done.wait()
    }

    /// A consumer that stops early (an evaluation whose model threw) closes the queue: a producer
    /// waiting for room is released, and its pushes fail from then on, so it stops.
    @Test func closingReleasesAWaitingProducer() {
        let queue = BoundedQueue<Int>(capacity: 1)
        #expect(queue.push(1))
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            outcome.set(queue.push(2))  // waits: the queue is full
            done.signal()
        }
        Thread.sleep(forTimeInterval: 0.05)
        queue.close()
        #expect(done.wait(timeout: .now() + 5) == .success)
        #expect(outcome.get() == false)
        #expect(!queue.push(3))
    }

    final class Outcome: @unchecked Sendable {
        private let lock = NSLock()
        private var value: Bool?
        func set(_ v: Bool) { lock.lock(); value = v; lock.unlock() }
        func get() -> Bool? { lock.lock(); defer { lock.unlock() }; return value }
    }
}
