/* bench_isa_rates [SECONDS]
 *
 * How many multiply-adds per second one core does with each AVX-512 dot
 * product instruction oneDNN's kernels are made of: vfmadd231ps (float32, 16
 * per instruction), vdpbf16ps (bfloat16 pairs, 32) and vpdpbusd (uint8 x
 * int8 quads, 64). Each runs 12 independent accumulator chains held in
 * registers, so the figure is the instruction's throughput, not its
 * latency. It says what a reduced-precision conversion can gain on this CPU
 * at best: oneDNN's bf16 convolutions are vdpbf16ps loops, its int8 ones
 * vpdpbusd loops. Printed, not asserted; run on a quiet machine. */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define KEEP(a)                                                                                    \
    __asm__ volatile(""                                                                            \
                     : "+v"(a##0), "+v"(a##1), "+v"(a##2), "+v"(a##3), "+v"(a##4), "+v"(a##5),     \
                       "+v"(a##6), "+v"(a##7), "+v"(a##8), "+v"(a##9), "+v"(a##10), "+v"(a##11))

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* rate_NAME(seconds): instructions per second of STEP_NAME(i) over about
 * `seconds`, on the 12 accumulators DECL_NAME(i) declares, with operands b
 * and c declared by OPERANDS; SINK reduces two accumulators so the loop is
 * kept. */
#define RATE_FN(NAME, OPERANDS, SINK)                                                              \
    static double rate_##NAME(double seconds) {                                                    \
        OPERANDS;                                                                                  \
        CHAINS(DECL_##NAME)                                                                        \
        long n = 0;                                                                                \
        double t0 = now(), t;                                                                      \
        do {                                                                                       \
            for (int k = 0; k < 100000; k++) {                                                     \
                CHAINS(STEP_##NAME)                                                                \
                KEEP(a);                                                                           \
            }                                                                                      \
            n += 100000;                                                                           \
        } while ((t = now()) - t0 < seconds);                                                      \
        volatile double sink = (double)(SINK);                                                     \
        (void)sink;                                                                                \
        return 12.0 * (double)n / (t - t0);                                                        \
    }

#define DECL_fma(i) __m512 a##i = _mm512_set1_ps((float)i);
#define STEP_fma(i) a##i = _mm512_fmadd_ps(a##i, b, c);
RATE_FN(fma, __m512 b = _mm512_set1_ps(1.0f);
        __m512 c = _mm512_setzero_ps(), _mm512_reduce_add_ps(_mm512_add_ps(a0, a11)))

#define DECL_bf16(i) __m512 a##i = _mm512_set1_ps((float)i);
#define STEP_bf16(i) a##i = _mm512_dpbf16_ps(a##i, b, c);
RATE_FN(bf16, __m512bh b = (__m512bh)_mm512_setzero_si512();
        __m512bh c = b, _mm512_reduce_add_ps(_mm512_add_ps(a0, a11)))

#define DECL_vnni(i) __m512i a##i = _mm512_set1_epi32(i);
#define STEP_vnni(i) a##i = _mm512_dpbusd_epi32(a##i, b, c);
RATE_FN(vnni, __m512i b = _mm512_setzero_si512();
        __m512i c = b, _mm512_reduce_add_epi32(_mm512_add_epi32(a0, a11)))

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 0.5;
    if (!(seconds > 0)) {
        fprintf(stderr, "usage: %s [SECONDS per instruction, default 0.5]\n", argv[0]);
        return 2;
    }
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f")) {
        printf("this CPU has no AVX-512: nothing to measure\n");
        return 0;
    }
    double f = rate_fma(seconds);
    printf("%-12s %6.2f G instructions/s  %7.1f G multiply-adds/s  1.00x float32\n", "vfmadd231ps",
           f * 1e-9, 16 * f * 1e-9);
    if (__builtin_cpu_supports("avx512bf16")) {
        double b = rate_bf16(seconds);
        printf("%-12s %6.2f G instructions/s  %7.1f G multiply-adds/s  %.2fx float32\n",
               "vdpbf16ps", b * 1e-9, 32 * b * 1e-9, 32 * b / (16 * f));
    } else {
        printf("%-12s not on this CPU (no AVX-512 BF16)\n", "vdpbf16ps");
    }
    if (__builtin_cpu_supports("avx512vnni")) {
        double v = rate_vnni(seconds);
        printf("%-12s %6.2f G instructions/s  %7.1f G multiply-adds/s  %.2fx float32\n", "vpdpbusd",
               v * 1e-9, 64 * v * 1e-9, 64 * v / (16 * f));
    } else {
        printf("%-12s not on this CPU (no AVX-512 VNNI)\n", "vpdpbusd");
    }
    return 0;
}
