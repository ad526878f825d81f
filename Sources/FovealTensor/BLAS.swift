import CBLAS
import Foundation

/// The engine's single door to OpenBLAS: matrix products.
///
/// OpenBLAS runs single-threaded here: the engine splits work across cores itself (each worker
/// unfolds and multiplies its own block of output columns, which keeps the blocks in cache), and
/// idle OpenBLAS threads would otherwise spin on `sched_yield` against the engine's workers.
public enum BLAS {
    /// OpenBLAS must run single-threaded before any product: the engine calls it from several
    /// workers at once, which its own thread pool does not survive. Every product touches this.
    @usableFromInline static let singleThreaded: Void = { openblas_set_num_threads(1) }()

    static let warmUp: Void = {
        let n = 384
        let a = [Float](repeating: 0.5, count: n * n)
        var c = [Float](repeating: 0, count: n * n)
        a.withUnsafeBufferPointer { ap in
            c.withUnsafeMutableBufferPointer { cp in
                gemm(m: n, n: n, k: n, a: ap.baseAddress!, b: ap.baseAddress!, c: cp.baseAddress!)
            }
        }
    }()

    /// Row-major C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C. Leading dimensions default
    /// to the stored row lengths; pass them to work on a block of a larger matrix.
    @inlinable
    public static func gemm(transposeA: Bool = false, transposeB: Bool = false,
                            m: Int, n: Int, k: Int, alpha: Float = 1,
                            a: UnsafePointer<Float>, lda: Int? = nil,
                            b: UnsafePointer<Float>, ldb: Int? = nil,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int? = nil) {
        if m == 0 || n == 0 { return }
        singleThreaded
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans,
                    transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha,
                    a, Int32(lda ?? (transposeA ? m : k)),
                    b, Int32(ldb ?? (transposeB ? k : n)),
                    beta, c, Int32(ldc ?? n))
    }

    /// Row-major y[m] = alpha * A[m,n] * x[n] + beta * y.
    @inlinable
    public static func gemv(m: Int, n: Int, alpha: Float = 1, a: UnsafePointer<Float>,
                            x: UnsafePointer<Float>, beta: Float = 0, y: UnsafeMutablePointer<Float>) {
        if m == 0 { return }
        singleThreaded
        cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(m), Int32(n), alpha, a, Int32(n), x, 1, beta, y, 1)
    }
}
