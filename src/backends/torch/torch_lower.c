/* The ONNX graph as a torchbe_program for TORCH_EAGER. calma's own shape
 * inference (ref_infer_values) gives every value's shape at the trial's
 * batch and folds what depends on constants only (Constant, Shape and the
 * shape arithmetic behind a Reshape, ...), the way PyTorch eager computes
 * sizes in Python rather than in kernels. Each remaining node becomes one
 * step, one ATen call. Slots are value indices. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/torch/torch_internal.h"
#include "ref/ref.h"
#include "util/err.h"
#include "util/mem.h"

void torchbe_lowered_free(torchbe_lowered *l) {
    if (!l) return;
    for (int i = 0; l->steps && i < l->prog.n_steps; i++) {
        torchbe_step *s = &l->steps[i];
        free((void *)s->node);
        free((void *)s->in);
        free((void *)s->out);
        free((void *)s->drop);
        free((void *)s->p);
    }
    if (l->vals)
        for (int v = 0; v < l->n_values; v++) ir_tensor_free(&l->vals[v]);
    free(l->vals);
    free(l->steps);
    free(l->const_slot);
    free(l->input_slot);
    free(l->output_slot);
    free(l->consts);
    free(l);
}

/* "node 'name' (Op)", or "node #i (Op)" for an unnamed one. */
static void node_label(const ir_node *n, int i, char *buf, size_t size) {
    if (n->name && n->name[0])
        ir_node_label(n, buf, size);
    else
        snprintf(buf, size, "node #%d (%s)", i, n->op_type);
}

static int known(const torchbe_lowered *l, const ir_graph *g, int v) {
    return v >= 0 && (l->vals[v].data || g->values[v].init);
}

/* A node whose every output was folded needs no step. */
static int folded(const torchbe_lowered *l, const ir_graph *g, const ir_node *n) {
    for (int k = 0; k < n->n_out; k++)
        if (n->out[k] >= 0 && !known(l, g, n->out[k])) return 0;
    return 1;
}

/* Every node that must run per inference has an ATen mapping; otherwise
 * one message names each missing op once, with its first node. */
static int check_ops(const torchbe_lowered *l, const ir_graph *g, calma_error *e) {
    char msg[CALMA_ERROR_MAX / 2] = "";
    size_t used = 0;
    int n_bad = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        if (folded(l, g, n)) continue;
        const char *dom = n->domain ? n->domain : "";
        if ((!dom[0] || !strcmp(dom, "ai.onnx")) && torchbe_find_op(n->op_type)) continue;
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = !strcmp(g->nodes[j].op_type, n->op_type) && !folded(l, g, &g->nodes[j]);
        if (seen) continue;
        char name[64];
        snprintf(name, sizeof name, "#%d", i);
        int w = snprintf(msg + used, sizeof msg - used, "%s'%s%s%s' (node '%s')", n_bad ? ", " : "",
                         dom[0] ? dom : "", dom[0] ? "." : "", n->op_type,
                         n->name && n->name[0] ? n->name : name);
        if (w > 0 && used + (size_t)w < sizeof msg) used += (size_t)w;
        n_bad++;
    }
    if (!n_bad) return CALMA_OK;
    return err_set(e, CALMA_E_UNSUPPORTED,
                   "unsupported %s %s: TORCH_EAGER maps %d ONNX ops to ATen calls (nodes "
                   "computed from constants only are folded) and %s",
                   n_bad > 1 ? "ops" : "op", msg, torchbe_op_count(),
                   n_bad > 1 ? "these are not among them" : "this is not one");
}

static int check_dtypes(const torchbe_lowered *l, const ir_graph *g, calma_error *e) {
    for (int k = 0; k < g->n_inputs + g->n_outputs; k++) {
        int v = k < g->n_inputs ? g->inputs[k] : g->outputs[k - g->n_inputs];
        calma_dtype dt = l->vals[v].dtype ? l->vals[v].dtype : g->values[v].dtype;
        if (!torchbe_dtype_ok(dt))
            return err_set(
                e, CALMA_E_UNSUPPORTED, "%s '%s' is %s, which libtorch 1.13 has no tensor type for",
                k < g->n_inputs ? "input" : "output", g->values[v].name, ir_dtype_name(dt));
    }
    return CALMA_OK;
}

