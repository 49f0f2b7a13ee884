/* The partitioner: from calma's graph to a plan of XNNPACK islands and
 * host steps.
 *
 * 1. The oracle's static inference gives every value its shape at the
 *    trial's batch and folds every value that depends on constants only
 *    (PyTorch's Shape -> Gather -> Concat chains, transposed weights, ...).
 * 2. Each remaining node that matters for an output is an island node
 *    when XNNPACK's subgraph can express its op, else a host node when
 *    calma has a kernel for it; anything else is unsupported.
 * 3. Steps are made greedily, alternating: every host node whose inputs
 *    are ready, then the largest island that can run now (every island
 *    node whose inputs are ready or come from that island). An island op
 *    that turns out not to fit (an attribute XNNPACK lacks, or a layout
 *    its island cannot give) throws the island away and it is built
 *    again: without that node, which becomes a host node where calma has
 *    a kernel or else waits for the next island, which imports its input
 *    in the layout it needs. XNNPACK cannot drop a node once defined, so
 *    starting over is the only clean way back.
 * 4. A value crosses an island's edge as an external value bound to a host
 *    buffer; the layout changes there only where the two sides differ.
 *
 * XNNPACK_STRICT uses the same path but allows no host node and no split:
 * the whole graph is one island or the conversion is unsupported. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/xnnpack/xnn_internal.h"
#include "backends/op_gaps.h"
#include "backends/xnnpack/xnn_kernels.h"
#include "ref/ref.h"
#include "util/mem.h"

static const xnnbe_op *const island_tables[] = {xnnbe_ops_conv, xnnbe_ops_eltwise, xnnbe_ops_shape,
                                                xnnbe_ops_spatial};
static const xnnbe_op *const host_tables[] = {xnnbe_host_shape, xnnbe_host_math};

static const xnnbe_op *find_in(const xnnbe_op *const *tables, size_t n, const char *op_type) {
    for (size_t t = 0; t < n; t++)
        for (const xnnbe_op *o = tables[t]; o->op_type; o++)
            if (strcmp(o->op_type, op_type) == 0) return o;
    return NULL;
}

const xnnbe_op *xnnbe_find_op(const char *op_type) {
    return find_in(island_tables, sizeof island_tables / sizeof island_tables[0], op_type);
}

const xnnbe_op *xnnbe_find_host_op(const char *op_type) {
    return find_in(host_tables, sizeof host_tables / sizeof host_tables[0], op_type);
}

static int default_domain(const ir_node *n) {
    return !n->domain || !n->domain[0] || strcmp(n->domain, "ai.onnx") == 0;
}

static const xnnbe_op *island_op(const ir_node *n) {
    return default_domain(n) ? xnnbe_find_op(n->op_type) : NULL;
}

static const xnnbe_op *host_op(const ir_node *n) {
    return default_domain(n) ? xnnbe_find_host_op(n->op_type) : NULL;
}

/* Ops whose island version only emulates what a host kernel does in one
 * pass: XNNPACK's subgraph has no concat, so the island writes each piece
 * padded to the full output and adds them up. */
static int host_is_better(const ir_node *n) {
    return !strcmp(n->op_type, "Concat");
}

/* ---- set-up ---- */

static int input_index(const calma_model *m, const ir_graph *g, int k) {
    const char *name = g->values[g->inputs[k]].name;
    for (int i = 0; i < m->n_inputs; i++)
        if (m->inputs[i].name && name && !strcmp(m->inputs[i].name, name)) return i;
    return k < m->n_inputs ? k : -1;
}

/* Shapes of every value and the folded constants, at the trial's shapes. */
static int infer(xnnbe_ctx *c, const calma_model *m) {
    const ir_graph *g = c->g;
    ir_tensor *types = calloc((size_t)g->n_inputs + 1, sizeof *types);
    if (!types) return err_set(c->e, CALMA_E_NOMEM, "out of memory");
    for (int k = 0; k < g->n_inputs; k++) {
        int i = input_index(m, g, k);
        if (i < 0) {
            free(types);
            return err_set(c->e, CALMA_E_INVALID, "input '%s' is not given",
                           ir_value_name(g, g->inputs[k]));
        }
        types[k].dtype = m->inputs[i].dtype;
        types[k].rank = m->inputs[i].rank;
        memcpy(types[k].dims, m->inputs[i].dims, sizeof(int64_t) * (size_t)m->inputs[i].rank);
    }
    int rc = ref_infer_values(g, types, c->inferred, c->e);
    free(types);
    return rc;
}

/* Names every op that has no place to run before anything is defined, so
 * the message lists them all rather than the first one met. */
static int no_place(const ir_graph *g, int i, void *arg) {
    (void)g;
    return ((const xnnbe_ctx *)arg)->kind[i] == -1;
}

