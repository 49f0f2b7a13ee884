/* Host ops that move data: most are new views of their input and cost
 * nothing at run time (Transpose, Slice, Split, Expand, Identity, and the
 * Reshape family when the strides allow); the rest are copy steps
 * (Concat, Gather with several indices, a reshape of a transposed view).
 * Output shapes come from the oracle's inference (ctx vals), so each
 * planner reads only what it needs to place the data. */
#include <string.h>

#include "backends/xnnpack/xnn_internal.h"
#include "backends/xnnpack/xnn_kernels.h"

static const xnnbe_val *out_val(const xnnbe_ctx *c, int k, int j) {
    return &c->vals[c->g->nodes[k].out[j]];
}

/* Reads constant input i as integers (absent: *n = 0, ok). */
static int const_ints(xnnbe_ctx *c, int k, int i, int64_t *buf, size_t cap, size_t *n) {
    const ir_node *nd = &c->g->nodes[k];
    *n = 0;
    if (i >= nd->n_in || nd->in[i] < 0) return CALMA_OK;
    const ir_tensor *t = c->vals[nd->in[i]].cst;
    if (!t) return xnnbe_unsupported(c, k, "input %d must be a constant", i);
    size_t m = ir_tensor_numel(t);
    if (m > cap) return xnnbe_unsupported(c, k, "input %d has %zu values (at most %zu)", i, m, cap);
    for (size_t j = 0; j < m; j++) buf[j] = ir_tensor_get_i64(t, j);
    *n = m;
    return CALMA_OK;
}

/* ---- views ---- */

static int op_alias(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    for (int j = 1; j < n->n_out; j++)
        if (n->out[j] >= 0 && c->uses[n->out[j]] > 0)
            return xnnbe_unsupported(c, k, "output %d (a mask) is not computed", j);
    if (!strcmp(n->op_type, "Cast") && ir_node_int(n, "to", 0) != CALMA_DT_FLOAT)
        return xnnbe_unsupported(c, k, "casts to %s are not supported (float32 only)",
                                 ir_dtype_name((calma_dtype)ir_node_int(n, "to", 0)));
    xnnbe_view x;
    int rc = xnnbe_host_input(c, k, 0, &x);
    if (!rc) xnnbe_host_output(c, k, 0, &x);
    return rc;
}

/* Reshape, Flatten, Squeeze, Unsqueeze: the output shape is known, so they
 * are one operation: a view when x's strides allow, else x copied into an
 * order close to its own in which they do. */
static int op_reshape(xnnbe_ctx *c, int k) {
    xnnbe_view x, y;
    int rc = xnnbe_host_input(c, k, 0, &x);
    if (rc) return rc;
    const xnnbe_val *o = out_val(c, k, 0);
    if (!xnnbe_view_reshape(&x, o->rank, o->dims, &y)) {
        int order[IR_MAX_RANK];
        xnnbe_reshape_order(&x, o->rank, o->dims, order);
        xnnbe_view packed;
        if ((rc = xnnbe_host_packed(c, k, &x, order, &packed))) return rc;
        if (!xnnbe_view_reshape(&packed, o->rank, o->dims, &y))
            return xnnbe_fail(c, k, CALMA_E_INTERNAL, "no layout allows this reshape");
    }
    xnnbe_host_output(c, k, 0, &y);
    return CALMA_OK;
}

static int op_transpose(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    xnnbe_view x, y;
    int rc = xnnbe_host_input(c, k, 0, &x);
    if (rc) return rc;
    size_t np = 0;
    const int64_t *pa = ir_node_ints(n, "perm", &np);
    int64_t perm[IR_MAX_RANK];
    int seen[IR_MAX_RANK] = {0};
    if (pa && np != (size_t)x.rank)
        return xnnbe_invalid(c, k, "perm has %zu values for rank %d", np, x.rank);
    for (int d = 0; d < x.rank; d++) {
        perm[d] = pa ? pa[d] : x.rank - 1 - d;
        if (perm[d] < 0 || perm[d] >= x.rank || seen[perm[d]]++)
            return xnnbe_invalid(c, k, "perm is not a permutation of %d axes", x.rank);
    }
    xnnbe_view_transpose(&x, perm, &y);
    xnnbe_host_output(c, k, 0, &y);
    return CALMA_OK;
}

static int op_expand(xnnbe_ctx *c, int k) {
    xnnbe_view x, y;
    int rc = xnnbe_host_input(c, k, 0, &x);
    if (rc) return rc;
    const xnnbe_val *o = out_val(c, k, 0);
    if (!xnnbe_view_expand(&x, o->rank, o->dims, &y))
        return xnnbe_invalid(c, k, "the shape does not broadcast");
    xnnbe_host_output(c, k, 0, &y);
    return CALMA_OK;
}

