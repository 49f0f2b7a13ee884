#include "bench/wxform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/journal.h"
#include "bench/worker.h"
#include "onnx/onnx.h"
#include "util/err.h"

/* Calibration on the user's inputs when every runtime input has a file. */
static int user_inputs(const wxform_args *a, ir_tensor **out, calma_error *e) {
    *out = NULL;
    const ir_graph *g = a->g;
    const char *path[64] = {0};
    if (g->n_inputs > 64) return CALMA_OK;
    for (int i = 0; i < g->n_inputs; i++) {
        const char *name = ir_value_name(g, g->inputs[i]);
        size_t len = strlen(name);
        for (int k = 0; k < a->n_inputs; k++)
            if (!strncmp(a->inputs[k], name, len) && a->inputs[k][len] == '=')
                path[i] = a->inputs[k] + len + 1;
        if (!path[i]) return CALMA_OK; /* generated inputs then */
    }
    ir_tensor *t = calloc((size_t)g->n_inputs + 1, sizeof *t);
    if (!t) return err_set(e, CALMA_E_NOMEM, "out of memory");
    for (int i = 0; i < g->n_inputs; i++) {
        int rc = worker_read_input(path[i], &t[i], e);
        if (rc) {
            for (int k = 0; k < i; k++) ir_tensor_free(&t[k]);
            free(t);
            return err_prefix(e, "calibration input");
        }
    }
    *out = t;
    return CALMA_OK;
}

static void describe(const wxform_args *a, const xform_opts *o, char *key, size_t n) {
    char d[1024];
    xform_opts_describe(a->x, o, d, sizeof d);
    struct stat st;
    long long size = 0, mtime = 0;
    if (stat(a->model_path, &st) == 0) size = (long long)st.st_size, mtime = (long long)st.st_mtime;
    size_t used =
        (size_t)snprintf(key, n, "%s\nmodel %s %lld %lld\n", d, a->model_path, size, mtime);
    for (int k = 0; k < a->n_inputs && used < n; k++)
        used += (size_t)snprintf(key + used, n - used, "input %s\n", a->inputs[k]);
}

static cJSON *report_json(const wxform_args *a, const xform_opts *o, const xform_report *rep,
                          int user) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", a->x->name);
    cJSON_AddStringToObject(j, "precision", a->x->precision);
    cJSON_AddNumberToObject(j, "nodes", rep->nodes);
    cJSON_AddNumberToObject(j, "converted", rep->converted);
    cJSON_AddNumberToObject(j, "kept", rep->kept);
    cJSON_AddNumberToObject(j, "folded_batchnorm", rep->folded_bn);
    cJSON *kept = cJSON_AddArrayToObject(j, "kept_ops");
    for (int k = 0; k < rep->n_kept_ops; k++) {
        cJSON *one = cJSON_CreateObject();
        cJSON_AddStringToObject(one, "op", rep->kept_ops[k].op);
        cJSON_AddNumberToObject(one, "count", rep->kept_ops[k].count);
        cJSON_AddStringToObject(one, "why", rep->kept_ops[k].why);
        cJSON_AddItemToArray(kept, one);
    }
    if (a->x->kind == XFORM_INT8) {
        cJSON_AddNumberToObject(j, "absorbed_activations", rep->absorbed);
        cJSON_AddStringToObject(j, "activations",
                                o->act == CALMA_DT_INT8 ? "int8 symmetric" : "uint8 asymmetric");
        cJSON_AddStringToObject(j, "weights", "int8 symmetric, per output channel");
        cJSON *c = cJSON_AddObjectToObject(j, "calibration");
        cJSON_AddNumberToObject(c, "batches", rep->calib_batches);
        cJSON_AddStringToObject(
            c, "method", o->calib.method == XFORM_CALIB_PERCENTILE ? "percentile" : "minmax");
        if (o->calib.method == XFORM_CALIB_PERCENTILE)
            cJSON_AddNumberToObject(c, "percentile", o->calib.percentile);
        cJSON_AddStringToObject(c, "inputs", user ? "user" : "generated");
        cJSON_AddNumberToObject(c, "seconds", rep->calib_s);
    }
    return j;
}

/* Every file of the cache, written through a temporary name; the key last,
 * so a cache with a key is complete. */
