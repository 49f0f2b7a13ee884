#include "ir/ir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/mem.h"

/* Open-addressing name -> value index table, rebuilt as it fills. */
typedef struct name_index {
    int cap;   /* power of two */
    int *slot; /* value index + 1; 0 = empty */
} name_index;

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int index_insert(name_index *ix, const ir_value *values, int v) {
    uint64_t m = (uint64_t)ix->cap - 1;
    for (uint64_t h = hash_str(values[v].name) & m;; h = (h + 1) & m) {
        if (!ix->slot[h]) {
            ix->slot[h] = v + 1;
            return 0;
        }
    }
}

static int index_rebuild(ir_graph *g, int cap) {
    name_index *ix = g->index;
    if (!ix) {
        ix = calloc(1, sizeof *ix);
        if (!ix) return -1;
        g->index = ix;
    }
    int *slot = calloc((size_t)cap, sizeof *slot);
    if (!slot) return -1;
    free(ix->slot);
    ix->slot = slot;
    ix->cap = cap;
    for (int v = 0; v < g->n_values; v++) index_insert(ix, g->values, v);
    return 0;
}

ir_graph *ir_graph_new(void) {
    ir_graph *g = calloc(1, sizeof *g);
    if (g && index_rebuild(g, 64)) {
        free(g);
        return NULL;
    }
    return g;
}

static void attr_free(ir_attr *a) {
    free(a->name);
    free(a->s);
    ir_tensor_free(&a->t);
    free(a->floats);
    free(a->ints);
    if (a->strings)
        for (size_t i = 0; i < a->n; i++) free(a->strings[i]);
    free(a->strings);
    if (a->tensors)
        for (size_t i = 0; i < a->n; i++) ir_tensor_free(&a->tensors[i]);
    free(a->tensors);
}

void ir_graph_free(ir_graph *g) {
    if (!g) return;
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *n = &g->nodes[i];
        free(n->name);
        free(n->op_type);
        free(n->domain);
        free(n->in);
        free(n->out);
        for (int a = 0; a < n->n_attr; a++) attr_free(&n->attr[a]);
        free(n->attr);
    }
    free(g->nodes);
    for (int i = 0; i < g->n_values; i++) {
        ir_value *v = &g->values[i];
        free(v->name);
        for (int d = 0; d < IR_MAX_RANK; d++) free(v->dim_param[d]);
        if (v->init) {
            ir_tensor_free(v->init);
            free(v->init);
        }
    }
    free(g->values);
    for (int i = 0; i < g->n_opsets; i++) free(g->opsets[i].domain);
    free(g->opsets);
    free(g->inputs);
    free(g->outputs);
    free(g->name);
    free(g->producer_name);
    free(g->producer_version);
    if (g->index) {
        free(((name_index *)g->index)->slot);
        free(g->index);
    }
    free(g);
}

int ir_graph_find(const ir_graph *g, const char *name) {
    if (!name) return -1;
    const name_index *ix = g->index;
    uint64_t m = (uint64_t)ix->cap - 1;
    for (uint64_t h = hash_str(name) & m;; h = (h + 1) & m) {
        int s = ix->slot[h];
        if (!s) return -1;
        if (strcmp(g->values[s - 1].name, name) == 0) return s - 1;
    }
}

int ir_graph_value(ir_graph *g, const char *name) {
    int v = ir_graph_find(g, name);
    if (v >= 0) return v;
    if (mem_grow((void **)&g->values, &g->cap_values, g->n_values + 1, sizeof(ir_value))) return -1;
    ir_value *val = &g->values[g->n_values];
    memset(val, 0, sizeof *val);
    val->name = mem_strdup(name);
    if (!val->name) return -1;
    val->rank = -1;
    val->producer = -1;
    v = g->n_values++;
    name_index *ix = g->index;
    if ((g->n_values + 1) * 2 > ix->cap) {
        if (index_rebuild(g, ix->cap * 2)) return -1;
    } else {
        index_insert(ix, g->values, v);
    }
    return v;
}