/* ONNX Slice's clamping of one axis: first index and step. */
static void slice_axis(int64_t dim, int64_t start, int64_t end, int64_t step, int64_t *first,
                       int64_t *count) {
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    if (step > 0) {
        start = start < 0 ? 0 : start > dim ? dim : start;
        end = end < 0 ? 0 : end > dim ? dim : end;
        *count = end > start ? (end - start + step - 1) / step : 0;
    } else {
        start = start < 0 ? -1 : start > dim - 1 ? dim - 1 : start;
        end = end < -1 ? -1 : end > dim - 1 ? dim - 1 : end;
        *count = start > end ? (start - end - step - 1) / -step : 0;
    }
    *first = start;
}

static int op_slice(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    xnnbe_view x;
    int rc = xnnbe_host_input(c, k, 0, &x);
    if (rc) return rc;
    int64_t st[IR_MAX_RANK], en[IR_MAX_RANK], ax[IR_MAX_RANK], sp[IR_MAX_RANK];
    size_t ns = 0, ne = 0, na = 0, nsp = 0;
    if (c->opset > 0 && c->opset < 10) {
        const int64_t *a = ir_node_ints(n, "starts", &ns), *b = ir_node_ints(n, "ends", &ne);
        const int64_t *d = ir_node_ints(n, "axes", &na);
        if (!a || !b || ns > IR_MAX_RANK || ne != ns || na > IR_MAX_RANK)
            return xnnbe_invalid(c, k, "starts and ends must have one value per axis");
        memcpy(st, a, ns * sizeof *st);
        memcpy(en, b, ne * sizeof *en);
        if (d) memcpy(ax, d, na * sizeof *ax);
    } else {
        rc = const_ints(c, k, 1, st, IR_MAX_RANK, &ns);
        if (!rc) rc = const_ints(c, k, 2, en, IR_MAX_RANK, &ne);
        if (!rc) rc = const_ints(c, k, 3, ax, IR_MAX_RANK, &na);
        if (!rc) rc = const_ints(c, k, 4, sp, IR_MAX_RANK, &nsp);
        if (rc) return rc;
    }
    if (ne != ns || (na && na != ns) || (nsp && nsp != ns))
        return xnnbe_invalid(c, k, "starts, ends, axes and steps differ in length");
    xnnbe_view y = x;
    for (size_t i = 0; i < ns; i++) {
        int a = xnnbe_axis(na ? ax[i] : (int64_t)i, x.rank);
        int64_t step = nsp ? sp[i] : 1;
        if (a < 0 || step == 0) return xnnbe_invalid(c, k, "axis or step out of range");
        int64_t first, count;
        slice_axis(x.dims[a], st[i], en[i], step, &first, &count);
        y.data += first * x.st[a];
        y.dims[a] = count;
        y.st[a] = x.st[a] * step;
    }
    const xnnbe_val *o = out_val(c, k, 0);
    for (int d = 0; d < y.rank; d++)
        if (y.dims[d] != o->dims[d] || y.dims[d] <= 0)
            return xnnbe_unsupported(c, k, "an empty or unexpected slice of axis %d", d);
    xnnbe_host_output(c, k, 0, &y);
    return CALMA_OK;
}

/* Split's pieces are views; their sizes are the inferred output shapes. */
static int op_split(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    xnnbe_view x;
    int rc = xnnbe_host_input(c, k, 0, &x);
    if (rc) return rc;
    int a = xnnbe_axis(ir_node_int(n, "axis", 0), x.rank);
    if (a < 0) return xnnbe_invalid(c, k, "axis out of range");
    int64_t at = 0;
    for (int j = 0; j < n->n_out; j++) {
        if (n->out[j] < 0) continue;
        const xnnbe_val *o = out_val(c, k, j);
        xnnbe_view y = x;
        y.data += at * x.st[a];
        y.dims[a] = o->dims[a];
        at += o->dims[a];
        if (at > x.dims[a]) return xnnbe_invalid(c, k, "the pieces exceed the input");
        xnnbe_host_output(c, k, j, &y);
    }
    return CALMA_OK;
}

/* ---- copies ---- */

/* The single live reader of value v when it is a host node of op_type
 * (and v is not a graph output), else -1. */
static int only_reader(const xnnbe_ctx *c, int v, const char *op_type) {
    if (v < 0 || c->uses[v] != 1 || xnnbe_is_output(c, v)) return -1;
    int r = c->consumer[v];
    if (r < 0 || c->done[r] || c->kind[r] != XNNBE_HOST) return -1;
    return strcmp(c->g->nodes[r].op_type, op_type) ? -1 : r;
}

/* A channel shuffle after a Concat of G equal pieces along axis a, as
 * ShuffleNet is exported: Reshape splitting a into [G, C/G], Transpose
 * swapping the two, Reshape back. Returns the three nodes, or 0. */
