/* Strided views: orders, packing and the reshapes that need no copy. */
#include "backends/xnnpack/xnn_view.h"

#include <string.h>

const int xnnbe_order_nhwc[4] = {0, 2, 3, 1};

static int64_t mag(int64_t s) {
    return s < 0 ? -s : s;
}

size_t xnnbe_view_numel(const xnnbe_view *v) {
    size_t n = 1;
    for (int d = 0; d < v->rank; d++) n *= (size_t)v->dims[d];
    return n;
}

void xnnbe_view_packed(xnnbe_view *v, float *data, int rank, const int64_t *dims,
                       const int *order) {
    v->data = data;
    v->rank = rank;
    if (rank > 0) memcpy(v->dims, dims, sizeof(int64_t) * (size_t)rank);
    int64_t st = 1;
    for (int i = rank - 1; i >= 0; i--) {
        int a = order ? order[i] : i;
        v->st[a] = st;
        st *= dims[a];
    }
}

int xnnbe_view_is_packed(const xnnbe_view *v, const int *order) {
    int64_t st = 1;
    for (int i = v->rank - 1; i >= 0; i--) {
        int a = order ? order[i] : i;
        if (v->dims[a] == 1) continue;
        if (v->st[a] != st) return 0;
        st *= v->dims[a];
    }
    return 1;
}

void xnnbe_view_order(const xnnbe_view *v, int *order) {
    for (int i = 0; i < v->rank; i++) order[i] = i;
    /* insertion sort: ranks are tiny */
    for (int i = 1; i < v->rank; i++) {
        int a = order[i], j = i;
        int64_t sa = v->dims[a] == 1 ? -1 : mag(v->st[a]);
        while (j > 0) {
            int b = order[j - 1];
            int64_t sb = v->dims[b] == 1 ? -1 : mag(v->st[b]);
            /* size-1 axes go innermost, in logical order among themselves */
            if (sb >= sa) break;
            order[j] = b;
            j--;
        }
        order[j] = a;
    }
}

int xnnbe_view_dense(const xnnbe_view *v) {
    int order[IR_MAX_RANK];
    xnnbe_view_order(v, order);
    return xnnbe_view_is_packed(v, order);
}

int xnnbe_view_is_nhwc(const xnnbe_view *v) {
    return v->rank == 4 && xnnbe_view_is_packed(v, xnnbe_order_nhwc);
}

void xnnbe_view_transpose(const xnnbe_view *x, const int64_t *perm, xnnbe_view *out) {
    xnnbe_view t = *x;
    for (int i = 0; i < x->rank; i++) {
        t.dims[i] = x->dims[perm[i]];
        t.st[i] = x->st[perm[i]];
    }
    *out = t;
}

/* The axes of a shape larger than 1, in order. */
static int big_axes(int rank, const int64_t *dims, int *ax) {
    int n = 0;
    for (int d = 0; d < rank; d++)
        if (dims[d] != 1) ax[n++] = d;
    return n;
}

/* Pairs the non-1 axes of shape a with those of shape b into groups of
 * equal product (how a row-major reshape regroups them). Group g covers
 * a's big axes [ga[g], ga[g+1]) and b's [gb[g], gb[g+1]). Returns the
 * group count, or -1 when the element counts differ. */
static int reshape_groups(int na, const int64_t *da, int nb, const int64_t *db, int *ga, int *gb) {
    int i = 0, j = 0, n = 0;
    while (i < na && j < nb) {
        ga[n] = i;
        gb[n] = j;
        int64_t pa = da[i++], pb = db[j++];
        while (pa != pb) {
            if (pa < pb) {
                if (i >= na) return -1;
                pa *= da[i++];
            } else {
                if (j >= nb) return -1;
                pb *= db[j++];
            }
        }
        n++;
    }
    if (i != na || j != nb) return -1;
    ga[n] = na;
    gb[n] = nb;
    return n;
}

