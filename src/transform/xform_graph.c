#include "transform/xform_graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref.h"
#include "util/err.h"
#include "util/mem.h"

/* ---- deep copy ---- */

static int copy_attr(ir_attr *dst, const ir_attr *src, calma_error *e) {
    memset(dst, 0, sizeof *dst);
    dst->name = mem_strdup(src->name);
    dst->type = src->type;
    dst->f = src->f;
    dst->i = src->i;
    dst->n = src->n;
    if (!dst->name) return err_set(e, CALMA_E_NOMEM, "out of memory copying an attribute");
    if (src->s) {
        dst->s = mem_strndup(src->s, src->s_len);
        dst->s_len = src->s_len;
        if (!dst->s) return err_set(e, CALMA_E_NOMEM, "out of memory copying an attribute");
    }
    if (src->type == IR_ATTR_TENSOR && ir_tensor_copy(&dst->t, &src->t, e)) return e->status;
    if (src->floats) {
        dst->floats = malloc(sizeof(float) * (src->n ? src->n : 1));
        if (!dst->floats) return err_set(e, CALMA_E_NOMEM, "out of memory copying an attribute");
        memcpy(dst->floats, src->floats, sizeof(float) * src->n);
    }
    if (src->ints) {
        dst->ints = malloc(sizeof(int64_t) * (src->n ? src->n : 1));
        if (!dst->ints) return err_set(e, CALMA_E_NOMEM, "out of memory copying an attribute");
        memcpy(dst->ints, src->ints, sizeof(int64_t) * src->n);
    }
    if (src->strings) {
        dst->strings = calloc(src->n ? src->n : 1, sizeof(char *));
        if (!dst->strings) return err_set(e, CALMA_E_NOMEM, "out of memory copying an attribute");
        for (size_t k = 0; k < src->n; k++)
            if (src->strings[k] && !(dst->strings[k] = mem_strdup(src->strings[k])))
                return err_set(e, CALMA_E_NOMEM, "out of memory copying an attribute");
    }
    if (src->tensors) {
        dst->tensors = calloc(src->n ? src->n : 1, sizeof(ir_tensor));
        if (!dst->tensors) return err_set(e, CALMA_E_NOMEM, "out of memory copying an attribute");
        for (size_t k = 0; k < src->n; k++)
            if (ir_tensor_copy(&dst->tensors[k], &src->tensors[k], e)) return e->status;
    }
    return CALMA_OK;
}

static int copy_value(ir_graph *g, const ir_value *sv, calma_error *e) {
    int v = ir_graph_value(g, sv->name);
    if (v < 0) return err_set(e, CALMA_E_NOMEM, "out of memory copying value '%s'", sv->name);
    ir_value *dv = &g->values[v];
    if (ir_value_set_type(dv, sv->dtype, sv->rank < 0 ? -1 : sv->rank, sv->dims,
                          (const char *const *)sv->dim_param))
        return err_set(e, CALMA_E_NOMEM, "out of memory copying value '%s'", sv->name);
    if (sv->rank < 0) dv->rank = -1;
    dv->producer = sv->producer;
    if (sv->init) {
        ir_tensor t;
        if (ir_tensor_copy(&t, sv->init, e)) return e->status;
        /* add_initializer would overwrite the declared type only when none */
        if (ir_graph_add_initializer(g, sv->name, &t)) {
            ir_tensor_free(&t);
            return err_set(e, CALMA_E_NOMEM, "out of memory copying '%s'", sv->name);
        }
    }
    return CALMA_OK;
}

static int copy_index_list(int **dst, int *n_dst, const int *src, int n) {
    *n_dst = 0;
    *dst = NULL;
    if (n <= 0) return 0;
    *dst = malloc(sizeof(int) * (size_t)n);
    if (!*dst) return -1;
    memcpy(*dst, src, sizeof(int) * (size_t)n);
    *n_dst = n;
    return 0;
}

