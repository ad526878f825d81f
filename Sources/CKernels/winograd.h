// Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional
// Neural Networks", CVPR 2016) for the 3x3, stride-1, padding-1 convolutions: each 2x2 block of
// output (a tile) is Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A, with d the 4x4 input patch under it. Summed over
// the input channels, the elementwise products become 16 matrix products, one per point ξ of the
// 4x4 transform: M[ξ] (K x tiles) = U[ξ] (K x C) V[ξ] (C x tiles). That is 16 multiply-adds per
// tile and channel pair where the direct convolution needs 36: 2.25x fewer.
//
// U is made once per change of the weights and packed for the kernel of gemm.h. Per block of tile
// rows, the input transform writes V laid out as that kernel's B (tiles along rows), the kernel
// writes M, and the output transform adds the bias, applies the ReLU and writes the output. Both
// transforms take eight neighbouring tiles of a row at a time, one to a vector lane: the input
// rows are first split into their even and odd columns, so that each of a tile's four input
// columns is one contiguous load.
#pragma once
#include "gemm.h"

#if defined(__x86_64__)
#define FOVEAL_WINOGRAD_TARGET __attribute__((target("avx2,fma")))
#else
#define FOVEAL_WINOGRAD_TARGET
#endif

/// Eight floats, loaded from and stored to any address (4-byte alignment).
typedef float foveal_v8 __attribute__((vector_size(32), aligned(4)));
typedef int foveal_v8i __attribute__((vector_size(32), aligned(4)));

/// max(v, 0) lane by lane; a NaN becomes 0, as gemm.h's stores make it.
FOVEAL_WINOGRAD_TARGET __attribute__((always_inline))
static inline foveal_v8 foveal_v8_relu(foveal_v8 v) {
    foveal_v8i keep = v > (foveal_v8){0};
    return (foveal_v8)((foveal_v8i)v & keep);
}

/// Floats of the transformed, packed filters for K filters of C channels: 16 packed K x C matrices.
static inline long foveal_winograd_filters_count(long k, long c) { return 16 * foveal_packed_filters_count(k, c); }

/// U[ξ] = (G g Gᵀ)[ξ] for weights g (K, C, 3, 3), each of the 16 packed as gemm.h's A (K x C).
/// Sums in double: the transform is exact up to the one rounding to float. `scratch`: K*C floats.
static inline void foveal_winograd_pack_filters(const float *restrict g, long k, long c, float *restrict packed,
                                                float *restrict scratch) {
    static const double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
    long plane = foveal_packed_filters_count(k, c);
    for (int xi = 0; xi < 16; xi++) {
        int i = xi / 4, j = xi % 4;
        for (long f = 0; f < k * c; f++) {
            const float *w = g + f * 9;
            double s = 0;
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++) s += G[i][a] * w[a * 3 + b] * G[j][b];
            scratch[f] = (float)s;
        }
        foveal_pack_filters(scratch, k, c, c, packed + xi * plane);
    }
}

/// The columns a block of `rows` tile rows of `tiles_w` tiles takes in V and M: the input transform
/// writes the last row's lanes past its end, up to a whole vector.
static inline long foveal_winograd_block_columns(long rows, long tiles_w) {
    return (rows - 1) * tiles_w + (tiles_w + 7) / 8 * 8;
}

/// How far apart the 16 planes of V (or M) lie, for `rows` rows `ld` apart: a cache line more than
/// they take, so that the transforms' 16 streams fall in different L1 sets. (With C = 64 and
/// ldv = 48 the planes were exactly 12 KB apart, on the same sets, and the input transform took
/// four times as long.)
static inline long foveal_winograd_plane(long rows, long ld) { return rows * ld + 16; }

/// Splits input row `iy` of a `w`-wide plane, zero-padded by one column each side (P[j] = x[j-1]),
/// into its even columns (even[t] = P[2t]) and odd ones (odd[t] = P[2t+1]), t = 0 ..< `count`;
/// zeros for a row outside the plane (iy < 0 or iy >= h).
FOVEAL_WINOGRAD_TARGET
static inline void foveal_winograd_split_row(const float *restrict plane, long h, long w, long iy, long count,
                                             float *restrict even, float *restrict odd) {
    if (iy < 0 || iy >= h) {
        for (long t = 0; t < count; t++) even[t] = odd[t] = 0;
        return;
    }
    const float *x = plane + iy * w;
    long t = 0;
    even[0] = 0;
    odd[0] = w > 0 ? x[0] : 0;
    t = 1;
    // even[t..t+7] = x[2t-1], x[2t+1], ...; odd[t..t+7] = x[2t], x[2t+2], ...: x[2t-1 ... 2t+14].
    for (; 2 * t + 14 < w; t += 8) {
        foveal_v8 a = *(const foveal_v8 *)(x + 2 * t - 1), b = *(const foveal_v8 *)(x + 2 * t + 7);
        *(foveal_v8 *)(even + t) = __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14);
        *(foveal_v8 *)(odd + t) = __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15);
    }
    for (; t < count; t++) {
        even[t] = 2 * t - 1 < w ? x[2 * t - 1] : 0;
        odd[t] = 2 * t < w ? x[2 * t] : 0;
    }
}