int ir_value_set_type(ir_value *v, calma_dtype dt, int rank, const int64_t *dims,
                      const char *const *dim_params) {
    if (rank > IR_MAX_RANK) return -1;
    v->dtype = dt;
    v->rank = rank;
    for (int d = 0; d < IR_MAX_RANK; d++) {
        free(v->dim_param[d]);
        v->dim_param[d] = NULL;
        v->dims[d] = 0;
    }
    for (int d = 0; d < rank; d++) {
        v->dims[d] = dims ? dims[d] : -1;
        if (dim_params && dim_params[d] && dim_params[d][0]) {
            v->dim_param[d] = mem_strdup(dim_params[d]);
            if (!v->dim_param[d]) return -1;
            v->dims[d] = -1;
        }
    }
    return 0;
}

static int append_index(int **arr, int *n, int v) {
    int *p = realloc(*arr, sizeof(int) * (size_t)(*n + 1));
    if (!p) return -1;
    p[(*n)++] = v;
    *arr = p;
    return 0;
}

int ir_graph_add_input(ir_graph *g, const char *name, calma_dtype dt, int rank, const int64_t *dims,
                       const char *const *dim_params) {
    int v = ir_graph_value(g, name);
    if (v < 0 || ir_value_set_type(&g->values[v], dt, rank, dims, dim_params)) return -1;
    return append_index(&g->inputs, &g->n_inputs, v);
}

int ir_graph_add_output(ir_graph *g, const char *name, calma_dtype dt, int rank,
                        const int64_t *dims, const char *const *dim_params) {
    int v = ir_graph_value(g, name);
    if (v < 0 || ir_value_set_type(&g->values[v], dt, rank, dims, dim_params)) return -1;
    return append_index(&g->outputs, &g->n_outputs, v);
}

int ir_graph_add_initializer(ir_graph *g, const char *name, ir_tensor *t) {
    int v = ir_graph_value(g, name);
    if (v < 0) return -1;
    ir_value *val = &g->values[v];
    if (!val->init) {
        val->init = calloc(1, sizeof(ir_tensor));
        if (!val->init) return -1;
    }
    ir_tensor_free(val->init);
    *val->init = *t;
    memset(t, 0, sizeof *t);
    if (val->rank < 0) {
        val->dtype = val->init->dtype;
        val->rank = val->init->rank;
        memcpy(val->dims, val->init->dims, sizeof val->dims);
    }
    /* An initializer that was also listed as a graph input is a constant. */
    for (int i = 0; i < g->n_inputs; i++) {
        if (g->inputs[i] == v) {
            memmove(&g->inputs[i], &g->inputs[i + 1], sizeof(int) * (size_t)(g->n_inputs - i - 1));
            g->n_inputs--;
            break;
        }
    }
    return 0;
}

int ir_graph_set_opset(ir_graph *g, const char *domain, int64_t version) {
    const char *d = domain ? domain : "";
    if (!strcmp(d, "ai.onnx")) d = "";
    for (int i = 0; i < g->n_opsets; i++) {
        if (!strcmp(g->opsets[i].domain, d)) {
            g->opsets[i].version = version;
            return 0;
        }
    }
    ir_opset *p = realloc(g->opsets, sizeof *p * (size_t)(g->n_opsets + 1));
    if (!p) return -1;
    g->opsets = p;
    p[g->n_opsets].domain = mem_strdup(d);
    if (!p[g->n_opsets].domain) return -1;
    p[g->n_opsets].version = version;
    g->n_opsets++;
    return 0;
}

int64_t ir_graph_opset(const ir_graph *g, const char *domain) {
    const char *d = domain ? domain : "";
    if (!strcmp(d, "ai.onnx")) d = "";
    for (int i = 0; i < g->n_opsets; i++)
        if (!strcmp(g->opsets[i].domain, d)) return g->opsets[i].version;
    return 0;
}

static int name_list(ir_graph *g, int n, const char *const *names, int **out) {
    *out = NULL;
    if (n <= 0) return 0;
    int *ids = malloc(sizeof(int) * (size_t)n);
    if (!ids) return -1;
    for (int i = 0; i < n; i++) {
        if (!names || !names[i] || !names[i][0]) {
            ids[i] = -1;
            continue;
        }
        ids[i] = ir_graph_value(g, names[i]);
        if (ids[i] < 0) {
            free(ids);
            return -1;
        }
    }
    *out = ids;
    return 0;
}