static int copy_node(ir_graph *g, const ir_node *sn, calma_error *e) {
    ir_node *n = ir_graph_add_node(g, sn->op_type, sn->name, 0, NULL, 0, NULL);
    if (!n) return err_set(e, CALMA_E_NOMEM, "out of memory copying node '%s'", sn->name);
    free(n->domain);
    n->domain = mem_strdup(sn->domain ? sn->domain : "");
    if (!n->domain || copy_index_list(&n->in, &n->n_in, sn->in, sn->n_in) ||
        copy_index_list(&n->out, &n->n_out, sn->out, sn->n_out))
        return err_set(e, CALMA_E_NOMEM, "out of memory copying node '%s'", sn->name);
    for (int a = 0; a < sn->n_attr; a++) {
        ir_attr *da = ir_node_new_attr(n, "");
        if (!da) return err_set(e, CALMA_E_NOMEM, "out of memory copying node '%s'", sn->name);
        free(da->name);
        if (copy_attr(da, &sn->attr[a], e)) return e->status;
    }
    return CALMA_OK;
}

int xform_clone(const ir_graph *src, ir_graph **out, calma_error *e) {
    *out = NULL;
    ir_graph *g = ir_graph_new();
    if (!g) return err_set(e, CALMA_E_NOMEM, "out of memory copying the graph");
    int rc = CALMA_OK;
    g->ir_version = src->ir_version;
    g->name = mem_strdup(src->name);
    g->producer_name = mem_strdup(src->producer_name);
    g->producer_version = mem_strdup(src->producer_version);
    for (int i = 0; !rc && i < src->n_opsets; i++)
        if (ir_graph_set_opset(g, src->opsets[i].domain, src->opsets[i].version))
            rc = err_set(e, CALMA_E_NOMEM, "out of memory copying the graph");
    for (int v = 0; !rc && v < src->n_values; v++) rc = copy_value(g, &src->values[v], e);
    if (!rc && (copy_index_list(&g->inputs, &g->n_inputs, src->inputs, src->n_inputs) ||
                copy_index_list(&g->outputs, &g->n_outputs, src->outputs, src->n_outputs)))
        rc = err_set(e, CALMA_E_NOMEM, "out of memory copying the graph");
    for (int i = 0; !rc && i < src->n_nodes; i++) rc = copy_node(g, &src->nodes[i], e);
    if (rc) {
        ir_graph_free(g);
        return rc;
    }
    *out = g;
    return CALMA_OK;
}

/* ---- facts about a graph ---- */

int xform_value_dtypes(const ir_graph *g, calma_dtype **out, calma_error *e) {
    calma_dtype *dt = calloc((size_t)g->n_values + 1, sizeof *dt);
    if (!dt) return err_set(e, CALMA_E_NOMEM, "out of memory");
    for (int v = 0; v < g->n_values; v++)
        dt[v] = g->values[v].init ? g->values[v].init->dtype : g->values[v].dtype;
    /* Every node output becomes a graph output of a copy, so one static
     * inference pass tells all their types. */
    ir_graph *c = NULL;
    int rc = xform_clone(g, &c, e);
    ir_tensor *in = NULL, *res = NULL;
    int n_out0 = g->n_outputs;
    for (int v = 0; !rc && v < c->n_values; v++) {
        int listed = c->values[v].producer < 0;
        for (int k = 0; !listed && k < n_out0; k++) listed = c->outputs[k] == v;
        if (!listed &&
            ir_graph_add_output(c, c->values[v].name, CALMA_DT_UNDEFINED, -1, NULL, NULL))
            rc = err_set(e, CALMA_E_NOMEM, "out of memory");
    }
    if (!rc) {
        in = calloc((size_t)c->n_inputs + 1, sizeof *in);
        res = calloc((size_t)c->n_outputs + 1, sizeof *res);
        if (!in || !res) rc = err_set(e, CALMA_E_NOMEM, "out of memory");
    }
    for (int i = 0; !rc && i < c->n_inputs; i++) {
        const ir_value *v = &c->values[c->inputs[i]];
        in[i].dtype = v->dtype;
        in[i].rank = v->rank < 0 ? 0 : v->rank;
        for (int d = 0; d < in[i].rank; d++) in[i].dims[d] = v->dims[d] < 0 ? 1 : v->dims[d];
    }
    if (!rc && ref_infer_outputs(c, in, res, e) == CALMA_OK) {
        for (int k = 0; k < c->n_outputs; k++)
            if (dt[c->outputs[k]] == CALMA_DT_UNDEFINED) dt[c->outputs[k]] = res[k].dtype;
    } else if (!rc) {
        err_clear(e); /* declared types are all there is */
    }
    free(in);
    free(res);
    ir_graph_free(c);
    if (rc) {
        free(dt);
        return rc;
    }
    *out = dt;
    return CALMA_OK;
}

