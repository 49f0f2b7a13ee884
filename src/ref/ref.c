/* The oracle's executor: op lookup, sessions, one run of a graph, and
 * static shape inference with constant folding. */
#include "ref/ref.h"
#include "ref/ref_flops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref_op.h"
#include "util/err.h"
#include "util/mem.h"

/* Highest default-domain opset whose semantics the kernels follow. */
#define REF_MAX_OPSET 22

/* Every family table, searched in this order. */
static const ref_op *const ref_families[] = {
    ref_ops_elementwise, ref_ops_conv,   ref_ops_pool,   ref_ops_linalg, ref_ops_norm,
    ref_ops_shape,       ref_ops_reduce, ref_ops_resize, ref_ops_index,
};
#define REF_N_FAMILIES (sizeof ref_families / sizeof ref_families[0])

static const ref_op *ref_find_op(const char *op_type) {
    if (!op_type) return NULL;
    for (size_t f = 0; f < REF_N_FAMILIES; f++)
        for (const ref_op *op = ref_families[f]; op->op_type; op++)
            if (!strcmp(op->op_type, op_type)) return op;
    return NULL;
}

int ref_op_supported(const char *op_type) {
    return ref_find_op(op_type) != NULL;
}

/* Op i in table order, counting only the first entry of a name that two
 * families might both define. */
static const ref_op *ref_op_at(int i) {
    int k = 0;
    for (size_t f = 0; f < REF_N_FAMILIES; f++)
        for (const ref_op *op = ref_families[f]; op->op_type; op++) {
            if (ref_find_op(op->op_type) != op) continue;
            if (k++ == i) return op;
        }
    return NULL;
}

int ref_op_count(void) {
    int k = 0;
    while (ref_op_at(k)) k++;
    return k;
}

const char *ref_op_name(int i) {
    const ref_op *op = i >= 0 ? ref_op_at(i) : NULL;
    return op ? op->op_type : NULL;
}

/* ---- sessions ---- */

struct ref_session {
    const ir_graph *g;
    int64_t opset;
    const ref_op **ops; /* per node */
    int *last_use;      /* per value: index of the last node reading it, -1 if none */
    char *keep;         /* per value: graph input, initializer or graph output */
    ir_tensor *consts;  /* per value: initializers, half types widened to float32 */
    ir_tensor *vals;    /* per value: contents during one run */
    int max_in, max_out;
    size_t live, peak; /* bytes of node outputs held now / at most, this run */
    const ir_tensor **in_scratch;
    ir_tensor *out_scratch;
    ir_tensor *promised; /* types infer gave, checked after run */
    double flops;        /* arithmetic of the nodes inferred or run so far */
};

static int is_half(calma_dtype dt) {
    return dt == CALMA_DT_FLOAT16 || dt == CALMA_DT_BFLOAT16;
}

/* Replaces a float16/bfloat16 tensor by its float32 value: the oracle
 * computes in single precision and only rounds where the graph casts. */
static int widen_half(ir_tensor *t, calma_error *e) {
    if (!is_half(t->dtype)) return CALMA_OK;
    if (!t->data) {
        t->dtype = CALMA_DT_FLOAT;
        return CALMA_OK;
    }
    ir_tensor w = {0};
    int rc = ir_tensor_alloc(&w, CALMA_DT_FLOAT, t->rank, t->dims, e);
    if (rc) return rc;
    size_t n = ir_tensor_numel(t);
    const uint16_t *src = t->data;
    float *dst = w.data;
    for (size_t i = 0; i < n; i++)
        dst[i] = t->dtype == CALMA_DT_FLOAT16 ? ir_half_to_float(src[i]) : ir_bf16_to_float(src[i]);
    ir_tensor_free(t);
    *t = w;
    return CALMA_OK;
}

