/* Building one island's subgraph: values, layouts, constants, the island's
 * external inputs (host views it imports) and outputs (values it exports),
 * and the messages that name the node at fault. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/xnnpack/xnn_internal.h"
#include "util/mem.h"

const char *xnnbe_node_label(const ir_graph *g, int i, char *buf, size_t size) {
    const ir_node *n = &g->nodes[i];
    if (n->name && n->name[0])
        snprintf(buf, size, "node '%s'", n->name);
    else
        snprintf(buf, size, "node #%d", i);
    return buf;
}

static int default_domain(const ir_node *n) {
    return !n->domain || !n->domain[0] || strcmp(n->domain, "ai.onnx") == 0;
}

int xnnbe_fail(xnnbe_ctx *c, int node, int status, const char *fmt, ...) {
    const ir_node *n = &c->g->nodes[node];
    char msg[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char lab[300];
    return err_set(c->e, status, "op '%s' (%s): %s", n->op_type,
                   xnnbe_node_label(c->g, node, lab, sizeof lab), msg);
}

int xnnbe_check(xnnbe_ctx *c, int node, enum xnn_status st, const char *what) {
    if (st == xnn_status_success) return CALMA_OK;
    if (st == xnn_status_out_of_memory)
        return xnnbe_fail(c, node, CALMA_E_NOMEM, "out of memory in %s", what);
    /* XNNPACK refuses a definition when the parameters are outside what
     * its kernels express: that is an unsupported attribute combination. */
    return xnnbe_unsupported(c, node, "XNNPACK rejected %s (xnn_status %d)", what, (int)st);
}

int xnnbe_keep(xnnbe_state *s, void *p) {
    if (mem_grow((void **)&s->blobs, &s->cap_blobs, s->n_blobs + 1, sizeof(void *))) {
        free(p);
        return -1;
    }
    s->blobs[s->n_blobs++] = p;
    return 0;
}

float *xnnbe_blob(xnnbe_ctx *c, size_t n_floats) {
    size_t bytes;
    if (mem_mul_size(n_floats ? n_floats : 1, sizeof(float), &bytes) ||
        mem_add_size(bytes, XNN_EXTRA_BYTES, &bytes)) {
        err_set(c->e, CALMA_E_INVALID, "constant of %zu floats overflows", n_floats);
        return NULL;
    }
    float *p = calloc(1, bytes);
    if (!p || xnnbe_keep(c->s, p)) {
        err_set(c->e, CALMA_E_NOMEM, "out of memory for %zu bytes of XNNPACK weights", bytes);
        return NULL;
    }
    return p;
}

const ir_tensor *xnnbe_add_folded(xnnbe_ctx *c, ir_tensor *t) {
    ir_tensor *k = malloc(sizeof *k);
    if (!k || mem_grow((void **)&c->folded, &c->cap_folded, c->n_folded + 1, sizeof(ir_tensor *))) {
        free(k);
        ir_tensor_free(t);
        err_set(c->e, CALMA_E_NOMEM, "out of memory");
        return NULL;
    }
    *k = *t;
    memset(t, 0, sizeof *t);
    c->folded[c->n_folded++] = k;
    return k;
}

const char *xnnbe_vname(const xnnbe_ctx *c, const xnnbe_val *v) {
    return ir_value_name(c->g, (int)(v - c->vals));
}

int xnnbe_is_output(const xnnbe_ctx *c, int v) {
    for (int k = 0; k < c->g->n_outputs; k++)
        if (c->g->outputs[k] == v) return 1;
    return 0;
}

int xnnbe_axis(int64_t axis, int rank) {
    if (axis < 0) axis += rank;
    return axis < 0 || axis >= rank ? -1 : (int)axis;
}

int xnnbe_needs_export(const xnnbe_ctx *c, int v) {
    if (xnnbe_is_output(c, v)) return 1;
    for (int i = c->cons_off[v]; i < c->cons_off[v + 1]; i++)
        if (!c->cand[c->cons[i]]) return 1;
    return 0;
}

static int record_edge(xnnbe_ctx *c, xnnbe_edge **list, int *n, int *cap, int v, uint32_t ext,
                       int nhwc) {
    if (mem_grow((void **)list, cap, *n + 1, sizeof **list))
        return err_set(c->e, CALMA_E_NOMEM, "out of memory");
    (*list)[(*n)++] = (xnnbe_edge){v, ext, nhwc};
    return CALMA_OK;
}

static int next_external(xnnbe_ctx *c, int node, uint32_t *ext) {
    if (c->next_ext >= c->s->islands[c->cur].n_reserved)
        return xnnbe_fail(c, node, CALMA_E_INTERNAL, "island %d ran out of external ids (%u)",
                          c->cur, c->s->islands[c->cur].n_reserved);
    *ext = c->next_ext++;
    return CALMA_OK;
}