static int check_ops(xnnbe_ctx *c) {
    const ir_graph *g = c->g;
    char others[512];
    int first = opgap_find(g, no_place, c, others, sizeof others);
    if (first < 0) return CALMA_OK;
    const ir_node *n = &g->nodes[first];
    const char *dom = default_domain(n) ? "" : n->domain;
    char lab[300];
    return err_set(c->e, CALMA_E_UNSUPPORTED, "op '%s%s%s' (%s) has no XNNPACK equivalent%s%s%s%s",
                   dom, dom[0] ? "." : "", n->op_type, xnnbe_node_label(g, first, lab, sizeof lab),
                   c->strict ? "" : " and no calma kernel", others[0] ? " (also: " : "", others,
                   others[0] ? ")" : "");
}

/* Folded nodes (every output a constant), dead nodes (nothing live reads
 * them), island and host nodes; -1 for a node with no place to run. */
static void classify(xnnbe_ctx *c) {
    const ir_graph *g = c->g;
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        int folded = 1;
        for (int j = 0; j < n->n_out; j++)
            if (n->out[j] >= 0 && !c->inferred[n->out[j]].data) folded = 0;
        c->kind[i] = folded ? XNNBE_FOLD : XNNBE_DEAD;
    }
    unsigned char *live = calloc((size_t)g->n_values + 1, 1);
    if (!live) return; /* every node stays dead: load fails on the outputs */
    for (int k = 0; k < g->n_outputs; k++) live[g->outputs[k]] = 1;
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        const ir_node *n = &g->nodes[i];
        if (c->kind[i] == XNNBE_FOLD) continue;
        int needed = 0;
        for (int j = 0; j < n->n_out; j++)
            if (n->out[j] >= 0 && live[n->out[j]]) needed = 1;
        if (!needed) continue;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) live[n->in[k]] = 1;
        const xnnbe_op *io = island_op(n), *ho = host_op(n);
        if (c->strict)
            c->kind[i] = io ? XNNBE_XNN : -1;
        else if (ho && (!io || host_is_better(n)))
            c->kind[i] = XNNBE_HOST;
        else
            c->kind[i] = io ? XNNBE_XNN : -1;
    }
    free(live);
}

/* Readers, producers and single-use links over live nodes only: a Shape
 * that was folded away does not keep a Relu from fusing into its Conv. */
static int link_values(xnnbe_ctx *c) {
    const ir_graph *g = c->g;
    for (int v = 0; v < g->n_values; v++) c->consumer[v] = c->producer[v] = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        for (int j = 0; j < n->n_out; j++)
            if (n->out[j] >= 0) c->producer[n->out[j]] = i;
        if (c->kind[i] != XNNBE_XNN && c->kind[i] != XNNBE_HOST) continue;
        for (int k = 0; k < n->n_in; k++) {
            int v = n->in[k];
            if (v < 0) continue;
            c->uses[v]++;
            c->consumer[v] = i;
            c->cons_off[v + 1]++;
        }
    }
    for (int k = 0; k < g->n_outputs; k++) c->uses[g->outputs[k]]++;
    for (int v = 0; v < g->n_values; v++) c->cons_off[v + 1] += c->cons_off[v];
    int *at = calloc((size_t)g->n_values + 1, sizeof *at);
    c->cons = calloc((size_t)c->cons_off[g->n_values] + 1, sizeof *c->cons);
    if (!at || !c->cons) {
        free(at);
        return err_set(c->e, CALMA_E_NOMEM, "out of memory");
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        if (c->kind[i] != XNNBE_XNN && c->kind[i] != XNNBE_HOST) continue;
        for (int k = 0; k < n->n_in; k++) {
            int v = n->in[k];
            if (v < 0) continue;
            /* a node reading v twice is listed once per input: harmless */
            c->cons[c->cons_off[v] + at[v]++] = i;
        }
    }
    free(at);
    return CALMA_OK;
}

/* BatchNormalization whose input is a Conv's only use is folded into that
 * Conv's weights and bias. */
