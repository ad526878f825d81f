// Winograd's minimal filtering F(m x m, r x r) (Lavin and Gray, "Fast Algorithms for Convolutional
// Neural Networks", CVPR 2016) for stride-1 convolutions padded by (r-1)/2: F(2x2, 3x3), F(4x4, 3x3)
// and F(2x2, 5x5). Each m x m block of output (a tile) is Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A, with d the
// α x α input patch under it, α = m + r - 1. Summed over the input channels, the elementwise
// products become α² matrix products, one per point ξ of the transform: M[ξ] (K x tiles) =
// U[ξ] (K x C) V[ξ] (C x tiles). Per output pixel and channel pair that is 4 multiply-adds for
// F(2x2, 3x3) and 2.25 for F(4x4, 3x3) where the direct convolution needs 9, and 9 for F(2x2, 5x5)
// where it needs 25. The α = 6 transforms (points 0, ±1, ±2 and ∞, one Bᵀ for both r) have
// coefficients up to 8, so their sums carry about ten times F(2x2, 3x3)'s rounding: about 1e-5 of
// the output's scale. Conv2D runs F(4x4, 3x3) and F(2x2, 5x5); F(2x2, 3x3) is the accurate
// alternative that Benchmarks/winograd_layers.c and the tests measure beside them.
//
// U is made once per change of the weights and packed for the kernel of gemm.h. Per block of tile
// rows, the input transform writes V laid out as that kernel's B (tiles along rows), the kernel
// writes M, and the output transform adds the bias, applies the ReLU and writes the output. Both
// transforms take eight neighbouring tiles of a row at a time, one to a vector lane: the input
// rows are first split into m phases (column x goes to phase x mod m), so that each of a tile's
// α input columns is one contiguous load.
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

#define FOVEAL_V8_AT(p) (*(foveal_v8 *)(p))

/// max(v, 0) lane by lane; a NaN becomes 0, as gemm.h's stores make it.
FOVEAL_WINOGRAD_TARGET __attribute__((always_inline))
static inline foveal_v8 foveal_v8_relu(foveal_v8 v) {
    foveal_v8i keep = v > (foveal_v8){0};
    return (foveal_v8)((foveal_v8i)v & keep);
}

/// The transform's points for output tiles of m x m and filters of r x r: (m + r - 1)².
static inline int foveal_winograd_points(int m, int r) { return (m + r - 1) * (m + r - 1); }

/// Floats of the transformed, packed filters for K filters of C channels, r x r: one packed K x C
/// matrix per point.
static inline long foveal_winograd_filters_count(int m, int r, long k, long c) {
    return foveal_winograd_points(m, r) * foveal_packed_filters_count(k, c);
}

/// U[ξ] = (G g Gᵀ)[ξ] for weights g (K, C, r, r), each packed as gemm.h's A (K x C): panels of 6
/// filters, zeros for the rows past K. Row i of G is f_i (1, p_i, p_i², ...) for the finite points
/// p_i, and takes g's last tap for ∞. In double, rounded once to float: training packs its filters
/// on every step, so each filter is transformed once, as two small products.
static inline void foveal_winograd_pack_filters(int m, int r, const float *restrict g, long k, long c,
                                                float *restrict packed) {
    static const double p4[3] = {0, 1, -1}, f4[3] = {1, 0.5, 0.5};
    static const double p6[5] = {0, 1, -1, 2, -2}, f6[5] = {1. / 4, -1. / 6, -1. / 6, 1. / 24, 1. / 24};
    int alpha = m + r - 1;
    double G[6][5] = {{0}};
    for (int i = 0; i + 1 < alpha; i++) {
        double p = alpha == 4 ? p4[i] : p6[i], power = alpha == 4 ? f4[i] : f6[i];
        for (int a = 0; a < r; a++, power *= p) G[i][a] = power;
    }
    G[alpha - 1][r - 1] = 1;
    long plane = foveal_packed_filters_count(k, c);
    for (long i = 0; i < alpha * alpha * plane; i++) packed[i] = 0;
    for (long f = 0; f < k; f++)
        for (long ch = 0; ch < c; ch++) {
            const float *w = g + (f * c + ch) * r * r;
            double gw[6][5];  // G g
            for (int i = 0; i < alpha; i++)
                for (int b = 0; b < r; b++) {
                    double s = 0;
                    for (int a = 0; a < r; a++) s += G[i][a] * w[a * r + b];
                    gw[i][b] = s;
                }
            float *dst = packed + f / FOVEAL_GEMM_MR * FOVEAL_GEMM_MR * c + ch * FOVEAL_GEMM_MR + f % FOVEAL_GEMM_MR;
            for (int i = 0; i < alpha; i++)
                for (int j = 0; j < alpha; j++) {
                    double s = 0;
                    for (int b = 0; b < r; b++) s += gw[i][b] * G[j][b];
                    dst[(i * alpha + j) * plane] = (float)s;
                }
        }
}

