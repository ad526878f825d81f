// What the processor can do, asked once by the Swift side, which then picks a kernel: the binary
// is built for any x86-64, so the vector kernels carry their own target attributes and run only
// where these said 1. Other architectures get 0 and the portable paths.
#pragma once
#if defined(__x86_64__)
#include <cpuid.h>

/// 1 when the processor has AVX and the OS saves its registers on a context switch.
static inline int foveal_has_avx(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_AVX) || !(c & bit_OSXSAVE)) return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 6) == 6;
}

/// 1 when the processor converts halves in hardware (F16C, with AVX).
static inline int foveal_has_f16c(void) {
    unsigned a, b, c, d;
    return foveal_has_avx() && __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
}

/// 1 when the processor has AVX2.
static inline int foveal_has_avx2(void) {
    unsigned a, b, c, d;
    return foveal_has_avx() && __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_AVX2);
}

/// 1 when the processor has AVX2, FMA and F16C: the 16-bit matrix-vector kernel's needs.
static inline int foveal_has_avx2_fma(void) {
    unsigned a, b, c, d;
    return foveal_has_f16c() && foveal_has_avx2() && __get_cpuid(1, &a, &b, &c, &d) && (c & bit_FMA);
}
#else
static inline int foveal_has_avx(void) { return 0; }
static inline int foveal_has_f16c(void) { return 0; }
static inline int foveal_has_avx2(void) { return 0; }
static inline int foveal_has_avx2_fma(void) { return 0; }
#endif

/// Asks for the cache line holding `p` ahead of its read (no fault if `p` is not mapped).
static inline void foveal_prefetch(const void *p) { __builtin_prefetch(p); }
