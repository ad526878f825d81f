// BT.601 video-range YCbCr to interleaved 8-bit RGB (what webcams' YUYV and ffmpeg's yuv420p
// hold), in 16-bit fixed point: a 1080p frame is 2 M pixels, 30 times a second, in front of the
// model. The portable rows go through in runs whose chroma is first spread to full width; the AVX2
// rows (only where foveal_has_avx2() said 1) take 16 pixels at a time in the same 32-bit
// arithmetic, so both give the same bytes.
#pragma once
#include <stdint.h>
#include "cpu.h"

#define FOVEAL_YCBCR_RUN 256

static inline uint8_t foveal_u8(int32_t v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }

/// n pixels with full-resolution chroma. 1.164, 1.596, 0.392, 0.813 and 2.017 times 65536;
/// 32768 rounds half up. No term overflows (the largest is 132186 * 127).
static inline void foveal_ycbcr_run(const uint8_t *y, const uint8_t *cb, const uint8_t *cr, uint8_t *out, long n) {
    for (long i = 0; i < n; i++) {
        int32_t c = 76284 * ((int32_t)y[i] - 16) + 32768, d = (int32_t)cb[i] - 128, e = (int32_t)cr[i] - 128;
        out[3 * i] = foveal_u8((c + 104595 * e) >> 16);
        out[3 * i + 1] = foveal_u8((c - 25690 * d - 53281 * e) >> 16);
        out[3 * i + 2] = foveal_u8((c + 132186 * d) >> 16);
    }
}

/// One row of a planar frame, portable: `chroma` 0 for grey (cb, cr unused), 1 for full-width
/// chroma (4:4:4), 2 for half-width chroma (4:2:0 and 4:2:2: (width + 1) / 2 samples a row).
static inline void foveal_ycbcr_planar_row_portable(const uint8_t *y, const uint8_t *cb, const uint8_t *cr, int chroma,
                                                    uint8_t *out, long width) {
    if (chroma == 1) { foveal_ycbcr_run(y, cb, cr, out, width); return; }
    // One spare sample each: an odd run's last pair writes it.
    uint8_t u[FOVEAL_YCBCR_RUN + 1], v[FOVEAL_YCBCR_RUN + 1];
    for (int i = 0; i <= FOVEAL_YCBCR_RUN; i++) u[i] = v[i] = 128;
    for (long x0 = 0; x0 < width; x0 += FOVEAL_YCBCR_RUN) {
        long n = width - x0 < FOVEAL_YCBCR_RUN ? width - x0 : FOVEAL_YCBCR_RUN;
        if (chroma == 2) {
            const uint8_t *cbr = cb + x0 / 2, *crr = cr + x0 / 2;   // x0 is even
            for (long j = 0; j < (n + 1) / 2; j++) { u[2 * j] = u[2 * j + 1] = cbr[j]; v[2 * j] = v[2 * j + 1] = crr[j]; }
        }
        foveal_ycbcr_run(y + x0, u, v, out + 3 * x0, n);
    }
}

