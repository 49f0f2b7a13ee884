/* Shape ops. Reshape, Flatten, Squeeze and Unsqueeze are views: the same
 * memory under other dims when it is plain; a blocked map is viewed lazily
 * (an inner product takes it unflattened; any other reader gets one plain
 * reorder). Identity and Dropout alias their input. Transpose is a reorder
 * through a permuted descriptor; Concat is oneDNN's concat. Constant,
 * Shape, Gather, Cast, ... are only folded (every input constant), by
 * calma's shape inference before the walk. */
#include <string.h>

#include "backends/onednn/onednn_internal.h"

static int op_view(dnnlbe_ctx *c, int node) {
    const ir_node *n = &c->g->nodes[node];
    int x = dnnlbe_in_v(c, node, 0), y = n->out[0];
    if (x < 0) return dnnlbe_invalid(c, node, "input 0 is missing");
    if (c->vals[x].cst)
        return dnnlbe_unsupported(c, node, "a view of constant '%s' read at run time",
                                  dnnlbe_vname(c, x));
    int xm;
    int rc = dnnlbe_value_mem_raw(c, node, x, &xm); /* an int8 value stays int8 */
    if (rc) return rc;
    const dnnlbe_val *yv = &c->vals[y];
    if (!dnnlbe_md_is_plain(&c->s->mems[xm].md)) {
        c->vals[y].view_of = x; /* made real only if a reader needs it */
        return CALMA_OK;
    }
    int vm;
    rc = dnnlbe_view(c, node, xm, yv->rank, yv->dims, &vm);
    return rc ? rc : dnnlbe_bind(c, y, vm);
}

static int op_identity(dnnlbe_ctx *c, int node) {
    const ir_node *n = &c->g->nodes[node];
    int x = dnnlbe_in_v(c, node, 0), y = n->out[0];
    if (x < 0) return dnnlbe_invalid(c, node, "input 0 is missing");
    if (c->vals[x].cst)
        return dnnlbe_unsupported(c, node, "passes constant '%s' on", dnnlbe_vname(c, x));
    if (c->vals[x].mem < 0 && c->vals[x].view_of >= 0) {
        c->vals[y].view_of = c->vals[x].view_of;
        return CALMA_OK;
    }
    int xm;
    int rc = dnnlbe_value_mem_raw(c, node, x, &xm);
    return rc ? rc : dnnlbe_bind(c, y, xm);
}

static int op_transpose(dnnlbe_ctx *c, int node) {
    const ir_node *n = &c->g->nodes[node];
    int x, xm;
    int rc = dnnlbe_input(c, node, 0, &x, &xm);
    if (rc) return rc;
    int rank = c->vals[x].rank;
    size_t np = 0;
    const int64_t *perm = ir_node_ints(n, "perm", &np);
    int p[DNNL_MAX_NDIMS], seen[DNNL_MAX_NDIMS] = {0}, ident = 1;
    if (rank > DNNL_MAX_NDIMS || (perm && np != (size_t)rank))
        return dnnlbe_invalid(c, node, "perm has %zu entries for rank %d", np, rank);
    for (int i = 0; i < rank; i++) {
        int64_t from = perm ? perm[i] : rank - 1 - i; /* out axis i = in axis from */
        if (from < 0 || from >= rank || seen[from])
            return dnnlbe_invalid(c, node, "perm is not a permutation of 0..%d", rank - 1);
        seen[from] = 1;
        p[from] = i; /* oneDNN: input axis `from` becomes output axis i */
        if (from != i) ident = 0;
    }
    if (ident) return dnnlbe_bind(c, n->out[0], xm);
    dnnl_memory_desc_t pmd, dst;
    rc = dnnlbe_check(c, node, dnnl_memory_desc_permute_axes(&pmd, &c->s->mems[xm].md, p),
                      "axes permutation");
    if (rc) return rc;
    const dnnlbe_val *yv = &c->vals[n->out[0]];
    rc = dnnlbe_plain_md(c, node, yv->rank, yv->dims, pmd.data_type, &dst);
    if (rc) return rc;
    /* The permuted descriptor reads x's memory as the output's dims; the
     * reorder writes them densely. */
    int src = dnnlbe_new_mem(c, &pmd, c->s->mems[xm].buf);
    if (src < 0) return c->e->status;
    int out;
    rc = dnnlbe_reorder(c, node, src, &dst, 0.0f, &out);
    return rc ? rc : dnnlbe_bind(c, n->out[0], out);
}

