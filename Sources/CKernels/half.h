// IEEE half weights widened in hardware where the processor has F16C (gemv.h multiplies straight
// from 16-bit weights). Only where cpu.h said so; elsewhere the portable path in Swift.
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

#else
static inline void foveal_f16_to_f32(const uint16_t *src, float *dst, long n) { (void)src; (void)dst; (void)n; }
#endif
