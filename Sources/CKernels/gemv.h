// The fully connected layers' matrix-vector product at batch 1, y[r] += sum_j w[r][j] x[j], with
// float32 weights or 16-bit ones (bfloat16 or IEEE half, widened in registers). At batch 1 the
// product is bound by how fast the weights stream from memory, so the kernel's one job is to keep
// enough loads in flight: four rows at a time, each of x's vectors loaded once for all four, and
// eight independent sums, so that the fused multiply-adds' latency never holds up the stream (with
// one row and two sums, each pair of products waits four cycles for the last, and 16-bit weights
// are then no faster than float32 ones). On the 2-core Zen 4 VM here two threads reading the
// weights alone reach 34 GB/s, this kernel about 30, OpenBLAS's `sgemv` about 26.
// Only where foveal_has_avx2_fma() said 1; elsewhere the callers use BLAS.
#pragma once
#include <stdint.h>
#include "cpu.h"

/// The weights' element type.
enum { FOVEAL_GEMV_F32 = 0, FOVEAL_GEMV_BF16 = 1, FOVEAL_GEMV_F16 = 2 };

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx2,fma")))
static inline float foveal_hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// Eight weights from `p` (element `type`) as floats.
__attribute__((target("avx2,fma,f16c")))
static inline __m256 foveal_gemv_load8(const void *p, int type) {
    if (type == FOVEAL_GEMV_F32) return _mm256_loadu_ps((const float *)p);
    __m128i h = _mm_loadu_si128((const __m128i *)p);
    if (type == FOVEAL_GEMV_BF16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    return _mm256_cvtph_ps(h);
}

/// One weight as a float.
__attribute__((target("avx2,fma,f16c")))
static inline float foveal_gemv_load1(const void *p, long i, int type) {
    if (type == FOVEAL_GEMV_F32) return ((const float *)p)[i];
    uint16_t h = ((const uint16_t *)p)[i];
    if (type == FOVEAL_GEMV_BF16) { union { uint32_t u; float f; } v = { .u = (uint32_t)h << 16 }; return v.f; }
    return _cvtsh_ss(h);
}

/// y[r] += sum_j w[r][j] x[j] for `rows` rows of `cols` weights of element `type`, rows one after
/// another in `w`.
__attribute__((target("avx2,fma,f16c")))
static inline void foveal_gemv(const void *w, int type, const float *x, float *y, long rows, long cols) {
    const long size = type == FOVEAL_GEMV_F32 ? 4 : 2;
    const char *base = (const char *)w;
    long r = 0;
    for (; r + 4 <= rows; r += 4) {
        const char *a0 = base + r * cols * size, *a1 = a0 + cols * size, *a2 = a1 + cols * size, *a3 = a2 + cols * size;
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, t0 = s0, t1 = s0, t2 = s0, t3 = s0;
        long j = 0;
        for (; j + 16 <= cols; j += 16) {
            __m256 xa = _mm256_loadu_ps(x + j), xb = _mm256_loadu_ps(x + j + 8);
            long lo = j * size, hi = (j + 8) * size;
            s0 = _mm256_fmadd_ps(foveal_gemv_load8(a0 + lo, type), xa, s0); t0 = _mm256_fmadd_ps(foveal_gemv_load8(a0 + hi, type), xb, t0);
            s1 = _mm256_fmadd_ps(foveal_gemv_load8(a1 + lo, type), xa, s1); t1 = _mm256_fmadd_ps(foveal_gemv_load8(a1 + hi, type), xb, t1);
            s2 = _mm256_fmadd_ps(foveal_gemv_load8(a2 + lo, type), xa, s2); t2 = _mm256_fmadd_ps(foveal_gemv_load8(a2 + hi, type), xb, t2);
            s3 = _mm256_fmadd_ps(foveal_gemv_load8(a3 + lo, type), xa, s3); t3 = _mm256_fmadd_ps(foveal_gemv_load8(a3 + hi, type), xb, t3);
        }
        float q0 = foveal_hsum(_mm256_add_ps(s0, t0)), q1 = foveal_hsum(_mm256_add_ps(s1, t1));
        float q2 = foveal_hsum(_mm256_add_ps(s2, t2)), q3 = foveal_hsum(_mm256_add_ps(s3, t3));
        for (; j < cols; j++) {
            q0 += foveal_gemv_load1(a0, j, type) * x[j];
            q1 += foveal_gemv_load1(a1, j, type) * x[j];
            q2 += foveal_gemv_load1(a2, j, type) * x[j];
            q3 += foveal_gemv_load1(a3, j, type) * x[j];
        }
        y[r] += q0; y[r + 1] += q1; y[r + 2] += q2; y[r + 3] += q3;
    }
    for (; r < rows; r++) {
        const char *a = base + r * cols * size;
        float q = 0;
        for (long j = 0; j < cols; j++) q += foveal_gemv_load1(a, j, type) * x[j];
        y[r] += q;
    }
}
#else
static inline void foveal_gemv(const void *w, int type, const float *x, float *y, long rows, long cols) {
    (void)w; (void)type; (void)x; (void)y; (void)rows; (void)cols;
}
#endif