/// One row of packed YUYV (Y0 U Y1 V per pair of pixels), portable. An odd last pixel, which has
/// no pair of its own, takes neutral chroma.
static inline void foveal_yuyv_row_portable(const uint8_t *line, uint8_t *out, long width) {
    uint8_t yy[FOVEAL_YCBCR_RUN], u[FOVEAL_YCBCR_RUN], v[FOVEAL_YCBCR_RUN];
    for (long x0 = 0; x0 < width; x0 += FOVEAL_YCBCR_RUN) {
        long n = width - x0 < FOVEAL_YCBCR_RUN ? width - x0 : FOVEAL_YCBCR_RUN;
        long paired = (x0 + n <= (width & ~1L)) ? n : (width & ~1L) - x0;
        const uint8_t *p = line + 2 * x0;
        for (long j = 0; j < paired / 2; j++) {
            yy[2 * j] = p[4 * j]; yy[2 * j + 1] = p[4 * j + 2];
            u[2 * j] = u[2 * j + 1] = p[4 * j + 1]; v[2 * j] = v[2 * j + 1] = p[4 * j + 3];
        }
        for (long i = paired; i < n; i++) { yy[i] = p[2 * i]; u[i] = v[i] = 128; }
        foveal_ycbcr_run(yy, u, v, out + 3 * x0, n);
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

/// 8 pixels' R, G or B in 32-bit lanes, from the low 8 bytes of each input.
__attribute__((target("avx2")))
static inline void foveal_ycbcr8_avx2(__m128i y8, __m128i cb8, __m128i cr8, __m256i *r, __m256i *g, __m256i *b) {
    const __m256i c128 = _mm256_set1_epi32(128);
    __m256i y = _mm256_sub_epi32(_mm256_cvtepu8_epi32(y8), _mm256_set1_epi32(16));
    __m256i d = _mm256_sub_epi32(_mm256_cvtepu8_epi32(cb8), c128), e = _mm256_sub_epi32(_mm256_cvtepu8_epi32(cr8), c128);
    __m256i c = _mm256_add_epi32(_mm256_mullo_epi32(y, _mm256_set1_epi32(76284)), _mm256_set1_epi32(32768));
    *r = _mm256_srai_epi32(_mm256_add_epi32(c, _mm256_mullo_epi32(e, _mm256_set1_epi32(104595))), 16);
    *g = _mm256_srai_epi32(_mm256_sub_epi32(_mm256_sub_epi32(c, _mm256_mullo_epi32(d, _mm256_set1_epi32(25690))),
                                            _mm256_mullo_epi32(e, _mm256_set1_epi32(53281))), 16);
    *b = _mm256_srai_epi32(_mm256_add_epi32(c, _mm256_mullo_epi32(d, _mm256_set1_epi32(132186))), 16);
}

/// 16 pixels, full-width chroma in each input's 16 bytes, to 48 bytes of RGB at `out`.
__attribute__((target("avx2")))
static inline void foveal_ycbcr16_avx2(__m128i y, __m128i cb, __m128i cr, uint8_t *out) {
    __m256i r0, g0, b0, r1, g1, b1;
    foveal_ycbcr8_avx2(y, cb, cr, &r0, &g0, &b0);
    foveal_ycbcr8_avx2(_mm_srli_si128(y, 8), _mm_srli_si128(cb, 8), _mm_srli_si128(cr, 8), &r1, &g1, &b1);
    // To 16 bits (every value fits: -223 to 481), then to bytes with unsigned saturation, which
    // is the clamp to 0-255; the packs work per 128-bit lane, so each is followed by a permute.
    __m256i r16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(r0, r1), 0xd8);
    __m256i g16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(g0, g1), 0xd8);
    __m256i b16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(b0, b1), 0xd8);
    __m256i rg = _mm256_permute4x64_epi64(_mm256_packus_epi16(r16, g16), 0xd8);
    __m256i bb = _mm256_permute4x64_epi64(_mm256_packus_epi16(b16, b16), 0xd8);
    __m128i r = _mm256_castsi256_si128(rg), g = _mm256_extracti128_si256(rg, 1), b = _mm256_castsi256_si128(bb);
    // Interleave: output byte k is channel k % 3 of pixel k / 3 (-1 selects zero).
    const __m128i r0m = _mm_setr_epi8(0, -1, -1, 1, -1, -1, 2, -1, -1, 3, -1, -1, 4, -1, -1, 5);
    const __m128i g0m = _mm_setr_epi8(-1, 0, -1, -1, 1, -1, -1, 2, -1, -1, 3, -1, -1, 4, -1, -1);
    const __m128i b0m = _mm_setr_epi8(-1, -1, 0, -1, -1, 1, -1, -1, 2, -1, -1, 3, -1, -1, 4, -1);
    const __m128i r1m = _mm_setr_epi8(-1, -1, 6, -1, -1, 7, -1, -1, 8, -1, -1, 9, -1, -1, 10, -1);
    const __m128i g1m = _mm_setr_epi8(5, -1, -1, 6, -1, -1, 7, -1, -1, 8, -1, -1, 9, -1, -1, 10);
    const __m128i b1m = _mm_setr_epi8(-1, 5, -1, -1, 6, -1, -1, 7, -1, -1, 8, -1, -1, 9, -1, -1);
    const __m128i r2m = _mm_setr_epi8(-1, 11, -1, -1, 12, -1, -1, 13, -1, -1, 14, -1, -1, 15, -1, -1);
    const __m128i g2m = _mm_setr_epi8(-1, -1, 11, -1, -1, 12, -1, -1, 13, -1, -1, 14, -1, -1, 15, -1);
    const __m128i b2m = _mm_setr_epi8(10, -1, -1, 11, -1, -1, 12, -1, -1, 13, -1, -1, 14, -1, -1, 15);
    __m128i *o = (__m128i *)out;
    _mm_storeu_si128(o, _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(r, r0m), _mm_shuffle_epi8(g, g0m)), _mm_shuffle_epi8(b, b0m)));
    _mm_storeu_si128(o + 1, _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(r, r1m), _mm_shuffle_epi8(g, g1m)), _mm_shuffle_epi8(b, b1m)));
    _mm_storeu_si128(o + 2, _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(r, r2m), _mm_shuffle_epi8(g, g2m)), _mm_shuffle_epi8(b, b2m)));
}