/* float32 back to the declared half type of a graph output. */
static int narrow_half(ir_tensor *t, calma_dtype dt, calma_error *e) {
    if (!is_half(dt) || t->dtype != CALMA_DT_FLOAT) return CALMA_OK;
    if (!t->data) {
        t->dtype = dt;
        return CALMA_OK;
    }
    ir_tensor h = {0};
    int rc = ir_tensor_alloc(&h, dt, t->rank, t->dims, e);
    if (rc) return rc;
    size_t n = ir_tensor_numel(t);
    const float *src = t->data;
    uint16_t *dst = h.data;
    for (size_t i = 0; i < n; i++)
        dst[i] = dt == CALMA_DT_FLOAT16 ? ir_float_to_half(src[i]) : ir_float_to_bf16(src[i]);
    ir_tensor_free(t);
    *t = h;
    return CALMA_OK;
}

void ref_session_free(ref_session *s) {
    if (!s) return;
    if (s->consts)
        for (int v = 0; v < s->g->n_values; v++) ir_tensor_free(&s->consts[v]);
    if (s->vals)
        for (int v = 0; v < s->g->n_values; v++) ir_tensor_free(&s->vals[v]);
    free(s->ops);
    free(s->last_use);
    free(s->keep);
    free(s->consts);
    free(s->vals);
    free(s->in_scratch);
    free(s->out_scratch);
    free(s->promised);
    free(s);
}

static int ref_check_ops(const ir_graph *g, const ref_op **ops, calma_error *e) {
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        char anon[32];
        snprintf(anon, sizeof anon, "#%d", i);
        const char *name = n->name && n->name[0] ? n->name : anon;
        const char *dom = n->domain ? n->domain : "";
        if (dom[0] && strcmp(dom, "ai.onnx"))
            return err_set(e, CALMA_E_UNSUPPORTED,
                           "unsupported op '%s' (node '%s'): domain '%s' is not ONNX's default",
                           n->op_type, name, dom);
        const ref_op *op = ref_find_op(n->op_type);
        if (!op)
            return err_set(e, CALMA_E_UNSUPPORTED, "unsupported op '%s' (node '%s')", n->op_type,
                           name);
        if (ops) ops[i] = op;
        /* Inputs must come from earlier nodes: ir_graph_sort guarantees it. */
        for (int k = 0; k < n->n_in; k++) {
            int v = n->in[k];
            if (v < -1 || v >= g->n_values)
                return err_set(e, CALMA_E_INVALID, "node '%s' (%s): input %d refers to no value",
                               name, n->op_type, k);
            if (v >= 0 && g->values[v].producer >= i)
                return err_set(e, CALMA_E_INVALID,
                               "node '%s' (%s) reads '%s' before it is computed "
                               "(the graph is not sorted)",
                               name, n->op_type, g->values[v].name);
        }
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] < -1 || n->out[k] >= g->n_values)
                return err_set(e, CALMA_E_INVALID, "node '%s' (%s): output %d refers to no value",
                               name, n->op_type, k);
    }
    return CALMA_OK;
}

static int ref_check_opset(const ir_graph *g, int64_t *opset, calma_error *e) {
    int64_t v = ir_graph_opset(g, "");
    if (v <= 0)
        return err_set(e, CALMA_E_UNSUPPORTED,
                       "the model imports no default-domain (ai.onnx) opset");
    if (v > REF_MAX_OPSET)
        return err_set(e, CALMA_E_UNSUPPORTED,
                       "opset %lld of the default domain is newer than the oracle knows (%d)",
                       (long long)v, REF_MAX_OPSET);
    *opset = v;
    return CALMA_OK;
}