/// The columns the transforms touch for a block of `rows` tile rows of `tiles_w` tiles: a row's
/// last vector runs past its last tile, by up to 7 lanes. Past the block's last tile those lanes
/// land in the row's padding, or in the next row's first columns, which that row's own transform
/// overwrites later (channels are taken in order), or, after the last row, in the plane's padding.
static inline long foveal_winograd_block_columns(long rows, long tiles_w) {
    return (rows - 1) * tiles_w + (tiles_w + 7) / 8 * 8;
}

/// How far apart the planes of V (or M) lie, for `rows` rows `ld` apart: a cache line more than
/// they take, so that the transforms' streams, one per point, fall in different L1 sets (with
/// C = 64 and ldv = 48 the planes were exactly 12 KB apart, on the same sets, and the input
/// transform took four times as long), and the last row's overrun has room.
static inline long foveal_winograd_plane(long rows, long ld) { return rows * ld + 16; }

/// Floats a phase of a split row takes: a whole vector past the last tile, and the columns a tile
/// reads past its own m (up to 2, for F(2x2, 5x5)).
static inline long foveal_winograd_split_length(long tiles_w) { return (tiles_w + 7) / 8 * 8 + 2; }

/// Floats the input transform's split rows take: α rows of m phases (`foveal_winograd_split_row`).
static inline long foveal_winograd_split_count(int m, int r, long tiles_w) {
    return (long)(m + r - 1) * m * foveal_winograd_split_length(tiles_w);
}

/// Splits input row `iy` of a `w`-wide plane, zero-padded by `pad` (1 or 2) columns on the left
/// (P[j] = x[j - pad], 0 outside), into m phases: q[p * count + t] = P[m t + p], t = 0 ..< `count`.
/// Zeros for a row outside the plane (iy < 0 or iy >= h).
FOVEAL_WINOGRAD_TARGET __attribute__((always_inline))
static inline void foveal_winograd_split_row(int m, int pad, const float *restrict plane, long h, long w, long iy,
                                             long count, float *restrict q) {
    if (iy < 0 || iy >= h) {
        for (long t = 0; t < m * count; t++) q[t] = 0;
        return;
    }
    const float *x = plane + iy * w;
    long t = 1;
    // Lane l of phase p takes x[m(t+l) + p - pad]: 8m floats from x[mt - pad], inside the row.
    if (m == 2) {
        for (; 2 * t - pad + 15 < w && t + 8 <= count; t += 8) {
            foveal_v8 a = FOVEAL_V8_AT(x + 2 * t - pad), b = FOVEAL_V8_AT(x + 2 * t - pad + 8);
            FOVEAL_V8_AT(q + t) = __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14);
            FOVEAL_V8_AT(q + count + t) = __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15);
        }
    } else {
        for (; 4 * t - pad + 31 < w && t + 8 <= count; t += 8) {
            const float *s = x + 4 * t - pad;
            foveal_v8 a = FOVEAL_V8_AT(s), b = FOVEAL_V8_AT(s + 8), c = FOVEAL_V8_AT(s + 16), d = FOVEAL_V8_AT(s + 24);
            foveal_v8 e0 = __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14);
            foveal_v8 o0 = __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15);
            foveal_v8 e1 = __builtin_shufflevector(c, d, 0, 2, 4, 6, 8, 10, 12, 14);
            foveal_v8 o1 = __builtin_shufflevector(c, d, 1, 3, 5, 7, 9, 11, 13, 15);
            FOVEAL_V8_AT(q + t) = __builtin_shufflevector(e0, e1, 0, 2, 4, 6, 8, 10, 12, 14);
            FOVEAL_V8_AT(q + 2 * count + t) = __builtin_shufflevector(e0, e1, 1, 3, 5, 7, 9, 11, 13, 15);
            FOVEAL_V8_AT(q + count + t) = __builtin_shufflevector(o0, o1, 0, 2, 4, 6, 8, 10, 12, 14);
            FOVEAL_V8_AT(q + 3 * count + t) = __builtin_shufflevector(o0, o1, 1, 3, 5, 7, 9, 11, 13, 15);
        }
    }
    for (int p = 0; p < m; p++) {  // t = 0 with the padding columns, and what the vectors left
        q[p * count] = p >= pad && p - pad < w ? x[p - pad] : 0;
        for (long u = t; u < count; u++) {
            long xi = m * u + p - pad;
            q[p * count + u] = xi < w ? x[xi] : 0;
        }
    }
}

