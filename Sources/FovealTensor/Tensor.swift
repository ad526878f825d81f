/// A dense, row-major Float32 tensor: the one value type the engine computes on.
///
/// Images and activations are NCHW (batch, channels, height, width); sampling grids are
/// (batch, height, width, 2). A tensor is a shape plus a shared buffer with copy-on-write, so
/// passing tensors around is cheap and mutating one never changes another.
public struct Tensor: Sendable {
    /// The extent of each dimension, outermost first.
    public private(set) var shape: [Int]
    @usableFromInline var storage: TensorStorage

    /// The number of elements.
    @inlinable public var count: Int { storage.count }

    /// A zero-filled tensor.
    public init(zeros shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.storage = TensorStorage(count: shape.reduce(1, *))
    }

    /// A tensor whose elements are garbage until written: for outputs an op fills completely.
    public init(uninitialized shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.storage = TensorStorage(count: shape.reduce(1, *), zeroed: false)
    }

    /// A tensor holding `values` in row-major order; `values.count` must equal the shape's product.
    public init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count,
                     "\(values.count) values do not fill shape \(shape)")
        self.init(zeros: shape)
        values.withUnsafeBufferPointer { src in
            storage.pointer.update(from: src.baseAddress!, count: values.count)
        }
    }

    /// A tensor over memory someone else owns (a memory-mapped weight file, for instance);
    /// `owner` is kept alive as long as any tensor shares the buffer, and the buffer is copied on
    /// the first write.
    public init(shape: [Int], borrowing pointer: UnsafeMutablePointer<Float>, owner: AnyObject) {
        self.shape = shape
        self.storage = TensorStorage(borrowing: pointer, count: shape.reduce(1, *), owner: owner)
    }

    /// A tensor filled with `value`.
    public init(repeating value: Float, shape: [Int]) {
        self.init(zeros: shape)
        storage.pointer.update(repeating: value, count: count)
    }

    /// The elements in row-major order.
    public var values: [Float] {
        withUnsafeBufferPointer { Array($0) }
    }

    /// The same elements under another shape with the same number of elements.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        var t = self
        t.shape = newShape
        return t
    }

    /// Read-only access to the elements.
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// Mutable access to the elements; copies the buffer first if another tensor shares it.
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        if !isKnownUniquelyReferenced(&storage) || storage.isBorrowed {
            storage = storage.copy()
        }
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// The element at a flat row-major index.
    public subscript(flat index: Int) -> Float {
        get { storage.pointer[index] }
        set {
            withUnsafeMutableBufferPointer { $0[index] = newValue }
        }
    }

    /// One item of the batch (the outermost dimension), as a tensor of batch size 1.
    public func item(_ n: Int) -> Tensor {
        precondition(!shape.isEmpty && n >= 0 && n < shape[0], "item \(n) outside shape \(shape)")
        let size = count / shape[0]
        var out = Tensor(zeros: [1] + shape.dropFirst())
        withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                dst.baseAddress!.update(from: src.baseAddress! + n * size, count: size)
            }
        }
        return out
    }

    /// Tensors of equal shape stacked along the batch (outermost) dimension.
    public static func concatenateBatch(_ items: [Tensor]) -> Tensor {
        precondition(!items.isEmpty, "nothing to concatenate")
        let inner = Array(items[0].shape.dropFirst())
        precondition(items.allSatisfy { Array($0.shape.dropFirst()) == inner }, "shapes differ")
        var out = Tensor(zeros: [items.map { $0.shape[0] }.reduce(0, +)] + inner)
        out.withUnsafeMutableBufferPointer { dst in
            var offset = 0
            for item in items {
                item.withUnsafeBufferPointer { src in
                    (dst.baseAddress! + offset).update(from: src.baseAddress!, count: src.count)
                    offset += src.count
                }
            }
        }
        return out
    }
}

/// The buffer behind a tensor: owned (allocated here) or borrowed from an owner object.
@usableFromInline
final class TensorStorage: @unchecked Sendable {
    @usableFromInline let pointer: UnsafeMutablePointer<Float>
    @usableFromInline let count: Int
    @usableFromInline let isBorrowed: Bool
    private let owner: AnyObject?

    init(count: Int, zeroed: Bool = true) {
        // 64-byte alignment keeps BLAS and vector loops on whole cache lines.
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        if zeroed { pointer.initialize(repeating: 0, count: count) }
        self.count = count
        isBorrowed = false
        owner = nil
    }

    init(borrowing pointer: UnsafeMutablePointer<Float>, count: Int, owner: AnyObject) {
        self.pointer = pointer
        self.count = count
        self.owner = owner
        isBorrowed = true
    }

    @usableFromInline func copy() -> TensorStorage {
        let s = TensorStorage(count: count)
        s.pointer.update(from: pointer, count: count)
        return s
    }

    deinit {
        if !isBorrowed { UnsafeMutableRawPointer(pointer).deallocate() }
    }
}
