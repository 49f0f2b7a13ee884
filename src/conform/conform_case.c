/* One conformance case: load the model, run every data set, compare. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "conform/conform.h"
#include "onnx/onnx.h"
#include "util/err.h"

const char *conform_status_name(conform_status s) {
    switch (s) {
    case CONFORM_PASS:
        return "pass";
    case CONFORM_FAIL:
        return "fail";
    case CONFORM_UNSUPPORTED:
        return "unsupported";
    default:
        return "error";
    }
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Names of the test_data_set_N folders, sorted. */
static int list_data_sets(const char *dir, char ***out, int *n) {
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return -1;
    struct dirent *de;
    int cap = 0;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, "test_data_set_", 14)) continue;
        if (*n >= cap) {
            cap = cap ? cap * 2 : 8;
            char **p = realloc(*out, sizeof(char *) * (size_t)cap);
            if (!p) break;
            *out = p;
        }
        (*out)[*n] = strdup(de->d_name);
        if (!(*out)[*n]) break;
        (*n)++;
    }
    closedir(d);
    if (*n) qsort(*out, (size_t)*n, sizeof(char *), cmp_str);
    return 0;
}

static void free_tensors(ir_tensor *t, int n) {
    if (!t) return;
    for (int i = 0; i < n; i++) ir_tensor_free(&t[i]);
    free(t);
}

/* Loads <set>/<prefix>_0.pb .. _{n-1}.pb; fails when one is missing or an
 * extra one is present. */
static int load_set(const char *set, const char *prefix, int n, ir_tensor **out, calma_error *e) {
    char path[4096];
    ir_tensor *t = calloc((size_t)n + 1, sizeof *t);
    if (!t) return err_set(e, CALMA_E_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s_%d.pb", set, prefix, i);
        if (!file_exists(path)) {
            free_tensors(t, n);
            return err_set(e, CALMA_E_INVALID, "%s: missing (the model has %d %ss)", path, n,
                           prefix);
        }
        int rc = onnx_load_tensor(path, &t[i], NULL, e);
        if (rc) {
            free_tensors(t, n);
            return rc;
        }
    }
    snprintf(path, sizeof path, "%s/%s_%d.pb", set, prefix, n);
    if (file_exists(path)) {
        free_tensors(t, n);
        return err_set(e, CALMA_E_INVALID, "%s: the model has only %d %ss", path, n, prefix);
    }
    *out = t;
    return CALMA_OK;
}