static int shuffle_after(const xnnbe_ctx *c, int k, int a, int *nodes) {
    const ir_node *n = &c->g->nodes[k];
    const xnnbe_val *o = out_val(c, k, 0);
    int64_t G = n->n_in;
    if (G < 2 || o->dims[a] % G || o->rank + 1 > IR_MAX_RANK) return 0;
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i] < 0 || c->vals[n->in[i]].dims[a] != o->dims[a] / G) return 0;
    int r1 = only_reader(c, n->out[0], "Reshape");
    if (r1 < 0) return 0;
    const xnnbe_val *v1 = out_val(c, r1, 0);
    if (v1->rank != o->rank + 1 || v1->dims[a] != G || v1->dims[a + 1] != o->dims[a] / G) return 0;
    for (int d = 0; d < o->rank; d++)
        if (d != a && o->dims[d] != v1->dims[d < a ? d : d + 1]) return 0;
    int t = only_reader(c, c->g->nodes[r1].out[0], "Transpose");
    if (t < 0) return 0;
    size_t np = 0;
    const int64_t *perm = ir_node_ints(&c->g->nodes[t], "perm", &np);
    if (!perm || np != (size_t)v1->rank) return 0;
    for (int d = 0; d < v1->rank; d++)
        if (perm[d] != (d == a ? a + 1 : d == a + 1 ? a : d)) return 0;
    int r2 = only_reader(c, c->g->nodes[t].out[0], "Reshape");
    if (r2 < 0) return 0;
    const xnnbe_val *v3 = out_val(c, r2, 0);
    if (v3->rank != o->rank || memcmp(v3->dims, o->dims, sizeof(int64_t) * (size_t)o->rank))
        return 0;
    nodes[0] = r1, nodes[1] = t, nodes[2] = r2;
    return 1;
}

static int op_concat(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    const xnnbe_val *o = out_val(c, k, 0);
    int a = xnnbe_axis(ir_node_int(n, "axis", 0), o->rank);
    if (a < 0) return xnnbe_invalid(c, k, "axis out of range");
    /* The output keeps the memory order of its first computed input, so a
     * concat of NHWC maps stays NHWC. */
    int order[IR_MAX_RANK], have = 0;
    xnnbe_copies_args *cp = xnnbe_args(c, sizeof *cp);
    if (!cp) return c->e->status;
    cp->parts = xnnbe_args(c, sizeof *cp->parts * (size_t)(n->n_in ? n->n_in : 1));
    if (!cp->parts) return c->e->status;
    xnnbe_view in[64];
    if (n->n_in > 64) return xnnbe_unsupported(c, k, "%d inputs (at most 64)", n->n_in);
    for (int i = 0; i < n->n_in; i++) {
        int rc = xnnbe_host_input(c, k, i, &in[i]);
        if (rc) return rc;
        if (!have && !c->vals[n->in[i]].cst && xnnbe_view_dense(&in[i])) {
            xnnbe_view_order(&in[i], order);
            have = 1;
        }
    }
    xnnbe_view y;
    int rc = xnnbe_host_alloc(c, o->rank, o->dims, have ? order : NULL, &y);
    if (rc) return rc;
    /* A shuffle after: piece g's channel j goes straight to channel
     * j * G + g, and the shuffle's three nodes become views of y. */
    int sh[3], shuffled = shuffle_after(c, k, a, sh);
    int64_t at = 0, G = n->n_in;
    for (int i = 0; i < n->n_in; i++) {
        if (in[i].rank != o->rank) return xnnbe_invalid(c, k, "inputs of different ranks");
        xnnbe_view part = y;
        part.data += (shuffled ? i : at) * y.st[a];
        part.dims[a] = in[i].dims[a];
        if (shuffled) part.st[a] = G * y.st[a];
        at += in[i].dims[a];
        if (!part.dims[a]) continue;
        xnnbe_copy_prepare(&cp->parts[cp->n++], &in[i], &part);
    }
    if (at != o->dims[a]) return xnnbe_invalid(c, k, "the pieces do not fill the output");
    if ((rc = xnnbe_add_kernel(c, k, xnnbe_k_copies, cp))) return rc;
    if (!shuffled) {
        xnnbe_host_output(c, k, 0, &y);
        return CALMA_OK;
    }
    /* the Reshape's view of y, and the Transpose's; the Concat's own
     * output is never read (the Reshape is its only reader) and no single
     * strided view could spell it */
    xnnbe_view split = {.data = y.data, .rank = y.rank + 1}, swapped;
    for (int d = 0, r = 0; d < y.rank; d++) {
        if (d == a) {
            split.dims[r] = G, split.st[r++] = y.st[a];
            split.dims[r] = y.dims[a] / G, split.st[r++] = G * y.st[a];
            continue;
        }
        split.dims[r] = y.dims[d], split.st[r++] = y.st[d];
    }
    int64_t perm[IR_MAX_RANK];
    for (int d = 0; d < split.rank; d++) perm[d] = d == a ? a + 1 : d == a + 1 ? a : d;
    xnnbe_view_transpose(&split, perm, &swapped);
    xnnbe_host_output(c, sh[0], 0, &split);
    xnnbe_host_output(c, sh[1], 0, &swapped);
    xnnbe_host_output(c, sh[2], 0, &y);
    for (int i = 0; i < 3; i++) c->done[sh[i]] = 1;
    c->s->n_host_nodes += 3;
    return CALMA_OK;
}