int ref_session_create(const ir_graph *g, ref_session **out, calma_error *e) {
    *out = NULL;
    int64_t opset = 0;
    int rc = ref_check_opset(g, &opset, e);
    if (rc) return rc;
    ref_session *s = calloc(1, sizeof *s);
    if (!s) return err_set(e, CALMA_E_NOMEM, "out of memory creating a session");
    s->g = g;
    s->opset = opset;
    size_t nv = (size_t)g->n_values + 1, nn = (size_t)g->n_nodes + 1;
    s->ops = calloc(nn, sizeof *s->ops);
    s->last_use = malloc(nv * sizeof *s->last_use);
    s->keep = calloc(nv, 1);
    s->consts = calloc(nv, sizeof *s->consts);
    s->vals = calloc(nv, sizeof *s->vals);
    if (!s->ops || !s->last_use || !s->keep || !s->consts || !s->vals) {
        ref_session_free(s);
        return err_set(e, CALMA_E_NOMEM, "out of memory creating a session");
    }
    rc = ref_check_ops(g, s->ops, e);
    if (rc) {
        ref_session_free(s);
        return rc;
    }
    for (int v = 0; v < g->n_values; v++) s->last_use[v] = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        if (n->n_in > s->max_in) s->max_in = n->n_in;
        if (n->n_out > s->max_out) s->max_out = n->n_out;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) s->last_use[n->in[k]] = i;
    }
    for (int k = 0; k < g->n_inputs; k++) s->keep[g->inputs[k]] = 1;
    for (int k = 0; k < g->n_outputs; k++) s->keep[g->outputs[k]] = 1;
    for (int v = 0; v < g->n_values; v++) {
        const ir_tensor *init = g->values[v].init;
        if (!init) continue;
        s->keep[v] = 1;
        ir_tensor *c = &s->consts[v];
        if (is_half(init->dtype)) {
            rc = ir_tensor_copy(c, init, e);
            if (!rc) rc = widen_half(c, e);
            if (rc) {
                err_prefix(e, "initializer '%s'", g->values[v].name);
                ref_session_free(s);
                return rc;
            }
        } else {
            *c = *init;
            c->owns = 0;
        }
    }
    s->in_scratch = calloc((size_t)s->max_in + 1, sizeof *s->in_scratch);
    s->out_scratch = calloc((size_t)s->max_out + 1, sizeof *s->out_scratch);
    s->promised = calloc((size_t)s->max_out + 1, sizeof *s->promised);
    if (!s->in_scratch || !s->out_scratch || !s->promised) {
        ref_session_free(s);
        return err_set(e, CALMA_E_NOMEM, "out of memory creating a session");
    }
    *out = s;
    return CALMA_OK;
}

/* "float32[N,3,224,224]" for a declared value type. */
static const char *ref_decl_desc(const ir_value *v, char *buf, size_t n) {
    size_t used = (size_t)snprintf(buf, n, "%s", ir_dtype_name(v->dtype));
    if (v->rank < 0) {
        if (used < n) snprintf(buf + used, n - used, "[any shape]");
        return buf;
    }
    if (used < n) used += (size_t)snprintf(buf + used, n - used, "[");
    for (int d = 0; d < v->rank && used < n; d++) {
        const char *sep = d ? "," : "";
        if (v->dims[d] >= 0)
            used += (size_t)snprintf(buf + used, n - used, "%s%lld", sep, (long long)v->dims[d]);
        else
            used += (size_t)snprintf(buf + used, n - used, "%s%s", sep,
                                     v->dim_param[d] ? v->dim_param[d] : "?");
    }
    if (used < n) snprintf(buf + used, n - used, "]");
    return buf;
}

/* Checks a caller's tensor against the declared type of graph input v.
 * need_data: the tensor must carry data of the right byte size. */
static int ref_check_input(const ir_graph *g, int v, const ir_tensor *t, int need_data,
                           calma_error *e) {
    const ir_value *val = &g->values[v];
    char want[256], got[256];
    int ok = 1;
    if (t->rank < 0 || t->rank > IR_MAX_RANK)
        return err_set(e, CALMA_E_INVALID, "input '%s': rank %d is outside 0..%d", val->name,
                       t->rank, IR_MAX_RANK);
    if (val->dtype != CALMA_DT_UNDEFINED && t->dtype != val->dtype &&
        !(is_half(val->dtype) && t->dtype == CALMA_DT_FLOAT))
        ok = 0;
    if (val->rank >= 0) {
        if (t->rank != val->rank) ok = 0;
        for (int d = 0; ok && d < val->rank; d++)
            if (val->dims[d] >= 0 && t->dims[d] != val->dims[d]) ok = 0;
    }
    if (!ok)
        return err_set(e, CALMA_E_INVALID, "input '%s': the model expects %s, got %s", val->name,
                       ref_decl_desc(val, want, sizeof want), ir_tensor_desc(t, got, sizeof got));
    size_t numel;
    int rc = ir_shape_numel(t->rank, t->dims, &numel, e);
    if (rc) return err_prefix(e, "input '%s'", val->name);
    size_t es = ir_dtype_size(t->dtype), bytes;
    if (!es)
        return err_set(e, CALMA_E_UNSUPPORTED, "input '%s': dtype %s is not supported", val->name,
                       ir_dtype_name(t->dtype));
    if (mem_mul_size(numel, es, &bytes))
        return err_set(e, CALMA_E_INVALID, "input '%s': byte size overflows", val->name);
    if (need_data && ((!t->data && bytes) || t->nbytes < bytes))
        return err_set(e, CALMA_E_INVALID, "input '%s': %s needs %zu bytes of data, got %zu",
                       val->name, ir_tensor_desc(t, got, sizeof got), bytes,
                       t->data ? t->nbytes : (size_t)0);
    return CALMA_OK;
}

