// Sums of 8-bit rows, for area-averaging a full-resolution frame down to the saliency input: the
// one pass over every byte of a frame that the model makes, 6 MB at 1080p.
#pragma once
#include <stdint.h>
#include "cpu.h"

/// acc[i] += src[r * stride + i] for r < rows and i < n, portable.
static inline void foveal_add_rows_u8_portable(const uint8_t *src, long stride, long rows, long n, uint32_t *acc) {
    for (long r = 0; r < rows; r++) {
        const uint8_t *row = src + r * stride;
        for (long i = 0; i < n; i++) acc[i] += row[i];
    }
}

#if defined(__x86_64__)
#include <immintrin.h>
/// The same with AVX2, 16 columns at a time, summed down up to 257 rows in 16-bit lanes (257 *
/// 255 fits) before they are added to `acc`. Only where foveal_has_avx2() said 1.
__attribute__((target("avx2")))
static inline void foveal_add_rows_u8_avx2(const uint8_t *src, long stride, long rows, long n, uint32_t *acc) {
    for (long r0 = 0; r0 < rows; r0 += 257) {
        long r1 = rows - r0 < 257 ? rows : r0 + 257;
        long i = 0;
        for (; i + 16 <= n; i += 16) {
            __m256i s = _mm256_setzero_si256();
            for (long r = r0; r < r1; r++)
                s = _mm256_add_epi16(s, _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(src + r * stride + i))));
            __m256i lo = _mm256_cvtepu16_epi32(_mm256_castsi256_si128(s)), hi = _mm256_cvtepu16_epi32(_mm256_extracti128_si256(s, 1));
            _mm256_storeu_si256((__m256i *)(acc + i), _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)(acc + i)), lo));
            _mm256_storeu_si256((__m256i *)(acc + i + 8), _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)(acc + i + 8)), hi));
        }
        if (i < n) foveal_add_rows_u8_portable(src + r0 * stride + i, stride, r1 - r0, n - i, acc + i);
    }
}
#else
static inline void foveal_add_rows_u8_avx2(const uint8_t *src, long stride, long rows, long n, uint32_t *acc) {
    foveal_add_rows_u8_portable(src, stride, rows, n, acc);
}
#endif

/// acc[i] += the column sums of `rows` rows of `n` bytes, `stride` bytes apart; AVX2 when `avx2`.
static inline void foveal_add_rows_u8(const uint8_t *src, long stride, long rows, long n, uint32_t *acc, int avx2) {
    if (avx2) foveal_add_rows_u8_avx2(src, stride, rows, n, acc); else foveal_add_rows_u8_portable(src, stride, rows, n, acc);
}
