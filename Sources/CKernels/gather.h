// Every stride-th float of a row, for unfolding the input of a strided convolution (im2col): the
// paper model's 7x7/2 and AlexNet's 11x11/4 first layers gather most of the 3.5 million a frame needs.
#pragma once
#include "cpu.h"

/// dst[i] = src[i * stride] for i < n, portable.
static inline void foveal_gather_strided_portable(const float *restrict src, long stride, float *restrict dst, long n) {
    for (long i = 0; i < n; i++) dst[i] = src[i * stride];
}

#if defined(__x86_64__)
#include <immintrin.h>
/// The same with AVX2 for strides 2 and 4: 16 or 32 consecutive floats in, 8 of them out. Reads no
/// further than src[stride * (n - 1)]. Only where foveal_has_avx2() said 1.
__attribute__((target("avx2")))
static inline void foveal_gather_strided_avx2(const float *restrict src, long stride, float *restrict dst, long n) {
    long i = 0;
    if (stride == 2) {
        for (; i + 9 <= n; i += 8) {
            __m256 a = _mm256_loadu_ps(src + 2 * i), b = _mm256_loadu_ps(src + 2 * i + 8);
            // Per 128-bit lane: a0 a2 b0 b2 | a4 a6 b4 b6; then the 64-bit pairs in order.
            __m256 even = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
            _mm256_storeu_ps(dst + i, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(even), _MM_SHUFFLE(3, 1, 2, 0))));
        }
    } else if (stride == 4) {
        const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        for (; i + 9 <= n; i += 8) {
            const float *s = src + 4 * i;
            __m256 a = _mm256_loadu_ps(s), b = _mm256_loadu_ps(s + 8), c = _mm256_loadu_ps(s + 16), d = _mm256_loadu_ps(s + 24);
            // Lane by lane: a0 a0 b0 b0 | a4 a4 b4 b4 and c0 c0 d0 d0 | c4 c4 d4 d4, then
            // a0 b0 c0 d0 | a4 b4 c4 d4, then in order: a0 a4 b0 b4 c0 c4 d0 d4.
            __m256 ab = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(0, 0, 0, 0)), cd = _mm256_shuffle_ps(c, d, _MM_SHUFFLE(0, 0, 0, 0));
            __m256 abcd = _mm256_shuffle_ps(ab, cd, _MM_SHUFFLE(2, 0, 2, 0));
            _mm256_storeu_ps(dst + i, _mm256_permutevar8x32_ps(abcd, order));
        }
    }
    foveal_gather_strided_portable(src + i * stride, stride, dst + i, n - i);
}
#else
static inline void foveal_gather_strided_avx2(const float *restrict src, long stride, float *restrict dst, long n) {
    foveal_gather_strided_portable(src, stride, dst, n);
}
#endif

/// dst[i] = src[i * stride] for i < n; AVX2 when `avx2`. The same floats either way.
static inline void foveal_gather_strided(const float *restrict src, long stride, float *restrict dst, long n, int avx2) {
    if (avx2) foveal_gather_strided_avx2(src, stride, dst, n); else foveal_gather_strided_portable(src, stride, dst, n);
}