int xform_consumers(const ir_graph *g, int **count, char **is_output, calma_error *e) {
    *count = calloc((size_t)g->n_values + 1, sizeof **count);
    *is_output = calloc((size_t)g->n_values + 1, 1);
    if (!*count || !*is_output) {
        free(*count);
        free(*is_output);
        *count = NULL;
        *is_output = NULL;
        return err_set(e, CALMA_E_NOMEM, "out of memory");
    }
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] >= 0) (*count)[g->nodes[i].in[k]]++;
    for (int k = 0; k < g->n_outputs; k++) (*is_output)[g->outputs[k]] = 1;
    return CALMA_OK;
}

static int is_half(calma_dtype dt) {
    return dt == CALMA_DT_FLOAT16 || dt == CALMA_DT_BFLOAT16;
}

int xform_has_half(const ir_graph *g) {
    for (int v = 0; v < g->n_values; v++) {
        const ir_value *val = &g->values[v];
        if (is_half(val->dtype) || (val->init && is_half(val->init->dtype))) return 1;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        if (!strcmp(n->op_type, "Cast") && is_half((calma_dtype)ir_node_int(n, "to", 0))) return 1;
    }
    return 0;
}

int xform_sole_consumer(const ir_graph *g, int v) {
    int found = -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] == v) {
                if (found >= 0) return -1;
                found = i;
            }
    for (int k = 0; k < g->n_outputs; k++)
        if (g->outputs[k] == v) return -1;
    return found;
}

/* ---- the builder ---- */

void xb_nomem(xb *b, const char *what) {
    if (b->rc) return;
    b->rc = err_set(b->e, CALMA_E_NOMEM, "out of memory building %s", what);
}

int xb_begin(xb *b, const ir_graph *src, calma_error *e) {
    memset(b, 0, sizeof *b);
    b->src = src;
    b->e = e;
    b->g = ir_graph_new();
    if (!b->g) return b->rc = err_set(e, CALMA_E_NOMEM, "out of memory");
    ir_graph *g = b->g;
    g->ir_version = src->ir_version;
    g->name = mem_strdup(src->name);
    g->producer_name = mem_strdup("calma");
    g->producer_version = mem_strdup(src->producer_version);
    for (int i = 0; i < src->n_opsets; i++)
        if (ir_graph_set_opset(g, src->opsets[i].domain, src->opsets[i].version))
            xb_nomem(b, "the opsets");
    for (int pass = 0; pass < 2 && !b->rc; pass++) {
        int n = pass ? src->n_outputs : src->n_inputs;
        const int *ids = pass ? src->outputs : src->inputs;
        for (int k = 0; k < n; k++) {
            const ir_value *v = &src->values[ids[k]];
            int rank = v->rank < 0 ? -1 : v->rank;
            const char *const *dp = (const char *const *)v->dim_param;
            int rc = pass ? ir_graph_add_output(g, v->name, v->dtype, rank, v->dims, dp)
                          : ir_graph_add_input(g, v->name, v->dtype, rank, v->dims, dp);
            if (rc) xb_nomem(b, "the graph's inputs and outputs");
            if (v->rank < 0) g->values[ir_graph_find(g, v->name)].rank = -1;
        }
    }
    return b->rc;
}

int xb_end(xb *b, ir_graph **out) {
    *out = NULL;
    if (!b->rc) b->rc = ir_graph_sort(b->g, b->e);
    if (b->rc) {
        ir_graph_free(b->g);
        b->g = NULL;
        return b->rc;
    }
    *out = b->g;
    b->g = NULL;
    return CALMA_OK;
}