/// Bᵀ d for α = 4 (F(2x2, 3x3)), Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
FOVEAL_WINOGRAD_TARGET __attribute__((always_inline))
static inline void foveal_winograd_bt4(const foveal_v8 d[4], foveal_v8 r[4]) {
    r[0] = d[0] - d[2]; r[1] = d[1] + d[2]; r[2] = d[2] - d[1]; r[3] = d[1] - d[3];
}

/// Bᵀ d for α = 6 (F(4x4, 3x3) and F(2x2, 5x5)), Bᵀ = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0;
/// 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1].
FOVEAL_WINOGRAD_TARGET __attribute__((always_inline))
static inline void foveal_winograd_bt6(const foveal_v8 d[6], foveal_v8 r[6]) {
    const foveal_v8 four = {4, 4, 4, 4, 4, 4, 4, 4}, five = {5, 5, 5, 5, 5, 5, 5, 5}, two = {2, 2, 2, 2, 2, 2, 2, 2};
    foveal_v8 a = d[4] - d[2], b = d[3] - d[1];
    r[0] = four * d[0] - five * d[2] + d[4];
    r[1] = d[3] + d[4] - four * (d[1] + d[2]);
    r[2] = d[4] - d[3] + four * (d[1] - d[2]);
    r[3] = a + two * b;
    r[4] = a - two * b;
    r[5] = four * d[1] - five * d[3] + d[5];
}

/// Aᵀ v for F(2x2, 3x3), Aᵀ = [1 1 1 0; 0 1 -1 -1].
FOVEAL_WINOGRAD_TARGET __attribute__((always_inline))
static inline void foveal_winograd_at4x2(const foveal_v8 v[4], foveal_v8 r[2]) {
    r[0] = v[0] + v[1] + v[2]; r[1] = v[1] - v[2] - v[3];
}

/// Aᵀ v for F(2x2, 5x5), Aᵀ = [1 1 1 1 1 0; 0 1 -1 2 -2 1].
FOVEAL_WINOGRAD_TARGET __attribute__((always_inline))
static inline void foveal_winograd_at6x2(const foveal_v8 v[6], foveal_v8 r[2]) {
    const foveal_v8 two = {2, 2, 2, 2, 2, 2, 2, 2};
    r[0] = v[0] + v[1] + v[2] + v[3] + v[4];
    r[1] = v[1] - v[2] + two * (v[3] - v[4]) + v[5];
}

