/* From calma's graph to a list of oneDNN primitive descriptors: shape
 * inference, the op check, the edges and the walk that hands each node to
 * its op's function. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/onednn/onednn_internal.h"
#include "backends/op_gaps.h"
#include "ref/ref.h"
#include "util/mem.h"

static const dnnlbe_op *const op_tables[] = {dnnlbe_ops_conv, dnnlbe_ops_linear, dnnlbe_ops_eltwise,
                                             dnnlbe_ops_norm, dnnlbe_ops_shape};

static const dnnlbe_op *find_op(const char *op_type) {
    for (size_t t = 0; t < sizeof op_tables / sizeof op_tables[0]; t++)
        for (const dnnlbe_op *o = op_tables[t]; o->op_type; o++)
            if (strcmp(o->op_type, op_type) == 0) return o;
    return NULL;
}

static int default_domain(const ir_node *n) {
    return !n->domain || !n->domain[0] || strcmp(n->domain, "ai.onnx") == 0;
}

/* "node 'name'", or "node #i" for a nameless node. */
static const char *node_label(const ir_graph *g, int i, char *buf, size_t size) {
    const ir_node *n = &g->nodes[i];
    if (n->name && n->name[0])
        snprintf(buf, size, "node '%s'", n->name);
    else
        snprintf(buf, size, "node #%d", i);
    return buf;
}

const char *dnnlbe_status_name(dnnl_status_t st) {
    switch (st) {
    case dnnl_success:
        return "success";
    case dnnl_out_of_memory:
        return "out of memory";
    case dnnl_invalid_arguments:
        return "invalid arguments";
    case dnnl_unimplemented:
        return "unimplemented";
    case dnnl_iterator_ends:
        return "iterator ends";
    case dnnl_runtime_error:
        return "runtime error";
    case dnnl_not_required:
        return "not required";
    default:
        return "unknown status";
    }
}