/* Copies as much of src as fits (messages longer than a line are cut). */
static void copy_msg(char *dst, size_t n, const char *src) {
    size_t len = strlen(src);
    if (len >= n) len = n - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* "op 'Loop'" out of "unsupported op 'Loop' (node 'x')", else the message. */
static void unsupported_detail(const char *msg, char *out, size_t n) {
    const char *p = strstr(msg, "unsupported op '");
    if (p) {
        p += strlen("unsupported ");
        const char *q = strchr(p + 4, '\'');
        if (q) {
            size_t len = (size_t)(q - p + 1);
            copy_msg(out, len + 1 < n ? len + 1 : n, p);
            return;
        }
    }
    copy_msg(out, n, msg);
}

static conform_status finish(conform_result *res, conform_status st, const char *msg) {
    res->status = st;
    if (st == CONFORM_UNSUPPORTED)
        unsupported_detail(msg, res->detail, sizeof res->detail);
    else
        copy_msg(res->detail, sizeof res->detail, msg);
    return st;
}

/* Non-tensor graph inputs/outputs (sequences, optionals, maps) have no dtype. */
static int non_tensor_io(const ir_graph *g, char *msg, size_t n) {
    for (int pass = 0; pass < 2; pass++) {
        int cnt = pass ? g->n_outputs : g->n_inputs;
        const int *ids = pass ? g->outputs : g->inputs;
        for (int k = 0; k < cnt; k++) {
            const ir_value *v = &g->values[ids[k]];
            if (v->dtype == CALMA_DT_UNDEFINED || v->dtype == CALMA_DT_STRING) {
                snprintf(msg, n, "%s '%s' is %s", pass ? "output" : "input", v->name,
                         v->dtype == CALMA_DT_STRING ? "a string tensor"
                                                     : "not a tensor of a known type");
                return 1;
            }
        }
    }
    return 0;
}

/* numpy has no bfloat16, so the suite (ONNX 1.12) stores bfloat16 tensors
 * as uint16 holding the same bits: take them as the type the model declares. */
static void bf16_relabel(const ir_graph *g, const int *ids, ir_tensor *t, int n) {
    for (int i = 0; i < n; i++)
        if (t[i].dtype == CALMA_DT_UINT16 && g->values[ids[i]].dtype == CALMA_DT_BFLOAT16)
            t[i].dtype = CALMA_DT_BFLOAT16;
}

static conform_status run_sets(const conform_runner *r, const char *dir, const ir_graph *g,
                               void *state, conform_result *res) {
    calma_error e = {0};
    char **sets;
    int nsets;
    char path[4096], msg[CALMA_ERROR_MAX];
    if (list_data_sets(dir, &sets, &nsets) || nsets == 0) {
        free(sets);
        return finish(res, CONFORM_ERROR, "no test_data_set_N folder");
    }
    conform_status st = CONFORM_PASS;
    for (int s = 0; s < nsets && st == CONFORM_PASS; s++) {
        ir_tensor *in = NULL, *exp = NULL, *got = NULL;
        snprintf(path, sizeof path, "%s/%s", dir, sets[s]);
        int rc = load_set(path, "input", g->n_inputs, &in, &e);
        if (!rc) rc = load_set(path, "output", g->n_outputs, &exp, &e);
        if (!rc) {
            bf16_relabel(g, g->inputs, in, g->n_inputs);
            bf16_relabel(g, g->outputs, exp, g->n_outputs);
        }
        if (rc) {
            st =
                finish(res, rc == CALMA_E_UNSUPPORTED ? CONFORM_UNSUPPORTED : CONFORM_ERROR, e.msg);
        } else if (!(got = calloc((size_t)g->n_outputs + 1, sizeof *got))) {
            st = finish(res, CONFORM_ERROR, "out of memory");
        } else if ((rc = r->run(state, in, got, &e))) {
            st = finish(res, rc == CALMA_E_UNSUPPORTED ? CONFORM_UNSUPPORTED : CONFORM_FAIL, e.msg);
        } else {
            for (int k = 0; k < g->n_outputs; k++) {
                if (conform_compare(&got[k], &exp[k], CONFORM_RTOL, CONFORM_ATOL, msg, sizeof msg))
                    continue;
                char full[CALMA_ERROR_MAX + 300];
                snprintf(full, sizeof full, "%s%soutput %d '%s' %s", s ? sets[s] : "",
                         s ? ": " : "", k, g->values[g->outputs[k]].name, msg);
                st = finish(res, CONFORM_FAIL, full);
                break;
            }
        }
        res->data_sets = s + 1;
        free_tensors(in, g->n_inputs);
        free_tensors(exp, g->n_outputs);
        free_tensors(got, g->n_outputs);
    }
    for (int s = 0; s < nsets; s++) free(sets[s]);
    free(sets);
    return st;
}

conform_status conform_run_case(const conform_runner *r, const char *case_dir,
                                conform_result *res) {
    memset(res, 0, sizeof *res);
    double t0 = now_s();
    calma_error e = {0};
    char path[4096], msg[512];
    snprintf(path, sizeof path, "%s/model.onnx", case_dir);
    ir_graph *g = NULL;
    int rc = onnx_load(path, &g, &e);
    conform_status st;
    if (rc) {
        /* the line already names the case: drop the model path in front */
        const char *m = e.msg;
        size_t pl = strlen(path);
        if (!strncmp(m, path, pl) && !strncmp(m + pl, ": ", 2)) m += pl + 2;
        st = finish(res, rc == CALMA_E_UNSUPPORTED ? CONFORM_UNSUPPORTED : CONFORM_ERROR, m);
    } else if (non_tensor_io(g, msg, sizeof msg)) {
        st = finish(res, CONFORM_UNSUPPORTED, msg);
    } else {
        void *state = NULL;
        rc = r->open(r->ctx, path, g, &state, &e);
        if (rc)
            st = finish(res, rc == CALMA_E_UNSUPPORTED ? CONFORM_UNSUPPORTED : CONFORM_FAIL, e.msg);
        else
            st = run_sets(r, case_dir, g, state, res);
        if (state) r->close(state);
    }
    ir_graph_free(g);
    res->seconds = now_s() - t0;
    return st;
}
