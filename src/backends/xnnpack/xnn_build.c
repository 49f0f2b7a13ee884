/* From calma's graph to one XNNPACK subgraph: values, layouts, constants,
 * and the walk over the nodes that hands each to its op's function. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/xnnpack/xnn_internal.h"
#include "util/mem.h"

static const xnnbe_op *const op_tables[] = {xnnbe_ops_conv, xnnbe_ops_eltwise, xnnbe_ops_shape,
                                            xnnbe_ops_spatial};

static const xnnbe_op *find_op(const char *op_type) {
    for (size_t t = 0; t < sizeof op_tables / sizeof op_tables[0]; t++)
        for (const xnnbe_op *o = op_tables[t]; o->op_type; o++)
            if (strcmp(o->op_type, op_type) == 0) return o;
    return NULL;
}

/* "node 'name'", or "node #i" for a nameless node (common in exports). */
static const char *node_label(const ir_graph *g, int i, char *buf, size_t size) {
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
                   node_label(c->g, node, lab, sizeof lab), msg);
}

int xnnbe_check(xnnbe_ctx *c, int node, enum xnn_status st, const char *what) {
    if (st == xnn_status_success) return CALMA_OK;
    if (st == xnn_status_out_of_memory)
        return xnnbe_fail(c, node, CALMA_E_NOMEM, "out of memory in %s", what);
    /* XNNPACK refuses a definition when the parameters are outside what
     * its kernels express: that is an unsupported attribute combination. */
    return xnnbe_unsupported(c, node, "XNNPACK rejected %s (xnn_status %d)", what, (int)st);
}

