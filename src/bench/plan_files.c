/* The plan's tensor files (--input, --inputs-dir, --expected,
 * --expected-dir), checked against the model before anything runs: each
 * names a tensor of the model and holds its dtype and shape at the plan's
 * batch size, and a fault is named exactly (the dtype, the dimension, the
 * flag to add). */
#include <stdio.h>
#include <string.h>

#include "bench/plan.h"
#include "bench/worker.h"
#include "ir/ir.h"
#include "util/err.h"
#include "util/mem.h"

/* One kind of file: the model's inputs or its outputs. */
typedef struct kind {
    const char *flag;     /* "--input" */
    const char *dir_flag; /* "--inputs-dir" */
    const char *what;     /* "input" */
    const char *prefix;   /* "input_": DIR/input_K.pb */
    const int *values;    /* the graph's value indices */
    int n_values;
    char **names, **paths;
    int *n;
    const char *dir;
} kind;

static void list_names(const ir_graph *g, const kind *k, char *buf, size_t n) {
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < k->n_values && len + 80 < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s'%s'", i ? ", " : "",
                                ir_value_name(g, k->values[i]));
}

/* A bare FILE feeds the model's only input (or output). */
static int name_bare(const ir_graph *g, const kind *k, calma_error *e) {
    for (int i = 0; i < *k->n; i++) {
        if (k->names[i]) continue;
        if (k->n_values != 1) {
            char names[512];
            list_names(g, k, names, sizeof names);
            return err_set(e, CALMA_E_USAGE,
                           "%s %s: the model has %d %ss (%s); give %s NAME=FILE for each", k->flag,
                           k->paths[i], k->n_values, k->what, names, k->flag);
        }
        k->names[i] = mem_strdup(ir_value_name(g, k->values[0]));
        if (!k->names[i]) return err_set(e, CALMA_E_NOMEM, "out of memory");
    }
    return CALMA_OK;
}

/* DIR/<prefix>K.pb (or .npy) for each tensor K not given by name. */
static int expand_dir(const ir_graph *g, const kind *k, calma_error *e) {
    if (!k->dir) return CALMA_OK;
    for (int v = 0; v < k->n_values; v++) {
        const char *name = ir_value_name(g, k->values[v]);
        int given = 0;
        for (int i = 0; i < *k->n; i++) given |= !strcmp(k->names[i], name);
        if (given) continue; /* a file given by name wins */
        char path[4200];
        snprintf(path, sizeof path, "%s/%s%d.pb", k->dir, k->prefix, v);
        if (!plan_is_file(path)) snprintf(path, sizeof path, "%s/%s%d.npy", k->dir, k->prefix, v);
        if (!plan_is_file(path))
            return err_set(e, CALMA_E_USAGE, "%s %s: no %s%d.pb (or .npy) for %s '%s'", k->dir_flag,
                           k->dir, k->prefix, v, k->what, name);
        if (*k->n >= PLAN_MAX_LIST)
            return err_set(e, CALMA_E_USAGE, "more than %d %s files", PLAN_MAX_LIST, k->what);
        k->names[*k->n] = mem_strdup(name);
        k->paths[*k->n] = mem_strdup(path);
        if (!k->names[*k->n] || !k->paths[*k->n]) return err_set(e, CALMA_E_NOMEM, "out of memory");
        (*k->n)++;
    }
    return CALMA_OK;
}

/* The batch sizes of the plan, "1,8". */
static void batch_list(const plan *p, char *buf, size_t n) {
    size_t len = 0;
    buf[0] = '\0';
    for (int b = 0; b < p->n_batch && len + 24 < n; b++)
        len += (size_t)snprintf(buf + len, n - len, "%s%lld", b ? "," : "", (long long)p->batch[b]);
}

/* f against the declared v: dtype, rank, each fixed dimension, and the
 * leading (batch) dimension against every --batch. is_input: the leading
 * dimension of an input is the batch, which calma sets. */