#define CONCAT_MAX (DNNLBE_MAX_ARGS - 2)

static int op_concat(dnnlbe_ctx *c, int node) {
    const ir_node *n = &c->g->nodes[node];
    const dnnlbe_val *yv = &c->vals[n->out[0]];
    int axis = dnnlbe_axis(ir_node_int(n, "axis", 0), yv->rank);
    if (axis < 0) return dnnlbe_invalid(c, node, "axis out of range for rank %d", yv->rank);
    if (n->n_in > CONCAT_MAX)
        return dnnlbe_unsupported(c, node, "%d inputs (calma joins at most %d)", n->n_in,
                                  CONCAT_MAX);
    /* The type of the first computed input; the others follow it. */
    dnnl_data_type_t dt = dnnl_f32;
    for (int i = n->n_in - 1; i >= 0; i--) {
        int v = n->in[i];
        if (v >= 0 && !c->vals[v].cst) {
            int m;
            int rc = dnnlbe_value_mem(c, node, v, &m);
            if (rc) return rc;
            dt = c->s->mems[m].md.data_type;
        }
    }
    int mems[DNNLBE_MAX_ARGS], args[DNNLBE_MAX_ARGS], k = 0;
    dnnl_memory_desc_t mds[CONCAT_MAX];
    for (int i = 0; i < n->n_in; i++) {
        int v = n->in[i], rc, m;
        if (v < 0) return dnnlbe_invalid(c, node, "input %d is missing", i);
        const dnnlbe_val *xv = &c->vals[v];
        if (xv->cst) {
            dnnl_memory_desc_t md;
            if (!dnnlbe_const_f32(xv->cst))
                return dnnlbe_unsupported(c, node, "constant '%s' is %s", dnnlbe_vname(c, v),
                                          ir_dtype_name(xv->cst->dtype));
            rc = dnnlbe_plain_md(c, node, xv->rank, xv->dims, dt, &md);
            if (!rc)
                rc = dnnlbe_const_mem(c, node, &md, xv->rank, xv->dims, xv->cst->data, NULL, &m);
        } else {
            rc = dnnlbe_value_mem(c, node, v, &m);
            if (!rc && c->s->mems[m].md.data_type != dt) {
                dnnl_memory_desc_t md = c->s->mems[m].md;
                md.data_type = dt; /* the same layout in the common type */
                rc = dnnlbe_as(c, node, v, &md, &m);
            }
        }
        if (rc) return rc;
        mds[k] = c->s->mems[m].md;
        args[k] = DNNL_ARG_MULTIPLE_SRC + k;
        mems[k++] = m;
    }
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st =
        dnnl_concat_primitive_desc_create(&pd, NULL, k, axis, mds, c->s->attr, c->s->engine);
    int rc = dnnlbe_check(c, node, st, "concat");
    if (rc) return rc;
    return dnnlbe_emit(c, node, pd, k, args, mems, 0.0f, n->out[0]);
}

const dnnlbe_op dnnlbe_ops_shape[] = {
    {"Reshape", op_view},
    {"Flatten", op_view},
    {"Squeeze", op_view},
    {"Unsqueeze", op_view},
    {"Identity", op_identity},
    {"Dropout", op_identity},
    {"Transpose", op_transpose},
    {"Concat", op_concat},
    /* folded only */
    {"Constant", NULL},
    {"Shape", NULL},
    {"Size", NULL},
    {"Gather", NULL},
    {"Cast", NULL},
    {"ConstantOfShape", NULL},
    {"Range", NULL},
    {"Slice", NULL},
    {"Equal", NULL},
    {"Where", NULL},
    {"ReduceProd", NULL},
    {NULL, NULL},
};
