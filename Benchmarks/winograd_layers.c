// The paper model's 3x3 and 5x5 stride-1 layers alone, one thread: Winograd (CKernels/winograd.h, as
// Conv2D runs it: blocks of tile rows, each through the input transform, the products and the
// output transform) against the packed kernel of gemm.h alone on the input unfolded beforehand (the
// im2col path without its unfolding, 10-25% of its time in the model), each checked against a
// float64 sum. 3x3 layers: F(2x2, 3x3) and F(4x4, 3x3); the 5x5 one: F(2x2, 5x5). Best of 20
// calls; `cold` reads 256 MB between calls, as the fully connected layers' weights do between a
// frame's convolutions, so the transformed filters come from memory.
//
// Usage: clang -O2 -mavx2 -mfma -I Sources/CKernels Benchmarks/winograd_layers.c -o /tmp/wl -lm && /tmp/wl [cold]
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "winograd.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static long row_stride(long cols) {  // as PackedFilters.rowStride: an odd number of 16-column strips
    long strips = (cols + 15) / 16;
    return (strips % 2 ? strips : strips + 1) * 16;
}

static float *junk;
static volatile float sink;
static void evict(void) {
    float s = 0;
    for (long i = 0; i < (64l << 20); i += 16) s += junk[i];
    sink = s;
}

static double max_error(const float *y, const double *ref, long n) {
    double e = 0;
    for (long i = 0; i < n; i++) e = fmax(e, fabs(y[i] - ref[i]));
    return e;
}

int main(int argc, char **argv) {
    int cold = argc > 1 && strcmp(argv[1], "cold") == 0;
    if (cold) {
        junk = malloc(sizeof(float) << 26);
        for (long i = 0; i < (64l << 20); i++) junk[i] = 1;
    }
    // channels in, filters, size, kernel, then (m, tile rows a block) for each variant timed
    // (Conv2D.WinogradPlan's choice of rows on 2 workers).
    const long layers[][8] = {{64, 64, 57, 3, 2, 2, 4, 4},   {128, 128, 29, 3, 2, 2, 4, 4}, {192, 384, 13, 3, 2, 4, 4, 4},
                              {384, 256, 13, 3, 2, 4, 4, 4}, {256, 256, 13, 3, 2, 4, 4, 4}, {64, 192, 27, 5, 2, 4, 0, 0}};
    printf("layer (C -> K, size, kernel)   packed product   Winograd F(m x m, r x r): time (against the product), max error %s\n",
           cold ? "(cold)" : "");
    for (int l = 0; l < 6; l++) {
        long c = layers[l][0], k = layers[l][1], h = layers[l][2], w = h, r = layers[l][3], pad = (r - 1) / 2, taps = r * r;
        float *x = malloc(4 * c * h * w), *g = malloc(4 * k * c * taps), *bias = malloc(4 * k), *out = malloc(4 * k * h * w);
        srand(l + 1);
        for (long i = 0; i < c * h * w; i++) x[i] = (float)rand() / (float)RAND_MAX * 2 - 1;
        for (long i = 0; i < k * c * taps; i++) g[i] = ((float)rand() / (float)RAND_MAX * 2 - 1) * 0.1f;
        for (long i = 0; i < k; i++) bias[i] = 0.1f;
        double *ref = malloc(8 * k * h * w);
        for (long f = 0; f < k; f++)
            for (long i = 0; i < h; i++)
                for (long j = 0; j < w; j++) {
                    double s = bias[f];
                    for (long ch = 0; ch < c; ch++)
                        for (long a = 0; a < r; a++)
                            for (long b = 0; b < r; b++) {
                                long ii = i + a - pad, jj = j + b - pad;
                                if (ii >= 0 && jj >= 0 && ii < h && jj < w)
                                    s += (double)x[(ch * h + ii) * w + jj] * g[((f * c + ch) * r + a) * r + b];
                            }
                    ref[(f * h + i) * w + j] = s > 0 ? s : 0;
                }
        // The whole image unfolded once; only the packed kernel is timed.
        long n = h * w, ld = row_stride(n);
        float *col = aligned_alloc(64, 4 * taps * c * ld), *pk = aligned_alloc(64, 4 * foveal_packed_filters_count(k, taps * c));
        memset(col, 0, 4 * taps * c * ld);
        foveal_pack_filters(g, k, taps * c, taps * c, pk);
        for (long ch = 0; ch < c; ch++)
            for (long a = 0; a < r; a++)
                for (long b = 0; b < r; b++) {
                    float *row = col + ((ch * r + a) * r + b) * ld;
                    for (long i = 0; i < h; i++)
                        for (long j = 0; j < w; j++) {
                            long ii = i + a - pad, jj = j + b - pad;
                            row[i * w + j] = ii < 0 || jj < 0 || ii >= h || jj >= w ? 0 : x[(ch * h + ii) * w + jj];
                        }
                }
        double direct = 1e9;
        for (int rep = 0; rep < 20; rep++) {
            if (cold) evict();
            double t0 = now();
            foveal_gemm_packed(pk, col, ld, k, n, taps * c, out, n, bias, 1, 1);
            direct = fmin(direct, now() - t0);
        }
        if (max_error(out, ref, k * h * w) > 1e-3) printf("(the product is off by %.0e) ", max_error(out, ref, k * h * w));
        printf("%3ld -> %3ld, %2ldx%-2ld, %ldx%ld        %6.3f ms        ", c, k, h, w, r, r, direct * 1e3);
        for (int variant = 0; variant < 2 && layers[l][4 + 2 * variant] > 0; variant++) {
            int m = (int)layers[l][4 + 2 * variant];
            long rows = layers[l][5 + 2 * variant], tw = (w + m - 1) / m, th = (h + m - 1) / m, ldv = row_stride(rows * tw);
            int points = foveal_winograd_points(m, (int)r);
            float *u = aligned_alloc(64, 4 * foveal_winograd_filters_count(m, (int)r, k, c));
            float *v = aligned_alloc(64, 4 * points * foveal_winograd_plane(c, ldv));
            float *mm = aligned_alloc(64, 4 * points * foveal_winograd_plane(k, ldv));
            float *split = malloc(4 * foveal_winograd_split_count(m, (int)r, tw));
            foveal_winograd_pack_filters(m, (int)r, g, k, c, u);
            double best = 1e9;
            for (int rep = 0; rep < 20; rep++) {
                if (cold) evict();
                double t0 = now();
                for (long ty = 0; ty < th; ty += rows)
                    foveal_winograd_block(m, (int)r, x, c, h, w, u, k, 0, k, bias, 1, ty, ty + rows < th ? ty + rows : th, v,
                                          mm, ldv, split, out);
                best = fmin(best, now() - t0);
            }
            printf("F(%dx%d): %6.3f ms (%.2fx), %.0e   ", m, m, best * 1e3, best / direct, max_error(out, ref, k * h * w));
            free(u); free(v); free(mm); free(split);
        }
        printf("\n");
        free(x); free(g); free(bias); free(out); free(ref); free(col); free(pk);
    }
    return 0;
}