static void plan_bn_folding(xnnbe_ctx *c) {
    const ir_graph *g = c->g;
    for (int i = 0; i < g->n_nodes; i++) c->bn_of_conv[i] = c->fused_into[i] = -1;
    for (int k = 0; k < g->n_nodes; k++) {
        const ir_node *bn = &g->nodes[k];
        if (c->kind[k] != XNNBE_XNN || strcmp(bn->op_type, "BatchNormalization") != 0) continue;
        if (bn->n_in < 5 || bn->in[0] < 0 || bn->n_out < 1 || bn->out[0] < 0) continue;
        int extra_out = 0;
        for (int j = 1; j < bn->n_out; j++)
            if (bn->out[j] >= 0 && c->uses[bn->out[j]] > 0) extra_out = 1;
        if (extra_out) continue;
        int x = bn->in[0];
        if (c->uses[x] != 1 || xnnbe_is_output(c, x)) continue;
        int p = c->producer[x];
        if (p < 0 || p >= k || c->bn_of_conv[p] >= 0 || c->kind[p] != XNNBE_XNN) continue;
        const ir_node *cv = &g->nodes[p];
        if (strcmp(cv->op_type, "Conv") != 0 || cv->n_in < 2 || cv->in[1] < 0) continue;
        const ir_tensor *w = c->vals[cv->in[1]].cst;
        int ok = xnnbe_const_f32(w) && w->rank == 4;
        if (cv->n_in > 2 && cv->in[2] >= 0 && !xnnbe_const_f32(c->vals[cv->in[2]].cst)) ok = 0;
        for (int j = 1; j < 5 && ok; j++) {
            const ir_tensor *t = bn->in[j] >= 0 ? c->vals[bn->in[j]].cst : NULL;
            if (!xnnbe_const_f32(t) || (int64_t)ir_tensor_numel(t) != w->dims[0]) ok = 0;
        }
        if (!ok) continue;
        c->bn_of_conv[p] = k;
        c->fused_into[k] = p;
    }
}

/* A 4-D input is held as NHWC (transposed once in run()) when an island
 * op that works in NHWC reads it; otherwise its bytes go in as they are. */
static int wants_nhwc(const xnnbe_ctx *c, int v) {
    for (int r = c->cons_off[v]; r < c->cons_off[v + 1]; r++) {
        int j = c->cons[r];
        if (c->kind[j] == XNNBE_XNN && xnnbe_is_spatial_op(c->g->nodes[j].op_type)) return 1;
    }
    return 0;
}

/* The value of calma_model tensor t (graph input or output i, by name or
 * else by position), with its name and dtype checked into io. */
static int io_value(xnnbe_ctx *c, xnnbe_io *io, const calma_tensor *t, int i, int output, int *v) {
    const int *list = output ? c->g->outputs : c->g->inputs;
    int n = output ? c->g->n_outputs : c->g->n_inputs;
    *v = t->name ? ir_graph_find(c->g, t->name) : -1;
    if (*v < 0 && i < n) *v = list[i];
    if (*v < 0)
        return err_set(c->e, CALMA_E_INVALID, "%s '%s' is not in the graph",
                       output ? "output" : "input", t->name ? t->name : "?");
    io->name = mem_strdup(ir_value_name(c->g, *v));
    if (!io->name) return err_set(c->e, CALMA_E_NOMEM, "out of memory");
    if (t->dtype != CALMA_DT_FLOAT)
        return err_set(c->e, CALMA_E_UNSUPPORTED,
                       "'%s' is %s; the XNNPACK conversion computes in float32 only", io->name,
                       ir_dtype_name(t->dtype));
    return CALMA_OK;
}

