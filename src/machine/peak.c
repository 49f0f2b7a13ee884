/* The machine's compute limit, measured: a register-only multiply-add loop
 * on the widest vector unit (selected at run time with target attributes, so
 * the binary stays portable), and a large sgemm from OpenBLAS. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif
#ifdef CALMA_HAVE_OPENBLAS
#include <cblas.h>
#endif

#include "machine/machine.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Each kernel runs `iters` rounds of 12 independent multiply-add chains
 * (enough to cover FMA latency times the number of FMA units) in named
 * variables, so the accumulators stay in registers: an array here would be
 * kept on the stack at -O2 and the loop would measure store bandwidth. It
 * returns a value derived from the accumulators so the work cannot be
 * dropped, and the flop count per round through *flops. */
#define FMA12(F)                                                                                   \
    do {                                                                                           \
        a0 = F(a0, x, y);                                                                          \
        a1 = F(a1, x, y);                                                                          \
        a2 = F(a2, x, y);                                                                          \
        a3 = F(a3, x, y);                                                                          \
        a4 = F(a4, x, y);                                                                          \
        a5 = F(a5, x, y);                                                                          \
        a6 = F(a6, x, y);                                                                          \
        a7 = F(a7, x, y);                                                                          \
        a8 = F(a8, x, y);                                                                          \
        a9 = F(a9, x, y);                                                                          \
        a10 = F(a10, x, y);                                                                        \
        a11 = F(a11, x, y);                                                                        \
    } while (0)
#define SUM12(ADD)                                                                                 \
    ADD(ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7))),                         \
        ADD(ADD(a8, a9), ADD(a10, a11)))

#if defined(__x86_64__)
__attribute__((target("avx512f"))) static float fma_avx512(long iters, double *flops) {
    __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
    __m512 a0 = _mm512_set1_ps(0), a1 = _mm512_set1_ps(1), a2 = _mm512_set1_ps(2),
           a3 = _mm512_set1_ps(3), a4 = _mm512_set1_ps(4), a5 = _mm512_set1_ps(5),
           a6 = _mm512_set1_ps(6), a7 = _mm512_set1_ps(7), a8 = _mm512_set1_ps(8),
           a9 = _mm512_set1_ps(9), a10 = _mm512_set1_ps(10), a11 = _mm512_set1_ps(11);
    for (long k = 0; k < iters; k++) FMA12(_mm512_fmadd_ps);
    *flops = 12.0 * 16 * 2;
    return _mm512_reduce_add_ps(SUM12(_mm512_add_ps));
}

__attribute__((target("avx2,fma"))) static float fma_avx2(long iters, double *flops) {
    __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
    __m256 a0 = _mm256_set1_ps(0), a1 = _mm256_set1_ps(1), a2 = _mm256_set1_ps(2),
           a3 = _mm256_set1_ps(3), a4 = _mm256_set1_ps(4), a5 = _mm256_set1_ps(5),
           a6 = _mm256_set1_ps(6), a7 = _mm256_set1_ps(7), a8 = _mm256_set1_ps(8),
           a9 = _mm256_set1_ps(9), a10 = _mm256_set1_ps(10), a11 = _mm256_set1_ps(11);
    for (long k = 0; k < iters; k++) FMA12(_mm256_fmadd_ps);
    float out[8];
    _mm256_storeu_ps(out, SUM12(_mm256_add_ps));
    *flops = 12.0 * 8 * 2;
    return out[0] + out[7];
}
#endif

#define SCALAR_FMA(a, x, y) ((a) * (x) + (y))
#define SCALAR_ADD(a, b) ((a) + (b))
static float fma_scalar(long iters, double *flops) {
    float x = 0.999999f, y = 1e-7f;
    float a0 = 0, a1 = 1, a2 = 2, a3 = 3, a4 = 4, a5 = 5, a6 = 6, a7 = 7, a8 = 8, a9 = 9, a10 = 10,
          a11 = 11;
    for (long k = 0; k < iters; k++) FMA12(SCALAR_FMA);
    *flops = 12.0 * 2;
    return SUM12(SCALAR_ADD);
}

typedef float (*fma_fn)(long, double *);

static fma_fn pick_kernel(void) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f")) return fma_avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return fma_avx2;
#endif
    return fma_scalar;
}

typedef struct peak_job {
    fma_fn fn;
    double seconds;
    double gflops; /* out */
    float sink;
} peak_job;

/* Repeats blocks of the kernel for the given time; keeps the best block. */
static void *peak_thread(void *arg) {
    peak_job *j = arg;
    double best = 0, start = now();
    long iters = 1 << 16;
    while (now() - start < j->seconds) {
        double flops, t0 = now();
        j->sink += j->fn(iters, &flops);
        double dt = now() - t0;
        if (dt < 1e-3) {
            iters *= 2;
            continue;
        }
        double g = flops * (double)iters / dt / 1e9;
        if (g > best) best = g;
    }
    j->gflops = best;
    return NULL;
}

double machine_peak_gflops(int threads, double seconds) {
    if (threads < 1) threads = 1;
    if (threads > 256) threads = 256;
    pthread_t tid[256];
    peak_job job[256];
    fma_fn fn = pick_kernel();
    int started = 0;
    for (int t = 0; t < threads; t++) {
        job[t] = (peak_job){fn, seconds, 0, 0};
        if (t == 0) continue; /* thread 0 is this one */
        if (pthread_create(&tid[t], NULL, peak_thread, &job[t]) == 0)
            started++;
        else
            job[t].gflops = -1;
    }
    peak_thread(&job[0]);
    double total = job[0].gflops;
    for (int t = 1; t < threads; t++) {
        if (job[t].gflops < 0) continue;
        pthread_join(tid[t], NULL);
        total += job[t].gflops;
    }
    (void)started;
    return total;
}

double machine_sgemm_gflops(int threads, int n) {
#ifdef CALMA_HAVE_OPENBLAS
    if (n < 64) n = 64;
    size_t nn = (size_t)n * (size_t)n;
    float *a = malloc(nn * sizeof(float)), *b = malloc(nn * sizeof(float)),
          *c = malloc(nn * sizeof(float));
    if (!a || !b || !c) {
        free(a);
        free(b);
        free(c);
        return -1;
    }
    for (size_t i = 0; i < nn; i++) {
        a[i] = (float)(i % 7) * 0.1f;
        b[i] = (float)(i % 5) * 0.1f;
    }
    openblas_set_num_threads(threads < 1 ? 1 : threads);
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c,
                    n);
        double dt = now() - t0;
        double g = 2.0 * (double)n * (double)n * (double)n / dt / 1e9;
        if (g > best) best = g;
    }
    free(a);
    free(b);
    free(c);
    return best;
#else
    (void)threads;
    (void)n;
    return -1;
#endif
}
