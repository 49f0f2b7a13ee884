/* Element-wise kernels: unary ops, binary ops with broadcasting, Where.
 * Dims go in the output's memory order and merge where every operand is
 * contiguous; each row then runs one simple loop per op over unit-stride
 * (or scalar, for a broadcast) operands, which the compiler vectorises.
 * Operands with other strides are gathered into a small buffer first.
 * exp, erf and tanh are polynomial approximations written to vectorise
 * (libm's are scalar calls). */
#include <math.h>
#include <string.h>

#include "backends/xnnpack/xnn_kernels.h"
#include "backends/xnnpack/xnn_kmath.h"

#define CHUNK 4096 /* floats per task item: long rows split across threads */
#define GATHER 256

float xnnbe_expf(float x) {
    return xnnbe_exp_approx(x);
}
float xnnbe_erff(float x) {
    return xnnbe_erf_approx(x);
}
float xnnbe_tanhf(float x) {
    return xnnbe_tanh_approx(x);
}

/* ---- rows ---- */

XNNBE_VEC
static void unary_row(int op, float p0, float p1, float *restrict o, const float *restrict a,
                      size_t n) {
    size_t i;
    switch (op) {
    case XNNBE_COPY:
        memcpy(o, a, n * sizeof(float));
        break;
    case XNNBE_ERF:
        for (i = 0; i < n; i++) o[i] = xnnbe_erf_approx(a[i]);
        break;
    case XNNBE_GELU:
        for (i = 0; i < n; i++) o[i] = 0.5f * a[i] * (1.0f + xnnbe_erf_approx(a[i] * 0.70710678f));
        break;
    case XNNBE_SQRT:
        for (i = 0; i < n; i++) o[i] = sqrtf(a[i]);
        break;
    case XNNBE_RSQRT:
        for (i = 0; i < n; i++) o[i] = 1.0f / sqrtf(a[i]);
        break;
    case XNNBE_RECIP:
        for (i = 0; i < n; i++) o[i] = 1.0f / a[i];
        break;
    case XNNBE_SQUARE:
        for (i = 0; i < n; i++) o[i] = a[i] * a[i];
        break;
    case XNNBE_CUBE:
        for (i = 0; i < n; i++) o[i] = a[i] * a[i] * a[i];
        break;
    case XNNBE_POWC:
        for (i = 0; i < n; i++) o[i] = powf(a[i], p0);
        break;
    case XNNBE_EXP:
        for (i = 0; i < n; i++) o[i] = xnnbe_exp_approx(a[i]);
        break;
    case XNNBE_LOG:
        for (i = 0; i < n; i++) o[i] = logf(a[i]);
        break;
    case XNNBE_TANH:
        for (i = 0; i < n; i++) o[i] = xnnbe_tanh_approx(a[i]);
        break;
    case XNNBE_SIGMOID:
        for (i = 0; i < n; i++) o[i] = 1.0f / (1.0f + xnnbe_exp_approx(-a[i]));
        break;
    case XNNBE_RELU:
        for (i = 0; i < n; i++) o[i] = a[i] > 0.0f ? a[i] : 0.0f;
        break;
    case XNNBE_CLIP:
        for (i = 0; i < n; i++) {
            float v = a[i] < p0 ? p0 : a[i];
            o[i] = v > p1 ? p1 : v;
        }
        break;
    case XNNBE_LEAKY:
        for (i = 0; i < n; i++) o[i] = a[i] >= 0.0f ? a[i] : a[i] * p0;
        break;
    case XNNBE_ELU:
        for (i = 0; i < n; i++) o[i] = a[i] >= 0.0f ? a[i] : p0 * (xnnbe_exp_approx(a[i]) - 1.0f);
        break;
    case XNNBE_NEG:
        for (i = 0; i < n; i++) o[i] = -a[i];
        break;
    case XNNBE_ABS:
        for (i = 0; i < n; i++) o[i] = fabsf(a[i]);
        break;
    case XNNBE_FLOOR:
        for (i = 0; i < n; i++) o[i] = floorf(a[i]);
        break;
    case XNNBE_CEIL:
        for (i = 0; i < n; i++) o[i] = ceilf(a[i]);
        break;
    case XNNBE_HSIGMOID:
        for (i = 0; i < n; i++) {
            float v = p0 * a[i] + p1;
            v = v < 0.0f ? 0.0f : v;
            o[i] = v > 1.0f ? 1.0f : v;
        }
        break;
    case XNNBE_HSWISH:
        for (i = 0; i < n; i++) {
            float v = a[i] * (1.0f / 6) + 0.5f;
            v = v < 0.0f ? 0.0f : v;
            o[i] = a[i] * (v > 1.0f ? 1.0f : v);
        }
        break;
    case XNNBE_SOFTPLUS:
        for (i = 0; i < n; i++) o[i] = log1pf(expf(-fabsf(a[i]))) + (a[i] > 0 ? a[i] : 0.0f);
        break;
    default:
        break;
    }
}