int dnnlbe_fail(dnnlbe_ctx *c, int node, int status, const char *fmt, ...) {
    char msg[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (node < 0) return err_set(c->e, status, "%s", msg);
    char lab[300];
    return err_set(c->e, status, "op '%s' (%s): %s", c->g->nodes[node].op_type,
                   node_label(c->g, node, lab, sizeof lab), msg);
}

int dnnlbe_check(dnnlbe_ctx *c, int node, dnnl_status_t st, const char *what) {
    if (st == dnnl_success) return CALMA_OK;
    if (st == dnnl_out_of_memory)
        return dnnlbe_fail(c, node, CALMA_E_NOMEM, "out of memory in %s", what);
    /* oneDNN refuses a descriptor when no implementation covers these
     * shapes, types or attributes: that is an unsupported combination. */
    return dnnlbe_unsupported(c, node, "oneDNN has no %s for this (%s)", what,
                              dnnlbe_status_name(st));
}

int dnnlbe_is_output(const dnnlbe_ctx *c, int v) {
    for (int k = 0; k < c->g->n_outputs; k++)
        if (c->g->outputs[k] == v) return 1;
    return 0;
}

int dnnlbe_axis(int64_t axis, int rank) {
    if (axis < 0) axis += rank;
    return axis < 0 || axis >= rank ? -1 : (int)axis;
}

const char *dnnlbe_vname(const dnnlbe_ctx *c, int v) {
    return ir_value_name(c->g, v);
}

int dnnlbe_in_v(const dnnlbe_ctx *c, int node, int i) {
    const ir_node *n = &c->g->nodes[node];
    return i < n->n_in ? n->in[i] : -1;
}

const ir_tensor *dnnlbe_const_input(const dnnlbe_ctx *c, int node, int i) {
    int v = dnnlbe_in_v(c, node, i);
    return v < 0 ? NULL : c->vals[v].cst;
}

const float *dnnlbe_const_f32(const ir_tensor *t) {
    return t && t->dtype == CALMA_DT_FLOAT && t->data ? t->data : NULL;
}

int dnnlbe_value_mem_raw(dnnlbe_ctx *c, int node, int v, int *mem) {
    dnnlbe_val *val = &c->vals[v];
    if (val->mem < 0 && val->view_of >= 0) {
        /* A lazy view of a blocked value: made real (plain, in its own type
         * and scale) for this reader. */
        int u = val->view_of, um, src, view;
        int rc = dnnlbe_value_mem_raw(c, node, u, &um);
        if (!rc) rc = dnnlbe_as_plain(c, node, u, c->s->mems[um].md.data_type, &src);
        if (!rc) rc = dnnlbe_view(c, node, src, val->rank, val->dims, &view);
        if (!rc) rc = dnnlbe_bind(c, v, view);
        if (rc) return rc;
    }
    if (val->mem < 0)
        return dnnlbe_fail(c, node, CALMA_E_INTERNAL, "'%s' is used before it is computed",
                           dnnlbe_vname(c, v));
    *mem = val->mem;
    return CALMA_OK;
}

int dnnlbe_value_mem(dnnlbe_ctx *c, int node, int v, int *mem) {
    int m;
    int rc = dnnlbe_value_mem_raw(c, node, v, &m);
    if (rc || c->s->mems[m].scale == 0) {
        *mem = m;
        return rc;
    }
    /* int8: the real values in float32, same layout, made once */
    dnnl_memory_desc_t want = c->s->mems[m].md;
    want.data_type = dnnl_f32;
    dnnlbe_val *x = &c->vals[v];
    if (x->alt_mem >= 0 && dnnl_memory_desc_equal(&c->s->mems[x->alt_mem].md, &want)) {
        *mem = x->alt_mem;
        return CALMA_OK;
    }
    rc = dnnlbe_reorder(c, node, m, &want, 0.0f, mem);
    if (!rc) x->alt_mem = *mem;
    return rc;
}

static int input_of(dnnlbe_ctx *c, int node, int i, int raw, int *v, int *mem) {
    int x = dnnlbe_in_v(c, node, i);
    if (x < 0) return dnnlbe_invalid(c, node, "input %d is missing", i);
    if (c->vals[x].cst)
        return dnnlbe_unsupported(c, node,
                                  "input %d ('%s') is a constant; oneDNN's primitive here takes "
                                  "a computed tensor",
                                  i, dnnlbe_vname(c, x));
    int m;
    int rc = raw ? dnnlbe_value_mem_raw(c, node, x, &m) : dnnlbe_value_mem(c, node, x, &m);
    if (rc) return rc;
    *v = x;
    if (mem) *mem = m;
    return CALMA_OK;
}

int dnnlbe_input(dnnlbe_ctx *c, int node, int i, int *v, int *mem) {
    return input_of(c, node, i, 0, v, mem);
}

int dnnlbe_input_raw(dnnlbe_ctx *c, int node, int i, int *v, int *mem) {
    return input_of(c, node, i, 1, v, mem);
}

/* ---- before any oneDNN work ---- */

/* Names every op oneDNN cannot express, all of them in one message. Ops
 * with no function are only folded: checked after inference. */
static int no_primitive(const ir_graph *g, int i, void *arg) {
    (void)arg;
    const ir_node *n = &g->nodes[i];
    return !(default_domain(n) && find_op(n->op_type));
}

static int check_ops(dnnlbe_ctx *c) {
    const ir_graph *g = c->g;
    char others[512];
    int first = opgap_find(g, no_primitive, NULL, others, sizeof others);
    if (first < 0) return CALMA_OK;
    const ir_node *n = &g->nodes[first];
    const char *dom = default_domain(n) ? "" : n->domain;
    char lab[300];
    return err_set(c->e, CALMA_E_UNSUPPORTED, "op '%s%s%s' (%s) has no oneDNN equivalent%s%s%s",
                   dom, dom[0] ? "." : "", n->op_type, node_label(g, first, lab, sizeof lab),
                   others[0] ? " (also: " : "", others, others[0] ? ")" : "");
}

/* Shapes of every value, and constants folded, by the oracle's own shape
 * inference at the trial's input shapes. */
static int infer(dnnlbe_ctx *c, const calma_model *m) {
    const ir_graph *g = c->g;
    ir_tensor *types = calloc((size_t)g->n_inputs + 1, sizeof *types);
    if (!types) return err_set(c->e, CALMA_E_NOMEM, "out of memory");
    for (int i = 0; i < g->n_inputs && i < m->n_inputs; i++) {
        types[i].dtype = m->inputs[i].dtype;
        types[i].rank = m->inputs[i].rank;
        memcpy(types[i].dims, m->inputs[i].dims, sizeof(int64_t) * (size_t)m->inputs[i].rank);
    }
    int rc = g->n_inputs == m->n_inputs
                 ? ref_infer_values(g, types, c->inferred, c->e)
                 : err_set(c->e, CALMA_E_INVALID, "the model has %d inputs, %d were given",
                           g->n_inputs, m->n_inputs);
    free(types);
    if (rc) return err_prefix(c->e, "shape inference for oneDNN");
    for (int v = 0; v < g->n_values; v++) {
        dnnlbe_val *x = &c->vals[v];
        x->mem = x->alt_mem = x->q_mem = x->view_of = -1;
        x->cst =
            g->values[v].init ? g->values[v].init : (c->inferred[v].data ? &c->inferred[v] : NULL);
        const ir_tensor *t = x->cst ? x->cst : &c->inferred[v];
        x->rank = t->rank;
        memcpy(x->dims, t->dims, sizeof x->dims);
    }
    return CALMA_OK;
}

/* Nodes whose outputs all folded are done; a fold-only op that did not fold
 * is refused. */
static int mark_folded(dnnlbe_ctx *c) {
    const ir_graph *g = c->g;
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        int all = n->n_out > 0;
        for (int j = 0; j < n->n_out; j++)
            if (n->out[j] >= 0 && !c->vals[n->out[j]].cst) all = 0;
        if (all) {
            c->done[i] = 1;
            continue;
        }
        if (!find_op(n->op_type)->fn)
            return dnnlbe_unsupported(c, i,
                                      "oneDNN has no equivalent; calma folds it only when every "
                                      "input is a constant, and input '%s' is computed at run time",
                                      n->n_in > 0 && n->in[0] >= 0 ? dnnlbe_vname(c, n->in[0])
                                                                   : "?");
    }
    return CALMA_OK;
}