static int keep_blob(xnnbe_state *s, void *p) {
    if (mem_grow((void **)&s->blobs, &s->cap_blobs, s->n_blobs + 1, sizeof(void *))) return -1;
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
    if (!p || keep_blob(c->s, p)) {
        free(p);
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

int xnnbe_input(xnnbe_ctx *c, int node, int i, xnnbe_val **out) {
    const ir_node *n = &c->g->nodes[node];
    int v = i < n->n_in ? n->in[i] : -1;
    if (v < 0) return xnnbe_invalid(c, node, "input %d is missing", i);
    xnnbe_val *x = &c->vals[v];
    if (!x->known)
        return xnnbe_fail(c, node, CALMA_E_INTERNAL, "input '%s' is used before it is produced",
                          ir_value_name(c->g, v));
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
    enum xnn_status st = xnn_define_tensor_value(c->s->subgraph, xnn_datatype_fp32, (size_t)rank,
                                                 pdims, NULL, XNN_INVALID_VALUE_ID, 0, id);
    return xnnbe_check(c, node, st, "xnn_define_tensor_value");
}

int xnnbe_define_static(xnnbe_ctx *c, int node, int rank, const size_t *pdims, const float *data,
                        uint32_t *id) {
    enum xnn_status st = xnn_define_tensor_value(c->s->subgraph, xnn_datatype_fp32, (size_t)rank,
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
    size_t pd[IR_MAX_RANK];
    int pr = xnnbe_phys_dims(x, pd);
    uint32_t ext = XNN_INVALID_VALUE_ID, flags = 0;
    for (int k = 0; k < c->s->n_out; k++) {
        xnnbe_io *o = &c->s->out[k];
        if (strcmp(o->name, ir_value_name(c->g, v)) != 0) continue;
        ext = o->id;
        flags = XNN_VALUE_FLAG_EXTERNAL_OUTPUT;
        o->nhwc = x->nhwc;
        o->rank = rank;
        memcpy(o->dims, dims, sizeof(int64_t) * (size_t)rank);
    }
    enum xnn_status st = xnn_define_tensor_value(c->s->subgraph, xnn_datatype_fp32, (size_t)pr, pd,
                                                 NULL, ext, flags, &x->id);
    int rc = xnnbe_check(c, node, st, "xnn_define_tensor_value");
    if (rc) return rc;
    x->known = 1;
    *id = x->id;
    return CALMA_OK;
}

static int const_static(xnnbe_ctx *c, int node, xnnbe_val *v, uint32_t *id) {
    const float *f = xnnbe_const_f32(v->cst);
    if (!f)
        return xnnbe_unsupported(c, node, "constant '%s' is %s; XNNPACK computes in float32",
                                 xnnbe_vname(c, v), ir_dtype_name(v->cst->dtype));
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
        return xnnbe_unsupported(c, node,
                                 "'%s' flattens an NHWC feature map; only Gemm or MatMul with "
                                 "constant weights can take it (XNNPACK's subgraph has no "
                                 "transpose)",
                                 xnnbe_vname(c, v));
    if (!v->nhwc) {
        *id = v->id;
        return CALMA_OK;
    }
    if (v->alt_id == XNN_INVALID_VALUE_ID) {
        if (!xnnbe_nhwc_trivial(v->dims))
            return xnnbe_unsupported(c, node,
                                     "needs '%s' in NCHW order, but it is held as NHWC and "
                                     "XNNPACK's subgraph has no transpose",
                                     xnnbe_vname(c, v));
        size_t pd[4];
        for (int d = 0; d < 4; d++) pd[d] = (size_t)v->dims[d];
        int rc = xnnbe_define_internal(c, node, 4, pd, &v->alt_id);
        if (rc) return rc;
        rc = xnnbe_check(c, node,
                         xnn_define_static_reshape(c->s->subgraph, 4, pd, v->id, v->alt_id, 0),
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
        if (!xnnbe_nhwc_trivial(v->dims))
            return xnnbe_unsupported(c, node,
                                     "needs '%s' in NHWC order, but it is held as NCHW and "
                                     "XNNPACK's subgraph has no transpose",
                                     xnnbe_vname(c, v));
        int rc = xnnbe_define_internal(c, node, 4, pd, &v->alt_id);
        if (rc) return rc;
        rc = xnnbe_check(c, node,
                         xnn_define_static_reshape(c->s->subgraph, 4, pd, v->id, v->alt_id, 0),
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

void xnnbe_fuse_clamp(xnnbe_ctx *c, int *out_v, float *lo, float *hi) {
    for (;;) {
        int v = *out_v;
        if (c->uses[v] != 1 || xnnbe_is_output(c, v)) return;
        int k = c->consumer[v];
        if (k < 0 || c->done[k]) return;
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

/* ---- the walk ---- */

/* Names every op XNNPACK cannot express before anything is defined, so the
 * message lists them all rather than the first one met. */
static int check_ops(xnnbe_ctx *c) {
    const ir_graph *g = c->g;
    int first = -1;
    char others[512] = "";
    size_t used = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        if (default_domain(n) && find_op(n->op_type)) continue;
        if (first < 0) {
            first = i;
            continue;
        }
        int dup = strcmp(n->op_type, g->nodes[first].op_type) == 0;
        for (int j = first + 1; j < i && !dup; j++)
            if (!(default_domain(&g->nodes[j]) && find_op(g->nodes[j].op_type)) &&
                strcmp(g->nodes[j].op_type, n->op_type) == 0)
                dup = 1;
        if (dup || used + strlen(n->op_type) + 3 >= sizeof others) continue;
        used += (size_t)snprintf(others + used, sizeof others - used, "%s%s", used ? ", " : "",
                                 n->op_type);
    }
    if (first < 0) return CALMA_OK;
    const ir_node *n = &g->nodes[first];
    const char *dom = default_domain(n) ? "" : n->domain;
    char lab[300];
    return err_set(c->e, CALMA_E_UNSUPPORTED, "op '%s%s%s' (%s) has no XNNPACK equivalent%s%s%s",
                   dom, dom[0] ? "." : "", n->op_type, node_label(g, first, lab, sizeof lab),
                   used ? " (also: " : "", others, used ? ")" : "");
}

static void count_uses(xnnbe_ctx *c) {
    const ir_graph *g = c->g;
    for (int v = 0; v < g->n_values; v++) c->consumer[v] = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_in; k++) {
            int v = n->in[k];
            if (v < 0) continue;
            c->uses[v]++;
            c->consumer[v] = i;
        }
    }
    for (int k = 0; k < g->n_outputs; k++) c->uses[g->outputs[k]]++;
}

static int is_spatial_op(const char *op) {
    static const char *const ops[] = {"Conv",          "Resize",
                                      "ReduceMean",    "MaxPool",
                                      "AveragePool",   "GlobalAveragePool",
                                      "GlobalMaxPool", "BatchNormalization",
                                      "PRelu"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(op, ops[i]) == 0) return 1;
    return 0;
}

/* A 4-D input is taken as NHWC (transposed once in run()) when a spatial
 * op reads it; otherwise its bytes go in as they are. */
static int wants_nhwc(const xnnbe_ctx *c, int v) {
    const ir_graph *g = c->g;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] == v && is_spatial_op(g->nodes[i].op_type)) return 1;
    return 0;
}

/* BatchNormalization whose input is a Conv's only use is folded into that
 * Conv's weights and bias. */
static void plan_bn_folding(xnnbe_ctx *c) {
    const ir_graph *g = c->g;
    for (int i = 0; i < g->n_nodes; i++) c->bn_of_conv[i] = -1;
    for (int k = 0; k < g->n_nodes; k++) {
        const ir_node *bn = &g->nodes[k];
        if (!default_domain(bn) || strcmp(bn->op_type, "BatchNormalization") != 0) continue;
        if (bn->n_in < 5 || bn->in[0] < 0 || bn->n_out < 1 || bn->out[0] < 0) continue;
        int extra_out = 0;
        for (int j = 1; j < bn->n_out; j++)
            if (bn->out[j] >= 0 && c->uses[bn->out[j]] > 0) extra_out = 1;
        if (extra_out) continue;
        int x = bn->in[0];
        if (c->uses[x] != 1 || xnnbe_is_output(c, x)) continue;
        int p = -1;
        for (int i = 0; i < g->n_nodes && p < 0; i++)
            for (int j = 0; j < g->nodes[i].n_out; j++)
                if (g->nodes[i].out[j] == x) p = i;
        if (p < 0 || p >= k || c->bn_of_conv[p] >= 0) continue;
        const ir_node *cv = &g->nodes[p];
        if (!default_domain(cv) || strcmp(cv->op_type, "Conv") != 0 || cv->n_in < 2) continue;
        int ok = cv->in[1] >= 0 && xnnbe_const_f32(g->values[cv->in[1]].init) &&
                 g->values[cv->in[1]].init->rank == 4;
        if (cv->n_in > 2 && cv->in[2] >= 0 && !xnnbe_const_f32(g->values[cv->in[2]].init)) ok = 0;
        for (int j = 1; j < 5 && ok; j++) {
            const ir_tensor *t = bn->in[j] >= 0 ? g->values[bn->in[j]].init : NULL;
            if (!xnnbe_const_f32(t) ||
                (int64_t)ir_tensor_numel(t) != g->values[cv->in[1]].init->dims[0])
                ok = 0;
        }
        if (!ok) continue;
        c->bn_of_conv[p] = k;
        c->done[k] = 1;
    }
}

static int io_alloc(xnnbe_ctx *c, xnnbe_io *io) {
    size_t n = 1, bytes;
    for (int d = 0; d < io->rank; d++) n *= (size_t)io->dims[d];
    io->numel = n;
    if (mem_mul_size(n ? n : 1, sizeof(float), &bytes) ||
        mem_add_size(bytes, XNN_EXTRA_BYTES, &bytes))
        return err_set(c->e, CALMA_E_INVALID, "tensor '%s' is too large", io->name);
    io->buf = calloc(1, bytes);
    if (!io->buf) return err_set(c->e, CALMA_E_NOMEM, "out of memory for tensor '%s'", io->name);
    return CALMA_OK;
}

static int setup_inputs(xnnbe_ctx *c, const calma_model *m) {
    xnnbe_state *s = c->s;
    for (int i = 0; i < s->n_in; i++) {
        const calma_tensor *t = &m->inputs[i];
        int v = t->name ? ir_graph_find(c->g, t->name) : -1;
        if (v < 0 && i < c->g->n_inputs) v = c->g->inputs[i];
        if (v < 0)
            return err_set(c->e, CALMA_E_INVALID, "input '%s' is not in the graph",
                           t->name ? t->name : "?");
        xnnbe_io *io = &s->in[i];
        io->name = mem_strdup(ir_value_name(c->g, v));
        if (!io->name) return err_set(c->e, CALMA_E_NOMEM, "out of memory");
        if (t->dtype != CALMA_DT_FLOAT)
            return err_set(c->e, CALMA_E_UNSUPPORTED,
                           "input '%s' is %s; the XNNPACK conversion computes in float32 only",
                           io->name, ir_dtype_name(t->dtype));
        if (t->rank > XNN_MAX_TENSOR_DIMS)
            return err_set(c->e, CALMA_E_UNSUPPORTED,
                           "input '%s' has rank %d; XNNPACK tensors have at most %d", io->name,
                           t->rank, XNN_MAX_TENSOR_DIMS);
        for (int d = 0; d < t->rank; d++)
            if (t->dims[d] <= 0)
                return err_set(c->e, t->dims[d] ? CALMA_E_INVALID : CALMA_E_UNSUPPORTED,
                               "input '%s' has dimension %d of size %lld; XNNPACK needs fixed, "
                               "non-empty shapes",
                               io->name, d, (long long)t->dims[d]);
        io->id = (uint32_t)i;
        io->rank = t->rank;
        memcpy(io->dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
        io->nhwc = t->rank == 4 && wants_nhwc(c, v);
        int rc = io_alloc(c, io);
        if (rc) return rc;
        xnnbe_val *x = &c->vals[v];
        x->rank = io->rank;
        memcpy(x->dims, io->dims, sizeof(int64_t) * (size_t)io->rank);
        x->nhwc = io->nhwc;
        x->cst = NULL;
        x->alt_id = XNN_INVALID_VALUE_ID;
        size_t pd[IR_MAX_RANK];
        int pr = xnnbe_phys_dims(x, pd);
        enum xnn_status st =
            xnn_define_tensor_value(s->subgraph, xnn_datatype_fp32, (size_t)pr, pd, NULL, io->id,
                                    XNN_VALUE_FLAG_EXTERNAL_INPUT, &x->id);
        if (st != xnn_status_success)
            return err_set(c->e, CALMA_E_UNSUPPORTED, "XNNPACK rejected input '%s' (xnn_status %d)",
                           io->name, (int)st);
        x->known = 1;
    }
    return CALMA_OK;
}

static int setup_outputs(xnnbe_ctx *c, const calma_model *m) {
    xnnbe_state *s = c->s;
    for (int k = 0; k < s->n_out; k++) {
        const calma_tensor *t = &m->outputs[k];
        int v = t->name ? ir_graph_find(c->g, t->name) : -1;
        if (v < 0 && k < c->g->n_outputs) v = c->g->outputs[k];
        if (v < 0)
            return err_set(c->e, CALMA_E_INVALID, "output '%s' is not in the graph",
                           t->name ? t->name : "?");
        xnnbe_io *io = &s->out[k];
        io->name = mem_strdup(ir_value_name(c->g, v));
        if (!io->name) return err_set(c->e, CALMA_E_NOMEM, "out of memory");
        io->id = (uint32_t)(s->n_in + k);
        io->rank = -1;
        if (t->dtype != CALMA_DT_FLOAT)
            return err_set(c->e, CALMA_E_UNSUPPORTED,
                           "output '%s' is %s; the XNNPACK conversion computes in float32 only",
                           io->name, ir_dtype_name(t->dtype));
        for (int j = 0; j < k; j++)
            if (strcmp(s->out[j].name, io->name) == 0)
                return err_set(c->e, CALMA_E_UNSUPPORTED,
                               "output '%s' is listed twice; XNNPACK binds each value once",
                               io->name);
        if (c->vals[v].known)
            return err_set(c->e, CALMA_E_UNSUPPORTED,
                           "output '%s' is a graph input or constant, not computed by any node",
                           io->name);
    }
    return CALMA_OK;
}

/* Every output was defined by some node, with the shape the model gives. */
static int check_outputs(xnnbe_ctx *c, const calma_model *m) {
    for (int k = 0; k < c->s->n_out; k++) {
        xnnbe_io *io = &c->s->out[k];
        const calma_tensor *t = &m->outputs[k];
        if (io->rank < 0)
            return err_set(c->e, CALMA_E_UNSUPPORTED,
                           "output '%s' is not computed by the XNNPACK subgraph (produced by a "
                           "constant or pass-through)",
                           io->name);
        int same = io->rank == t->rank;
        for (int d = 0; same && d < t->rank; d++)
            if (t->dims[d] > 0 && t->dims[d] != io->dims[d]) same = 0;
        if (!same) {
            char a[128] = "", b[128] = "";
            size_t ua = 0, ub = 0;
            for (int d = 0; d < io->rank && ua < 100; d++)
                ua += (size_t)snprintf(a + ua, sizeof a - ua, "%s%lld", d ? "," : "",
                                       (long long)io->dims[d]);
            for (int d = 0; d < t->rank && ub < 100; d++)
                ub += (size_t)snprintf(b + ub, sizeof b - ub, "%s%lld", d ? "," : "",
                                       (long long)t->dims[d]);
            return err_set(c->e, CALMA_E_INVALID,
                           "output '%s': the XNNPACK subgraph computes shape [%s], the model "
                           "declares [%s]",
                           io->name, a, b);
        }
        int rc = io_alloc(c, io);
        if (rc) return rc;
    }
    return CALMA_OK;
}

static int walk(xnnbe_ctx *c) {
    for (int i = 0; i < c->g->n_nodes; i++) {
        if (c->done[i]) continue;
        /* A node whose first output is omitted computes nothing we keep. */
        if (c->g->nodes[i].n_out < 1 || c->g->nodes[i].out[0] < 0) continue;
        const xnnbe_op *op = find_op(c->g->nodes[i].op_type);
        if (!op) return xnnbe_unsupported(c, i, "has no XNNPACK equivalent");
        int rc = op->fn(c, i);
        if (rc) return rc;
        c->s->n_xnn_nodes++;
    }
    return CALMA_OK;
}

static void ctx_free(xnnbe_ctx *c) {
    free(c->vals);
    free(c->uses);
    free(c->consumer);
    free(c->done);
    free(c->bn_of_conv);
    for (int i = 0; i < c->n_folded; i++) {
        ir_tensor_free(c->folded[i]);
        free(c->folded[i]);
    }
    free(c->folded);
}

int xnnbe_build(xnnbe_state *s, const calma_model *m, calma_error *e) {
    const ir_graph *g = m->graph;
    if (!g) return err_set(e, CALMA_E_INTERNAL, "the XNNPACK backend needs the parsed graph");
    xnnbe_ctx c;
    memset(&c, 0, sizeof c);
    c.g = g;
    c.s = s;
    c.e = e;
    c.opset = ir_graph_opset(g, "");
    if (!c.opset) c.opset = ir_graph_opset(g, "ai.onnx");
    size_t nv = (size_t)g->n_values + 1, nn = (size_t)g->n_nodes + 1;
    c.vals = calloc(nv, sizeof *c.vals);
    c.uses = calloc(nv, sizeof *c.uses);
    c.consumer = calloc(nv, sizeof *c.consumer);
    c.done = calloc(nn, 1);
    c.bn_of_conv = calloc(nn, sizeof *c.bn_of_conv);
    s->n_in = m->n_inputs;
    s->n_out = m->n_outputs;
    s->in = calloc((size_t)s->n_in + 1, sizeof *s->in);
    s->out = calloc((size_t)s->n_out + 1, sizeof *s->out);
    s->ext = calloc((size_t)(s->n_in + s->n_out) + 1, sizeof *s->ext);
    int rc = CALMA_OK;
    if (!c.vals || !c.uses || !c.consumer || !c.done || !c.bn_of_conv || !s->in || !s->out ||
        !s->ext) {
        rc = err_set(e, CALMA_E_NOMEM, "out of memory");
        goto out;
    }
    rc = check_ops(&c);
    if (rc) goto out;
    if (xnn_create_subgraph((uint32_t)(s->n_in + s->n_out), 0, &s->subgraph) !=
        xnn_status_success) {
        rc = err_set(e, CALMA_E_NOMEM, "xnn_create_subgraph failed");
        goto out;
    }
    for (int v = 0; v < g->n_values; v++) {
        xnnbe_val *x = &c.vals[v];
        x->id = x->alt_id = XNN_INVALID_VALUE_ID;
        if (!g->values[v].init) continue;
        x->cst = g->values[v].init;
        x->known = 1;
        x->rank = x->cst->rank;
        memcpy(x->dims, x->cst->dims, sizeof(int64_t) * (size_t)x->cst->rank);
    }
    count_uses(&c);
    rc = setup_inputs(&c, m);
    if (!rc) rc = setup_outputs(&c, m);
    if (rc) goto out;
    plan_bn_folding(&c);
    rc = walk(&c);
    if (!rc) rc = check_outputs(&c, m);
out:
    ctx_free(&c);
    return rc;
}

void xnnbe_state_clear(xnnbe_state *s) {
    if (s->runtime) xnn_delete_runtime(s->runtime);
    if (s->subgraph) xnn_delete_subgraph(s->subgraph);
    if (s->pool) pthreadpool_destroy(s->pool);
    s->runtime = NULL;
    s->subgraph = NULL;
    s->pool = NULL;
    for (int i = 0; i < s->n_in && s->in; i++) {
        free(s->in[i].name);
        free(s->in[i].buf);
    }
    for (int k = 0; k < s->n_out && s->out; k++) {
        free(s->out[k].name);
        free(s->out[k].buf);
    }
    free(s->in);
    free(s->out);
    free(s->ext);
    s->in = s->out = NULL;
    s->ext = NULL;
    for (int i = 0; i < s->n_blobs; i++) free(s->blobs[i]);
    free(s->blobs);
    s->blobs = NULL;
    s->n_blobs = s->cap_blobs = 0;
    if (s->initialized) xnn_deinitialize();
    s->initialized = 0;
}
