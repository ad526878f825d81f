// 16-bit weights (bfloat16 and IEEE half) in hardware where the processor can: F16C to widen
// halves, AVX2 and FMA for a matrix-vector product straight from 16-bit weights. Only where
// cpu.h said so; elsewhere the portable path in Swift.
#pragma once
#include <stdint.h>
#include "cpu.h"
#if defined(__x86_64__)
#include <immintrin.h>

/// dst[i] = src[i] as float, 8 at a time. Only where foveal_has_f16c() said 1.
__attribute__((target("avx,f16c")))
static inline void foveal_f16_to_f32(const uint16_t *src, float *dst, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i < n; i++) dst[i] = _cvtsh_ss(src[i]);
}

__attribute__((target("avx2,fma")))
static inline float foveal_hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// y[r] += sum_j w[r][j] x[j] for `rows` rows of `cols` 16-bit weights (bf16 when `bf16`, else
/// IEEE half), widened in registers: the weights stream from memory once, at 2 bytes each.
/// Only where foveal_has_avx2_fma() said 1.
__attribute__((target("avx2,fma,f16c")))
static inline void foveal_gemv16(const uint16_t *w, const float *x, float *y, long rows, long cols, int bf16) {
    for (long r = 0; r < rows; r++) {
        const uint16_t *row = w + r * cols;
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        long j = 0;
        for (; j + 16 <= cols; j += 16) {
            __m128i lo = _mm_loadu_si128((const __m128i *)(row + j)), hi = _mm_loadu_si128((const __m128i *)(row + j + 8));
            __m256 a, b;
            if (bf16) {
                a = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(lo), 16));
                b = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(hi), 16));
            } else {
                a = _mm256_cvtph_ps(lo);
                b = _mm256_cvtph_ps(hi);
            }
            acc0 = _mm256_fmadd_ps(a, _mm256_loadu_ps(x + j), acc0);
            acc1 = _mm256_fmadd_ps(b, _mm256_loadu_ps(x + j + 8), acc1);
        }
        float s = foveal_hsum(_mm256_add_ps(acc0, acc1));
        for (; j < cols; j++) {
            union { uint32_t u; float f; } v = { .u = (uint32_t)row[j] << 16 };
            s += (bf16 ? v.f : _cvtsh_ss(row[j])) * x[j];
        }
        y[r] += s;
    }
}
#else
static inline void foveal_gemv16(const uint16_t *w, const float *x, float *y, long rows, long cols, int bf16) {
    (void)w; (void)x; (void)y; (void)rows; (void)cols; (void)bf16;
}
static inline void foveal_f16_to_f32(const uint16_t *src, float *dst, long n) { (void)src; (void)dst; (void)n; }
#endif