/* An external input of the island for host value v in layout nhwc. */
static int import_as(xnnbe_ctx *c, int node, xnnbe_val *x, int nhwc, uint32_t *id) {
    uint32_t ext = XNN_INVALID_VALUE_ID;
    int rc = next_external(c, node, &ext);
    if (rc) return rc;
    xnnbe_val tmp = *x;
    tmp.nhwc = nhwc;
    size_t pd[IR_MAX_RANK];
    int pr = xnnbe_phys_dims(&tmp, pd);
    enum xnn_status st =
        xnn_define_tensor_value(c->s->islands[c->cur].subgraph, xnn_datatype_fp32, (size_t)pr, pd,
                                NULL, ext, XNN_VALUE_FLAG_EXTERNAL_INPUT, id);
    if ((rc = xnnbe_check(c, node, st, "xnn_define_tensor_value (input)"))) return rc;
    return record_edge(c, &c->imports, &c->n_imports, &c->cap_imports, (int)(x - c->vals), ext,
                       nhwc);
}

int xnnbe_is_spatial_op(const char *op) {
    static const char *const ops[] = {"Conv",          "ConvTranspose",     "Resize",
                                      "ReduceMean",    "MaxPool",           "AveragePool",
                                      "GlobalMaxPool", "GlobalAveragePool", "BatchNormalization",
                                      "PRelu"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(op, ops[i]) == 0) return 1;
    return 0;
}

/* A host value enters the island in the layout its consumer works in
 * (NHWC for a spatial op), or in the one it already has. */
static int import_value(xnnbe_ctx *c, int node, xnnbe_val *x) {
    int nhwc = 0;
    if (x->rank == 4 && !xnnbe_nhwc_trivial(x->dims)) {
        if (xnnbe_is_spatial_op(c->g->nodes[node].op_type))
            nhwc = 1;
        else
            for (int i = 0; i < x->n_views && !nhwc; i++)
                if (xnnbe_view_is_nhwc(&x->views[i])) nhwc = 1;
    }
    uint32_t id;
    int rc = import_as(c, node, x, nhwc, &id);
    if (rc) return rc;
    x->island = c->cur;
    x->imported = 1;
    x->id = id;
    x->nhwc = nhwc;
    x->alt_id = XNN_INVALID_VALUE_ID;
    x->flat_nhwc = 0;
    return CALMA_OK;
}

int xnnbe_input(xnnbe_ctx *c, int node, int i, xnnbe_val **out) {
    const ir_node *n = &c->g->nodes[node];
    int v = i < n->n_in ? n->in[i] : -1;
    if (v < 0) return xnnbe_invalid(c, node, "input %d is missing", i);
    xnnbe_val *x = &c->vals[v];
    if (!x->cst && x->island != c->cur) {
        if (c->cur < 0 || !x->n_views)
            return xnnbe_fail(c, node, CALMA_E_INTERNAL, "input '%s' is used before it is produced",
                              ir_value_name(c->g, v));
        int rc = import_value(c, node, x);
        if (rc) return rc;
    }
    *out = x;
    return CALMA_OK;
}

const ir_tensor *xnnbe_const_input(xnnbe_ctx *c, int node, int i) {
    const ir_node *n = &c->g->nodes[node];
    int v = i < n->n_in ? n->in[i] : -1;
    return v < 0 ? NULL : c->vals[v].cst;
}

const float *xnnbe_const_f32(const ir_tensor *t) {
    return t && t->dtype == CALMA_DT_FLOAT && t->data ? t->data : NULL;
}

int xnnbe_phys_dims(const xnnbe_val *v, size_t *out) {
    if (v->rank == 0) {
        out[0] = 1;
        return 1;
    }
    if (v->nhwc) {
        out[0] = (size_t)v->dims[0];
        out[1] = (size_t)v->dims[2];
        out[2] = (size_t)v->dims[3];
        out[3] = (size_t)v->dims[1];
        return 4;
    }
    for (int d = 0; d < v->rank; d++) out[d] = (size_t)v->dims[d];
    return v->rank;
}

int xnnbe_nhwc_trivial(const int64_t *dims) {
    return dims[1] == 1 || (dims[2] == 1 && dims[3] == 1);
}

int xnnbe_define_internal(xnnbe_ctx *c, int node, int rank, const size_t *pdims, uint32_t *id) {
    enum xnn_status st =
        xnn_define_tensor_value(c->s->islands[c->cur].subgraph, xnn_datatype_fp32, (size_t)rank,
                                pdims, NULL, XNN_INVALID_VALUE_ID, 0, id);
    return xnnbe_check(c, node, st, "xnn_define_tensor_value");
}

