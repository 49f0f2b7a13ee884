/* Reductions, Softmax and LayerNormalization over packed rows. Sums run
 * in 32 independent float partial sums (a loop the compiler vectorises:
 * one running sum would be a chain it may not reorder); a reduction over
 * a middle axis adds whole rows into the output instead. */
#include <math.h>
#include <string.h>

#include "backends/xnnpack/xnn_kernels.h"
#include "backends/xnnpack/xnn_kmath.h"

#define LANES 32

XNNBE_VEC
static float row_sum(const float *restrict x, size_t n) {
    float acc[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) acc[j] += x[i + j];
    float s = 0;
    for (; i < n; i++) s += x[i];
    for (int j = 0; j < LANES; j++) s += acc[j];
    return s;
}

XNNBE_VEC
static float row_sumsq(const float *restrict x, float mean, size_t n) {
    float acc[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) {
            float d = x[i + j] - mean;
            acc[j] += d * d;
        }
    float s = 0;
    for (; i < n; i++) s += (x[i] - mean) * (x[i] - mean);
    for (int j = 0; j < LANES; j++) s += acc[j];
    return s;
}

XNNBE_VEC
static float row_max(const float *restrict x, size_t n, int is_min) {
    float acc[LANES];
    for (int j = 0; j < LANES; j++) acc[j] = x[0];
    size_t i = 0;
    if (is_min) {
        for (; i + LANES <= n; i += LANES)
            for (int j = 0; j < LANES; j++) acc[j] = x[i + j] < acc[j] ? x[i + j] : acc[j];
    } else {
        for (; i + LANES <= n; i += LANES)
            for (int j = 0; j < LANES; j++) acc[j] = x[i + j] > acc[j] ? x[i + j] : acc[j];
    }
    float m = acc[0];
    for (int j = 1; j < LANES; j++)
        m = is_min ? (acc[j] < m ? acc[j] : m) : (acc[j] > m ? acc[j] : m);
    for (; i < n; i++) m = is_min ? (x[i] < m ? x[i] : m) : (x[i] > m ? x[i] : m);
    return m;
}

/* dst[i] (op)= src[i] for a row of n. */
XNNBE_VEC
static void row_accumulate(float *restrict dst, const float *restrict src, size_t n, int op) {
    size_t i;
    switch (op) {
    case XNNBE_RMAX:
        for (i = 0; i < n; i++) dst[i] = src[i] > dst[i] ? src[i] : dst[i];
        break;
    case XNNBE_RMIN:
        for (i = 0; i < n; i++) dst[i] = src[i] < dst[i] ? src[i] : dst[i];
        break;
    case XNNBE_RSUMSQ:
    case XNNBE_RL2:
        for (i = 0; i < n; i++) dst[i] += src[i] * src[i];
        break;
    default:
        for (i = 0; i < n; i++) dst[i] += src[i];
    }
}

static void reduce_task(void *p, size_t start, size_t count) {
    const xnnbe_reduce_args *a = p;
    for (size_t it = start; it < start + count; it++) {
        if (a->inner == 1) {
            const float *x = a->src + it * a->red;
            float v;
            switch (a->op) {
            case XNNBE_RMAX:
            case XNNBE_RMIN:
                v = row_max(x, a->red, a->op == XNNBE_RMIN);
                break;
            case XNNBE_RSUMSQ:
            case XNNBE_RL2:
                v = row_sumsq(x, 0.0f, a->red);
                break;
            default:
                v = row_sum(x, a->red);
            }
            if (a->op == XNNBE_RMEAN) v /= (float)a->red;
            if (a->op == XNNBE_RL2) v = sqrtf(v);
            a->dst[it] = v;
            continue;
        }
        const float *x = a->src + it * a->red * a->inner;
        float *d = a->dst + it * a->inner;
        if (a->op == XNNBE_RSUMSQ || a->op == XNNBE_RL2) {
            memset(d, 0, a->inner * sizeof(float));
            for (size_t r = 0; r < a->red; r++)
                row_accumulate(d, x + r * a->inner, a->inner, a->op);
        } else {
            memcpy(d, x, a->inner * sizeof(float));
            for (size_t r = 1; r < a->red; r++)
                row_accumulate(d, x + r * a->inner, a->inner, a->op);
        }
        if (a->op == XNNBE_RMEAN) {
            float s = 1.0f / (float)a->red;
            for (size_t i = 0; i < a->inner; i++) d[i] *= s;
        } else if (a->op == XNNBE_RL2) {
            for (size_t i = 0; i < a->inner; i++) d[i] = sqrtf(d[i]);
        }
    }
}

void xnnbe_k_reduce(const void *args, pthreadpool_t pool) {
    const xnnbe_reduce_args *a = args;
    xnnbe_parallel(pool, a->outer, a->red * a->inner, reduce_task, (void *)a);
}

/* ---- Softmax ---- */

XNNBE_VEC
static float exp_row(float *restrict d, const float *restrict x, float shift, size_t n) {
    for (size_t i = 0; i < n; i++) d[i] = xnnbe_exp_approx(x[i] - shift);
    return row_sum(d, n);
}

XNNBE_VEC
static void scale_row(float *restrict d, float s, size_t n) {
    for (size_t i = 0; i < n; i++) d[i] *= s;
}

static void softmax_task(void *p, size_t start, size_t count) {
    const xnnbe_softmax_args *a = p;
    for (size_t r = start; r < start + count; r++) {
        const float *x = a->src + r * a->n;
        float *d = a->dst + r * a->n;
        float m = row_max(x, a->n, 0);
        float s = exp_row(d, x, m, a->n);
        if (!a->log) {
            scale_row(d, 1.0f / s, a->n);
            continue;
        }
        float shift = m + logf(s);
        for (size_t i = 0; i < a->n; i++) d[i] = x[i] - shift;
    }
}

void xnnbe_k_softmax(const void *args, pthreadpool_t pool) {
    const xnnbe_softmax_args *a = args;
    xnnbe_parallel(pool, a->rows, a->n * 4, softmax_task, (void *)a);
}

/* ---- LayerNormalization ---- */

XNNBE_VEC
static void norm_row(float *restrict d, const float *restrict x, const float *restrict g,
                     const float *restrict b, float mean, float rstd, size_t n) {
    if (b)
        for (size_t i = 0; i < n; i++) d[i] = (x[i] - mean) * rstd * g[i] + b[i];
    else
        for (size_t i = 0; i < n; i++) d[i] = (x[i] - mean) * rstd * g[i];
}

static void layernorm_task(void *p, size_t start, size_t count) {
    const xnnbe_layernorm_args *a = p;
    for (size_t r = start; r < start + count; r++) {
        const float *x = a->src + r * a->n;
        float mean = row_sum(x, a->n) / (float)a->n;
        float var = row_sumsq(x, mean, a->n) / (float)a->n;
        norm_row(a->dst + r * a->n, x, a->gamma, a->beta, mean, 1.0f / sqrtf(var + a->eps), a->n);
    }
}

void xnnbe_k_layernorm(const void *args, pthreadpool_t pool) {
    const xnnbe_layernorm_args *a = args;
    xnnbe_parallel(pool, a->rows, a->n * 3, layernorm_task, (void *)a);
}