/// V for tile rows `ty0 ..< ty1` of one image (C, H, W): V[ξ] holds C rows, `ldv` apart, of one
/// column per tile (row by row); the planes are `foveal_winograd_plane(C, ldv)` apart. `split`: 8 * (tiles_w + 9) floats.
FOVEAL_WINOGRAD_TARGET
static inline void foveal_winograd_input(const float *restrict image, long c, long h, long w, long ty0, long ty1,
                                         float *restrict v, long ldv, float *restrict split) {
    // The last vector of a row reads even and odd columns up to the whole vector's tile + 1.
    long tw = (w + 1) / 2, len = (tw + 7) / 8 * 8 + 1, plane = foveal_winograd_plane(c, ldv);
    // Four input rows a tile row, each as even and odd columns; a tile row shares two with the next.
    float *ev[4], *od[4];
    for (int r = 0; r < 4; r++) { ev[r] = split + 2 * r * len; od[r] = ev[r] + len; }
    for (long ch = 0; ch < c; ch++) {
        const float *x = image + ch * h * w;
        for (long ty = ty0; ty < ty1; ty++) {
            int fresh = ty == ty0 ? 0 : 2;
            if (fresh == 2) {  // rows 2ty-1 and 2ty were the last tile row's third and fourth
                float *e0 = ev[0], *o0 = od[0], *e1 = ev[1], *o1 = od[1];
                ev[0] = ev[2]; od[0] = od[2]; ev[1] = ev[3]; od[1] = od[3];
                ev[2] = e0; od[2] = o0; ev[3] = e1; od[3] = o1;
            }
            for (int r = fresh; r < 4; r++) foveal_winograd_split_row(x, h, w, 2 * ty - 1 + r, len, ev[r], od[r]);
            float *dst = v + ch * ldv + (ty - ty0) * tw;
            for (long t = 0; t < tw; t += 8) {
                // Bᵀ d B with Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]: first along each row...
                foveal_v8 s[4][4];
                for (int r = 0; r < 4; r++) {
                    foveal_v8 d0 = *(const foveal_v8 *)(ev[r] + t), d1 = *(const foveal_v8 *)(od[r] + t);
                    foveal_v8 d2 = *(const foveal_v8 *)(ev[r] + t + 1), d3 = *(const foveal_v8 *)(od[r] + t + 1);
                    s[r][0] = d0 - d2; s[r][1] = d1 + d2; s[r][2] = d2 - d1; s[r][3] = d1 - d3;
                }
                // ...then down each column.
                for (int j = 0; j < 4; j++) {
                    *(foveal_v8 *)(dst + (0 * 4 + j) * plane + t) = s[0][j] - s[2][j];
                    *(foveal_v8 *)(dst + (1 * 4 + j) * plane + t) = s[1][j] + s[2][j];
                    *(foveal_v8 *)(dst + (2 * 4 + j) * plane + t) = s[2][j] - s[1][j];
                    *(foveal_v8 *)(dst + (3 * 4 + j) * plane + t) = s[1][j] - s[3][j];
                }
            }
        }
    }
}