/* Each graph input gets a host buffer run() fills. */
static int setup_inputs(xnnbe_ctx *c, const calma_model *m) {
    xnnbe_state *s = c->s;
    for (int i = 0; i < s->n_in; i++) {
        const calma_tensor *t = &m->inputs[i];
        xnnbe_io *io = &s->in[i];
        int v, rc = io_value(c, io, t, i, 0, &v);
        if (rc) return rc;
        if (c->strict && t->rank > XNN_MAX_TENSOR_DIMS)
            return err_set(c->e, CALMA_E_UNSUPPORTED,
                           "input '%s' has rank %d; XNNPACK tensors have at most %d", io->name,
                           t->rank, XNN_MAX_TENSOR_DIMS);
        for (int d = 0; d < t->rank; d++)
            if (t->dims[d] <= 0)
                return err_set(c->e, t->dims[d] ? CALMA_E_INVALID : CALMA_E_UNSUPPORTED,
                               "input '%s' has dimension %d of size %lld; XNNPACK needs fixed, "
                               "non-empty shapes",
                               io->name, d, (long long)t->dims[d]);
        io->rank = t->rank;
        memcpy(io->dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
        int nhwc = t->rank == 4 && wants_nhwc(c, v) && !xnnbe_nhwc_trivial(t->dims);
        rc = xnnbe_host_alloc(c, t->rank, t->dims, nhwc ? xnnbe_order_nhwc : NULL, &io->view);
        if (rc) return err_prefix(c->e, "input '%s'", io->name);
        io->numel = xnnbe_view_numel(&io->view);
        xnnbe_val *x = &c->vals[v];
        x->rank = io->rank;
        memcpy(x->dims, io->dims, sizeof(int64_t) * (size_t)io->rank);
        x->cst = NULL;
        x->n_views = 1;
        x->views[0] = io->view;
    }
    return CALMA_OK;
}

static int dims_text(char *buf, size_t n, int rank, const int64_t *dims) {
    size_t u = 0;
    buf[0] = '\0';
    for (int d = 0; d < rank && u + 24 < n; d++)
        u += (size_t)snprintf(buf + u, n - u, "%s%lld", d ? "," : "", (long long)dims[d]);
    return (int)u;
}

/* After planning: where run() finds each output, checked against the
 * shapes the model declares. */
static int locate_outputs(xnnbe_ctx *c, const calma_model *m) {
    xnnbe_state *s = c->s;
    for (int k = 0; k < s->n_out; k++) {
        const calma_tensor *t = &m->outputs[k];
        xnnbe_io *io = &s->out[k];
        int v, rc = io_value(c, io, t, k, 1, &v);
        if (rc) return rc;
        xnnbe_val *x = &c->vals[v];
        io->rank = x->rank;
        memcpy(io->dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
        if (x->cst) {
            const float *f = xnnbe_const_f32(x->cst);
            if (!f)
                return err_set(c->e, CALMA_E_UNSUPPORTED, "output '%s' is a %s constant", io->name,
                               ir_dtype_name(x->cst->dtype));
            float *copy = xnnbe_blob(c, ir_tensor_numel(x->cst));
            if (!copy) return c->e->status;
            memcpy(copy, f, ir_tensor_numel(x->cst) * sizeof(float));
            io->cst = copy;
        } else if (x->n_views) {
            io->view = x->views[0];
        } else {
            return err_set(c->e, CALMA_E_INTERNAL, "output '%s' was not computed by the plan",
                           io->name);
        }
        io->numel = 1;
        for (int d = 0; d < io->rank; d++) io->numel *= (size_t)io->dims[d];
        int same = io->rank == t->rank;
        for (int d = 0; same && d < t->rank; d++)
            if (t->dims[d] > 0 && t->dims[d] != io->dims[d]) same = 0;
        if (!same) {
            char a[128], b[128];
            dims_text(a, sizeof a, io->rank, io->dims);
            dims_text(b, sizeof b, t->rank, t->dims);
            return err_set(c->e, CALMA_E_INVALID,
                           "output '%s': the plan computes shape [%s], the model declares [%s]",
                           io->name, a, b);
        }
    }
    return CALMA_OK;
}

/* ---- islands ---- */

typedef struct snapshot {
    xnnbe_val *vals;
    unsigned char *done;
    int n_blobs, n_folded, n_steps;
} snapshot;

static int snap_take(xnnbe_ctx *c, snapshot *p) {
    size_t nv = (size_t)c->g->n_values + 1, nn = (size_t)c->g->n_nodes + 1;
    p->vals = malloc(nv * sizeof *p->vals);
    p->done = malloc(nn);
    if (!p->vals || !p->done) {
        free(p->vals);
        free(p->done);
        return err_set(c->e, CALMA_E_NOMEM, "out of memory");
    }
    memcpy(p->vals, c->vals, nv * sizeof *p->vals);
    memcpy(p->done, c->done, nn);
    p->n_blobs = c->s->n_blobs;
    p->n_folded = c->n_folded;
    p->n_steps = c->s->n_steps;
    return CALMA_OK;
}

static void snap_restore(xnnbe_ctx *c, const snapshot *p) {
    memcpy(c->vals, p->vals, ((size_t)c->g->n_values + 1) * sizeof *p->vals);
    memcpy(c->done, p->done, (size_t)c->g->n_nodes + 1);
    xnnbe_state *s = c->s;
    while (s->n_blobs > p->n_blobs) free(s->blobs[--s->n_blobs]);
    while (c->n_folded > p->n_folded) {
        ir_tensor_free(c->folded[--c->n_folded]);
        free(c->folded[c->n_folded]);
    }
    c->n_imports = c->n_exports = 0;
}

static void snap_free(snapshot *p) {
    free(p->vals);
    free(p->done);
}

static int available(const xnnbe_ctx *c, int v) {
    return c->vals[v].cst || c->vals[v].n_views > 0;
}

/* The island nodes that can run in island `cur` now: inputs ready, or
 * computed by another such node. Returns how many, and a bound on the
 * external values they may need. */
static int compute_cand(xnnbe_ctx *c, uint32_t *ext_bound) {
    const ir_graph *g = c->g;
    int n = 0;
    uint32_t bound = 8;
    memset(c->cand, 0, (size_t)g->n_nodes + 1);
    for (int k = 0; k < g->n_nodes; k++) {
        if (c->done[k]) continue;
        if (c->fused_into[k] >= 0) {
            c->cand[k] = c->cand[c->fused_into[k]];
            continue;
        }
        if (c->kind[k] != XNNBE_XNN || c->excluded[k] == c->cur) continue;
        const ir_node *nd = &g->nodes[k];
        int ok = 1;
        uint32_t ins = 0;
        for (int i = 0; i < nd->n_in && ok; i++) {
            int v = nd->in[i];
            if (v < 0) continue;
            if (available(c, v)) {
                ins += c->vals[v].cst ? 0 : 2;
                continue;
            }
            int p = c->producer[v];
            if (p < 0 || !c->cand[p]) ok = 0;
        }
        if (!ok) continue;
        c->cand[k] = 1;
        bound += ins + (uint32_t)nd->n_out;
        n++;
    }
    *ext_bound = bound;
    return n;
}

/* Defines every candidate in order; stops at the first that fails. */
static int walk(xnnbe_ctx *c) {
    for (int k = 0; k < c->g->n_nodes; k++) {
        if (!c->cand[k] || c->done[k] || c->fused_into[k] >= 0) continue;
        const ir_node *n = &c->g->nodes[k];
        int rc = island_op(n)->fn(c, k);
        if (rc) {
            c->failed = k;
            return rc;
        }
    }
    return CALMA_OK;
}

static int add_ext(xnnbe_ctx *c, xnnbe_island *is, uint32_t id, void *data) {
    if (mem_grow((void **)&is->ext, &is->cap_ext, is->n_ext + 1, sizeof *is->ext))
        return err_set(c->e, CALMA_E_NOMEM, "out of memory");
    is->ext[is->n_ext++] = (struct xnn_external_value){.id = id, .data = data};
    return CALMA_OK;
}

/* A host view of value v packed as NHWC or in logical order: one it has,
 * or a copy made at the island's edge. */
static int edge_view(xnnbe_ctx *c, int v, int nhwc, xnnbe_view *out) {
    xnnbe_val *x = &c->vals[v];
    const int *order = nhwc ? xnnbe_order_nhwc : NULL;
    for (int i = 0; i < x->n_views; i++)
        if (xnnbe_view_is_packed(&x->views[i], order)) {
            *out = x->views[i];
            return CALMA_OK;
        }
    xnnbe_view w;
    int rc = xnnbe_host_alloc(c, x->rank, x->dims, order, &w);
    if (!rc) rc = xnnbe_host_copy(c, -1, &x->views[0], &w);
    if (rc) return rc;
    if (x->n_views < XNNBE_MAX_VIEWS)
        x->views[x->n_views++] = w;
    else
        x->views[XNNBE_MAX_VIEWS - 1] = w;
    *out = w;
    return CALMA_OK;
}

/* The island was built: bind its imports (after any layout change they
 * need), add its step, and give its exports host buffers. */
static int close_island(xnnbe_ctx *c) {
    xnnbe_state *s = c->s;
    xnnbe_island *is = &s->islands[c->cur];
    int rc;
    for (int i = 0; i < c->n_imports; i++) {
        xnnbe_view w;
        if ((rc = edge_view(c, c->imports[i].v, c->imports[i].nhwc, &w))) return rc;
        if ((rc = add_ext(c, is, c->imports[i].ext, w.data))) return rc;
    }
    if (mem_grow((void **)&s->steps, &s->cap_steps, s->n_steps + 1, sizeof *s->steps))
        return err_set(c->e, CALMA_E_NOMEM, "out of memory");
    s->steps[s->n_steps++] = (xnnbe_step){.kind = XNNBE_STEP_ISLAND, .island = c->cur, .node = -1};
    for (int i = 0; i < c->n_exports; i++) {
        xnnbe_val *x = &c->vals[c->exports[i].v];
        xnnbe_view w;
        rc =
            xnnbe_host_alloc(c, x->rank, x->dims, c->exports[i].nhwc ? xnnbe_order_nhwc : NULL, &w);
        if (rc) return rc;
        x->n_views = 1;
        x->views[0] = w;
        if ((rc = add_ext(c, is, c->exports[i].ext, w.data))) return rc;
    }
    for (int k = 0; k < c->g->n_nodes; k++)
        if (c->cand[k]) {
            c->done[k] = 1;
            c->island_of[k] = c->cur;
            is->n_nodes++;
        }
    s->n_xnn_nodes += is->n_nodes;
    return CALMA_OK;
}

static void island_drop(xnnbe_island *is) {
    if (is->subgraph) xnn_delete_subgraph(is->subgraph);
    free(is->ext);
    memset(is, 0, sizeof *is);
}

/* Builds the next island, starting over each time a node does not fit.
 * *made is set when an island was made or a node moved to the host. */
static int island_phase(xnnbe_ctx *c, int *made) {
    xnnbe_state *s = c->s;
    *made = 0;
    if (mem_grow((void **)&s->islands, &s->cap_islands, s->n_islands + 1, sizeof *s->islands))
        return err_set(c->e, CALMA_E_NOMEM, "out of memory");
    snapshot snap = {0};
    int rc = snap_take(c, &snap);
    if (rc) return rc;
    c->cur = s->n_islands;
    xnnbe_island *is = &s->islands[c->cur];
    memset(is, 0, sizeof *is);
    for (;;) {
        uint32_t bound;
        if (compute_cand(c, &bound) == 0) break;
        c->next_ext = 0;
        c->n_imports = c->n_exports = 0;
        is->n_reserved = bound;
        if (xnn_create_subgraph(bound, 0, &is->subgraph) != xnn_status_success) {
            rc = err_set(c->e, CALMA_E_NOMEM, "xnn_create_subgraph failed");
            break;
        }
        rc = walk(c);
        if (rc == CALMA_OK) {
            rc = close_island(c);
            if (!rc) {
                s->n_islands++;
                *made = 1;
            }
            break;
        }
        island_drop(is);
        snap_restore(c, &snap);
        int k = c->failed;
        int may_retry = rc == XNNBE_SPLIT || (rc == CALMA_E_UNSUPPORTED && !c->strict);
        if (!may_retry) break;
        if (!host_op(&c->g->nodes[k]) && rc != XNNBE_SPLIT) break; /* nowhere to run it */
        c->e->status = CALMA_OK; /* that attempt's message no longer applies */
        c->e->msg[0] = '\0';
        if (host_op(&c->g->nodes[k])) {
            c->kind[k] = XNNBE_HOST; /* calma's kernel takes it */
            *made = 1;               /* progress: the host phase can plan it */
        } else {
            c->excluded[k] = c->cur; /* the next island imports its input */
        }
        rc = CALMA_OK;
    }
    if (c->cur == s->n_islands) island_drop(is); /* none was made */
    c->cur = -1;
    snap_free(&snap);
    return rc == XNNBE_SPLIT ? CALMA_E_UNSUPPORTED : rc;
}

/* ---- host steps ---- */

/* Plans every host node whose inputs are ready, in order. */
static int host_phase(xnnbe_ctx *c, int *made) {
    const ir_graph *g = c->g;
    *made = 0;
    for (int k = 0; k < g->n_nodes; k++) {
        if (c->done[k] || c->kind[k] != XNNBE_HOST) continue;
        const ir_node *n = &g->nodes[k];
        int ready = 1;
        for (int i = 0; i < n->n_in && ready; i++)
            if (n->in[i] >= 0 && !available(c, n->in[i])) ready = 0;
        if (!ready) continue;
        int rc = host_op(n)->fn(c, k);
        if (rc) return rc;
        c->done[k] = 1;
        c->s->n_host_nodes++;
        *made = 1;
    }
    return CALMA_OK;
}

static int plan(xnnbe_ctx *c) {
    const ir_graph *g = c->g;
    for (;;) {
        int pending = 0;
        for (int k = 0; k < g->n_nodes; k++)
            if (!c->done[k] && (c->kind[k] == XNNBE_XNN || c->kind[k] == XNNBE_HOST)) pending = 1;
        if (!pending) return CALMA_OK;
        int host_made, island_made;
        int rc = host_phase(c, &host_made);
        if (!rc) rc = island_phase(c, &island_made);
        if (rc) return rc;
        if (c->strict && c->s->n_islands > 1)
            return err_set(c->e, CALMA_E_UNSUPPORTED,
                           "the graph does not fit one XNNPACK subgraph (XNNPACK_STRICT)");
        if (!host_made && !island_made) {
            for (int k = 0; k < g->n_nodes; k++)
                if (!c->done[k] && (c->kind[k] == XNNBE_XNN || c->kind[k] == XNNBE_HOST))
                    return xnnbe_fail(c, k, CALMA_E_INTERNAL, "cannot be placed in the plan");
        }
    }
}

/* Ops whose island is worth keeping even between host nodes: XNNPACK's
 * convolutions, pools and matrix products beat anything calma has. */
static int heavy(const char *op) {
    static const char *const ops[] = {"Conv",          "ConvTranspose",     "Gemm",
                                      "MatMul",        "MaxPool",           "AveragePool",
                                      "GlobalMaxPool", "GlobalAveragePool", "Resize"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (!strcmp(op, ops[i])) return 1;
    return 0;
}

/* An island of light ops only (element-wise, reshapes, Softmax) that
 * reads from or feeds a host node costs more at its edges (layout changes,
 * the runtime's call) than it saves: its nodes become host nodes. Returns
 * whether any island was dissolved. */
static int dissolve_light_islands(xnnbe_ctx *c) {
    const ir_graph *g = c->g;
    int changed = 0;
    for (int i = 0; i < c->s->n_islands; i++) {
        int light = 1, touches = 0;
        for (int k = 0; k < g->n_nodes && light; k++) {
            if (c->island_of[k] != i) continue;
            const ir_node *n = &g->nodes[k];
            if (heavy(n->op_type) || !host_op(n)) light = 0;
            for (int j = 0; j < n->n_in; j++) {
                int p = n->in[j] >= 0 ? c->producer[n->in[j]] : -1;
                if (p >= 0 && c->kind[p] == XNNBE_HOST) touches = 1;
            }
            for (int j = 0; j < n->n_out; j++) {
                int v = n->out[j];
                if (v < 0) continue;
                for (int r = c->cons_off[v]; r < c->cons_off[v + 1]; r++)
                    if (c->kind[c->cons[r]] == XNNBE_HOST) touches = 1;
            }
        }
        if (!light || !touches) continue;
        for (int k = 0; k < g->n_nodes; k++)
            if (c->island_of[k] == i) c->kind[k] = XNNBE_HOST;
        changed = 1;
    }
    return changed;
}

/* Back to the state after the inputs were set up, keeping what was
 * learnt about each node's kind. */
static void reset_plan(xnnbe_ctx *c, const snapshot *base) {
    xnnbe_state *s = c->s;
    for (int i = 0; i < s->n_islands; i++) island_drop(&s->islands[i]);
    s->n_islands = 0;
    s->n_steps = 0;
    s->n_xnn_nodes = s->n_host_nodes = s->n_edge_copies = 0;
    snap_restore(c, base);
    for (int k = 0; k < c->g->n_nodes; k++) c->excluded[k] = c->island_of[k] = -1;
}

/* "Slice 26, Concat 16, ..." of the host nodes, most frequent first. */
static void host_op_summary(xnnbe_ctx *c) {
    const ir_graph *g = c->g;
    xnnbe_state *s = c->s;
    size_t used = 0;
    unsigned char *seen = calloc((size_t)g->n_nodes + 1, 1);
    if (!seen) return;
    s->host_ops[0] = '\0';
    for (;;) {
        int best = -1, best_n = 0;
        for (int k = 0; k < g->n_nodes; k++) {
            if (seen[k] || c->kind[k] != XNNBE_HOST) continue;
            int cnt = 0;
            for (int j = k; j < g->n_nodes; j++)
                if (c->kind[j] == XNNBE_HOST && !strcmp(g->nodes[j].op_type, g->nodes[k].op_type))
                    cnt++;
            if (cnt > best_n) best = k, best_n = cnt;
        }
        if (best < 0) break;
        for (int j = 0; j < g->n_nodes; j++)
            if (c->kind[j] == XNNBE_HOST && !strcmp(g->nodes[j].op_type, g->nodes[best].op_type))
                seen[j] = 1;
        if (used + strlen(g->nodes[best].op_type) + 16 < sizeof s->host_ops)
            used += (size_t)snprintf(s->host_ops + used, sizeof s->host_ops - used, "%s%s %d",
                                     used ? ", " : "", g->nodes[best].op_type, best_n);
    }
    free(seen);
}

static void ctx_free(xnnbe_ctx *c) {
    if (c->inferred)
        for (int v = 0; v < c->g->n_values; v++) ir_tensor_free(&c->inferred[v]);
    free(c->inferred);
    free(c->vals);
    free(c->uses);
    free(c->consumer);
    free(c->cons_off);
    free(c->cons);
    free(c->producer);
    free(c->fused_into);
    free(c->kind);
    free(c->done);
    free(c->bn_of_conv);
    free(c->excluded);
    free(c->cand);
    free(c->island_of);
    free(c->imports);
    free(c->exports);
    for (int i = 0; i < c->n_folded; i++) {
        ir_tensor_free(c->folded[i]);
        free(c->folded[i]);
    }
    free(c->folded);
}

static int ctx_alloc(xnnbe_ctx *c) {
    const ir_graph *g = c->g;
    size_t nv = (size_t)g->n_values + 1, nn = (size_t)g->n_nodes + 1;
    c->inferred = calloc(nv, sizeof *c->inferred);
    c->vals = calloc(nv, sizeof *c->vals);
    c->uses = calloc(nv, sizeof *c->uses);
    c->consumer = calloc(nv, sizeof *c->consumer);
    c->cons_off = calloc(nv + 1, sizeof *c->cons_off);
    c->producer = calloc(nv, sizeof *c->producer);
    c->fused_into = calloc(nn, sizeof *c->fused_into);
    c->kind = calloc(nn, sizeof *c->kind);
    c->done = calloc(nn, 1);
    c->bn_of_conv = calloc(nn, sizeof *c->bn_of_conv);
    c->excluded = calloc(nn, sizeof *c->excluded);
    c->cand = calloc(nn, 1);
    c->island_of = calloc(nn, sizeof *c->island_of);
    if (!c->island_of || !c->inferred || !c->vals || !c->uses || !c->consumer || !c->cons_off ||
        !c->producer || !c->fused_into || !c->kind || !c->done || !c->bn_of_conv || !c->excluded ||
        !c->cand)
        return err_set(c->e, CALMA_E_NOMEM, "out of memory");
    for (int k = 0; k < g->n_nodes; k++) c->excluded[k] = c->island_of[k] = -1;
    return CALMA_OK;
}

/* Values start as their inferred shapes; folded ones and initializers as
 * constants. */
static void init_values(xnnbe_ctx *c) {
    const ir_graph *g = c->g;
    for (int v = 0; v < g->n_values; v++) {
        xnnbe_val *x = &c->vals[v];
        const ir_tensor *t = &c->inferred[v];
        x->id = x->alt_id = XNN_INVALID_VALUE_ID;
        x->island = -1;
        x->rank = t->rank;
        memcpy(x->dims, t->dims, sizeof(int64_t) * (size_t)(t->rank > 0 ? t->rank : 0));
        if (g->values[v].init)
            x->cst = g->values[v].init;
        else if (t->data)
            x->cst = t;
        if (x->cst) {
            x->rank = x->cst->rank;
            memcpy(x->dims, x->cst->dims, sizeof(int64_t) * (size_t)x->cst->rank);
        }
    }
    for (int k = 0; k < g->n_nodes; k++)
        if (c->kind[k] == XNNBE_FOLD || c->kind[k] == XNNBE_DEAD) c->done[k] = 1;
}

int xnnbe_build(xnnbe_state *s, const calma_model *m, calma_error *e) {
    const ir_graph *g = m->graph;
    if (!g) return err_set(e, CALMA_E_INTERNAL, "the XNNPACK backend needs the parsed graph");
    xnnbe_ctx c;
    memset(&c, 0, sizeof c);
    c.g = g;
    c.s = s;
    c.e = e;
    c.cur = -1;
    c.strict = s->strict;
    c.opset = ir_graph_opset(g, "");
    if (!c.opset) c.opset = ir_graph_opset(g, "ai.onnx");
    s->n_in = m->n_inputs;
    s->n_out = m->n_outputs;
    s->in = calloc((size_t)s->n_in + 1, sizeof *s->in);
    s->out = calloc((size_t)s->n_out + 1, sizeof *s->out);
    int rc = ctx_alloc(&c);
    if (!rc && (!s->in || !s->out)) rc = err_set(e, CALMA_E_NOMEM, "out of memory");
    if (rc) goto out;
    rc = infer(&c, m);
    if (rc) {
        /* an op nobody runs says so in XNNPACK's terms */
        calma_error why = *e;
        for (int i = 0; i < g->n_nodes; i++)
            c.kind[i] = island_op(&g->nodes[i]) || (!c.strict && host_op(&g->nodes[i])) ? 0 : -1;
        if (check_ops(&c) == CALMA_OK) *e = why;
        rc = e->status;
        goto out;
    }
    classify(&c);
    if ((rc = check_ops(&c))) goto out;
    if ((rc = link_values(&c))) goto out;
    init_values(&c);
    plan_bn_folding(&c);
    for (int k = 0; k < g->n_nodes; k++)
        if (c.kind[k] == XNNBE_FOLD) s->n_folded_nodes++;
    rc = setup_inputs(&c, m);
    snapshot base = {0};
    if (!rc) rc = snap_take(&c, &base);
    for (int pass = 0; !rc; pass++) {
        rc = plan(&c);
        if (rc || c.strict || pass == 3 || !dissolve_light_islands(&c)) break;
        reset_plan(&c, &base);
    }
    snap_free(&base);
    if (!rc) rc = locate_outputs(&c, m);
    if (!rc) host_op_summary(&c);
out:
    ctx_free(&c);
    return rc;
}

void xnnbe_state_clear(xnnbe_state *s) {
    for (int i = 0; i < s->n_islands; i++) {
        if (s->islands[i].runtime) xnn_delete_runtime(s->islands[i].runtime);
        island_drop(&s->islands[i]);
    }
    free(s->islands);
    s->islands = NULL;
    s->n_islands = s->cap_islands = 0;
    if (s->pool) pthreadpool_destroy(s->pool);
    s->pool = NULL;
    for (int i = 0; i < s->n_in && s->in; i++) free(s->in[i].name);
    for (int k = 0; k < s->n_out && s->out; k++) free(s->out[k].name);
    free(s->in);
    free(s->out);
    s->in = s->out = NULL;
    free(s->steps);
    s->steps = NULL;
    s->n_steps = s->cap_steps = 0;
    for (int i = 0; i < s->n_blobs; i++) free(s->blobs[i]);
    free(s->blobs);
    s->blobs = NULL;
    s->n_blobs = s->cap_blobs = 0;
    if (s->initialized) xnn_deinitialize();
    s->initialized = 0;
}
