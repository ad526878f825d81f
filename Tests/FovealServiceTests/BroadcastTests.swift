import FovealService
import Testing

@Suite struct BroadcastTests {
    @Test func everySubscriberGetsEveryMessageInOrder() async {
        let broadcast = Broadcast<Int>(capacity: 100)
        let subscriptions = (0..<3).map { _ in broadcast.subscribe() }
        for i in 0..<50 { broadcast.publish(i) }
        broadcast.finish()
        for s in subscriptions {
            var received: [Int] = []
            for await m in s.messages { received.append(m) }
            #expect(received == Array(0..<50))
            #expect(!s.wasDropped)
        }
        #expect(broadcast.droppedCount == 0)
    }

    @Test func aSubscriberThatDoesNotReadIsDroppedAndTheOthersGoOn() async {
        let broadcast = Broadcast<Int>(capacity: 8)
        let stalled = broadcast.subscribe()
        let reader = broadcast.subscribe()
        var received: [Int] = []
        var iterator = reader.messages.makeAsyncIterator()
        // The reader keeps up (reads after each message); the stalled one never reads.
        for i in 0..<100 {
            broadcast.publish(i)
            if let m = await iterator.next() { received.append(m) }
        }
        #expect(received == Array(0..<100))
        #expect(stalled.wasDropped)
        #expect(broadcast.droppedCount == 1)
        #expect(broadcast.subscriberCount == 1)
        // What the stalled subscriber had queued before it was dropped is still readable, then its stream ends.
        var queued: [Int] = []
        for await m in stalled.messages { queued.append(m) }
        #expect(queued == Array(0..<8))
    }

    @Test func cancelledSubscribersAreForgotten() async {
        let broadcast = Broadcast<Int>(capacity: 4)
        let s = broadcast.subscribe()
        #expect(broadcast.subscriberCount == 1)
        s.cancel()
        #expect(broadcast.subscriberCount == 0)
        broadcast.publish(1)
        #expect(broadcast.droppedCount == 0)
    }
}
