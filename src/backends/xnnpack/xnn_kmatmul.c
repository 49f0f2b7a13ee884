/* Batched MatMul of two computed tensors (attention's Q K^T and P V; a
 * MatMul with constant weights runs in XNNPACK as a fully connected layer).
 * Each run packs every B into panels of XNNBE_NR columns (so B's strides,
 * a transpose included, cost nothing in the inner loop), then each task
 * computes XNNBE_MR rows x XNNBE_NR columns in registers: the fixed-size
 * inner loop over the panel's columns is what the compiler vectorises. */
#include <string.h>

#include "backends/xnnpack/xnn_kernels.h"

static size_t panels_of(size_t n) {
    return (n + XNNBE_NR - 1) / XNNBE_NR;
}

static void pack_task(void *p, size_t start, size_t count) {
    const xnnbe_matmul_args *a = p;
    size_t np = panels_of(a->N);
    for (size_t it = start; it < start + count; it++) {
        size_t bi = it / np, jp = it % np;
        const float *b = a->b + a->b_off[bi];
        float *dst = a->panels + (bi * np + jp) * a->K * XNNBE_NR;
        size_t j0 = jp * XNNBE_NR, w = a->N - j0 < XNNBE_NR ? a->N - j0 : XNNBE_NR;
        for (size_t k = 0; k < a->K; k++) {
            float *d = dst + k * XNNBE_NR;
            const float *s = b + (int64_t)k * a->sbk + (int64_t)j0 * a->sbn;
            if (a->sbn == 1) {
                memcpy(d, s, w * sizeof(float));
            } else {
                for (size_t j = 0; j < w; j++) d[j] = s[(int64_t)j * a->sbn];
            }
            for (size_t j = w; j < XNNBE_NR; j++) d[j] = 0.0f;
        }
    }
}

/* acc = A[rows] * panel, rows clamped to the last one (their results are
 * not stored). */
XNNBE_VEC
static void micro(const xnnbe_matmul_args *a, const float *restrict A, const float *restrict P,
                  size_t i0, float *restrict o, size_t j0) {
    float acc[XNNBE_MR][XNNBE_NR];
    memset(acc, 0, sizeof acc);
    const float *row[XNNBE_MR];
    for (int r = 0; r < XNNBE_MR; r++) {
        size_t i = i0 + (size_t)r < a->M ? i0 + (size_t)r : a->M - 1;
        row[r] = A + (int64_t)i * a->sam;
    }
    for (size_t k = 0; k < a->K; k++) {
        const float *restrict b = P + k * XNNBE_NR;
        for (int r = 0; r < XNNBE_MR; r++) {
            float x = row[r][(int64_t)k * a->sak];
            for (int j = 0; j < XNNBE_NR; j++) acc[r][j] += x * b[j];
        }
    }
    size_t w = a->N - j0 < XNNBE_NR ? a->N - j0 : XNNBE_NR;
    for (int r = 0; r < XNNBE_MR && i0 + (size_t)r < a->M; r++)
        memcpy(o + (i0 + (size_t)r) * a->N + j0, acc[r], w * sizeof(float));
}

static void compute_task(void *p, size_t start, size_t count) {
    const xnnbe_matmul_args *a = p;
    size_t mb = (a->M + XNNBE_MR - 1) / XNNBE_MR, np = panels_of(a->N);
    for (size_t it = start; it < start + count; it++) {
        size_t bi = it / mb, ib = it % mb;
        const float *A = a->a + a->a_off[bi];
        float *o = a->o + bi * a->M * a->N;
        for (size_t jp = 0; jp < np; jp++)
            micro(a, A, a->panels + (bi * np + jp) * a->K * XNNBE_NR, ib * XNNBE_MR, o,
                  jp * XNNBE_NR);
    }
}

void xnnbe_k_matmul(const void *args, pthreadpool_t pool) {
    const xnnbe_matmul_args *a = args;
    size_t np = panels_of(a->N), mb = (a->M + XNNBE_MR - 1) / XNNBE_MR;
    xnnbe_parallel(pool, a->nb * np, a->K * XNNBE_NR, pack_task, (void *)a);
    xnnbe_parallel(pool, a->nb * mb, XNNBE_MR * a->K * np * XNNBE_NR, compute_task, (void *)a);
}