static void count_uses(dnnlbe_ctx *c) {
    const ir_graph *g = c->g;
    for (int v = 0; v < g->n_values; v++) c->consumer[v] = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        if (c->done[i]) continue;
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

/* BatchNormalization whose input is a Conv's only use is folded into that
 * Conv's weights and bias. */
static void plan_bn_folding(dnnlbe_ctx *c) {
    const ir_graph *g = c->g;
    for (int i = 0; i < g->n_nodes; i++) c->bn_of_conv[i] = -1;
    for (int k = 0; k < g->n_nodes; k++) {
        const ir_node *bn = &g->nodes[k];
        if (c->done[k] || strcmp(bn->op_type, "BatchNormalization") != 0) continue;
        if (bn->n_in < 5 || bn->in[0] < 0 || bn->n_out < 1 || bn->out[0] < 0) continue;
        int extra_out = 0;
        for (int j = 1; j < bn->n_out; j++)
            if (bn->out[j] >= 0 && c->uses[bn->out[j]] > 0) extra_out = 1;
        int x = bn->in[0];
        if (extra_out || c->uses[x] != 1 || dnnlbe_is_output(c, x)) continue;
        int p = g->values[x].producer;
        if (p < 0 || p >= k || c->bn_of_conv[p] >= 0 || c->done[p]) continue;
        const ir_node *cv = &g->nodes[p];
        if (!default_domain(cv) || strcmp(cv->op_type, "Conv") != 0 || cv->n_in < 2) continue;
        const ir_tensor *w = dnnlbe_const_input(c, p, 1);
        int ok = dnnlbe_const_f32(w) && w->rank >= 3;
        if (cv->n_in > 2 && cv->in[2] >= 0 && !dnnlbe_const_f32(dnnlbe_const_input(c, p, 2)))
            ok = 0;
        for (int j = 1; j < 5 && ok; j++) {
            const ir_tensor *t = dnnlbe_const_input(c, k, j);
            if (!dnnlbe_const_f32(t) || (int64_t)ir_tensor_numel(t) != w->dims[0]) ok = 0;
        }
        if (!ok) continue;
        c->bn_of_conv[p] = k;
        c->done[k] = 1;
        c->s->n_fused++;
    }
}

/* ---- the edges ---- */

static int user_io(dnnlbe_ctx *c, dnnlbe_io *io, const calma_tensor *t, int v, const char *what) {
    io->name = mem_strdup(ir_value_name(c->g, v));
    if (!io->name) return err_set(c->e, CALMA_E_NOMEM, "out of memory");
    if (t->dtype != CALMA_DT_FLOAT)
        return err_set(c->e, CALMA_E_UNSUPPORTED,
                       "%s '%s' is %s; the oneDNN conversions take and give float32 only", what,
                       io->name, ir_dtype_name(t->dtype));
    if (t->rank < 1 || t->rank > DNNL_MAX_NDIMS)
        return err_set(c->e, CALMA_E_UNSUPPORTED, "%s '%s' has rank %d; oneDNN takes 1 to %d", what,
                       io->name, t->rank, DNNL_MAX_NDIMS);
    for (int d = 0; d < t->rank; d++)
        if (t->dims[d] <= 0)
            return err_set(c->e, t->dims[d] ? CALMA_E_INVALID : CALMA_E_UNSUPPORTED,
                           "%s '%s' has dimension %d of size %lld; oneDNN needs fixed, non-empty "
                           "shapes",
                           what, io->name, d, (long long)t->dims[d]);
    dnnl_memory_desc_t md;
    int rc = dnnlbe_plain_md(c, -1, t->rank, t->dims, dnnl_f32, &md);
    if (rc) return rc;
    io->bytes = dnnl_memory_desc_get_size(&md);
    int buf = dnnlbe_new_buf(c, DNNLBE_BUF_USER, io->bytes);
    if (buf < 0) return c->e->status;
    io->mem = dnnlbe_new_mem(c, &md, buf);
    return io->mem < 0 ? c->e->status : CALMA_OK;
}

static int find_io(const dnnlbe_ctx *c, const calma_tensor *t, int k, int n, const int *list) {
    int v = t->name ? ir_graph_find(c->g, t->name) : -1;
    if (v < 0 && k < n) v = list[k];
    return v;
}

static int setup_inputs(dnnlbe_ctx *c, const calma_model *m) {
    for (int i = 0; i < c->s->n_in; i++) {
        const calma_tensor *t = &m->inputs[i];
        int v = find_io(c, t, i, c->g->n_inputs, c->g->inputs);
        if (v < 0)
            return err_set(c->e, CALMA_E_INVALID, "input '%s' is not in the graph",
                           t->name ? t->name : "?");
        int rc = user_io(c, &c->s->in[i], t, v, "input");
        if (rc) return rc;
        if (c->vals[v].cst)
            return err_set(c->e, CALMA_E_UNSUPPORTED,
                           "input '%s' also has an initializer; oneDNN's graph is built with "
                           "constants fixed",
                           c->s->in[i].name);
        rc = dnnlbe_bind(c, v, c->s->in[i].mem);
        if (rc) return rc;
    }
    return CALMA_OK;
}

/* Each output is reordered (to plain float32) into the caller's buffer. */
static int finish_outputs(dnnlbe_ctx *c, const calma_model *m) {
    for (int k = 0; k < c->s->n_out; k++) {
        const calma_tensor *t = &m->outputs[k];
        int v = find_io(c, t, k, c->g->n_outputs, c->g->outputs);
        if (v < 0)
            return err_set(c->e, CALMA_E_INVALID, "output '%s' is not in the graph",
                           t->name ? t->name : "?");
        dnnlbe_io *io = &c->s->out[k];
        int rc = user_io(c, io, t, v, "output");
        if (rc) return rc;
        dnnlbe_val *x = &c->vals[v];
        if (x->cst)
            return err_set(c->e, CALMA_E_UNSUPPORTED,
                           "output '%s' is a constant, not computed by any oneDNN primitive",
                           io->name);
        int same = x->rank == t->rank;
        for (int d = 0; same && d < t->rank; d++)
            if (x->dims[d] != t->dims[d]) same = 0;
        if (!same)
            return err_set(c->e, CALMA_E_INVALID,
                           "output '%s': the graph computes rank %d, the caller gives rank %d "
                           "or other dims",
                           io->name, x->rank, t->rank);
        /* A view so that the reorder sees the same dims on both sides. */
        int src;
        rc = dnnlbe_value_mem_raw(c, -1, v, &src);
        if (rc) return rc;
        dnnl_primitive_desc_t pd = NULL;
        const dnnl_memory_desc_t *dst = &c->s->mems[io->mem].md;
        dnnl_status_t st = dnnl_reorder_primitive_desc_create(
            &pd, &c->s->mems[src].md, c->s->engine, dst, c->s->engine, c->s->attr);
        rc = dnnlbe_check(c, -1, st, "reorder to the output's plain float32");
        if (rc) return err_prefix(c->e, "output '%s'", io->name);
        rc = dnnlbe_add_step(c, -1, pd, 2, (const int[]){DNNL_ARG_FROM, DNNL_ARG_TO},
                             (const int[]){src, io->mem});
        if (rc) return rc;
    }
    return CALMA_OK;
}

static int walk(dnnlbe_ctx *c) {
    for (int i = 0; i < c->g->n_nodes; i++) {
        if (c->done[i]) continue;
        const ir_node *n = &c->g->nodes[i];
        if (n->n_out < 1 || n->out[0] < 0) continue;
        for (int j = 1; j < n->n_out; j++)
            if (n->out[j] >= 0 && c->uses[n->out[j]] > 0)
                return dnnlbe_unsupported(c, i,
                                          "output %d ('%s') is used; oneDNN computes only "
                                          "the first",
                                          j, dnnlbe_vname(c, n->out[j]));
        int rc = find_op(n->op_type)->fn(c, i);
        if (rc) return rc;
    }
    return CALMA_OK;
}

static void ctx_free(
    dnnlbe_ctx *c) { /* c->inferred belongs to the state (folded constants are read in convert) */
    free(c->vals);
    free(c->uses);
    free(c->consumer);
    free(c->done);
    free(c->bn_of_conv);
}

int dnnlbe_build(dnnlbe_state *s, const calma_model *m, const struct xform_ranges *ranges,
                 calma_error *e) {
    const ir_graph *g = m->graph;
    if (!g) return err_set(e, CALMA_E_INTERNAL, "the oneDNN backend needs the parsed graph");
    dnnlbe_ctx c;
    memset(&c, 0, sizeof c);
    c.g = g;
    c.s = s;
    c.e = e;
    c.cdt = s->prec == DNNLBE_BF16 ? dnnl_bf16 : dnnl_f32;
    c.ranges = ranges;
    c.opset = ir_graph_opset(g, "");
    if (!c.opset) c.opset = ir_graph_opset(g, "ai.onnx");
    size_t nv = (size_t)g->n_values + 1, nn = (size_t)g->n_nodes + 1;
    c.vals = calloc(nv, sizeof *c.vals);
    c.inferred = calloc(nv, sizeof *c.inferred);
    s->folded = c.inferred;
    s->n_folded = c.inferred ? g->n_values : 0;
    c.uses = calloc(nv, sizeof *c.uses);
    c.consumer = calloc(nv, sizeof *c.consumer);
    c.done = calloc(nn, 1);
    c.bn_of_conv = calloc(nn, sizeof *c.bn_of_conv);
    s->n_in = m->n_inputs;
    s->n_out = m->n_outputs;
    s->in = calloc((size_t)s->n_in + 1, sizeof *s->in);
    s->out = calloc((size_t)s->n_out + 1, sizeof *s->out);
    int rc = CALMA_OK;
    if (!c.vals || !c.inferred || !c.uses || !c.consumer || !c.done || !c.bn_of_conv || !s->in ||
        !s->out) {
        rc = err_set(e, CALMA_E_NOMEM, "out of memory");
        goto out;
    }
    s->scratch_buf = dnnlbe_new_buf(&c, DNNLBE_BUF_OWNED, 0);
    if (s->scratch_buf < 0) {
        rc = e->status;
        goto out;
    }
    for (int i = 0; i < s->n_in; i++) s->in[i].mem = -1;
    for (int k = 0; k < s->n_out; k++) s->out[k].mem = -1;
    rc = check_ops(&c);
    if (!rc) rc = infer(&c, m);
    if (!rc) rc = mark_folded(&c);
    if (rc) goto out;
    count_uses(&c);
    plan_bn_folding(&c);
    rc = setup_inputs(&c, m);
    if (!rc) rc = walk(&c);
    if (!rc) rc = finish_outputs(&c, m);
out:
    ctx_free(&c);
    return rc;
}