__attribute__((target("avx2")))
static inline void foveal_ycbcr_planar_row_avx2(const uint8_t *y, const uint8_t *cb, const uint8_t *cr, int chroma,
                                                uint8_t *out, long width) {
    long x = 0;
    for (; x + 16 <= width; x += 16) {
        __m128i luma = _mm_loadu_si128((const __m128i *)(y + x)), u, v;
        if (chroma == 1) {
            u = _mm_loadu_si128((const __m128i *)(cb + x)); v = _mm_loadu_si128((const __m128i *)(cr + x));
        } else if (chroma == 2) {
            __m128i u8 = _mm_loadl_epi64((const __m128i *)(cb + x / 2)), v8 = _mm_loadl_epi64((const __m128i *)(cr + x / 2));
            u = _mm_unpacklo_epi8(u8, u8); v = _mm_unpacklo_epi8(v8, v8);
        } else {
            u = v = _mm_set1_epi8((char)128);
        }
        foveal_ycbcr16_avx2(luma, u, v, out + 3 * x);
    }
    if (x < width) {
        long cx = chroma == 2 ? x / 2 : chroma == 1 ? x : 0;
        foveal_ycbcr_planar_row_portable(y + x, cb + cx, cr + cx, chroma, out + 3 * x, width - x);
    }
}

__attribute__((target("avx2")))
static inline void foveal_yuyv_row_avx2(const uint8_t *line, uint8_t *out, long width) {
    const __m128i ym = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m128i um = _mm_setr_epi8(1, 1, 5, 5, 9, 9, 13, 13, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m128i vm = _mm_setr_epi8(3, 3, 7, 7, 11, 11, 15, 15, -1, -1, -1, -1, -1, -1, -1, -1);
    long x = 0;
    for (; x + 16 <= (width & ~1L); x += 16) {
        __m128i a = _mm_loadu_si128((const __m128i *)(line + 2 * x)), b = _mm_loadu_si128((const __m128i *)(line + 2 * x + 16));
        __m128i luma = _mm_unpacklo_epi64(_mm_shuffle_epi8(a, ym), _mm_shuffle_epi8(b, ym));
        __m128i u = _mm_unpacklo_epi64(_mm_shuffle_epi8(a, um), _mm_shuffle_epi8(b, um));
        __m128i v = _mm_unpacklo_epi64(_mm_shuffle_epi8(a, vm), _mm_shuffle_epi8(b, vm));
        foveal_ycbcr16_avx2(luma, u, v, out + 3 * x);
    }
    if (x < width) foveal_yuyv_row_portable(line + 2 * x, out + 3 * x, width - x);
}
#else
static inline void foveal_ycbcr_planar_row_avx2(const uint8_t *y, const uint8_t *cb, const uint8_t *cr, int chroma,
                                                uint8_t *out, long width) {
    foveal_ycbcr_planar_row_portable(y, cb, cr, chroma, out, width);
}
static inline void foveal_yuyv_row_avx2(const uint8_t *line, uint8_t *out, long width) { foveal_yuyv_row_portable(line, out, width); }
#endif

/// One row of a planar frame (see the portable row); AVX2 when `avx2`.
static inline void foveal_ycbcr_planar_row(const uint8_t *y, const uint8_t *cb, const uint8_t *cr, int chroma,
                                           uint8_t *out, long width, int avx2) {
    if (avx2) foveal_ycbcr_planar_row_avx2(y, cb, cr, chroma, out, width);
    else foveal_ycbcr_planar_row_portable(y, cb, cr, chroma, out, width);
}

/// One row of packed YUYV (see the portable row); AVX2 when `avx2`.
static inline void foveal_yuyv_row(const uint8_t *line, uint8_t *out, long width, int avx2) {
    if (avx2) foveal_yuyv_row_avx2(line, out, width); else foveal_yuyv_row_portable(line, out, width);
}
