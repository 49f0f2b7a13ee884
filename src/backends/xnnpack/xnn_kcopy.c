/* Copies between strided views: layout changes at island edges, Concat,
 * Gather, materialised Transposes and Slices. Dims are put in the
 * destination's memory order and merged where both sides are contiguous,
 * so most copies become a few long memcpy rows; a transpose (the source
 * contiguous along another dim) goes through 32 x 32 tiles that keep both
 * sides in cache. */
#include <string.h>

#include "backends/xnnpack/xnn_kernels.h"

/* About this many floats per task: waking the pool costs microseconds. */
#define GRAIN 16384
#define TILE 32

typedef struct range_task {
    xnnbe_range_fn fn;
    void *ctx;
} range_task;

static void range_tile(void *p, size_t start, size_t count) {
    range_task *t = p;
    t->fn(t->ctx, start, count);
}

void xnnbe_parallel(pthreadpool_t pool, size_t n, size_t per_item, xnnbe_range_fn fn, void *ctx) {
    if (!n) return;
    size_t work = n * (per_item ? per_item : 1);
    size_t threads = pool ? pthreadpool_get_threads_count(pool) : 1;
    if (threads <= 1 || work < 2 * GRAIN) {
        fn(ctx, 0, n);
        return;
    }
    size_t tile = GRAIN / (per_item ? per_item : 1);
    if (tile < 1) tile = 1;
    /* at least two tiles a thread, so an unlucky thread does not trail */
    if (n / tile < 2 * threads) tile = (n + 2 * threads - 1) / (2 * threads);
    range_task t = {fn, ctx};
    pthreadpool_parallelize_1d_tile_1d(pool, (pthreadpool_task_1d_tile_1d_t)range_tile, &t, n, tile,
                                       0);
}

void xnnbe_copy_prepare(xnnbe_copy_args *a, const xnnbe_view *src, const xnnbe_view *dst) {
    int order[XNNBE_KRANK];
    xnnbe_view_order(dst, order);
    memset(a, 0, sizeof *a);
    a->src = src->data;
    a->dst = dst->data;
    int r = 0;
    for (int i = 0; i < dst->rank; i++) {
        int d = order[i];
        if (dst->dims[d] == 1) continue;
        if (r > 0 && a->ss[r - 1] == src->st[d] * dst->dims[d] &&
            a->ds[r - 1] == dst->st[d] * dst->dims[d]) {
            /* contiguous across both: one longer dim */
            a->dims[r - 1] *= dst->dims[d];
            a->ss[r - 1] = src->st[d];
            a->ds[r - 1] = dst->st[d];
            continue;
        }
        a->dims[r] = dst->dims[d];
        a->ss[r] = src->st[d];
        a->ds[r] = dst->st[d];
        r++;
    }
    if (r == 0) {
        a->dims[0] = 1;
        a->ss[0] = a->ds[0] = 1;
        r = 1;
    }
    a->rank = r;
    a->tile = -1;
    if (a->ss[r - 1] != 1)
        for (int i = 0; i < r - 1; i++)
            if (a->ss[i] == 1 || a->ss[i] == -1) a->tile = i;
}

/* Offsets of outer index o over dims [0, n) except `skip` (and the last). */
static void outer_offsets(const xnnbe_copy_args *a, size_t o, int n, int skip, int64_t *so,
                          int64_t *dof) {
    int64_t s = 0, d = 0;
    for (int i = n - 1; i >= 0; i--) {
        if (i == skip) continue;
        int64_t k = (int64_t)(o % (size_t)a->dims[i]);
        o /= (size_t)a->dims[i];
        s += k * a->ss[i];
        d += k * a->ds[i];
    }
    *so = s;
    *dof = d;
}

static size_t outer_count(const xnnbe_copy_args *a, int n, int skip) {
    size_t c = 1;
    for (int i = 0; i < n; i++)
        if (i != skip) c *= (size_t)a->dims[i];
    return c;
}

/* One row along the last dim. */
XNNBE_VEC
static void copy_row(float *restrict d, int64_t ds, const float *restrict s, int64_t ss,
                     int64_t n) {
    if (ss == 1 && ds == 1) {
        memcpy(d, s, (size_t)n * sizeof(float));
    } else if (ss == 1 && ds == 2) { /* a piece of a concat fused with a shuffle */
        for (int64_t j = 0; j < n; j++) d[2 * j] = s[j];
    } else if (ds == 1) {
        for (int64_t j = 0; j < n; j++) d[j] = s[j * ss];
    } else {
        for (int64_t j = 0; j < n; j++) d[j * ds] = s[j * ss];
    }
}