static void ref_release(ref_session *s, int v) {
    if (v < 0 || s->keep[v]) return;
    if (s->vals[v].owns) s->live -= s->vals[v].nbytes;
    ir_tensor_free(&s->vals[v]);
}

size_t ref_session_peak_bytes(const ref_session *s) {
    return s->peak;
}

/* "node 'name' (Op)", or "node #i (Op)" for the many exported nodes that
 * have no name. */
static const char *ref_label(const ir_node *n, int i, char *buf, size_t size) {
    if (n->name && n->name[0]) return ir_node_label(n, buf, size);
    snprintf(buf, size, "node #%d (%s)", i, n->op_type);
    return buf;
}

/* Shape and Size read only their input's type, so they fold whenever the
 * type is known: this is what turns PyTorch's Shape->Gather->Concat->Reshape
 * chains into constants. */
static int ref_reads_type_only(const ir_node *n) {
    return !strcmp(n->op_type, "Shape") || !strcmp(n->op_type, "Size");
}

/* Runs node i. static_mode: inputs may lack data; a node whose inputs all
 * have data is folded by running it, the others get only types. */
static int ref_exec_node(ref_session *s, int i, int static_mode, calma_error *e) {
    const ir_graph *g = s->g;
    const ir_node *n = &g->nodes[i];
    const ref_op *op = s->ops[i];
    const ir_tensor **in = s->in_scratch;
    ir_tensor *out = s->out_scratch;
    ir_tensor *promised = s->promised;
    char lab[300];
    int all_data = 1, rc = CALMA_OK;
    for (int k = 0; k < n->n_in; k++) {
        int v = n->in[k];
        in[k] = v >= 0 ? &s->vals[v] : NULL;
        if (!in[k]) continue;
        if (in[k]->dtype == CALMA_DT_UNDEFINED)
            return err_set(e, CALMA_E_INTERNAL, "%s: input '%s' has no value",
                           ref_label(n, i, lab, sizeof lab), g->values[v].name);
        if (!in[k]->data && !(static_mode && ref_reads_type_only(n))) all_data = 0;
    }
    memset(out, 0, sizeof(ir_tensor) * (size_t)n->n_out);
    memset(promised, 0, sizeof(ir_tensor) * (size_t)n->n_out);
    ref_call c = {n, s->opset, in, n->n_in, out, n->n_out, e};
    rc = op->infer(&c);
    if (rc == REF_NEED_VALUE) {
        if (static_mode)
            return err_set(e, CALMA_E_UNSUPPORTED,
                           "%s: its output shape depends on input values not known before run time",
                           ref_label(n, i, lab, sizeof lab));
        return err_set(e, CALMA_E_INTERNAL, "%s: shape inference asked for values it was given",
                       ref_label(n, i, lab, sizeof lab));
    }
    if (rc) goto fail_prefix;
    s->flops += ref_flops_node(n, in, n->n_in, out, n->n_out);
    for (int j = 0; j < n->n_out; j++) {
        if (out[j].dtype == CALMA_DT_UNDEFINED) {
            if (n->out[j] < 0) continue;
            rc = err_set(e, CALMA_E_INTERNAL, "%s: shape inference gave output %d no type",
                         ref_label(n, i, lab, sizeof lab), j);
            goto fail;
        }
        promised[j] = out[j];
        promised[j].data = NULL;
        if (static_mode && !all_data) continue;
        rc = ir_tensor_alloc(&out[j], out[j].dtype, out[j].rank, out[j].dims, e);
        if (rc) goto fail_prefix;
    }
    if (!static_mode || all_data) {
        rc = op->run(&c);
        if (rc) goto fail_prefix;
        for (int j = 0; j < n->n_out; j++) {
            if (out[j].dtype == CALMA_DT_UNDEFINED && promised[j].dtype == CALMA_DT_UNDEFINED)
                continue;
            if (!out[j].data || !ir_tensor_same_shape(&out[j], &promised[j])) {
                char a[256], b[256];
                rc = err_set(e, CALMA_E_INTERNAL, "%s: output %d is %s, shape inference said %s",
                             ref_label(n, i, lab, sizeof lab), j,
                             ir_tensor_desc(&out[j], a, sizeof a),
                             ir_tensor_desc(&promised[j], b, sizeof b));
                goto fail;
            }
        }
    }
    for (int j = 0; j < n->n_out; j++) {
        rc = widen_half(&out[j], e);
        if (rc) goto fail_prefix;
        int v = n->out[j];
        if (v < 0) {
            ir_tensor_free(&out[j]);
            continue;
        }
        ir_tensor_free(&s->vals[v]);
        s->vals[v] = out[j];
        memset(&out[j], 0, sizeof out[j]);
        if (s->vals[v].owns) s->live += s->vals[v].nbytes;
        if (s->live > s->peak) s->peak = s->live;
        if (s->last_use[v] < 0) ref_release(s, v);
    }
    for (int k = 0; k < n->n_in; k++)
        if (n->in[k] >= 0 && s->last_use[n->in[k]] == i) ref_release(s, n->in[k]);
    return CALMA_OK;
fail_prefix:
    /* kernels may have named the node already */
    ir_node_label(n, lab, sizeof lab);
    if (strncmp(e->msg, lab, strlen(lab))) err_prefix(e, "%s", ref_label(n, i, lab, sizeof lab));
fail:
    for (int j = 0; j < n->n_out; j++) ir_tensor_free(&out[j]);
    return rc;
}