/// The output of filters `k0 ..< k1` for tile rows `ty0 ..< ty1` from M (as V: one plane of K rows,
/// `ldm` apart, per ξ, planes `foveal_winograd_plane(K, ldm)` apart): Aᵀ M A with Aᵀ = [1 1 1 0; 0 1 -1 -1], plus the
/// filter's bias (or none), then the ReLU if `relu`, into `out` (K, H, W).
FOVEAL_WINOGRAD_TARGET
static inline void foveal_winograd_output(const float *restrict m, long kk, long ldm, long k0, long k1, long h, long w,
                                          long ty0, long ty1, const float *restrict bias, int relu,
                                          float *restrict out) {
    long tw = (w + 1) / 2, plane = foveal_winograd_plane(kk, ldm);
    for (long f = k0; f < k1; f++) {
        float b = bias ? bias[f] : 0;
        foveal_v8 bv = {b, b, b, b, b, b, b, b};
        for (long ty = ty0; ty < ty1; ty++) {
            const float *src = m + f * ldm + (ty - ty0) * tw;
            float *row0 = out + (f * h + 2 * ty) * w, *row1 = row0 + w;
            int second = 2 * ty + 1 < h;
            for (long t = 0; t < tw; t += 8) {
                foveal_v8 a[2][4];
                for (int j = 0; j < 4; j++) {
                    foveal_v8 m0 = *(const foveal_v8 *)(src + (0 * 4 + j) * plane + t);
                    foveal_v8 m1 = *(const foveal_v8 *)(src + (1 * 4 + j) * plane + t);
                    foveal_v8 m2 = *(const foveal_v8 *)(src + (2 * 4 + j) * plane + t);
                    foveal_v8 m3 = *(const foveal_v8 *)(src + (3 * 4 + j) * plane + t);
                    a[0][j] = m0 + m1 + m2;
                    a[1][j] = m1 - m2 - m3;
                }
                foveal_v8 y[2][2];
                for (int i = 0; i < 2; i++) {
                    y[i][0] = a[i][0] + a[i][1] + a[i][2] + bv;
                    y[i][1] = a[i][1] - a[i][2] - a[i][3] + bv;
                    if (relu) { y[i][0] = foveal_v8_relu(y[i][0]); y[i][1] = foveal_v8_relu(y[i][1]); }
                }
                // Tile t+l's two columns are output columns 2(t+l) and 2(t+l)+1: interleave.
                foveal_v8 r[2][2];
                for (int i = 0; i < 2; i++) {
                    r[i][0] = __builtin_shufflevector(y[i][0], y[i][1], 0, 8, 1, 9, 2, 10, 3, 11);
                    r[i][1] = __builtin_shufflevector(y[i][0], y[i][1], 4, 12, 5, 13, 6, 14, 7, 15);
                }
                long x0 = 2 * t;
                if (x0 + 16 <= w) {
                    *(foveal_v8 *)(row0 + x0) = r[0][0];
                    *(foveal_v8 *)(row0 + x0 + 8) = r[0][1];
                    if (second) {
                        *(foveal_v8 *)(row1 + x0) = r[1][0];
                        *(foveal_v8 *)(row1 + x0 + 8) = r[1][1];
                    }
                } else {
                    float tmp[2][16];
                    for (int i = 0; i < 2; i++) { *(foveal_v8 *)tmp[i] = r[i][0]; *(foveal_v8 *)(tmp[i] + 8) = r[i][1]; }
                    for (long x = x0; x < w; x++) {
                        row0[x] = tmp[0][x - x0];
                        if (second) row1[x] = tmp[1][x - x0];
                    }
                }
            }
        }
    }
}

/// One block of tile rows `ty0 ..< ty1` of one image (C, H, W) into `out` (K, H, W): the input
/// transform, the 16 products on the packed U (`foveal_winograd_pack_filters`), the output
/// transform. `v` and `m`: 16 planes (`foveal_winograd_plane`) of C and K rows, ldv at least
/// `foveal_winograd_block_columns(ty1 - ty0, tiles_w)` rounded up to 16; `split` as for
/// `foveal_winograd_input`. AVX2 and FMA: only where foveal_has_avx2_fma() said 1.
FOVEAL_WINOGRAD_TARGET
static inline void foveal_winograd_block(const float *restrict image, long c, long h, long w, const float *restrict u,
                                         long kk, const float *restrict bias, int relu, long ty0, long ty1,
                                         float *restrict v, float *restrict m, long ldv, float *restrict split,
                                         float *restrict out) {
    long tw = (w + 1) / 2, n = (ty1 - ty0) * tw;
    foveal_winograd_input(image, c, h, w, ty0, ty1, v, ldv, split);
    // The kernel reads a partial strip's 16 columns whole: what lies past the tiles must be finite.
    long filled = foveal_winograd_block_columns(ty1 - ty0, tw), strip_end = (n + 15) / 16 * 16;
    long vplane = foveal_winograd_plane(c, ldv), mplane = foveal_winograd_plane(kk, ldv);
    if (strip_end > filled)
        for (int xi = 0; xi < 16; xi++)
            for (long r = 0; r < c; r++)
                for (long j = filled; j < strip_end; j++) v[xi * vplane + r * ldv + j] = 0;
    long uplane = foveal_packed_filters_count(kk, c);
    for (int xi = 0; xi < 16; xi++)
        foveal_gemm_packed(u + xi * uplane, v + xi * vplane, ldv, kk, n, c, m + xi * mplane, ldv, 0, 0, 1);
    foveal_winograd_output(m, kk, ldv, 0, kk, h, w, ty0, ty1, bias, relu, out);
}