/* Rows along the last dim; the outer index advances like an odometer (no
 * division per row: many copies are thousands of short rows, a channel
 * slice of each pixel). */
static void rows_task(void *p, size_t start, size_t count) {
    const xnnbe_copy_args *a = p;
    int last = a->rank - 1;
    int64_t idx[XNNBE_KRANK] = {0}, so, dof;
    outer_offsets(a, start, last, -1, &so, &dof);
    size_t o = start;
    for (int i = last - 1; i >= 0; i--) {
        idx[i] = (int64_t)(o % (size_t)a->dims[i]);
        o /= (size_t)a->dims[i];
    }
    for (size_t r = 0; r < count; r++) {
        copy_row(a->dst + dof, a->ds[last], a->src + so, a->ss[last], a->dims[last]);
        for (int i = last - 1; i >= 0; i--) {
            so += a->ss[i];
            dof += a->ds[i];
            if (++idx[i] < a->dims[i]) break;
            so -= a->ss[i] * a->dims[i];
            dof -= a->ds[i] * a->dims[i];
            idx[i] = 0;
        }
    }
}

/* dst[i * nj + j] = src[j * ssj + i]: nj contiguous runs of the source
 * interleaved into the destination (a channel shuffle of nj groups in
 * NHWC). With nj a constant the compiler turns the strided stores into
 * vector interleaves. */
#define INTERLEAVE(NJ)                                                                             \
    for (int64_t j = 0; j < (NJ); j++) {                                                           \
        const float *restrict sj = s + j * ssj;                                                    \
        for (int64_t i = 0; i < ni; i++) d[i * (NJ) + j] = sj[i];                                  \
    }

XNNBE_VEC
static int interleave(float *restrict d, const float *restrict s, int64_t ssj, int64_t ni,
                      int64_t nj) {
    switch (nj) {
    case 2:
        INTERLEAVE(2);
        return 1;
    case 3:
        INTERLEAVE(3);
        return 1;
    case 4:
        INTERLEAVE(4);
        return 1;
    default:
        return 0;
    }
}

/* dst[i * dsi + j * dsj] = src[i * ssi + j * ssj] with ssi == +-1 and
 * dsj == 1 typically: reads and writes stay within a cached tile. */
XNNBE_VEC
static void tile_2d(float *restrict d, int64_t dsi, int64_t dsj, const float *restrict s,
                    int64_t ssi, int64_t ssj, int64_t ni, int64_t nj) {
    if (ssi == 1 && dsj == 1 && dsi == nj && interleave(d, s, ssj, ni, nj)) return;
    for (int64_t i0 = 0; i0 < ni; i0 += TILE) {
        int64_t i1 = i0 + TILE < ni ? i0 + TILE : ni;
        for (int64_t j0 = 0; j0 < nj; j0 += TILE) {
            int64_t j1 = j0 + TILE < nj ? j0 + TILE : nj;
            for (int64_t i = i0; i < i1; i++)
                for (int64_t j = j0; j < j1; j++) d[i * dsi + j * dsj] = s[i * ssi + j * ssj];
        }
    }
}

static void tiles_task(void *p, size_t start, size_t count) {
    const xnnbe_copy_args *a = p;
    int last = a->rank - 1, t = a->tile;
    for (size_t o = start; o < start + count; o++) {
        int64_t so, dof;
        outer_offsets(a, o, last, t, &so, &dof);
        tile_2d(a->dst + dof, a->ds[t], a->ds[last], a->src + so, a->ss[t], a->ss[last], a->dims[t],
                a->dims[last]);
    }
}

void xnnbe_k_copy(const void *args, pthreadpool_t pool) {
    const xnnbe_copy_args *a = args;
    int last = a->rank - 1;
    if (a->tile >= 0) {
        size_t per = (size_t)(a->dims[a->tile] * a->dims[last]);
        xnnbe_parallel(pool, outer_count(a, last, a->tile), per, tiles_task, (void *)a);
    } else {
        xnnbe_parallel(pool, outer_count(a, last, -1), (size_t)a->dims[last], rows_task, (void *)a);
    }
}

void xnnbe_k_copies(const void *args, pthreadpool_t pool) {
    const xnnbe_copies_args *a = args;
    for (int i = 0; i < a->n; i++) xnnbe_k_copy(&a->parts[i], pool);
}