static inline float binop(int op, float x, float y) {
    switch (op) {
    case XNNBE_ADD:
        return x + y;
    case XNNBE_SUB:
        return x - y;
    case XNNBE_MUL:
        return x * y;
    case XNNBE_DIV:
        return x / y;
    case XNNBE_MAX:
        return x > y ? x : y;
    case XNNBE_MIN:
        return x < y ? x : y;
    default:
        return powf(x, y);
    }
}

/* One loop per op and broadcast mode (0: both vectors, 1: b a scalar,
 * 2: a a scalar); the switch stays outside the loops. */
#define BIN_LOOPS(EXPR)                                                                            \
    do {                                                                                           \
        if (mode == 0)                                                                             \
            for (size_t i = 0; i < n; i++) {                                                       \
                float x = a[i], y = b[i];                                                          \
                o[i] = (EXPR);                                                                     \
            }                                                                                      \
        else if (mode == 1)                                                                        \
            for (size_t i = 0; i < n; i++) {                                                       \
                float x = a[i], y = b[0];                                                          \
                o[i] = (EXPR);                                                                     \
            }                                                                                      \
        else                                                                                       \
            for (size_t i = 0; i < n; i++) {                                                       \
                float x = a[0], y = b[i];                                                          \
                o[i] = (EXPR);                                                                     \
            }                                                                                      \
    } while (0)

XNNBE_VEC
static void binary_row(int op, float *restrict o, const float *restrict a, const float *restrict b,
                       size_t n, int mode) {
    switch (op) {
    case XNNBE_ADD:
        BIN_LOOPS(x + y);
        break;
    case XNNBE_SUB:
        BIN_LOOPS(x - y);
        break;
    case XNNBE_MUL:
        BIN_LOOPS(x * y);
        break;
    case XNNBE_DIV:
        BIN_LOOPS(x / y);
        break;
    case XNNBE_MAX:
        BIN_LOOPS(x > y ? x : y);
        break;
    case XNNBE_MIN:
        BIN_LOOPS(x < y ? x : y);
        break;
    default:
        for (size_t i = 0; i < n; i++)
            o[i] = binop(op, mode == 2 ? a[0] : a[i], mode == 1 ? b[0] : b[i]);
        break;
    }
}

/* ---- driver ---- */

void xnnbe_elt_prepare(xnnbe_elt_args *e, int op, float p0, float p1, const xnnbe_view *a,
                       const xnnbe_view *b, const xnnbe_view *o) {
    int order[XNNBE_KRANK];
    xnnbe_view_order(o, order);
    memset(e, 0, sizeof *e);
    e->op = op;
    e->p0 = p0;
    e->p1 = p1;
    e->a = a->data;
    e->b = b ? b->data : NULL;
    e->o = o->data;
    int r = 0;
    for (int i = 0; i < o->rank; i++) {
        int d = order[i];
        int64_t n = o->dims[d], sb = b ? b->st[d] : 0;
        if (n == 1) continue;
        if (r > 0 && e->sa[r - 1] == a->st[d] * n && e->sb[r - 1] == sb * n &&
            e->so[r - 1] == o->st[d] * n) {
            e->dims[r - 1] *= n;
            e->sa[r - 1] = a->st[d];
            e->sb[r - 1] = sb;
            e->so[r - 1] = o->st[d];
            continue;
        }
        e->dims[r] = n;
        e->sa[r] = a->st[d];
        e->sb[r] = sb;
        e->so[r] = o->st[d];
        r++;
    }
    if (r == 0) {
        e->dims[0] = 1;
        e->sa[0] = e->sb[0] = e->so[0] = 1;
        r = 1;
    }
    e->rank = r;
}

static void offsets(const xnnbe_elt_args *e, size_t row, int64_t *oa, int64_t *ob, int64_t *oo) {
    int64_t x = 0, y = 0, z = 0;
    for (int i = e->rank - 2; i >= 0; i--) {
        int64_t k = (int64_t)(row % (size_t)e->dims[i]);
        row /= (size_t)e->dims[i];
        x += k * e->sa[i];
        y += k * e->sb[i];
        z += k * e->so[i];
    }
    *oa = x;
    *ob = y;
    *oo = z;
}