/// Aᵀ v for F(4x4, 3x3), Aᵀ = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1].
FOVEAL_WINOGRAD_TARGET __attribute__((always_inline))
static inline void foveal_winograd_at6x4(const foveal_v8 v[6], foveal_v8 r[4]) {
    const foveal_v8 two = {2, 2, 2, 2, 2, 2, 2, 2}, four = {4, 4, 4, 4, 4, 4, 4, 4}, eight = {8, 8, 8, 8, 8, 8, 8, 8};
    foveal_v8 s12 = v[1] + v[2], d12 = v[1] - v[2], s34 = v[3] + v[4], d34 = v[3] - v[4];
    r[0] = v[0] + s12 + s34;
    r[1] = d12 + two * d34;
    r[2] = s12 + four * s34;
    r[3] = d12 + eight * d34 + v[5];
}

/// V for tile rows `ty0 ..< ty1` of one image (C, H, W): V[ξ] holds C rows, `ldv` apart, of one
/// column per tile (row by row); the planes are `foveal_winograd_plane(C, ldv)` apart. `split`:
/// `foveal_winograd_split_count(m, r, tiles_w)` floats.
FOVEAL_WINOGRAD_TARGET __attribute__((always_inline))
static inline void foveal_winograd_input(int m, int r, const float *restrict image, long c, long h, long w, long ty0,
                                         long ty1, float *restrict v, long ldv, float *restrict split) {
    int alpha = m + r - 1, pad = (r - 1) / 2, shared = alpha - m;
    long tw = (w + m - 1) / m, len = foveal_winograd_split_length(tw), plane = foveal_winograd_plane(c, ldv);
    // α input rows a tile row, each split into m phases; a tile row shares α - m with the next.
    float *rows[6];
    for (int i = 0; i < alpha; i++) rows[i] = split + i * m * len;
    for (long ch = 0; ch < c; ch++) {
        const float *x = image + ch * h * w;
        for (long ty = ty0; ty < ty1; ty++) {
            int fresh = 0;
            if (ty > ty0) {  // the last tile row's rows from m on are this one's first
                float *old[6];
                for (int i = 0; i < alpha; i++) old[i] = rows[i];
                for (int i = 0; i < shared; i++) rows[i] = old[m + i];
                for (int i = 0; i < m; i++) rows[shared + i] = old[i];
                fresh = shared;
            }
            for (int i = fresh; i < alpha; i++) foveal_winograd_split_row(m, pad, x, h, w, m * ty - pad + i, len, rows[i]);
            float *dst = v + ch * ldv + (ty - ty0) * tw;
            for (long t = 0; t < tw; t += 8) {
                // Column j of row r: phase j mod m, tile t + j / m. Bᵀ along each row, then down each column.
                foveal_v8 s[6][6], d[6], col[6], out[6];
                for (int i = 0; i < alpha; i++) {
                    for (int j = 0; j < alpha; j++) d[j] = FOVEAL_V8_AT(rows[i] + (j % m) * len + t + j / m);
                    if (alpha == 4) foveal_winograd_bt4(d, s[i]); else foveal_winograd_bt6(d, s[i]);
                }
                for (int j = 0; j < alpha; j++) {
                    for (int i = 0; i < alpha; i++) col[i] = s[i][j];
                    if (alpha == 4) foveal_winograd_bt4(col, out); else foveal_winograd_bt6(col, out);
                    for (int i = 0; i < alpha; i++) FOVEAL_V8_AT(dst + (i * alpha + j) * plane + t) = out[i];
                }
            }
        }
    }
}