static void ref_clear_vals(ref_session *s) {
    for (int v = 0; v < s->g->n_values; v++) ir_tensor_free(&s->vals[v]);
    s->live = 0;
}

/* Initializers and the caller's inputs become the first values. */
static int ref_seed_values(ref_session *s, const ir_tensor *inputs, int static_mode,
                           calma_error *e) {
    const ir_graph *g = s->g;
    for (int v = 0; v < g->n_values; v++) {
        if (!g->values[v].init) continue;
        s->vals[v] = s->consts[v];
        s->vals[v].owns = 0;
    }
    for (int k = 0; k < g->n_inputs; k++) {
        int v = g->inputs[k];
        const ir_tensor *t = &inputs[k];
        int rc = ref_check_input(g, v, t, !static_mode, e);
        if (rc) return rc;
        ir_tensor *dst = &s->vals[v];
        ir_tensor_free(dst);
        *dst = *t;
        dst->owns = 0;
        /* Types only, even when the caller's tensors hold data: callers pass
         * their input buffers, and folding on them would run the whole
         * model. */
        if (static_mode) {
            dst->data = NULL;
            dst->nbytes = 0;
        }
        rc = widen_half(dst, e);
        if (rc) return err_prefix(e, "input '%s'", g->values[v].name);
    }
    return CALMA_OK;
}

static int ref_exec_all(ref_session *s, int static_mode, calma_error *e) {
    for (int i = 0; i < s->g->n_nodes; i++) {
        int rc = ref_exec_node(s, i, static_mode, e);
        if (rc) return rc;
    }
    return CALMA_OK;
}