/* A piece of one row: n elements from element j0. o is unit-stride (the
 * output is packed in its own order). */
static void piece(const xnnbe_elt_args *e, const float *a, const float *b, float *o, size_t n) {
    int last = e->rank - 1;
    int64_t sa = e->sa[last], sb = e->sb[last];
    float ta[GATHER], tb[GATHER];
    int unary = e->op < XNNBE_FIRST_BINARY;
    for (size_t j = 0; j < n; j += GATHER) {
        size_t m = n - j < GATHER ? n - j : GATHER;
        const float *pa = a + (int64_t)j * sa, *pb = b ? b + (int64_t)j * sb : NULL;
        int ma = sa == 1 ? 0 : sa == 0 ? 1 : 2, mb = !b ? 1 : sb == 1 ? 0 : sb == 0 ? 1 : 2;
        if (ma == 2) {
            for (size_t i = 0; i < m; i++) ta[i] = pa[(int64_t)i * sa];
            pa = ta;
            ma = 0;
        }
        if (mb == 2) {
            for (size_t i = 0; i < m; i++) tb[i] = pb[(int64_t)i * sb];
            pb = tb;
            mb = 0;
        }
        if (unary) {
            if (ma == 1) { /* a broadcast scalar */
                float v;
                unary_row(e->op, e->p0, e->p1, &v, pa, 1);
                for (size_t i = 0; i < m; i++) o[j + i] = v;
            } else {
                unary_row(e->op, e->p0, e->p1, o + j, pa, m);
            }
            continue;
        }
        if (ma == 1 && mb == 1) {
            float v = binop(e->op, pa[0], pb[0]);
            for (size_t i = 0; i < m; i++) o[j + i] = v;
            continue;
        }
        binary_row(e->op, o + j, pa, pb, m, ma == 1 ? 2 : mb == 1 ? 1 : 0);
    }
}

static void elt_task(void *p, size_t start, size_t count) {
    const xnnbe_elt_args *e = p;
    int last = e->rank - 1;
    size_t n = (size_t)e->dims[last], chunks = (n + CHUNK - 1) / CHUNK;
    for (size_t it = start; it < start + count; it++) {
        size_t row = it / chunks, j0 = (it % chunks) * CHUNK;
        size_t m = n - j0 < CHUNK ? n - j0 : CHUNK;
        int64_t oa, ob, oo;
        offsets(e, row, &oa, &ob, &oo);
        const float *a = e->a + oa + (int64_t)j0 * e->sa[last];
        const float *b = e->b ? e->b + ob + (int64_t)j0 * e->sb[last] : NULL;
        piece(e, a, b, e->o + oo + (int64_t)j0 * e->so[last], m);
    }
}

void xnnbe_k_elt(const void *args, pthreadpool_t pool) {
    const xnnbe_elt_args *e = args;
    size_t rows = 1;
    for (int i = 0; i < e->rank - 1; i++) rows *= (size_t)e->dims[i];
    size_t n = (size_t)e->dims[e->rank - 1], chunks = (n + CHUNK - 1) / CHUNK;
    xnnbe_parallel(pool, rows * chunks, n < CHUNK ? n : CHUNK, elt_task, (void *)e);
}

/* Where: rarely hot (masks in attention), so one plain loop. */
static void where_task(void *p, size_t start, size_t count) {
    const xnnbe_where_args *w = p;
    int last = w->rank - 1;
    int64_t n = w->dims[last];
    for (size_t row = start; row < start + count; row++) {
        int64_t c = 0, x = 0, y = 0, o = 0;
        size_t r = row;
        for (int i = last - 1; i >= 0; i--) {
            int64_t k = (int64_t)(r % (size_t)w->dims[i]);
            r /= (size_t)w->dims[i];
            c += k * w->sc[i];
            x += k * w->sx[i];
            y += k * w->sy[i];
            o += k * w->so[i];
        }
        for (int64_t j = 0; j < n; j++)
            w->o[o + j * w->so[last]] = w->cond[c + j * w->sc[last]] ? w->x[x + j * w->sx[last]]
                                                                     : w->y[y + j * w->sy[last]];
    }
}

void xnnbe_k_where(const void *args, pthreadpool_t pool) {
    const xnnbe_where_args *w = args;
    size_t rows = 1;
    for (int i = 0; i < w->rank - 1; i++) rows *= (size_t)w->dims[i];
    xnnbe_parallel(pool, rows, (size_t)w->dims[w->rank - 1], where_task, (void *)w);
}