static int check_tensor(const ir_value *v, const ir_tensor *f, const kind *k, const char *name,
                        const char *path, const plan *p, int is_input, calma_error *e) {
    char want[256], got[256];
    ir_value_desc(v, want, sizeof want);
    ir_tensor_desc(f, got, sizeof got);
    char head[600];
    snprintf(head, sizeof head, "%s %s=%s holds %s; %s '%s' is %s", k->flag, name, path, got,
             k->what, name, want);
    if (v->dtype != CALMA_DT_UNDEFINED && f->dtype != v->dtype)
        return err_set(e, CALMA_E_USAGE, "%s: the dtype differs (%s in the file, %s wanted)", head,
                       ir_dtype_name(f->dtype), ir_dtype_name(v->dtype));
    if (v->rank < 0) return CALMA_OK;
    if (f->rank != v->rank)
        return err_set(e, CALMA_E_USAGE, "%s: the file has %d dimensions, the %s %d%s", head,
                       f->rank, k->what, v->rank,
                       f->rank + 1 == v->rank ? " (is the batch dimension missing?)" : "");
    for (int d = is_input ? 1 : 0; d < v->rank; d++)
        if (v->dims[d] >= 0 && f->dims[d] != v->dims[d])
            return err_set(e, CALMA_E_USAGE, "%s: dimension %d is %lld, %lld wanted", head, d,
                           (long long)f->dims[d], (long long)v->dims[d]);
    if (!is_input || v->rank == 0) return CALMA_OK;
    for (int b = 0; b < p->n_batch; b++) {
        if (f->dims[0] == p->batch[b]) continue;
        char list[256];
        batch_list(p, list, sizeof list);
        if (p->n_batch == 1)
            return err_set(e, CALMA_E_USAGE,
                           "%s: dimension 0 (the batch, '%s') is %lld in the file but the run's "
                           "batch is %s; add --batch %lld",
                           head, v->dim_param[0] ? v->dim_param[0] : "N", (long long)f->dims[0],
                           list, (long long)f->dims[0]);
        return err_set(e, CALMA_E_USAGE,
                       "%s: the file holds one batch of %lld, so it cannot feed --batch %s; use "
                       "--batch %lld",
                       head, (long long)f->dims[0], list, (long long)f->dims[0]);
    }
    return CALMA_OK;
}

static int check_files(const ir_graph *g, const kind *k, const plan *p, int is_input,
                       calma_error *e) {
    for (int i = 0; i < *k->n; i++) {
        int idx = -1;
        for (int v = 0; v < k->n_values; v++)
            if (!strcmp(ir_value_name(g, k->values[v]), k->names[i])) idx = v;
        if (idx < 0) {
            char names[512];
            list_names(g, k, names, sizeof names);
            return err_set(e, CALMA_E_USAGE, "%s %s: the model has no %s called '%s' (its %ss: %s)",
                           k->flag, k->names[i], k->what, k->names[i], k->what, names);
        }
        ir_tensor f = {0};
        if (worker_read_input(k->paths[i], &f, e)) {
            err_prefix(e, "%s %s", k->flag, k->names[i]);
            e->status = CALMA_E_USAGE;
            return CALMA_E_USAGE;
        }
        int rc = check_tensor(&g->values[k->values[idx]], &f, k, k->names[i], k->paths[i], p,
                              is_input, e);
        ir_tensor_free(&f);
        if (rc) return rc;
    }
    return CALMA_OK;
}

int plan_check_files(const ir_graph *g, plan *p, calma_error *e) {
    kind in = {"--input",   "--inputs-dir", "input",       "input_",     g->inputs,
               g->n_inputs, p->input_name,  p->input_path, &p->n_inputs, p->inputs_dir};
    kind out = {"--expected", "--expected-dir", "output",         "output_",      g->outputs,
                g->n_outputs, p->expected_name, p->expected_path, &p->n_expected, p->expected_dir};
    int rc = name_bare(g, &in, e);
    if (!rc) rc = name_bare(g, &out, e);
    if (!rc) rc = expand_dir(g, &in, e);
    if (!rc) rc = expand_dir(g, &out, e);
    if (!rc) rc = check_files(g, &in, p, 1, e);
    if (!rc) rc = check_files(g, &out, p, 0, e);
    if (rc) return rc;
    if (p->n_expected && p->n_inputs < g->n_inputs)
        return err_set(e, CALMA_E_USAGE,
                       "--expected outputs belong to particular inputs: give every input with "
                       "--input NAME=FILE or --inputs-dir (generated inputs cannot match them)");
    return CALMA_OK;
}