int xnnbe_define_static(xnnbe_ctx *c, int node, int rank, const size_t *pdims, const float *data,
                        uint32_t *id) {
    enum xnn_status st =
        xnn_define_tensor_value(c->s->islands[c->cur].subgraph, xnn_datatype_fp32, (size_t)rank,
                                pdims, data, XNN_INVALID_VALUE_ID, 0, id);
    return xnnbe_check(c, node, st, "xnn_define_tensor_value (static)");
}

int xnnbe_define_output(xnnbe_ctx *c, int node, int v, int rank, const int64_t *dims, int nhwc,
                        uint32_t *id) {
    xnnbe_val *x = &c->vals[v];
    if (rank > XNN_MAX_TENSOR_DIMS)
        return xnnbe_unsupported(c, node,
                                 "output '%s' has rank %d; XNNPACK tensors have at most %d",
                                 ir_value_name(c->g, v), rank, XNN_MAX_TENSOR_DIMS);
    for (int d = 0; d < rank; d++)
        if (dims[d] <= 0)
            return xnnbe_fail(c, node, dims[d] ? CALMA_E_INVALID : CALMA_E_UNSUPPORTED,
                              "output '%s' would have dimension %d of size %lld",
                              ir_value_name(c->g, v), d, (long long)dims[d]);
    x->rank = rank;
    memcpy(x->dims, dims, sizeof(int64_t) * (size_t)rank);
    x->nhwc = nhwc && rank == 4;
    x->alt_id = XNN_INVALID_VALUE_ID;
    x->cst = NULL;
    x->flat_nhwc = 0;
    x->imported = 0;
    x->island = c->cur;
    size_t pd[IR_MAX_RANK];
    int pr = xnnbe_phys_dims(x, pd);
    uint32_t ext = XNN_INVALID_VALUE_ID, flags = 0;
    int rc;
    if (xnnbe_needs_export(c, v)) {
        if ((rc = next_external(c, node, &ext))) return rc;
        flags = XNN_VALUE_FLAG_EXTERNAL_OUTPUT;
        rc = record_edge(c, &c->exports, &c->n_exports, &c->cap_exports, v, ext, x->nhwc);
        if (rc) return rc;
    }
    enum xnn_status st = xnn_define_tensor_value(c->s->islands[c->cur].subgraph, xnn_datatype_fp32,
                                                 (size_t)pr, pd, NULL, ext, flags, &x->id);
    rc = xnnbe_check(c, node, st, "xnn_define_tensor_value");
    if (rc) return rc;
    *id = x->id;
    return CALMA_OK;
}

static int const_static(xnnbe_ctx *c, int node, xnnbe_val *v, uint32_t *id) {
    const float *f = xnnbe_const_f32(v->cst);
    if (!f)
        return xnnbe_unsupported(c, node, "constant '%s' is %s; XNNPACK computes in float32",
                                 xnnbe_vname(c, v), ir_dtype_name(v->cst->dtype));
    if (v->island != c->cur) { /* its static tensor belongs to another island */
        v->island = c->cur;
        v->alt_id = XNN_INVALID_VALUE_ID;
    }
    if (v->alt_id == XNN_INVALID_VALUE_ID) {
        size_t n = ir_tensor_numel(v->cst);
        float *data = xnnbe_blob(c, n);
        if (!data) return c->e ? c->e->status : CALMA_E_NOMEM;
        memcpy(data, f, n * sizeof(float));
        size_t pd[IR_MAX_RANK];
        int pr = xnnbe_phys_dims(v, pd);
        int rc = xnnbe_define_static(c, node, pr, pd, data, &v->alt_id);
        if (rc) return rc;
    }
    *id = v->alt_id;
    return CALMA_OK;
}

int xnnbe_as_logical(xnnbe_ctx *c, int node, xnnbe_val *v, uint32_t *id) {
    if (v->cst) return const_static(c, node, v, id);
    if (v->flat_nhwc)
        return xnnbe_split(c, node,
                           "'%s' flattens an NHWC feature map; only Gemm or MatMul with "
                           "constant weights can take it (XNNPACK's subgraph has no "
                           "transpose)",
                           xnnbe_vname(c, v));
    if (!v->nhwc) {
        *id = v->id;
        return CALMA_OK;
    }
    if (v->alt_id == XNN_INVALID_VALUE_ID) {
        /* a host value comes in a second time, in the other layout */
        if (v->imported && !xnnbe_nhwc_trivial(v->dims)) {
            int rc = import_as(c, node, v, 0, &v->alt_id);
            if (rc) return rc;
            *id = v->alt_id;
            return CALMA_OK;
        }
        if (!xnnbe_nhwc_trivial(v->dims))
            return xnnbe_split(c, node,
                               "needs '%s' in NCHW order, but it is held as NHWC and "
                               "XNNPACK's subgraph has no transpose",
                               xnnbe_vname(c, v));
        size_t pd[4];
        for (int d = 0; d < 4; d++) pd[d] = (size_t)v->dims[d];
        int rc = xnnbe_define_internal(c, node, 4, pd, &v->alt_id);
        if (rc) return rc;
        rc = xnnbe_check(
            c, node,
            xnn_define_static_reshape(c->s->islands[c->cur].subgraph, 4, pd, v->id, v->alt_id, 0),
            "xnn_define_static_reshape");
        if (rc) return rc;
    }
    *id = v->alt_id;
    return CALMA_OK;
}

