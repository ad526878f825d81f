import CBLAS
import Foundation

/// The engine's single door to OpenBLAS: matrix products, thread count and start-up warm-up.
public enum BLAS {
    /// Sets OpenBLAS's thread count (default: one per core) and runs one large product, because
    /// OpenBLAS runs small products about 3x slower until the process has done a large one.
    public static func configure(threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        openblas_set_num_threads(Int32(max(1, threads)))
        warmUp
    }

    private static let warmUp: Void = {
        let n = 384
        let a = [Float](repeating: 0.5, count: n * n)
        var c = [Float](repeating: 0, count: n * n)
        a.withUnsafeBufferPointer { ap in
            c.withUnsafeMutableBufferPointer { cp in
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n),
                            1, ap.baseAddress, Int32(n), ap.baseAddress, Int32(n), 0, cp.baseAddress, Int32(n))
            }
        }
    }()

    /// Row-major C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C, with leading dimensions
    /// equal to the row lengths of the stored matrices.
    @inlinable
    public static func gemm(transposeA: Bool = false, transposeB: Bool = false,
                            m: Int, n: Int, k: Int, alpha: Float = 1,
                            a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>) {
        if m == 0 || n == 0 { return }
        let lda = transposeA ? m : k
        let ldb = transposeB ? k : n
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans,
                    transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(n))
    }

    /// Row-major y[m] = alpha * A[m,n] * x[n] + beta * y.
    @inlinable
    public static func gemv(m: Int, n: Int, alpha: Float = 1, a: UnsafePointer<Float>,
                            x: UnsafePointer<Float>, beta: Float = 0, y: UnsafeMutablePointer<Float>) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(m), Int32(n), alpha, a, Int32(n), x, 1, beta, y, 1)
    }
}