static int *dup_ints(const int *src, int n) {
    int *d = malloc(sizeof *d * ((size_t)n + 1));
    if (d && n) memcpy(d, src, sizeof *d * (size_t)n);
    return d;
}

/* One step for node i, its parameters read by the op's lowering. */
static int lower_node(torchbe_lowered *l, const ir_graph *g, int i, const char *used,
                      torchbe_step *st, calma_error *e) {
    const ir_node *n = &g->nodes[i];
    const torchbe_op *op = torchbe_find_op(n->op_type);
    char lab[300];
    node_label(n, i, lab, sizeof lab);
    st->kind = op->kind;
    st->node = mem_strdup(lab);
    int *in = dup_ints(n->in, n->n_in), *out = dup_ints(n->out, n->n_out);
    st->in = in;
    st->n_in = n->n_in;
    st->out = out;
    st->n_out = n->n_out;
    if (!st->node || !st->in || !st->out) return err_set(e, CALMA_E_NOMEM, "out of memory");
    torchbe_ctx c = {g, n, ir_graph_opset(g, ""), l->vals, used, st, in, out, lab, e};
    for (int k = 0; k < n->n_in; k++)
        if (in[k] >= 0 && !l->vals[in[k]].dtype && !g->values[in[k]].init)
            return err_set(e, CALMA_E_INTERNAL, "%s: input %d has no inferred type", lab, k);
    return op->fn ? op->fn(&c) : CALMA_OK;
}

/* Constants the steps read (and graph outputs that are constants). */
static int collect_consts(torchbe_lowered *l, const ir_graph *g, const char *read, calma_error *e) {
    l->const_slot = calloc((size_t)g->n_values + 1, sizeof *l->const_slot);
    l->consts = calloc((size_t)g->n_values + 1, sizeof *l->consts);
    if (!l->const_slot || !l->consts) return err_set(e, CALMA_E_NOMEM, "out of memory");
    int n = 0;
    for (int v = 0; v < g->n_values; v++) {
        if (!read[v] || !known(l, g, v)) continue;
        const ir_tensor *t = g->values[v].init ? g->values[v].init : &l->vals[v];
        if (!torchbe_dtype_ok(t->dtype))
            return err_set(e, CALMA_E_UNSUPPORTED,
                           "constant '%s' is %s, which libtorch 1.13 has no tensor type for",
                           g->values[v].name, ir_dtype_name(t->dtype));
        calma_tensor *c = &l->consts[n];
        c->name = g->values[v].name;
        c->dtype = t->dtype;
        c->rank = t->rank;
        memcpy(c->dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
        c->data = t->data;
        c->nbytes = t->nbytes;
        l->const_slot[n++] = v;
    }
    l->prog.n_consts = n;
    l->prog.const_slot = l->const_slot;
    l->prog.consts = l->consts;
    return CALMA_OK;
}

/* After each step, the values no later step reads (and no graph output
 * is): PyTorch frees a tensor when its last reference goes, and so must
 * the program, or the live set grows to the whole graph. */
static int drop_lists(torchbe_lowered *l, const ir_graph *g, calma_error *e) {
    int nv = g->n_values;
    int *last = malloc(sizeof *last * ((size_t)nv + 1));
    char *keep = calloc((size_t)nv + 1, 1);
    if (!last || !keep) {
        free(last);
        free(keep);
        return err_set(e, CALMA_E_NOMEM, "out of memory");
    }
    for (int v = 0; v < nv; v++) last[v] = -1;
    for (int k = 0; k < g->n_inputs; k++) keep[g->inputs[k]] = 1;
    for (int k = 0; k < g->n_outputs; k++) keep[g->outputs[k]] = 1;
    for (int c = 0; c < l->prog.n_consts; c++) keep[l->const_slot[c]] = 1;
    for (int s = 0; s < l->prog.n_steps; s++) {
        const torchbe_step *st = &l->steps[s];
        for (int k = 0; k < st->n_out; k++)
            if (st->out[k] >= 0) last[st->out[k]] = s;
        for (int k = 0; k < st->n_in; k++)
            if (st->in[k] >= 0) last[st->in[k]] = s;
    }
    int rc = CALMA_OK;
    int *buf = malloc(sizeof *buf * ((size_t)nv + 1));
    for (int s = 0; buf && s < l->prog.n_steps; s++) {
        int n = 0;
        for (int v = 0; v < nv; v++)
            if (last[v] == s && !keep[v]) buf[n++] = v;
        l->steps[s].n_drop = n;
        l->steps[s].drop = dup_ints(buf, n);
        if (!l->steps[s].drop) break;
    }
    if (!buf || (l->prog.n_steps && !l->steps[l->prog.n_steps - 1].drop))
        rc = err_set(e, CALMA_E_NOMEM, "out of memory");
    free(buf);
    free(last);
    free(keep);
    return rc;
}

static int lower_steps(torchbe_lowered *l, const ir_graph *g, char *read, calma_error *e) {
    char *used = calloc((size_t)g->n_values + 1, 1);
    l->steps = calloc((size_t)g->n_nodes + 1, sizeof *l->steps);
    if (!used || !l->steps) {
        free(used);
        return err_set(e, CALMA_E_NOMEM, "out of memory");
    }
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] >= 0) used[g->nodes[i].in[k]] = 1;
    for (int k = 0; k < g->n_outputs; k++) used[g->outputs[k]] = read[g->outputs[k]] = 1;
    int rc = CALMA_OK;
    for (int i = 0; !rc && i < g->n_nodes; i++) {
        if (folded(l, g, &g->nodes[i])) continue;
        torchbe_step *st = &l->steps[l->prog.n_steps++];
        rc = lower_node(l, g, i, used, st, e);
        for (int k = 0; !rc && k < st->n_in; k++)
            if (st->in[k] >= 0) read[st->in[k]] = 1;
    }
    free(used);
    l->prog.steps = l->steps;
    return rc;
}