/* x without axis a, at index j of it. */
static void drop_axis(const xnnbe_view *x, int a, int64_t j, xnnbe_view *out) {
    xnnbe_view y = {.data = x->data + j * x->st[a], .rank = x->rank - 1};
    for (int d = 0, r = 0; d < x->rank; d++) {
        if (d == a) continue;
        y.dims[r] = x->dims[d];
        y.st[r++] = x->st[d];
    }
    *out = y;
}

/* Gather with constant indices along an axis: one index is a view, more
 * are one copy each into the packed output. */
static int op_gather(xnnbe_ctx *c, int k) {
    const ir_node *n = &c->g->nodes[k];
    xnnbe_view x;
    int rc = xnnbe_host_input(c, k, 0, &x);
    if (rc) return rc;
    const ir_tensor *ix = n->n_in > 1 && n->in[1] >= 0 ? c->vals[n->in[1]].cst : NULL;
    if (!ix)
        return xnnbe_unsupported(c, k,
                                 "indices must be constants (computed indices are not "
                                 "supported)");
    int a = xnnbe_axis(ir_node_int(n, "axis", 0), x.rank);
    if (a < 0 || x.rank - 1 + ix->rank > IR_MAX_RANK)
        return xnnbe_invalid(c, k, "axis out of range");
    size_t m = ir_tensor_numel(ix);
    int64_t *at = xnnbe_args(c, sizeof(int64_t) * (m ? m : 1));
    if (!at) return c->e->status;
    for (size_t i = 0; i < m; i++) {
        at[i] = ir_tensor_get_i64(ix, i);
        if (at[i] < 0) at[i] += x.dims[a];
        if (at[i] < 0 || at[i] >= x.dims[a])
            return xnnbe_invalid(c, k, "index %lld is out of range for %lld", (long long)at[i],
                                 (long long)x.dims[a]);
    }
    xnnbe_view y;
    if (ix->rank == 0) {
        drop_axis(&x, a, at[0], &y);
        xnnbe_host_output(c, k, 0, &y);
        return CALMA_OK;
    }
    const xnnbe_val *o = out_val(c, k, 0);
    if ((rc = xnnbe_host_alloc(c, o->rank, o->dims, NULL, &y))) return rc;
    xnnbe_copies_args *cp = xnnbe_args(c, sizeof *cp);
    if (!cp) return c->e->status;
    cp->parts = xnnbe_args(c, sizeof *cp->parts * (m ? m : 1));
    if (!cp->parts) return c->e->status;
    for (size_t i = 0; i < m; i++) {
        /* the output's index axes a .. a + ix->rank - 1 at i's position */
        xnnbe_view src, dst = {.data = y.data, .rank = 0};
        size_t rem = i;
        for (int t = ix->rank - 1; t >= 0; t--) {
            dst.data += (int64_t)(rem % (size_t)ix->dims[t]) * y.st[a + t];
            rem /= (size_t)ix->dims[t];
        }
        for (int d = 0; d < y.rank; d++) {
            if (d >= a && d < a + ix->rank) continue;
            dst.dims[dst.rank] = y.dims[d];
            dst.st[dst.rank++] = y.st[d];
        }
        drop_axis(&x, a, at[i], &src);
        xnnbe_copy_prepare(&cp->parts[cp->n++], &src, &dst);
    }
    if ((rc = xnnbe_add_kernel(c, k, xnnbe_k_copies, cp))) return rc;
    xnnbe_host_output(c, k, 0, &y);
    return CALMA_OK;
}

const xnnbe_op xnnbe_host_shape[] = {
    {"Identity", op_alias},    {"Dropout", op_alias},
    {"Cast", op_alias},        {"Reshape", op_reshape},
    {"Flatten", op_reshape},   {"Squeeze", op_reshape},
    {"Unsqueeze", op_reshape}, {"Transpose", op_transpose},
    {"Expand", op_expand},     {"Slice", op_slice},
    {"Split", op_split},       {"Concat", op_concat},
    {"Gather", op_gather},     {NULL, NULL},
};