const char *xb_use(xb *b, int v) {
    const ir_value *sv = &b->src->values[v];
    if (b->rc) return sv->name;
    if (ir_graph_find(b->g, sv->name) >= 0) return sv->name;
    if (sv->init) {
        ir_tensor t;
        if (ir_tensor_copy(&t, sv->init, b->e)) {
            b->rc = b->e->status;
            return sv->name;
        }
        if (ir_graph_add_initializer(b->g, sv->name, &t)) {
            ir_tensor_free(&t);
            xb_nomem(b, sv->name);
        }
    } else if (ir_graph_value(b->g, sv->name) < 0) {
        xb_nomem(b, sv->name);
    }
    return sv->name;
}

static int name_taken(const xb *b, const char *s) {
    return ir_graph_find(b->src, s) >= 0 || ir_graph_find(b->g, s) >= 0;
}

const char *xb_fresh(xb *b, const char *base, const char *tag) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s_%s", base, tag);
    while (name_taken(b, buf)) snprintf(buf, sizeof buf, "%s_%s_%lu", base, tag, ++b->fresh);
    int v = ir_graph_value(b->g, buf);
    if (v < 0) {
        xb_nomem(b, buf);
        return "";
    }
    return b->g->values[v].name;
}

const char *xb_init(xb *b, const char *base, const char *tag, ir_tensor *t) {
    if (b->rc) {
        ir_tensor_free(t);
        return "";
    }
    const char *name = xb_fresh(b, base, tag);
    if (!b->rc && ir_graph_add_initializer(b->g, name, t)) xb_nomem(b, name);
    ir_tensor_free(t);
    return name;
}

const char *xb_const(xb *b, const char *base, const char *tag, calma_dtype dt, int rank,
                     size_t count, const double *v) {
    ir_tensor t = {0};
    int64_t dims[1] = {(int64_t)count};
    if (b->rc) return "";
    if (ir_tensor_alloc(&t, dt, rank, dims, b->e)) {
        b->rc = b->e->status;
        return "";
    }
    for (size_t i = 0; i < count; i++) ir_tensor_set_f64(&t, i, v[i]);
    return xb_init(b, base, tag, &t);
}

ir_node *xb_node(xb *b, const char *op, const char *name, int n_in, const char *const *in,
                 int n_out, const char *const *out) {
    if (b->rc) return NULL;
    ir_node *n = ir_graph_add_node(b->g, op, name, n_in, in, n_out, out);
    if (!n) xb_nomem(b, name);
    return n;
}

void xb_copy_attrs(xb *b, ir_node *to, const ir_node *from, const char *skip) {
    for (int a = 0; to && !b->rc && a < from->n_attr; a++) {
        if (skip && !strcmp(from->attr[a].name, skip)) continue;
        ir_attr *da = ir_node_new_attr(to, "");
        if (!da) {
            xb_nomem(b, from->name);
            return;
        }
        free(da->name);
        if (copy_attr(da, &from->attr[a], b->e)) b->rc = b->e->status;
    }
}

ir_node *xb_copy_node(xb *b, const ir_node *n, const char *const *in, const char *const *out) {
    const char *ins[64], *outs[64];
    if (n->n_in > 64 || n->n_out > 64) {
        if (!b->rc)
            b->rc = err_set(b->e, CALMA_E_UNSUPPORTED, "node '%s' (%s) has more than 64 inputs",
                            n->name, n->op_type);
        return NULL;
    }
    for (int k = 0; k < n->n_in; k++)
        ins[k] = in ? in[k] : n->in[k] >= 0 ? xb_use(b, n->in[k]) : "";
    for (int k = 0; k < n->n_out; k++)
        outs[k] = out ? out[k] : n->out[k] >= 0 ? xb_use(b, n->out[k]) : "";
    ir_node *d = xb_node(b, n->op_type, n->name, n->n_in, ins, n->n_out, outs);
    if (!d) return NULL;
    free(d->domain);
    d->domain = mem_strdup(n->domain ? n->domain : "");
    if (!d->domain) xb_nomem(b, n->name);
    xb_copy_attrs(b, d, n, NULL);
    return b->rc ? NULL : d;
}

const char *xb_node_name(xb *b, const char *prefix, const char *value, char *buf, size_t n) {
    (void)b;
    snprintf(buf, n, "calma/%s/%s", prefix, value);
    return buf;
}
