// The paper model's 3x3 stride-1 layers alone, one thread: Winograd's F(2x2, 3x3) and F(4x4, 3x3)
// (CKernels/winograd.h, as Conv2D runs them: blocks of tile rows, each through the input transform,
// the products and the output transform) against the packed kernel of gemm.h alone on the input
// unfolded beforehand (the im2col path without its unfolding, 10-25% of its time in the model), each
// checked against a float64 sum. Best of 20 calls; `cold` reads 256 MB between calls, as the fully
// connected layers' weights do between a frame's convolutions, so the transformed filters come
// from memory.
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
    // channels in, filters, size, tile rows a block for F(2x2) and F(4x4) (Conv2D.WinogradPlan's choice on 2 workers)
    const long layers[][6] = {{64, 64, 57, 2, 4}, {128, 128, 29, 2, 4}, {192, 384, 13, 4, 4}, {384, 256, 13, 4, 4}, {256, 256, 13, 4, 4}};
    printf("layer (C -> K, size)     packed product  F(2x2, 3x3)          F(4x4, 3x3)          %s\n", cold ? "(cold)" : "");
    for (int l = 0; l < 5; l++) {
        long c = layers[l][0], k = layers[l][1], h = layers[l][2], w = h;
        float *x = malloc(4 * c * h * w), *g = malloc(4 * k * c * 9), *bias = malloc(4 * k), *out = malloc(4 * k * h * w);
        srand(l + 1);
        for (long i = 0; i < c * h * w; i++) x[i] = (float)rand() / (float)RAND_MAX * 2 - 1;
        for (long i = 0; i < k * c * 9; i++) g[i] = ((float)rand() / (float)RAND_MAX * 2 - 1) * 0.1f;
        for (long i = 0; i < k; i++) bias[i] = 0.1f;
        double *ref = malloc(8 * k * h * w);
        for (long f = 0; f < k; f++)
            for (long i = 0; i < h; i++)
                for (long j = 0; j < w; j++) {
                    double s = bias[f];
                    for (long ch = 0; ch < c; ch++)
                        for (int a = 0; a < 3; a++)
                            for (int b = 0; b < 3; b++) {
                                long ii = i + a - 1, jj = j + b - 1;
                                if (ii >= 0 && jj >= 0 && ii < h && jj < w)
                                    s += (double)x[(ch * h + ii) * w + jj] * g[((f * c + ch) * 3 + a) * 3 + b];
                            }
                    ref[(f * h + i) * w + j] = s > 0 ? s : 0;
                }
        // The whole image unfolded once; only the packed kernel is timed.
        long n = h * w, ld = row_stride(n);
        float *col = aligned_alloc(64, 4 * 9 * c * ld), *pk = aligned_alloc(64, 4 * foveal_packed_filters_count(k, 9 * c));
        memset(col, 0, 4 * 9 * c * ld);
        foveal_pack_filters(g, k, 9 * c, 9 * c, pk);
        for (long ch = 0; ch < c; ch++)
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++) {
                    float *row = col + ((ch * 3 + a) * 3 + b) * ld;
                    for (long i = 0; i < h; i++)
                        for (long j = 0; j < w; j++) {
                            long ii = i + a - 1, jj = j + b - 1;
                            row[i * w + j] = ii < 0 || jj < 0 || ii >= h || jj >= w ? 0 : x[(ch * h + ii) * w + jj];
                        }
                }
        double direct = 1e9;
        for (int r = 0; r < 20; r++) {
            if (cold) evict();
            double t0 = now();
            foveal_gemm_packed(pk, col, ld, k, n, 9 * c, out, n, bias, 1, 1);
            direct = fmin(direct, now() - t0);
        }
        if (max_error(out, ref, k * h * w) > 1e-3) printf("(im2col off by %.0e) ", max_error(out, ref, k * h * w));
        printf("%3ld -> %3ld, %2ldx%-2ld        %6.3f ms      ", c, k, h, w, direct * 1e3);
        for (int m = 2; m <= 4; m += 2) {
            long rows = layers[l][m == 2 ? 3 : 4], tw = (w + m - 1) / m, th = (h + m - 1) / m, ldv = row_stride(rows * tw);
            int points = foveal_winograd_points(m);
            float *u = aligned_alloc(64, 4 * foveal_winograd_filters_count(m, k, c));
            float *v = aligned_alloc(64, 4 * points * foveal_winograd_plane(c, ldv));
            float *mm = aligned_alloc(64, 4 * points * foveal_winograd_plane(k, ldv));
            float *split = malloc(4 * foveal_winograd_split_count(m, tw));
            foveal_winograd_pack_filters(m, g, k, c, u);
            double best = 1e9;
            for (int r = 0; r < 20; r++) {
                if (cold) evict();
                double t0 = now();
                for (long ty = 0; ty < th; ty += rows)
                    foveal_winograd_block(m, x, c, h, w, u, k, 0, k, bias, 1, ty, ty + rows < th ? ty + rows : th, v, mm, ldv,
                                          split, out);
                best = fmin(best, now() - t0);
            }
            printf("%6.3f ms (%.2fx, err %.0e)  ", best * 1e3, best / direct, max_error(out, ref, k * h * w));
            free(u); free(v); free(mm); free(split);
        }
        printf("\n");
        free(x); free(g); free(bias); free(out); free(ref); free(col); free(pk);
    }
    return 0;
}
