import Dispatch
import Foundation

/// Splits `count` independent iterations over the cores; runs inline when there is one core or
/// one iteration. The body must only write memory that no other iteration writes.
@inlinable
public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    if count <= 1 || ProcessInfo.processInfo.activeProcessorCount == 1 {
        for i in 0..<count { body(i) }
        return
    }
    withoutActuallyEscaping(body) { body in
        let box = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: count) { i in box.value(i) }
    }
}

/// Splits `0..<count` into one contiguous chunk per core and runs `body(range)` on each.
@inlinable
public func parallelChunks(_ count: Int, minimumChunk: Int = 1, _ body: (Range<Int>) -> Void) {
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let chunks = max(1, min(cores, count / max(1, minimumChunk)))
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