/// The output of filters `k0 ..< k1` for tile rows `ty0 ..< ty1` from M (laid out as V: one plane
/// of K rows, `ldm` apart, per point, planes `foveal_winograd_plane(K, ldm)` apart): Aᵀ M A, plus
/// the filter's bias (or none), then the ReLU if `relu`, into `out` (K, H, W).
FOVEAL_WINOGRAD_TARGET __attribute__((always_inline))
static inline void foveal_winograd_output(int m, int r, const float *restrict mm, long kk, long ldm, long k0, long k1,
                                          long h, long w, long ty0, long ty1, const float *restrict bias, int relu,
                                          float *restrict out) {
    int alpha = m + r - 1;
    long tw = (w + m - 1) / m, plane = foveal_winograd_plane(kk, ldm);
    for (long f = k0; f < k1; f++) {
        float b = bias ? bias[f] : 0;
        foveal_v8 bv = {b, b, b, b, b, b, b, b};
        for (long ty = ty0; ty < ty1; ty++) {
            const float *src = mm + f * ldm + (ty - ty0) * tw;
            for (long t = 0; t < tw; t += 8) {
                // Aᵀ down each column, then along each row: y[i][j], output row m ty + i, column m(t+l) + j.
                foveal_v8 a[4][6], v[6], y[4][4];
                for (int j = 0; j < alpha; j++) {
                    for (int i = 0; i < alpha; i++) v[i] = FOVEAL_V8_AT(src + (i * alpha + j) * plane + t);
                    foveal_v8 o[4];
                    if (alpha == 4) foveal_winograd_at4x2(v, o);
                    else if (m == 2) foveal_winograd_at6x2(v, o);
                    else foveal_winograd_at6x4(v, o);
                    for (int i = 0; i < m; i++) a[i][j] = o[i];
                }
                for (int i = 0; i < m; i++) {
                    if (alpha == 4) foveal_winograd_at4x2(a[i], y[i]);
                    else if (m == 2) foveal_winograd_at6x2(a[i], y[i]);
                    else foveal_winograd_at6x4(a[i], y[i]);
                    for (int j = 0; j < m; j++) {
                        y[i][j] += bv;
                        if (relu) y[i][j] = foveal_v8_relu(y[i][j]);
                    }
                }
                // Interleave each output row's m vectors: 8m consecutive floats from column m t.
                long x0 = m * t;
                for (int i = 0; i < m && m * ty + i < h; i++) {
                    float *row = out + (f * h + m * ty + i) * w;
                    foveal_v8 line[4];
                    if (m == 2) {
                        line[0] = __builtin_shufflevector(y[i][0], y[i][1], 0, 8, 1, 9, 2, 10, 3, 11);
                        line[1] = __builtin_shufflevector(y[i][0], y[i][1], 4, 12, 5, 13, 6, 14, 7, 15);
                    } else {
                        foveal_v8 lo01 = __builtin_shufflevector(y[i][0], y[i][1], 0, 8, 1, 9, 2, 10, 3, 11);
                        foveal_v8 hi01 = __builtin_shufflevector(y[i][0], y[i][1], 4, 12, 5, 13, 6, 14, 7, 15);
                        foveal_v8 lo23 = __builtin_shufflevector(y[i][2], y[i][3], 0, 8, 1, 9, 2, 10, 3, 11);
                        foveal_v8 hi23 = __builtin_shufflevector(y[i][2], y[i][3], 4, 12, 5, 13, 6, 14, 7, 15);
                        line[0] = __builtin_shufflevector(lo01, lo23, 0, 1, 8, 9, 2, 3, 10, 11);
                        line[1] = __builtin_shufflevector(lo01, lo23, 4, 5, 12, 13, 6, 7, 14, 15);
                        line[2] = __builtin_shufflevector(hi01, hi23, 0, 1, 8, 9, 2, 3, 10, 11);
                        line[3] = __builtin_shufflevector(hi01, hi23, 4, 5, 12, 13, 6, 7, 14, 15);
                    }
                    if (x0 + 8 * m <= w) {
                        for (int q = 0; q < m; q++) FOVEAL_V8_AT(row + x0 + 8 * q) = line[q];
                    } else {  // the row's last tiles overhang the output
                        float tmp[32];
                        for (int q = 0; q < m; q++) FOVEAL_V8_AT(tmp + 8 * q) = line[q];
                        for (long x = x0; x < w; x++) row[x] = tmp[x - x0];
                    }
                }
            }
        }
    }
}