int xnnbe_view_reshape(const xnnbe_view *x, int rank, const int64_t *dims, xnnbe_view *out) {
    int ax[IR_MAX_RANK], bx[IR_MAX_RANK];
    int64_t da[IR_MAX_RANK] = {0}, db[IR_MAX_RANK] = {0}, sa[IR_MAX_RANK] = {0};
    int na = big_axes(x->rank, x->dims, ax), nb = big_axes(rank, dims, bx);
    for (int i = 0; i < na; i++) da[i] = x->dims[ax[i]], sa[i] = x->st[ax[i]];
    for (int j = 0; j < nb; j++) db[j] = dims[bx[j]];
    int ga[IR_MAX_RANK + 1], gb[IR_MAX_RANK + 1];
    int ng = reshape_groups(na, da, nb, db, ga, gb);
    if (ng < 0) return 0;
    xnnbe_view t = {.data = x->data, .rank = rank};
    if (rank > 0) memcpy(t.dims, dims, sizeof(int64_t) * (size_t)rank);
    for (int d = 0; d < rank; d++) t.st[d] = 1;
    for (int g = 0; g < ng; g++) {
        /* the old axes of a group must be contiguous in row-major order */
        for (int i = ga[g]; i + 1 < ga[g + 1]; i++)
            if (sa[i] != sa[i + 1] * da[i + 1]) return 0;
        int64_t st = sa[ga[g + 1] - 1];
        for (int j = gb[g + 1] - 1; j >= gb[g]; j--) {
            t.st[bx[j]] = st;
            st *= db[j];
        }
    }
    *out = t;
    return 1;
}

void xnnbe_reshape_order(const xnnbe_view *x, int rank, const int64_t *dims, int *order) {
    int ax[IR_MAX_RANK], bx[IR_MAX_RANK], mem[IR_MAX_RANK];
    int64_t da[IR_MAX_RANK] = {0}, db[IR_MAX_RANK] = {0};
    int na = big_axes(x->rank, x->dims, ax), nb = big_axes(rank, dims, bx);
    for (int i = 0; i < na; i++) da[i] = x->dims[ax[i]];
    for (int j = 0; j < nb; j++) db[j] = dims[bx[j]];
    int ga[IR_MAX_RANK + 1], gb[IR_MAX_RANK + 1], group_of[IR_MAX_RANK];
    int ng = reshape_groups(na, da, nb, db, ga, gb);
    xnnbe_view_order(x, mem);
    if (ng < 0) { /* not a reshape: logical order */
        for (int d = 0; d < x->rank; d++) order[d] = d;
        return;
    }
    for (int d = 0; d < x->rank; d++) group_of[d] = -1;
    for (int g = 0; g < ng; g++)
        for (int i = ga[g]; i < ga[g + 1]; i++) group_of[ax[i]] = g;
    /* Walk x's memory order; the first axis met of each group brings the
     * whole group, in logical order. Size-1 axes go last. */
    int n = 0, emitted[IR_MAX_RANK + 1] = {0};
    for (int m = 0; m < x->rank; m++) {
        int g = group_of[mem[m]];
        if (g < 0 || emitted[g]) continue;
        emitted[g] = 1;
        for (int i = ga[g]; i < ga[g + 1]; i++) order[n++] = ax[i];
    }
    for (int d = 0; d < x->rank; d++)
        if (x->dims[d] == 1) order[n++] = d;
}

int xnnbe_view_expand(const xnnbe_view *x, int rank, const int64_t *dims, xnnbe_view *out) {
    if (rank < x->rank) return 0;
    xnnbe_view t = {.data = x->data, .rank = rank};
    if (rank > 0) memcpy(t.dims, dims, sizeof(int64_t) * (size_t)rank);
    int off = rank - x->rank;
    for (int d = 0; d < rank; d++) {
        int s = d - off;
        if (s < 0) {
            t.st[d] = 0;
            continue;
        }
        if (x->dims[s] == dims[d]) {
            t.st[d] = x->st[s];
        } else if (x->dims[s] == 1) {
            t.st[d] = 0;
        } else {
            return 0;
        }
    }
    *out = t;
    return 1;
}
