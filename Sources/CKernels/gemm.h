// The convolutions' matrix product, C = A B with A the filters (m x k) and B the unfolded input
// (k x n), with A packed beforehand: a layer packs its filters once per change of its weights, not
// once per frame. OpenBLAS packs both operands on every call: with each worker multiplying its own
// block of output positions, the filters were packed once per block and frame, and the unfolded
// block, which im2col had just written, was copied once more. Here B is read where im2col wrote it
// (rows on cache lines, an odd number of lines apart, so a strip's rows spread over L1's sets).
//
// The kernel computes a tile of 6 filters by 16 output positions in twelve AVX2 registers (the
// shape BLIS and OpenBLAS use on Zen and Haswell): per step of k, two loads of B and six
// broadcasts of A feed twelve fused multiply-adds. Steps of k are taken 256 at a time and filters 96
// at a time, so that one 16-column strip of B (16 KB) stays in L1 while 96 filters' 256-step slab
// (96 KB) streams from L2, where the rest of B's slab waits (on a 384-filter layer, the whole
// 256-step slab of the filters, 393 KB, pushed B out of a 512 KB L2: 10-15% slower). The loop over
// k is unrolled four times and prefetches A 16 steps ahead: together 5-10% on Zen 3.
#pragma once
#include "cpu.h"

enum { FOVEAL_GEMM_MR = 6, FOVEAL_GEMM_NR = 16, FOVEAL_GEMM_KC = 256, FOVEAL_GEMM_MC = 96 };

/// Floats `foveal_pack_filters` writes for an m x k matrix: m rounded up to 6, times k.
static inline long foveal_packed_filters_count(long m, long k) {
    return (m + FOVEAL_GEMM_MR - 1) / FOVEAL_GEMM_MR * FOVEAL_GEMM_MR * k;
}

/// Packs row-major A (m x k, rows `lda` apart) in panels of 6 rows: panel p holds, for each step kk,
/// A[6p .. 6p+5][kk] side by side, zeros for rows past m.
static inline void foveal_pack_filters(const float *restrict a, long m, long k, long lda, float *restrict packed) {
    for (long p = 0; p < m; p += FOVEAL_GEMM_MR) {
        float *panel = packed + p * k;
        for (long kk = 0; kk < k; kk++)
            for (long r = 0; r < FOVEAL_GEMM_MR; r++) panel[kk * FOVEAL_GEMM_MR + r] = p + r < m ? a[(p + r) * lda + kk] : 0;
    }
}

/// Stores one tile's sums: adds what C holds unless `first`, and the row's bias and ReLU when `last`.
static inline void foveal_gemm_store_portable(const float *restrict tile, long rows, long cols, float *restrict c, long ldc,
                                              int first, int last, const float *restrict bias, int relu) {
    for (long r = 0; r < rows; r++)
        for (long j = 0; j < cols; j++) {
            float v = tile[r * FOVEAL_GEMM_NR + j] + (first ? 0 : c[r * ldc + j]);
            if (last && bias) v += bias[r];
            if (last && relu) v = v >= 0 ? v : 0;  // a NaN becomes 0, as with _mm256_max_ps and Swift's max(0, v)
            c[r * ldc + j] = v;
        }
}

/// One 6 x 16 tile over `kc` steps, portable: a (6 per step), b (16 per step, rows `ldb` apart).
static inline void foveal_gemm_tile_portable(long kc, const float *restrict a, const float *restrict b, long ldb,
                                             float *restrict c, long ldc, long rows, long cols,
                                             int first, int last, const float *restrict bias, int relu) {
    float tile[FOVEAL_GEMM_MR * FOVEAL_GEMM_NR] = {0};
    for (long kk = 0; kk < kc; kk++)
        for (long r = 0; r < FOVEAL_GEMM_MR; r++)
            for (long j = 0; j < cols; j++) tile[r * FOVEAL_GEMM_NR + j] += a[kk * FOVEAL_GEMM_MR + r] * b[kk * ldb + j];
    foveal_gemm_store_portable(tile, rows, cols, c, ldc, first, last, bias, relu);
}

