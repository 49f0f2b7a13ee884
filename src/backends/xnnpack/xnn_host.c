/* What host ops share: their steps, buffers, inputs and outputs. */
#include <stdlib.h>
#include <string.h>

#include "backends/xnnpack/xnn_internal.h"
#include "backends/xnnpack/xnn_kernels.h"
#include "util/mem.h"

int xnnbe_add_kernel(xnnbe_ctx *c, int node, xnnbe_kernel_fn fn, void *args) {
    xnnbe_state *s = c->s;
    if (mem_grow((void **)&s->steps, &s->cap_steps, s->n_steps + 1, sizeof *s->steps))
        return err_set(c->e, CALMA_E_NOMEM, "out of memory");
    s->steps[s->n_steps++] =
        (xnnbe_step){.kind = XNNBE_STEP_KERNEL, .island = -1, .fn = fn, .args = args, .node = node};
    return CALMA_OK;
}

void *xnnbe_args(xnnbe_ctx *c, size_t n) {
    void *p = calloc(1, n ? n : 1);
    if (!p || xnnbe_keep(c->s, p)) {
        err_set(c->e, CALMA_E_NOMEM, "out of memory");
        return NULL;
    }
    return p;
}

int xnnbe_host_alloc(xnnbe_ctx *c, int rank, const int64_t *dims, const int *order,
                     xnnbe_view *out) {
    size_t n;
    if (ir_shape_numel(rank, dims, &n, c->e)) return c->e->status;
    float *data = xnnbe_blob(c, n);
    if (!data) return c->e->status;
    xnnbe_view_packed(out, data, rank, dims, order);
    return CALMA_OK;
}

int xnnbe_host_input(xnnbe_ctx *c, int k, int i, xnnbe_view *out) {
    const ir_node *n = &c->g->nodes[k];
    int v = i < n->n_in ? n->in[i] : -1;
    if (v < 0) return xnnbe_invalid(c, k, "input %d is missing", i);
    xnnbe_val *x = &c->vals[v];
    if (x->cst) {
        const float *f = xnnbe_const_f32(x->cst);
        if (!f)
            return xnnbe_unsupported(c, k,
                                     "constant '%s' is %s; calma's kernels compute in float32",
                                     xnnbe_vname(c, x), ir_dtype_name(x->cst->dtype));
        size_t numel = ir_tensor_numel(x->cst);
        float *data = xnnbe_blob(c, numel);
        if (!data) return c->e->status;
        memcpy(data, f, numel * sizeof(float));
        xnnbe_view_packed(out, data, x->cst->rank, x->cst->dims, NULL);
        return CALMA_OK;
    }
    if (!x->n_views)
        return xnnbe_fail(c, k, CALMA_E_INTERNAL, "input '%s' is used before it is produced",
                          xnnbe_vname(c, x));
    *out = x->views[0];
    return CALMA_OK;
}

void xnnbe_host_output(xnnbe_ctx *c, int k, int j, const xnnbe_view *w) {
    const ir_node *n = &c->g->nodes[k];
    int v = j < n->n_out ? n->out[j] : -1;
    if (v < 0) return;
    xnnbe_val *x = &c->vals[v];
    x->cst = NULL;
    x->island = -1;
    x->imported = 0;
    x->flat_nhwc = 0;
    x->rank = w->rank;
    memcpy(x->dims, w->dims, sizeof(int64_t) * (size_t)w->rank);
    x->n_views = 1;
    x->views[0] = *w;
}

int xnnbe_host_copy(xnnbe_ctx *c, int k, const xnnbe_view *src, const xnnbe_view *dst) {
    xnnbe_copy_args *a = xnnbe_args(c, sizeof *a);
    if (!a) return c->e->status;
    xnnbe_copy_prepare(a, src, dst);
    if (k < 0) c->s->n_edge_copies++;
    return xnnbe_add_kernel(c, k, xnnbe_k_copy, a);
}

int xnnbe_host_packed(xnnbe_ctx *c, int k, const xnnbe_view *x, const int *order, xnnbe_view *out) {
    if (xnnbe_view_is_packed(x, order)) {
        *out = *x;
        return CALMA_OK;
    }
    xnnbe_view w;
    int rc = xnnbe_host_alloc(c, x->rank, x->dims, order, &w);
    if (!rc) rc = xnnbe_host_copy(c, k, x, &w);
    if (!rc) *out = w;
    return rc;
}