static int write_cache(const char *dir, const char *name, const ir_graph *xg, const xform_ranges *r,
                       const cJSON *info, const char *key, calma_error *e) {
    char path[4400], tmp[4500], file[128];
    snprintf(path, sizeof path, "%s/%s.onnx", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int rc = onnx_save(xg, tmp, e);
    if (!rc && rename(tmp, path)) rc = err_set(e, CALMA_E_IO, "%s: cannot write", path);
    if (!rc && r && r->n) {
        snprintf(path, sizeof path, "%s/%s.ranges", dir, name);
        rc = xform_ranges_save(r, path, e);
    }
    char *text = rc ? NULL : cJSON_Print(info);
    if (!rc && !text) rc = err_set(e, CALMA_E_NOMEM, "out of memory");
    snprintf(file, sizeof file, "%s.json", name);
    if (!rc) rc = journal_write_file(dir, file, text, e);
    free(text);
    snprintf(file, sizeof file, "%s.key", name);
    if (!rc) rc = journal_write_file(dir, file, key, e);
    return rc;
}

/* The cached transform when its key matches: its info, else NULL. */
static cJSON *read_cache(const char *dir, const char *name, const char *key) {
    char path[4400];
    char *text = NULL;
    calma_error e = {0};
    snprintf(path, sizeof path, "%s/%s.key", dir, name);
    if (journal_read_file(path, &text, NULL, &e)) return NULL;
    int same = !strcmp(text, key);
    free(text);
    snprintf(path, sizeof path, "%s/%s.onnx", dir, name);
    if (!same || access(path, R_OK)) return NULL;
    snprintf(path, sizeof path, "%s/%s.json", dir, name);
    if (journal_read_file(path, &text, NULL, &e)) return NULL;
    cJSON *j = cJSON_Parse(text);
    free(text);
    return j;
}

static int transform_now(const wxform_args *a, xform_opts *o, const char *dir, const char *key,
                         wxform_out *out, calma_error *e) {
    ir_tensor *user = NULL;
    int rc = a->x->kind == XFORM_INT8 ? user_inputs(a, &user, e) : CALMA_OK;
    if (rc) return rc;
    if (user) {
        o->calib.inputs = user;
        o->calib.n_inputs = 1;
    }
    char stale[4400];
    snprintf(stale, sizeof stale, "%s/%s.key", dir, a->x->name);
    unlink(stale);
    ir_graph *xg = NULL;
    xform_ranges ranges = {0};
    xform_report rep;
    rc = xform_apply(a->x, a->g, o, NULL, &xg, &ranges, &rep, e);
    if (!rc) {
        out->calibration_s = rep.calib_s;
        out->info = report_json(a, o, &rep, user != NULL);
        rc = write_cache(dir, a->x->name, xg, &ranges, out->info, key, e);
    }
    for (int i = 0; user && i < a->g->n_inputs; i++) ir_tensor_free(&user[i]);
    free(user);
    xform_ranges_free(&ranges);
    ir_graph_free(xg);
    return rc;
}

int wxform_run(const wxform_args *a, wxform_out *out, calma_error *e) {
    memset(out, 0, sizeof *out);
    xform_opts o;
    int rc = xform_parse_options(a->options, &o, e);
    if (rc) return rc;
    if (a->calibration > 0) o.calib.batches = a->calibration;
    o.calib.seed = a->seed;
    o.calib.progress = a->progress;
    o.calib.progress_ctx = a->progress_ctx;
    char key[8192], dir[4096];
    describe(a, &o, key, sizeof key);
    if (a->dir)
        snprintf(dir, sizeof dir, "%s", a->dir);
    else
        snprintf(dir, sizeof dir, "%s/transforms", a->run_dir);
    rc = journal_make_dir(dir, e);
    if (rc) return rc;
    out->info = read_cache(dir, a->x->name, key);
    out->cached = out->info != NULL;
    if (!out->cached) rc = transform_now(a, &o, dir, key, out, e);
    if (rc) return rc;
    snprintf(out->path, sizeof out->path, "%s/%s.onnx", dir, a->x->name);
    rc = onnx_load(out->path, &out->graph, e);
    if (rc) return err_prefix(e, "%s: calma cannot read back the transformed model", a->x->name);
    cJSON_AddBoolToObject(out->info, "cached", out->cached);
    cJSON_AddStringToObject(out->info, "model", out->path);
    struct stat st;
    if (stat(out->path, &st) == 0)
        cJSON_AddNumberToObject(out->info, "model_bytes", (double)st.st_size);
    return CALMA_OK;
}