static int lower_io(torchbe_lowered *l, const ir_graph *g, calma_error *e) {
    l->input_slot = dup_ints(g->inputs, g->n_inputs);
    l->output_slot = dup_ints(g->outputs, g->n_outputs);
    if (!l->input_slot || !l->output_slot) return err_set(e, CALMA_E_NOMEM, "out of memory");
    l->prog.n_inputs = g->n_inputs;
    l->prog.input_slot = l->input_slot;
    l->prog.n_outputs = g->n_outputs;
    l->prog.output_slot = l->output_slot;
    return CALMA_OK;
}

static int infer(torchbe_lowered *l, const ir_graph *g, const calma_model *m, calma_error *e) {
    if (m->n_inputs != g->n_inputs)
        return err_set(e, CALMA_E_INTERNAL, "%d input tensors for a graph of %d inputs",
                       m->n_inputs, g->n_inputs);
    ir_tensor *types = calloc((size_t)g->n_inputs + 1, sizeof *types);
    l->n_values = g->n_values;
    l->vals = calloc((size_t)g->n_values + 1, sizeof *l->vals);
    if (!types || !l->vals) {
        free(types);
        return err_set(e, CALMA_E_NOMEM, "out of memory");
    }
    for (int k = 0; k < g->n_inputs; k++) {
        types[k].dtype = m->inputs[k].dtype;
        types[k].rank = m->inputs[k].rank;
        memcpy(types[k].dims, m->inputs[k].dims, sizeof(int64_t) * (size_t)m->inputs[k].rank);
    }
    int rc = ref_infer_values(g, types, l->vals, e);
    free(types);
    return rc;
}

int torchbe_lower(const ir_graph *g, const calma_model *m, torchbe_lowered **out, calma_error *e) {
    *out = NULL;
    if (!g) return err_set(e, CALMA_E_INTERNAL, "TORCH_EAGER needs calma's parsed graph");
    torchbe_lowered *l = calloc(1, sizeof *l);
    char *read = calloc((size_t)g->n_values + 1, 1);
    if (!l || !read) {
        free(l);
        free(read);
        return err_set(e, CALMA_E_NOMEM, "out of memory");
    }
    l->prog.n_slots = g->n_values;
    l->n_nodes = g->n_nodes;
    int rc = infer(l, g, m, e);
    if (!rc) rc = check_ops(l, g, e);
    if (!rc) rc = check_dtypes(l, g, e);
    if (!rc) rc = lower_steps(l, g, read, e);
    if (!rc) rc = collect_consts(l, g, read, e);
    if (!rc) rc = drop_lists(l, g, e);
    if (!rc) rc = lower_io(l, g, e);
    free(read);
    if (rc) {
        torchbe_lowered_free(l);
        return rc;
    }
    *out = l;
    return CALMA_OK;
}