/// `foveal_winograd_block` for one m and r.
FOVEAL_WINOGRAD_TARGET __attribute__((always_inline))
static inline void foveal_winograd_block_mr(int m, int r, const float *restrict image, long c, long h, long w,
                                            const float *restrict u, long kk, long k0, long k1, const float *restrict bias,
                                            int relu, long ty0, long ty1, float *restrict v, float *restrict mm, long ldv,
                                            float *restrict split, float *restrict out) {
    int points = foveal_winograd_points(m, r);
    long tw = (w + m - 1) / m, n = (ty1 - ty0) * tw;
    long vplane = foveal_winograd_plane(c, ldv), mplane = foveal_winograd_plane(kk, ldv);
    foveal_winograd_input(m, r, image, c, h, w, ty0, ty1, v, ldv, split);
    // The kernel reads a partial strip's 16 columns whole: what lies past the tiles must be finite.
    long filled = foveal_winograd_block_columns(ty1 - ty0, tw), strip_end = (n + 15) / 16 * 16;
    for (int xi = 0; xi < points && strip_end > filled; xi++)
        for (long row = 0; row < c; row++)
            for (long j = filled; j < strip_end; j++) v[xi * vplane + row * ldv + j] = 0;
    // One slab of all C steps when the block is a single strip: that strip of V (C rows of 64
    // bytes) stays in L1 anyway, and U is then read in one pass. In slabs of 256, a 384-channel
    // layer read each panel of U in two pieces, a pass apart, while U (read once a frame) comes from
    // memory: one thread, cold, 2.56 against 2.27 ms for 384 -> 256 filters, 1.73 against 1.10 ms
    // for 384 -> 128.
    long uplane = foveal_packed_filters_count(kk, c), slab = n <= 16 ? c : FOVEAL_GEMM_KC;
    for (int xi = 0; xi < points; xi++)
        foveal_gemm_packed_slabs(u + xi * uplane + k0 * c, v + xi * vplane, ldv, k1 - k0, n, c,
                                 mm + xi * mplane + k0 * ldv, ldv, 0, 0, 1, slab);
    foveal_winograd_output(m, r, mm, kk, ldv, k0, k1, h, w, ty0, ty1, bias, relu, out);
}

/// Filters `k0 ..< k1` (k0 a multiple of 6, gemm.h's panel) for tile rows `ty0 ..< ty1` of one
/// image (C, H, W) into `out` (K, H, W), for F(m x m, r x r), (m, r) = (2, 3), (4, 3) or (2, 5):
/// the input transform, one product per point on the packed U (`foveal_winograd_pack_filters`),
/// the output transform. `v` and `mm`: (m + r - 1)² planes (`foveal_winograd_plane`) of C and K
/// rows, ldv at least the block's tiles rounded up to 16; `split`: `foveal_winograd_split_count(m,
/// r, tiles_w)` floats. AVX2 and FMA: only where foveal_has_avx2_fma() said 1. (Each variant gets
/// its own copy of the loops, its divisions by m and unrolled transforms resolved when compiled.)
FOVEAL_WINOGRAD_TARGET
static inline void foveal_winograd_block(int m, int r, const float *restrict image, long c, long h, long w,
                                         const float *restrict u, long kk, long k0, long k1, const float *restrict bias,
                                         int relu, long ty0, long ty1, float *restrict v, float *restrict mm, long ldv,
                                         float *restrict split, float *restrict out) {
    if (r == 5) foveal_winograd_block_mr(2, 5, image, c, h, w, u, kk, k0, k1, bias, relu, ty0, ty1, v, mm, ldv, split, out);
    else if (m == 2) foveal_winograd_block_mr(2, 3, image, c, h, w, u, kk, k0, k1, bias, relu, ty0, ty1, v, mm, ldv, split, out);
    else foveal_winograd_block_mr(4, 3, image, c, h, w, u, kk, k0, k1, bias, relu, ty0, ty1, v, mm, ldv, split, out);
}