ir_node *ir_graph_add_node(ir_graph *g, const char *op_type, const char *name, int n_in,
                           const char *const *in, int n_out, const char *const *out) {
    if (mem_grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof(ir_node))) return NULL;
    ir_node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->op_type = mem_strdup(op_type ? op_type : "");
    n->name = mem_strdup(name ? name : "");
    n->domain = mem_strdup("");
    if (!n->op_type || !n->name || !n->domain || name_list(g, n_in, in, &n->in) ||
        name_list(g, n_out, out, &n->out)) {
        free(n->op_type);
        free(n->name);
        free(n->domain);
        free(n->in);
        memset(n, 0, sizeof *n);
        return NULL;
    }
    n->n_in = n_in;
    n->n_out = n_out;
    g->n_nodes++;
    return n;
}

ir_attr *ir_node_new_attr(ir_node *n, const char *name) {
    ir_attr *p = realloc(n->attr, sizeof *p * (size_t)(n->n_attr + 1));
    if (!p) return NULL;
    n->attr = p;
    ir_attr *a = &p[n->n_attr];
    memset(a, 0, sizeof *a);
    a->name = mem_strdup(name);
    if (!a->name) return NULL;
    n->n_attr++;
    return a;
}

int ir_node_set_int(ir_node *n, const char *name, int64_t v) {
    ir_attr *a = ir_node_new_attr(n, name);
    if (!a) return -1;
    a->type = IR_ATTR_INT;
    a->i = v;
    return 0;
}

int ir_node_set_float(ir_node *n, const char *name, float v) {
    ir_attr *a = ir_node_new_attr(n, name);
    if (!a) return -1;
    a->type = IR_ATTR_FLOAT;
    a->f = v;
    return 0;
}

int ir_node_set_string(ir_node *n, const char *name, const char *v) {
    ir_attr *a = ir_node_new_attr(n, name);
    if (!a) return -1;
    a->type = IR_ATTR_STRING;
    a->s = mem_strdup(v);
    a->s_len = strlen(v);
    return a->s ? 0 : -1;
}

int ir_node_set_ints(ir_node *n, const char *name, const int64_t *v, size_t count) {
    ir_attr *a = ir_node_new_attr(n, name);
    if (!a) return -1;
    a->type = IR_ATTR_INTS;
    a->n = count;
    a->ints = malloc(sizeof(int64_t) * (count ? count : 1));
    if (!a->ints) return -1;
    if (count) memcpy(a->ints, v, sizeof(int64_t) * count);
    return 0;
}

int ir_node_set_floats(ir_node *n, const char *name, const float *v, size_t count) {
    ir_attr *a = ir_node_new_attr(n, name);
    if (!a) return -1;
    a->type = IR_ATTR_FLOATS;
    a->n = count;
    a->floats = malloc(sizeof(float) * (count ? count : 1));
    if (!a->floats) return -1;
    if (count) memcpy(a->floats, v, sizeof(float) * count);
    return 0;
}

int ir_node_set_tensor(ir_node *n, const char *name, ir_tensor *t) {
    ir_attr *a = ir_node_new_attr(n, name);
    if (!a) return -1;
    a->type = IR_ATTR_TENSOR;
    a->t = *t;
    memset(t, 0, sizeof *t);
    return 0;
}

const ir_attr *ir_node_attr(const ir_node *n, const char *name) {
    for (int i = 0; i < n->n_attr; i++)
        if (!strcmp(n->attr[i].name, name)) return &n->attr[i];
    return NULL;
}

int64_t ir_node_int(const ir_node *n, const char *name, int64_t dflt) {
    const ir_attr *a = ir_node_attr(n, name);
    return a && a->type == IR_ATTR_INT ? a->i : dflt;
}

float ir_node_float(const ir_node *n, const char *name, float dflt) {
    const ir_attr *a = ir_node_attr(n, name);
    if (a && a->type == IR_ATTR_FLOAT) return a->f;
    if (a && a->type == IR_ATTR_INT) return (float)a->i;
    return dflt;
}