int ref_session_run(ref_session *s, const ir_tensor *inputs, ir_tensor *outputs, calma_error *e) {
    const ir_graph *g = s->g;
    s->live = s->peak = 0;
    int rc = ref_seed_values(s, inputs, 0, e);
    if (!rc) rc = ref_exec_all(s, 0, e);
    for (int k = 0; !rc && k < g->n_outputs; k++) {
        int v = g->outputs[k];
        ir_tensor_free(&outputs[k]);
        if (!s->vals[v].data && s->vals[v].dtype == CALMA_DT_UNDEFINED) {
            rc = err_set(e, CALMA_E_INTERNAL, "graph output '%s' was not computed",
                         g->values[v].name);
            break;
        }
        rc = ir_tensor_copy(&outputs[k], &s->vals[v], e);
        if (!rc) rc = narrow_half(&outputs[k], g->values[v].dtype, e);
        if (rc) err_prefix(e, "graph output '%s'", g->values[v].name);
    }
    if (rc)
        for (int k = 0; k < g->n_outputs; k++) ir_tensor_free(&outputs[k]);
    ref_clear_vals(s);
    return rc;
}

static int ref_check_input_dims(const ir_graph *g, const ir_tensor *input_types, calma_error *e) {
    for (int k = 0; k < g->n_inputs; k++) {
        const ir_tensor *t = &input_types[k];
        for (int d = 0; d < t->rank && d < IR_MAX_RANK; d++)
            if (t->dims[d] < 0)
                return err_set(e, CALMA_E_INVALID,
                               "input '%s': dimension %d has no size (choose a batch size or a "
                               "size for it)",
                               g->values[g->inputs[k]].name, d);
    }
    return CALMA_OK;
}

int ref_infer_outputs(const ir_graph *g, const ir_tensor *input_types, ir_tensor *out_types,
                      calma_error *e) {
    return ref_infer_outputs_flops(g, input_types, out_types, NULL, e);
}

int ref_infer_outputs_flops(const ir_graph *g, const ir_tensor *input_types, ir_tensor *out_types,
                            double *flops, calma_error *e) {
    ref_session *s;
    int rc = ref_session_create(g, &s, e);
    if (rc) return rc;
    rc = ref_check_input_dims(g, input_types, e);
    if (rc) goto done;
    rc = ref_seed_values(s, input_types, 1, e);
    if (!rc) rc = ref_exec_all(s, 1, e);
    for (int k = 0; !rc && k < g->n_outputs; k++) {
        int v = g->outputs[k];
        ir_tensor *o = &out_types[k];
        memset(o, 0, sizeof *o);
        o->dtype = s->vals[v].dtype;
        o->rank = s->vals[v].rank;
        memcpy(o->dims, s->vals[v].dims, sizeof o->dims);
        if (is_half(g->values[v].dtype) && o->dtype == CALMA_DT_FLOAT)
            o->dtype = g->values[v].dtype;
    }
done:
    if (flops) *flops = s->flops;
    ref_clear_vals(s);
    ref_session_free(s);
    return rc;
}

int ref_infer_values(const ir_graph *g, const ir_tensor *input_types, ir_tensor *vals,
                     calma_error *e) {
    ref_session *s;
    int rc = ref_session_create(g, &s, e);
    if (rc) return rc;
    for (int v = 0; v < g->n_values; v++) memset(&vals[v], 0, sizeof vals[v]);
    rc = ref_check_input_dims(g, input_types, e);
    /* Keep every value, not only the graph's outputs: the caller wants them all. */
    memset(s->keep, 1, (size_t)g->n_values);
    if (!rc) rc = ref_seed_values(s, input_types, 1, e);
    if (!rc) rc = ref_exec_all(s, 1, e);
    for (int v = 0; !rc && v < g->n_values; v++) {
        ir_tensor *t = &s->vals[v];
        vals[v].dtype = t->dtype;
        vals[v].rank = t->rank;
        memcpy(vals[v].dims, t->dims, sizeof t->dims);
        if (g->values[v].init || !t->data || !t->owns) continue;
        vals[v] = *t; /* folded from constants: the caller takes the data */
        memset(t, 0, sizeof *t);
    }
    if (rc)
        for (int v = 0; v < g->n_values; v++) ir_tensor_free(&vals[v]);
    ref_clear_vals(s);
    ref_session_free(s);
    return rc;
}