int xnnbe_as_nhwc(xnnbe_ctx *c, int node, xnnbe_val *v, uint32_t *id) {
    if (v->rank != 4)
        return xnnbe_unsupported(c, node, "needs a 4-D input; '%s' has rank %d", xnnbe_vname(c, v),
                                 v->rank);
    if (v->nhwc) {
        *id = v->id;
        return CALMA_OK;
    }
    if (v->alt_id == XNN_INVALID_VALUE_ID || v->cst) {
        size_t pd[4] = {(size_t)v->dims[0], (size_t)v->dims[2], (size_t)v->dims[3],
                        (size_t)v->dims[1]};
        if (v->cst) {
            /* A constant gets its own permuted copy; alt_id stays its
             * logical static tensor. */
            const float *f = xnnbe_const_f32(v->cst);
            if (!f)
                return xnnbe_unsupported(c, node,
                                         "constant '%s' is %s; XNNPACK computes in float32",
                                         xnnbe_vname(c, v), ir_dtype_name(v->cst->dtype));
            float *data = xnnbe_blob(c, ir_tensor_numel(v->cst));
            if (!data) return c->e ? c->e->status : CALMA_E_NOMEM;
            xnnbe_nchw_to_nhwc(f, data, v->dims);
            return xnnbe_define_static(c, node, 4, pd, data, id);
        }
        if (v->imported && !xnnbe_nhwc_trivial(v->dims)) {
            int rc = import_as(c, node, v, 1, &v->alt_id);
            if (rc) return rc;
            *id = v->alt_id;
            return CALMA_OK;
        }
        if (!xnnbe_nhwc_trivial(v->dims))
            return xnnbe_split(c, node,
                               "needs '%s' in NHWC order, but it is held as NCHW and "
                               "XNNPACK's subgraph has no transpose",
                               xnnbe_vname(c, v));
        int rc = xnnbe_define_internal(c, node, 4, pd, &v->alt_id);
        if (rc) return rc;
        rc = xnnbe_check(
            c, node,
            xnn_define_static_reshape(c->s->islands[c->cur].subgraph, 4, pd, v->id, v->alt_id, 0),
            "xnn_define_static_reshape");
        if (rc) return rc;
    }
    *id = v->alt_id;
    return CALMA_OK;
}

int xnnbe_clip_bounds(xnnbe_ctx *c, int node, float *lo, float *hi) {
    const ir_node *n = &c->g->nodes[node];
    *lo = -INFINITY;
    *hi = INFINITY;
    if (strcmp(n->op_type, "Relu") == 0) {
        *lo = 0.0f;
        return 1;
    }
    if (strcmp(n->op_type, "Clip") != 0) return 0;
    if (c->opset > 0 && c->opset < 11) {
        *lo = ir_node_float(n, "min", -INFINITY);
        *hi = ir_node_float(n, "max", INFINITY);
        return 1;
    }
    for (int i = 1; i <= 2; i++) {
        if (i >= n->n_in || n->in[i] < 0) continue;
        const float *f = xnnbe_const_f32(c->vals[n->in[i]].cst);
        if (!f || ir_tensor_numel(c->vals[n->in[i]].cst) != 1) return 0;
        if (i == 1)
            *lo = f[0];
        else
            *hi = f[0];
    }
    return 1;
}

int xnnbe_fusable(const xnnbe_ctx *c, int k) {
    return c->cand[k] && !c->done[k] && c->kind[k] == XNNBE_XNN;
}

void xnnbe_fuse_clamp(xnnbe_ctx *c, int *out_v, float *lo, float *hi) {
    for (;;) {
        int v = *out_v;
        if (c->uses[v] != 1 || xnnbe_needs_export(c, v)) return;
        int k = c->consumer[v];
        if (k < 0 || !xnnbe_fusable(c, k)) return;
        const ir_node *n = &c->g->nodes[k];
        if (!default_domain(n) || n->n_in < 1 || n->in[0] != v || n->n_out < 1 || n->out[0] < 0)
            return;
        float a, b;
        if (!xnnbe_clip_bounds(c, k, &a, &b)) return;
        float nlo = a > *lo ? a : *lo, nhi = b < *hi ? b : *hi;
        if (nlo > nhi) return; /* disjoint ranges: not one clamp */
        *lo = nlo;
        *hi = nhi;
        c->done[k] = 1;
        *out_v = n->out[0];
    }
}