const char *ir_node_string(const ir_node *n, const char *name, const char *dflt) {
    const ir_attr *a = ir_node_attr(n, name);
    return a && a->type == IR_ATTR_STRING && a->s ? a->s : dflt;
}

const int64_t *ir_node_ints(const ir_node *n, const char *name, size_t *count) {
    const ir_attr *a = ir_node_attr(n, name);
    if (a && a->type == IR_ATTR_INTS) {
        *count = a->n;
        return a->ints;
    }
    *count = 0;
    return NULL;
}

const float *ir_node_floats(const ir_node *n, const char *name, size_t *count) {
    const ir_attr *a = ir_node_attr(n, name);
    if (a && a->type == IR_ATTR_FLOATS) {
        *count = a->n;
        return a->floats;
    }
    *count = 0;
    return NULL;
}

const char *ir_value_name(const ir_graph *g, int v) {
    if (v < 0 || v >= g->n_values) return "(none)";
    return g->values[v].name;
}

const char *ir_node_label(const ir_node *n, char *buf, size_t size) {
    snprintf(buf, size, "node '%s' (%s)", n->name && n->name[0] ? n->name : "?", n->op_type);
    return buf;
}

/* Kahn's algorithm, keeping the given order among ready nodes so that a
 * graph already in order stays as it is. */
int ir_graph_sort(ir_graph *g, calma_error *e) {
    int rc = CALMA_OK;
    int nn = g->n_nodes, nv = g->n_values;
    int *indeg = calloc((size_t)nn + 1, sizeof(int));
    int *order = malloc(sizeof(int) * ((size_t)nn + 1));
    int *cons_count = calloc((size_t)nv + 1, sizeof(int));
    int *cons_start = calloc((size_t)nv + 2, sizeof(int));
    int *cons = NULL;
    char lab[256];
    if (!indeg || !order || !cons_count || !cons_start) {
        rc = err_set(e, CALMA_E_NOMEM, "out of memory sorting the graph");
        goto done;
    }
    for (int v = 0; v < nv; v++) g->values[v].producer = -1;
    for (int i = 0; i < nn; i++) {
        const ir_node *n = &g->nodes[i];
        for (int o = 0; o < n->n_out; o++) {
            int v = n->out[o];
            if (v < 0) continue;
            if (g->values[v].producer >= 0) {
                rc = err_set(e, CALMA_E_INVALID,
                             "value '%s' is produced by two nodes ('%s' and '%s')",
                             g->values[v].name, g->nodes[g->values[v].producer].name, n->name);
                goto done;
            }
            if (g->values[v].init) {
                rc = err_set(e, CALMA_E_INVALID, "%s writes to initializer '%s'",
                             ir_node_label(n, lab, sizeof lab), g->values[v].name);
                goto done;
            }
            g->values[v].producer = i;
        }
    }
    int total = 0;
    for (int i = 0; i < nn; i++) {
        const ir_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_in; k++) {
            int v = n->in[k];
            if (v < 0) continue;
            const ir_value *val = &g->values[v];
            if (val->producer < 0) {
                int is_input = val->init != NULL;
                for (int j = 0; !is_input && j < g->n_inputs; j++) is_input = g->inputs[j] == v;
                if (!is_input) {
                    rc = err_set(e, CALMA_E_INVALID,
                                 "%s reads '%s', which no node, input or initializer provides",
                                 ir_node_label(n, lab, sizeof lab), val->name);
                    goto done;
                }
                continue;
            }
            indeg[i]++;
            cons_count[v]++;
            total++;
        }
    }
    for (int k = 0; k < g->n_outputs; k++) {
        const ir_value *val = &g->values[g->outputs[k]];
        int ok = val->producer >= 0 || val->init;
        for (int j = 0; !ok && j < g->n_inputs; j++) ok = g->inputs[j] == g->outputs[k];
        if (!ok) {
            rc = err_set(e, CALMA_E_INVALID, "graph output '%s' is produced by nothing", val->name);
            goto done;
        }
    }
    cons = malloc(sizeof(int) * ((size_t)total + 1));
    if (!cons) {
        rc = err_set(e, CALMA_E_NOMEM, "out of memory sorting the graph");
        goto done;
    }
    for (int v = 0; v < nv; v++) cons_start[v + 1] = cons_start[v] + cons_count[v];
    memset(cons_count, 0, sizeof(int) * ((size_t)nv + 1));
    for (int i = 0; i < nn; i++) {
        const ir_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_in; k++) {
            int v = n->in[k];
            if (v < 0 || g->values[v].producer < 0) continue;
            cons[cons_start[v] + cons_count[v]++] = i;
        }
    }
    /* A min-ordered ready set: scan with a cursor, restarting at the lowest
     * node made ready. Quadratic only in pathological graphs. */
    int done_count = 0;
    char *placed = calloc((size_t)nn + 1, 1);
    if (!placed) {
        rc = err_set(e, CALMA_E_NOMEM, "out of memory sorting the graph");
        goto done;
    }
    int cursor = 0;
    while (done_count < nn) {
        while (cursor < nn && (placed[cursor] || indeg[cursor])) cursor++;
        if (cursor >= nn) break;
        int i = cursor;
        placed[i] = 1;
        order[done_count++] = i;
        const ir_node *n = &g->nodes[i];
        for (int o = 0; o < n->n_out; o++) {
            int v = n->out[o];
            if (v < 0) continue;
            for (int c = cons_start[v]; c < cons_start[v + 1]; c++) {
                int j = cons[c];
                if (--indeg[j] == 0 && j < cursor) cursor = j;
            }
        }
    }
    if (done_count < nn) {
        int bad = 0;
        while (bad < nn && placed[bad]) bad++;
        rc = err_set(e, CALMA_E_INVALID, "the graph has a cycle through %s",
                     ir_node_label(&g->nodes[bad], lab, sizeof lab));
        free(placed);
        goto done;
    }
    free(placed);
    ir_node *sorted = malloc(sizeof(ir_node) * ((size_t)nn + 1));
    if (!sorted) {
        rc = err_set(e, CALMA_E_NOMEM, "out of memory sorting the graph");
        goto done;
    }
    for (int k = 0; k < nn; k++) sorted[k] = g->nodes[order[k]];
    if (nn) memcpy(g->nodes, sorted, sizeof(ir_node) * (size_t)nn); /* no nodes: NULL */
    free(sorted);
    for (int k = 0; k < nn; k++)
        for (int o = 0; o < g->nodes[k].n_out; o++)
            if (g->nodes[k].out[o] >= 0) g->values[g->nodes[k].out[o]].producer = k;