#if defined(__x86_64__)
#include <immintrin.h>
/// The same tile with AVX2 and FMA. Reads 16 floats of every row of b even when cols < 16: the
/// caller's rows are at least that long (their padding holds finite values, never stored).
__attribute__((target("avx2,fma")))
static inline void foveal_gemm_tile_avx2(long kc, const float *restrict a, const float *restrict b, long ldb,
                                         float *restrict c, long ldc, long rows, long cols,
                                         int first, int last, const float *restrict bias, int relu) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    _Pragma("clang loop unroll_count(4)")
    for (long kk = 0; kk < kc; kk++) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        __m256 x;
        x = _mm256_broadcast_ss(a + 0); c00 = _mm256_fmadd_ps(x, b0, c00); c01 = _mm256_fmadd_ps(x, b1, c01);
        x = _mm256_broadcast_ss(a + 1); c10 = _mm256_fmadd_ps(x, b0, c10); c11 = _mm256_fmadd_ps(x, b1, c11);
        x = _mm256_broadcast_ss(a + 2); c20 = _mm256_fmadd_ps(x, b0, c20); c21 = _mm256_fmadd_ps(x, b1, c21);
        x = _mm256_broadcast_ss(a + 3); c30 = _mm256_fmadd_ps(x, b0, c30); c31 = _mm256_fmadd_ps(x, b1, c31);
        x = _mm256_broadcast_ss(a + 4); c40 = _mm256_fmadd_ps(x, b0, c40); c41 = _mm256_fmadd_ps(x, b1, c41);
        x = _mm256_broadcast_ss(a + 5); c50 = _mm256_fmadd_ps(x, b0, c50); c51 = _mm256_fmadd_ps(x, b1, c51);
        _mm_prefetch((const char *)(a + 96), _MM_HINT_T0);
        a += FOVEAL_GEMM_MR;
        b += ldb;
    }
    __m256 acc[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
    if (rows == FOVEAL_GEMM_MR && cols == FOVEAL_GEMM_NR) {
        const __m256 zero = _mm256_setzero_ps();
        for (int r = 0; r < FOVEAL_GEMM_MR; r++) {
            float *row = c + r * ldc;
            __m256 v0 = acc[2 * r], v1 = acc[2 * r + 1];
            if (!first) { v0 = _mm256_add_ps(v0, _mm256_loadu_ps(row)); v1 = _mm256_add_ps(v1, _mm256_loadu_ps(row + 8)); }
            if (last && bias) { __m256 s = _mm256_broadcast_ss(bias + r); v0 = _mm256_add_ps(v0, s); v1 = _mm256_add_ps(v1, s); }
            // max(v, 0) with v first: a NaN in v comes out as 0, as the portable store's does.
            if (last && relu) { v0 = _mm256_max_ps(v0, zero); v1 = _mm256_max_ps(v1, zero); }
            _mm256_storeu_ps(row, v0);
            _mm256_storeu_ps(row + 8, v1);
        }
    } else {
        float tile[FOVEAL_GEMM_MR * FOVEAL_GEMM_NR];
        for (int i = 0; i < 12; i++) _mm256_storeu_ps(tile + 8 * i, acc[i]);
        foveal_gemm_store_portable(tile, rows, cols, c, ldc, first, last, bias, relu);
    }
}
#else
static inline void foveal_gemm_tile_avx2(long kc, const float *restrict a, const float *restrict b, long ldb,
                                         float *restrict c, long ldc, long rows, long cols,
                                         int first, int last, const float *restrict bias, int relu) {
    foveal_gemm_tile_portable(kc, a, b, ldb, c, ldc, rows, cols, first, last, bias, relu);
}
#endif

/// `foveal_gemm_packed` in slabs of at most `slab` steps of k: each 16-column strip of B's slab
/// stays in L1 while the filters' slab streams past it.
static inline void foveal_gemm_packed_slabs(const float *restrict packed, const float *restrict b, long ldb,
                                            long m, long n, long k, float *restrict c, long ldc,
                                            const float *restrict bias, int relu, int avx2_fma, long slab) {
    for (long k0 = 0; k0 < k; k0 += slab) {
        long kc = k - k0 < slab ? k - k0 : slab;
        int first = k0 == 0, last = k0 + kc == k;
        for (long i0 = 0; i0 < m; i0 += FOVEAL_GEMM_MC) {
            long i1 = m - i0 < FOVEAL_GEMM_MC ? m : i0 + FOVEAL_GEMM_MC;
            for (long j = 0; j < n; j += FOVEAL_GEMM_NR) {
                long cols = n - j < FOVEAL_GEMM_NR ? n - j : FOVEAL_GEMM_NR;
                for (long i = i0; i < i1; i += FOVEAL_GEMM_MR) {
                    long rows = m - i < FOVEAL_GEMM_MR ? m - i : FOVEAL_GEMM_MR;
                    const float *ap = packed + i * k + k0 * FOVEAL_GEMM_MR, *bp = b + k0 * ldb + j;
                    const float *bi = bias ? bias + i : 0;
                    if (avx2_fma) foveal_gemm_tile_avx2(kc, ap, bp, ldb, c + i * ldc + j, ldc, rows, cols, first, last, bi, relu);
                    else foveal_gemm_tile_portable(kc, ap, bp, ldb, c + i * ldc + j, ldc, rows, cols, first, last, bi, relu);
                }
            }
        }
    }
}

/// C (m x n, rows `ldc` apart) = A B + bias, then ReLU if `relu`: A packed by `foveal_pack_filters`,
/// B row-major (k x n, rows `ldb` apart, ldb at least n rounded up to 16, the padding finite),
/// bias (m floats) or NULL. AVX2 and FMA when `avx2_fma`, which only foveal_has_avx2_fma() may say.
static inline void foveal_gemm_packed(const float *restrict packed, const float *restrict b, long ldb,
                                      long m, long n, long k, float *restrict c, long ldc,
                                      const float *restrict bias, int relu, int avx2_fma) {
    foveal_gemm_packed_slabs(packed, b, ldb, m, n, k, c, ldc, bias, relu, avx2_fma, FOVEAL_GEMM_KC);
}