done:
    free(indeg);
    free(order);
    free(cons_count);
    free(cons_start);
    free(cons);
    return rc;
}

int64_t ir_graph_param_count(const ir_graph *g) {
    int64_t total = 0;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].init) total += (int64_t)ir_tensor_numel(g->values[v].init);
    return total;
}

void ir_graph_set_batch(ir_graph *g, int64_t batch) {
    for (int pass = 0; pass < 2; pass++) {
        int n = pass ? g->n_outputs : g->n_inputs;
        const int *ids = pass ? g->outputs : g->inputs;
        for (int k = 0; k < n; k++) {
            ir_value *v = &g->values[ids[k]];
            if (v->rank > 0 && v->dims[0] < 0) {
                v->dims[0] = batch;
                free(v->dim_param[0]);
                v->dim_param[0] = NULL;
            }
        }
    }
}

const char *ir_value_desc(const ir_value *v, char *buf, size_t n) {
    if (v->rank < 0) {
        snprintf(buf, n, "%s[?]", ir_dtype_name(v->dtype));
        return buf;
    }
    size_t k = (size_t)snprintf(buf, n, "%s[", ir_dtype_name(v->dtype));
    for (int d = 0; d < v->rank && k < n; d++) {
        if (v->dims[d] >= 0)
            k += (size_t)snprintf(buf + k, n - k, "%s%lld", d ? "," : "", (long long)v->dims[d]);
        else
            k += (size_t)snprintf(buf + k, n - k, "%s%s", d ? "," : "",
                                  v->dim_param[d] ? v->dim_param[d] : "?");
    }
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}
