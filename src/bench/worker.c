#include "bench/worker.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bench/journal.h"
#include "bench/plan.h"
#include "bench/registry.h"
#include "bench/scenario.h"
#include "bench/stats.h"
#include "bench/super.h"
#include "bench/validate.h"
#include "bench/warnings.h"
#include "bench/wxform.h"
#include "io/gen.h"
#include "io/npy.h"
#include "machine/machine.h"
#include "onnx/onnx.h"
#include "ref/ref.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/text.h"

/* Longest engine version string kept (a plugin may return anything). */
#define WORKER_VERSION_MAX 256

#define WORKER_WARM_WINDOW 5
#define WORKER_WARM_TOL 0.05
#define WORKER_WARM_MAX 1000
#define WORKER_PROGRESS_EVERY 0.25 /* s between progress lines */
/* 8 MB of samples: a sub-microsecond conversion would otherwise fill memory
 * and disk for no better precision. */
#define WORKER_MAX_SAMPLES 1000000

typedef struct wargs {
    const char *model, *conversion, *run_dir, *id;
    const char *oracle_dir; /* --oracle-dir, else run_dir/oracle/b<batch> */
    const char *xform_dir;  /* --transform-dir, else run_dir/transforms */
    int64_t batch;
    int threads;
    uint64_t seed;
    long samples;
    double precision, max_time, min_time, atol, rtol;
    const char *plugins[PLAN_MAX_LIST];
    int n_plugins;
    const char *inputs[PLAN_MAX_LIST]; /* "name=path" */
    int n_inputs;
    const char *expected[PLAN_MAX_LIST]; /* "name=path": reference outputs from the user */
    int n_expected;
    int oracle;
    int peak;                /* --peak: measure the machine's limit on this many threads */
    int profile;             /* --profile: the backend may time its own parts */
    const char *options;     /* engine settings, "key=value,..." */
    const char *torchscript; /* the model's TorchScript file, or NULL */
    int scenario;            /* --scenario: a plan_scenario (src/bench/scenario.h) */
    int streams;             /* --streams */
    double rate;             /* --rate R, or 0 with rate_auto */
    int rate_auto;           /* --rate auto */
    double bound;            /* --latency-bound, 0 = none */
    int validation_batches;  /* --validation-batches V */
    int calibration;         /* --calibration N (0: the transform's default) */
    double min_cosine, min_top1, min_top5; /* < 0: the precision's default */
} wargs;

typedef struct trial {
    const wargs *a;
    int fd;     /* protocol */
    int broken; /* the protocol pipe is gone */
    cJSON *res;
    cJSON *phases, *mem;
    registry *reg;
    const calma_conversion *c;
    registry_entry en;     /* the conversion and its transform, if any */
    const char *precision; /* "fp32", "int8", ... */
    ir_graph *g;           /* the model as given */
    ir_graph *xg;          /* the transformed model the conversion loads, or NULL */
    char xpath[4400];
    double t_xform0;
    int n_in, n_out;
    ir_tensor *in, *out;
    calma_tensor *cin, *cout;
    void *state;
    double *samples;
    size_t n, cap;
    double flops; /* per inference of the whole batch; 0 when unknown */
} trial;

void worker_oracle_dir(const char *run_dir, int64_t batch, char *buf, unsigned n) {
    snprintf(buf, n, "%s/oracle/b%lld", run_dir, (long long)batch);
}

static void send(trial *t, cJSON *j) {
    char *s = journal_print(j, 0);
    cJSON_Delete(j);
    if (!s || t->broken) {
        free(s);
        return;
    }
    size_t n = strlen(s);
    s[n] = '\n'; /* the terminating NUL becomes the line end */
    const char *p = s;
    size_t left = n + 1;
    while (left) {
        ssize_t w = write(t->fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            t->broken = 1;
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    free(s);
}

static void send_phase(trial *t, const char *phase) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "event", "phase");
    cJSON_AddStringToObject(j, "phase", phase);
    send(t, j);
}

static void send_progress(trial *t, const char *phase, size_t n, double elapsed) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "event", "progress");
    cJSON_AddStringToObject(j, "phase", phase);
    cJSON_AddNumberToObject(j, "n", (double)n);
    cJSON_AddNumberToObject(j, "elapsed", elapsed);
    send(t, j);
}

static const char *status_of(int code) {
    switch (code) {
    case CALMA_E_UNSUPPORTED:
        return "unsupported";
    case CALMA_E_UNAVAILABLE:
        return "unavailable";
    case CALMA_E_NOMEM:
        return "oom";
    default:
        return "error";
    }
}

/* Records the trial's verdict; the first failure is the one reported. */
static int fail(trial *t, const char *status, const char *msg) {
    cJSON *s = cJSON_GetObjectItemCaseSensitive(t->res, "status");
    if (s && strcmp(s->valuestring, "ok") && strcmp(s->valuestring, "mismatch")) return -1;
    cJSON_ReplaceItemInObjectCaseSensitive(t->res, "status", cJSON_CreateString(status));
    cJSON_ReplaceItemInObjectCaseSensitive(t->res, "message", cJSON_CreateString(msg));
    return -1;
}

static int fail_e(trial *t, int code, const calma_error *e) {
    /* A plugin writes its message itself, past err_set: make it one
     * printable line here (and never read past the buffer). */
    char msg[CALMA_ERROR_MAX];
    memcpy(msg, e->msg, sizeof msg);
    msg[sizeof msg - 1] = '\0';
    text_printable(msg);
    return fail(t, status_of(code), msg[0] ? msg : calma_status_name(code));
}

static void add_rss(trial *t, const char *key) {
    uint64_t rss, hwm;
    super_read_rss(0, &rss, &hwm);
    cJSON_AddNumberToObject(t->mem, key, (double)rss);
}

static int run_once(trial *t, double *dt, calma_error *e) {
    double t0 = super_now();
    int rc = t->c->backend->run(t->state, t->cin, t->n_in, t->cout, t->n_out, e);
    *dt = super_now() - t0;
    return rc;
}

/* The model's input and output tensors at the trial's batch, allocated once
 * and reused for every sample. */
static int prepare_tensors(trial *t, calma_error *e) {
    ir_graph *g = t->g;
    ir_graph_set_batch(g, t->a->batch);
    t->n_in = g->n_inputs;
    t->n_out = g->n_outputs;
    t->in = calloc((size_t)t->n_in + 1, sizeof *t->in);
    t->out = calloc((size_t)t->n_out + 1, sizeof *t->out);
    t->cin = calloc((size_t)t->n_in + 1, sizeof *t->cin);
    t->cout = calloc((size_t)t->n_out + 1, sizeof *t->cout);
    if (!t->in || !t->out || !t->cin || !t->cout)
        return err_set(e, CALMA_E_NOMEM, "out of memory for the model's tensors");
    for (int i = 0; i < t->n_in; i++) {
        const ir_value *v = &g->values[g->inputs[i]];
        if (v->rank < 0 || v->dtype == CALMA_DT_UNDEFINED)
            return err_set(e, CALMA_E_INVALID, "%s: input '%s' has no declared type and shape",
                           t->a->model, v->name);
        for (int d = 0; d < v->rank; d++)
            if (v->dims[d] < 0)
                return err_set(e, CALMA_E_INVALID,
                               "%s: input '%s' dimension %d ('%s') is unknown; calma fixes only "
                               "the leading batch dimension",
                               t->a->model, v->name, d, v->dim_param[d] ? v->dim_param[d] : "?");
        if (v->rank > 0 && v->dims[0] != t->a->batch)
            return err_set(e, CALMA_E_INVALID,
                           "%s: input '%s' has a fixed batch of %lld; cannot run batch %lld",
                           t->a->model, v->name, (long long)v->dims[0], (long long)t->a->batch);
        int rc = ir_tensor_alloc(&t->in[i], v->dtype, v->rank, v->dims, e);
        if (rc) return err_prefix(e, "input '%s'", v->name);
    }
    int rc = ref_infer_outputs_flops(g, t->in, t->out, &t->flops, e);
    if (rc) {
        t->flops = 0; /* unknown: no efficiency figures */
        /* Not fatal when the model declares its outputs fully. */
        calma_error why = *e;
        for (int k = 0; k < t->n_out; k++) {
            const ir_value *v = &g->values[g->outputs[k]];
            int known = v->rank >= 0 && v->dtype != CALMA_DT_UNDEFINED;
            for (int d = 0; known && d < v->rank; d++) known = v->dims[d] >= 0;
            if (!known)
                return err_set(e, rc, "cannot tell the shape of output '%s': %s", v->name, why.msg);
            t->out[k].dtype = v->dtype;
            t->out[k].rank = v->rank;
            memcpy(t->out[k].dims, v->dims, sizeof(int64_t) * (size_t)v->rank);
        }
    }
    for (int k = 0; k < t->n_out; k++) {
        ir_tensor shape = t->out[k];
        memset(&t->out[k], 0, sizeof t->out[k]);
        rc = ir_tensor_alloc(&t->out[k], shape.dtype, shape.rank, shape.dims, e);
        if (rc) return err_prefix(e, "output '%s'", ir_value_name(g, g->outputs[k]));
    }
    for (int i = 0; i < t->n_in; i++) {
        calma_tensor *c = &t->cin[i];
        c->name = ir_value_name(g, g->inputs[i]);
        c->dtype = t->in[i].dtype;
        c->rank = t->in[i].rank;
        memcpy(c->dims, t->in[i].dims, sizeof c->dims);
        c->data = t->in[i].data;
        c->nbytes = t->in[i].nbytes;
    }
    for (int k = 0; k < t->n_out; k++) {
        calma_tensor *c = &t->cout[k];
        c->name = ir_value_name(g, g->outputs[k]);
        c->dtype = t->out[k].dtype;
        c->rank = t->out[k].rank;
        memcpy(c->dims, t->out[k].dims, sizeof c->dims);
        c->data = t->out[k].data;
        c->nbytes = t->out[k].nbytes;
    }
    return CALMA_OK;
}

int worker_read_input(const char *path, ir_tensor *out, calma_error *e) {
    size_t n = strlen(path);
    if (n > 3 && !strcmp(path + n - 3, ".pb")) return onnx_load_tensor(path, out, NULL, e);
    return npy_read(path, out, e);
}

/* The path given for name in a list of "name=path", or NULL. */
static const char *file_for(const char *const *list, int n, const char *name) {
    size_t len = strlen(name);
    const char *path = NULL;
    for (int k = 0; k < n; k++)
        if (!strncmp(list[k], name, len) && list[k][len] == '=') path = list[k] + len + 1;
    return path;
}

/* Validation batch `sample`'s inputs: the user's files where given (the same
 * for every batch), else generated. */
static int fill_inputs(trial *t, uint64_t sample, calma_error *e) {
    for (int i = 0; i < t->n_in; i++) {
        const char *name = t->cin[i].name;
        const char *path = file_for(t->a->inputs, t->a->n_inputs, name);
        if (!path) {
            gen_fill(&t->in[i], t->a->seed, i, sample);
            continue;
        }
        ir_tensor f = {0};
        int rc = worker_read_input(path, &f, e);
        if (rc) return rc;
        char want[128], got[128];
        if (!ir_tensor_same_shape(&f, &t->in[i])) {
            rc = err_set(e, CALMA_E_INVALID,
                         "--input %s=%s holds %s; the model at batch %lld needs %s", name, path,
                         ir_tensor_desc(&f, got, sizeof got), (long long)t->a->batch,
                         ir_tensor_desc(&t->in[i], want, sizeof want));
            ir_tensor_free(&f);
            return rc;
        }
        memcpy(t->in[i].data, f.data, t->in[i].nbytes);
        ir_tensor_free(&f);
    }
    return CALMA_OK;
}

/* The supervisor names the folder; a worker started by hand gets the
 * one-model layout. */
static void trial_oracle_dir(const trial *t, char *buf, unsigned n) {
    if (t->a->oracle_dir)
        snprintf(buf, n, "%s", t->a->oracle_dir);
    else
        worker_oracle_dir(t->a->run_dir, t->a->batch, buf, n);
}

/* Validation batch v of the oracle: the oracle folder itself for the first
 * (where runs before several batches kept it), v<v>/ in it for the others. */
static void oracle_batch_dir(const trial *t, int v, char *buf, size_t n) {
    char dir[4096];
    trial_oracle_dir(t, dir, sizeof dir);
    if (v == 0)
        snprintf(buf, n, "%s", dir);
    else
        snprintf(buf, n, "%s/v%d", dir, v);
}

/* How many validation batches there are: one when every input comes from
 * a file (all batches would be the same), else --validation-batches. */
static int validation_batches(const trial *t) {
    int from_files = 0;
    for (int i = 0; i < t->n_in; i++)
        from_files += file_for(t->a->inputs, t->a->n_inputs, t->cin[i].name) != NULL;
    if (t->n_in > 0 && from_files == t->n_in) return 1;
    return t->a->validation_batches > 0 ? t->a->validation_batches : 1;
}

static int write_oracle_batch(trial *t, int v, calma_error *e) {
    char dir[4200], path[4300];
    oracle_batch_dir(t, v, dir, sizeof dir);
    int rc = journal_make_dir(dir, e);
    if (rc) return rc;
    for (int k = 0; k < t->n_out; k++) {
        /* .npy for every dtype it can spell (anyone can open it); bfloat16
         * has no .npy spelling and goes to an ONNX TensorProto. */
        if (npy_descr(t->out[k].dtype)) {
            snprintf(path, sizeof path, "%s/output_%d.npy", dir, k);
            rc = npy_write(path, &t->out[k], e);
        } else {
            snprintf(path, sizeof path, "%s/output_%d.pb", dir, k);
            rc = onnx_save_tensor(&t->out[k], t->cout[k].name, path, e);
        }
        if (rc) return rc;
    }
    return CALMA_OK;
}

/* The oracle's outputs for every validation batch; the first inference
 * (batch 0) has already run. */
static int write_oracle(trial *t, calma_error *e) {
    int nb = validation_batches(t);
    int rc = write_oracle_batch(t, 0, e);
    for (int v = 1; !rc && v < nb; v++) {
        double dt;
        send_progress(t, "oracle", (size_t)v, 0);
        rc = fill_inputs(t, (uint64_t)v, e);
        if (!rc) rc = run_once(t, &dt, e);
        if (!rc) rc = write_oracle_batch(t, v, e);
    }
    if (!rc) cJSON_AddNumberToObject(t->res, "oracle_batches", nb);
    return rc;
}

static int read_oracle(const char *dir, int k, ir_tensor *out, calma_error *e) {
    char path[4300];
    snprintf(path, sizeof path, "%s/output_%d.npy", dir, k);
    if (access(path, F_OK) == 0) return npy_read(path, out, e);
    snprintf(path, sizeof path, "%s/output_%d.pb", dir, k);
    return onnx_load_tensor(path, out, NULL, e);
}

/* Did the oracle run for this batch size? *why says why not; *batches is
 * how many validation batches it wrote (1 for runs made before there were
 * several). */
static int oracle_ran(const char *dir, int *batches, char *why, size_t n) {
    char path[4200];
    snprintf(path, sizeof path, "%s/status.json", dir);
    char *text = NULL;
    calma_error e = {0};
    cJSON *st = NULL;
    if (journal_read_file(path, &text, NULL, &e) == CALMA_OK) st = cJSON_Parse(text);
    free(text);
    int ok = cJSON_IsTrue(st ? cJSON_GetObjectItemCaseSensitive(st, "ok") : NULL);
    const cJSON *r = st ? cJSON_GetObjectItemCaseSensitive(st, "reason") : NULL;
    const cJSON *nb = st ? cJSON_GetObjectItemCaseSensitive(st, "batches") : NULL;
    *batches = cJSON_IsNumber(nb) && nb->valuedouble >= 1 ? (int)nb->valuedouble : 1;
    snprintf(why, n, "%s", cJSON_IsString(r) ? r->valuestring : "the oracle did not run");
    cJSON_Delete(st);
    return ok;
}

/* The rule output k is judged by: its precision's, with the user's bounds. */
static validate_rule rule_for(const trial *t, int k) {
    validate_rule r = validate_default_rule(t->precision, t->out[k].dtype);
    if (t->a->atol >= 0) r.tol.atol = t->a->atol;
    if (t->a->rtol >= 0) r.tol.rtol = t->a->rtol;
    if (t->a->min_cosine >= 0) r.min_cosine = t->a->min_cosine;
    if (t->a->min_top1 >= 0) r.min_top1 = t->a->min_top1;
    if (t->a->min_top5 >= 0) r.min_top5 = t->a->min_top5;
    return r;
}

static void add_opt_number(cJSON *o, const char *key, double v) {
    if (v >= 0) cJSON_AddNumberToObject(o, key, v);
}

static void output_json(cJSON *o, const validate_result *r, const validate_rule *rule) {
    cJSON_AddBoolToObject(o, "pass", r->pass);
    cJSON_AddNumberToObject(o, "max_abs", r->max_abs);
    cJSON_AddNumberToObject(o, "max_rel", r->max_rel);
    cJSON_AddNumberToObject(o, "cosine", r->cosine);
    cJSON_AddNumberToObject(o, "nonfinite", (double)r->nonfinite);
    cJSON_AddNumberToObject(o, "bad", (double)r->bad);
    cJSON_AddNumberToObject(o, "worst_index", (double)r->worst_index);
    cJSON_AddNumberToObject(o, "worst_ref", r->worst_ref);
    cJSON_AddNumberToObject(o, "worst_got", r->worst_got);
    cJSON_AddNumberToObject(o, "atol", rule->tol.atol);
    cJSON_AddNumberToObject(o, "rtol", rule->tol.rtol);
    cJSON_AddNumberToObject(o, "batches", r->batches);
    if (r->rows) cJSON_AddNumberToObject(o, "rows", (double)r->rows);
    add_opt_number(o, "top1", r->top1);
    add_opt_number(o, "top5", r->top5);
    cJSON_AddStringToObject(o, "judged", rule->elementwise ? "elementwise" : "accuracy");
    add_opt_number(o, "min_cosine", rule->min_cosine);
    add_opt_number(o, "min_top1", rule->min_top1);
    add_opt_number(o, "min_top5", rule->min_top5);
    if (!r->pass) cJSON_AddStringToObject(o, "why", r->why);
}

/* Where validation compares against, per output. */
typedef struct refs {
    const char **expected; /* per output: the user's --expected file, or NULL */
    int oracle_ok;
    char oracle_why[1024];
} refs;

/* Adds validation batch b (whose outputs are in t->out) to the tallies: the
 * oracle's outputs, and for b == 0 the user's expected ones where given
 * (they belong to the user's one input). The first reference that cannot be
 * read is kept in bad[k]. */
static void compare_batch(trial *t, int b, const refs *rf, validate_acc *acc, char (*bad)[600]) {
    char dir[4200];
    oracle_batch_dir(t, b, dir, sizeof dir);
    for (int k = 0; k < t->n_out; k++) {
        if (bad[k][0] || (b > 0 && rf->expected[k])) continue;
        ir_tensor ref = {0};
        calma_error e = {0};
        validate_rule rule = rule_for(t, k);
        int rc = rf->expected[k] ? worker_read_input(rf->expected[k], &ref, &e)
                 : rf->oracle_ok
                     ? read_oracle(dir, k, &ref, &e)
                     : err_set(&e, CALMA_E_UNAVAILABLE, "no oracle: %s", rf->oracle_why);
        if (rc || validate_acc_add(&acc[k], &ref, &t->out[k], rule.tol, &e))
            snprintf(bad[k], sizeof bad[k], "%.500s", e.msg);
        ir_tensor_free(&ref);
    }
}

/* The verdict over every output's tallies; mismatch on a difference. */
static void judge(trial *t, cJSON *v, const refs *rf, validate_acc *acc, char (*bad)[600]) {
    cJSON *outs = cJSON_AddArrayToObject(v, "outputs");
    int all = 1;
    char first_bad[1200] = "";
    for (int k = 0; k < t->n_out; k++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(outs, o);
        cJSON_AddStringToObject(o, "name", t->cout[k].name);
        cJSON_AddStringToObject(o, "reference", rf->expected[k] ? rf->expected[k] : "oracle");
        validate_rule rule = rule_for(t, k);
        validate_result r;
        validate_acc_finish(&acc[k], &rule, &r);
        if (bad[k][0]) {
            cJSON_AddBoolToObject(o, "pass", 0);
            cJSON_AddStringToObject(o, "why", bad[k]);
            r.pass = 0;
            snprintf(r.why, sizeof r.why, "%.250s", bad[k]);
        } else {
            output_json(o, &r, &rule);
        }
        if (!r.pass && all)
            snprintf(first_bad, sizeof first_bad, "output '%.200s': %s", t->cout[k].name, r.why);
        all &= r.pass;
    }
    cJSON_AddStringToObject(v, "verdict", all ? "pass" : "fail");
    if (!all) fail(t, "mismatch", first_bad);
}

/* Compares the outputs of the first inference (validation batch 0) and of
 * the other validation batches with the reference: the user's --expected
 * file for an output where given (batch 0 only), else the oracle's. Sets
 * status mismatch on a difference; stops the trial only when an inference
 * fails. */
static int validate(trial *t, calma_error *ev) {
    cJSON *v = cJSON_AddObjectToObject(t->res, "validation");
    cJSON_AddStringToObject(v, "precision", t->precision);
    char dir[4096];
    trial_oracle_dir(t, dir, sizeof dir);
    refs rf = {0};
    int have = 1, n_expected = 0;
    rf.expected = calloc((size_t)t->n_out + 1, sizeof *rf.expected);
    validate_acc *acc = calloc((size_t)t->n_out + 1, sizeof *acc);
    char(*bad)[600] = calloc((size_t)t->n_out + 1, sizeof *bad);
    if (!rf.expected || !acc || !bad) {
        free(rf.expected);
        free(acc);
        free(bad);
        return err_set(ev, CALMA_E_NOMEM, "out of memory for validation");
    }
    for (int k = 0; k < t->n_out; k++) {
        rf.expected[k] = file_for(t->a->expected, t->a->n_expected, t->cout[k].name);
        n_expected += rf.expected[k] != NULL;
        validate_acc_init(&acc[k]);
    }
    rf.oracle_ok =
        n_expected < t->n_out && oracle_ran(dir, &have, rf.oracle_why, sizeof rf.oracle_why);
    int rc = CALMA_OK;
    if (n_expected == 0 && !rf.oracle_ok) {
        char verdict[1200];
        snprintf(verdict, sizeof verdict, "no oracle: %s", rf.oracle_why);
        cJSON_AddStringToObject(v, "verdict", verdict);
        goto done;
    }
    cJSON_AddStringToObject(v, "reference",
                            n_expected == t->n_out ? "expected outputs (--expected)"
                            : n_expected           ? "expected outputs where given, else the oracle"
                                                   : "oracle (REFERENCE)");
    int nb = rf.oracle_ok ? validation_batches(t) : 1;
    if (nb > have) nb = have;
    compare_batch(t, 0, &rf, acc, bad);
    for (int b = 1; b < nb && !rc; b++) {
        double dt;
        rc = fill_inputs(t, (uint64_t)b, ev);
        if (!rc) rc = run_once(t, &dt, ev);
        if (!rc) compare_batch(t, b, &rf, acc, bad);
    }
    cJSON_AddNumberToObject(v, "batches", nb);
    if (!rc) judge(t, v, &rf, acc, bad);
done:
    free(rf.expected);
    free(acc);
    free(bad);
    return rc;
}

static int push_sample(trial *t, double dt) {
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        double *s = realloc(t->samples, cap * sizeof *s);
        if (!s) return -1;
        t->samples = s;
        t->cap = cap;
    }
    t->samples[t->n++] = dt;
    return 0;
}

static int warm_up(trial *t, calma_error *e) {
    double w[WORKER_WARM_MAX];
    size_t n = 0;
    double bound = t->a->max_time * 0.2;
    if (bound > 2.0) bound = 2.0;
    if (bound < 0.1) bound = 0.1;
    double start = super_now(), last = start;
    while (n < WORKER_WARM_MAX) {
        int rc = run_once(t, &w[n], e);
        if (rc) return rc;
        n++;
        double now = super_now();
        if (n >= 2 * WORKER_WARM_WINDOW && stats_warm(w, n, WORKER_WARM_WINDOW, WORKER_WARM_TOL))
            break;
        if (now - start > bound) break;
        if (now - last > WORKER_PROGRESS_EVERY) {
            send_progress(t, "warmup", n, now - start);
            last = now;
        }
    }
    cJSON_AddNumberToObject(t->phases, "warmup_runs", (double)n);
    cJSON_AddNumberToObject(t->phases, "warmup_s", super_now() - start);
    return CALMA_OK;
}

static void write_le_double(unsigned char *b, double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(u >> (8 * i));
}

/* Samples go to RUN_DIR/<id>.samples as they are taken (outside the timed
 * region), in time order, so the array in memory is free to be reordered
 * by the stopping rule and sorted by the summary: no second copy is ever
 * needed, and memory grows by 8 bytes a sample, no more. */
static FILE *open_samples(trial *t, char *path, size_t n, calma_error *e) {
    snprintf(path, n, "%s/%s.samples", t->a->run_dir, t->a->id);
    FILE *f = fopen(path, "wbe");
    if (!f) err_set(e, CALMA_E_IO, "cannot write %s: %s", path, strerror(errno));
    return f;
}

static void put_sample(FILE *f, double d) {
    unsigned char b[8];
    write_le_double(b, d);
    fwrite(b, 1, 8, f);
}

/* The machine's limits measured for this thread count at the start of the
 * run (bench.c: ensure_peak), or 0 when not measured. */
static void read_peak(const trial *t, double *fma, double *sgemm) {
    char path[4200];
    *fma = *sgemm = 0;
    snprintf(path, sizeof path, "%s/machine/peak-t%d.json", t->a->run_dir, t->a->threads);
    char *text = NULL;
    calma_error e = {0};
    if (journal_read_file(path, &text, NULL, &e)) return;
    cJSON *j = cJSON_Parse(text);
    free(text);
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, "fma_gflops");
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(j, "sgemm_gflops");
    if (cJSON_IsNumber(f)) *fma = f->valuedouble;
    if (cJSON_IsNumber(g)) *sgemm = g->valuedouble;
    cJSON_Delete(j);
}

/* GFLOP/s reached and its share of the machine's measured limits, so a
 * person sees how far from the physical limit each conversion runs. Returns
 * the GFLOP/s (0 when the FLOP count is unknown); *fma gets the peak. */
static double add_efficiency(trial *t, double median, double *fma) {
    *fma = 0;
    if (!(t->flops > 0) || !(median > 0)) return 0;
    cJSON *ef = cJSON_AddObjectToObject(t->res, "efficiency");
    double gflops = t->flops / median / 1e9;
    cJSON_AddNumberToObject(ef, "flops_per_inference", t->flops);
    cJSON_AddNumberToObject(ef, "gflops", gflops);
    double sgemm;
    read_peak(t, fma, &sgemm);
    if (*fma > 0) {
        cJSON_AddNumberToObject(ef, "fma_peak_gflops", *fma);
        cJSON_AddNumberToObject(ef, "share_of_fma_peak", gflops / *fma);
    }
    if (sgemm > 0) {
        cJSON_AddNumberToObject(ef, "sgemm_gflops", sgemm);
        cJSON_AddNumberToObject(ef, "share_of_sgemm", gflops / sgemm);
    }
    return gflops;
}

/* The measured peak is the float32 one; 16-bit floats may go twice and
 * int8 four times as fast on vector units with those instructions, so the
 * "above the physical peak" warning uses that multiple. */
static double peak_factor(const char *precision) {
    if (!precision || !strcmp(precision, "fp32")) return 1;
    return !strcmp(precision, "int8") ? 4 : 2;
}

/* Noise warnings for this process (src/bench/warnings.c); judge_precision
 * when sampling stopped at the max_time budget short of the target. */
static void add_warnings(trial *t, const stats_summary *s, int judge_precision, double max_time,
                         double precision, double gflops, double fma) {
    machine_info m;
    machine_read(&m);
    cJSON_AddNumberToObject(t->res, "load_avg", m.load1);
    const cJSON *first = cJSON_GetObjectItemCaseSensitive(t->phases, "first_s");
    char where[64];
    snprintf(where, sizeof where, "at the %gs budget", max_time);
    warn_facts f = {.s = s,
                    .first_s = cJSON_IsNumber(first) ? first->valuedouble : NAN,
                    .load1 = m.load1,
                    .cores = m.cores,
                    .governor = m.governor,
                    .target = precision,
                    .judge_precision = judge_precision,
                    .precision_where = where,
                    .gflops = gflops,
                    .fma_peak = fma * peak_factor(t->precision)};
    warn_add_all(cJSON_AddArrayToObject(t->res, "warnings"), &f);
}

/* --peak: the register-only multiply-add peak on the widest vector unit
 * and a large OpenBLAS sgemm, on this many threads. Run in a worker so the
 * supervisor never starts BLAS threads. */
static void measure_peak(trial *t) {
    machine_info m;
    machine_read(&m);
    double fma = machine_peak_gflops(t->a->threads, 0.25);
    double sgemm = machine_sgemm_gflops(t->a->threads, 1024);
    cJSON_AddNumberToObject(t->res, "threads", t->a->threads);
    cJSON_AddStringToObject(t->res, "vector", m.vector);
    cJSON_AddNumberToObject(t->res, "fma_gflops", fma);
    if (sgemm > 0)
        cJSON_AddNumberToObject(t->res, "sgemm_gflops", sgemm);
    else
        cJSON_AddNullToObject(t->res, "sgemm_gflops");
}

/* The trial's "stats" object: the summary of its per-call times. */
static void add_stats(trial *t, const stats_summary *s, double total, const char *stop) {
    cJSON *js = cJSON_AddObjectToObject(t->res, "stats");
    cJSON_AddNumberToObject(js, "n", (double)s->n);
    cJSON_AddNumberToObject(js, "min", s->min);
    cJSON_AddNumberToObject(js, "max", s->max);
    cJSON_AddNumberToObject(js, "mean", s->mean);
    cJSON_AddNumberToObject(js, "median", s->median);
    cJSON_AddNumberToObject(js, "stddev", s->stddev);
    cJSON_AddNumberToObject(js, "cv", s->cv);
    cJSON_AddNumberToObject(js, "p90", s->p90);
    cJSON_AddNumberToObject(js, "p95", s->p95);
    cJSON_AddNumberToObject(js, "p99", s->p99);
    cJSON_AddNumberToObject(js, "ci_lo", s->ci_lo);
    cJSON_AddNumberToObject(js, "ci_hi", s->ci_hi);
    cJSON_AddNumberToObject(js, "ci_rel", s->ci_rel);
    cJSON_AddNumberToObject(js, "mad", s->mad);
    cJSON_AddNumberToObject(js, "outliers", (double)s->outliers);
    cJSON_AddNumberToObject(js, "total_s", total);
    cJSON_AddStringToObject(js, "stop", stop);
}

static int measure(trial *t, calma_error *e) {
    stats_rule rule = stats_default_rule();
    if (t->a->samples > 0) {
        rule.fixed = (size_t)t->a->samples;
    } else {
        rule.precision = t->a->precision;
        rule.max_time = t->a->max_time;
        rule.min_time = t->a->min_time;
    }
    if (!rule.max_samples) rule.max_samples = WORKER_MAX_SAMPLES;
    if (rule.fixed && rule.fixed <= WORKER_MAX_SAMPLES) {
        /* The count is known: one exact allocation, no doubling. */
        t->samples = malloc(rule.fixed * sizeof *t->samples);
        if (!t->samples)
            return err_set(e, CALMA_E_NOMEM, "out of memory for %zu samples", rule.fixed);
        t->cap = rule.fixed;
    }
    char path[4200];
    FILE *sf = open_samples(t, path, sizeof path, e);
    if (!sf) return e->status;
    double start = super_now(), last = start;
    stats_stop stop = STATS_GO_ON;
    while (stop == STATS_GO_ON) {
        double dt;
        int rc = run_once(t, &dt, e);
        if (rc) {
            fclose(sf);
            return rc;
        }
        if (push_sample(t, dt)) {
            fclose(sf);
            return err_set(e, CALMA_E_NOMEM, "out of memory keeping %zu samples", t->n);
        }
        put_sample(sf, dt);
        double now = super_now();
        stop = stats_check(&rule, t->samples, t->n, now - start);
        if (now - last > WORKER_PROGRESS_EVERY) {
            send_progress(t, "measure", t->n, now - start);
            last = now;
        }
    }
    double total = super_now() - start;
    if (fclose(sf) != 0) return err_set(e, CALMA_E_IO, "cannot write %s", path);
    stats_summary s;
    stats_summarize_inplace(t->samples, t->n, &s);
    add_stats(t, &s, total, stats_stop_name(stop));
    cJSON *tp = cJSON_AddObjectToObject(t->res, "throughput");
    double b = (double)t->a->batch;
    cJSON_AddNumberToObject(tp, "per_s_median", s.median > 0 ? b / s.median : 0);
    cJSON_AddNumberToObject(tp, "per_s_total", total > 0 ? b * (double)s.n / total : 0);
    double fma, gflops = add_efficiency(t, s.median, &fma);
    add_warnings(t, &s, stop == STATS_STOP_TIME && !rule.fixed, rule.max_time, rule.precision,
                 gflops, fma);
    cJSON_AddStringToObject(t->res, "samples_file", path);
    return CALMA_OK;
}

/* ---- a serving scenario (src/bench/scenario.h) ---- */

static void scen_phase_cb(void *ctx, const char *phase) {
    send_phase(ctx, phase);
}

static void scen_progress_cb(void *ctx, const char *phase, size_t n, double elapsed) {
    send_progress(ctx, phase, n, elapsed);
}

/* Little-endian doubles to RUN_DIR/<id><ext>; the path in path. */
static int write_doubles(trial *t, const char *ext, const double *v, size_t n, char *path,
                         size_t pn, calma_error *e) {
    snprintf(path, pn, "%s/%s%s", t->a->run_dir, t->a->id, ext);
    FILE *f = fopen(path, "wbe");
    if (!f) return err_set(e, CALMA_E_IO, "cannot write %s: %s", path, strerror(errno));
    for (size_t i = 0; i < n; i++) put_sample(f, v[i]);
    if (fclose(f) != 0) return err_set(e, CALMA_E_IO, "cannot write %s", path);
    return CALMA_OK;
}

/* The scenario's per-call times as the trial's samples and stats, its
 * latencies (server) in a file of their own, and its warnings. */
static int record_scenario(trial *t, scen_outcome *o, calma_error *e) {
    char path[4200], lpath[4200];
    cJSON_AddNumberToObject(t->phases, "warmup_runs", o->warmup_runs);
    cJSON_AddNumberToObject(t->phases, "warmup_s", o->warmup_s);
    int rc = write_doubles(t, ".samples", o->service, o->n_service, path, sizeof path, e);
    if (!rc && o->latency)
        rc = write_doubles(t, ".latency", o->latency, o->n_latency, lpath, sizeof lpath, e);
    if (rc) return rc;
    cJSON *obj = cJSON_GetObjectItemCaseSensitive(t->res, "scenario");
    if (o->latency) cJSON_AddStringToObject(obj, "latency_file", lpath);
    stats_summary s;
    stats_summarize_inplace(o->service, o->n_service, &s);
    add_stats(t, &s, o->window_s, o->stop ? o->stop : "");
    cJSON *tp = cJSON_AddObjectToObject(t->res, "throughput");
    double b = (double)t->a->batch;
    cJSON_AddNumberToObject(tp, "per_s_median", s.median > 0 ? b / s.median : 0);
    cJSON_AddNumberToObject(tp, "per_s_total", o->window_s > 0 ? b * (double)s.n / o->window_s : 0);
    /* offline: the GFLOP/s of all streams together */
    double fma = 0, gflops = o->per_call_s > 0 ? add_efficiency(t, o->per_call_s, &fma) : 0;
    /* the precision target is the scenario's: judged in scenario.c */
    add_warnings(t, &s, 0, t->a->max_time, t->a->precision, gflops, fma);
    cJSON *w = cJSON_GetObjectItemCaseSensitive(t->res, "warnings"), *x;
    cJSON_ArrayForEach(x, o->warnings) cJSON_AddItemToArray(w, cJSON_Duplicate(x, 1));
    cJSON_AddStringToObject(t->res, "samples_file", path);
    return CALMA_OK;
}

static int run_scenario(trial *t, const calma_model *m, const calma_trial_config *cfg,
                        calma_error *e) {
    const wargs *a = t->a;
    scen_args sa = {.kind = a->scenario,
                    .streams = a->streams,
                    .threads = a->threads,
                    .batch = a->batch,
                    .seed = a->seed,
                    .rate = a->rate,
                    .rate_auto = a->rate_auto,
                    .bound = a->bound,
                    .samples = a->samples,
                    .precision = a->precision,
                    .min_time = a->min_time,
                    .max_time = a->max_time};
    scen_engine g = {.c = t->c,
                     .m = m,
                     .cfg = cfg,
                     .state = t->state,
                     .in = t->cin,
                     .out = t->cout,
                     .n_in = t->n_in,
                     .n_out = t->n_out};
    scen_report rep = {scen_phase_cb, scen_progress_cb, t};
    scen_outcome o;
    int rc = scen_run(&sa, &g, t->res, &o, &rep, e);
    if (!rc) rc = record_scenario(t, &o, e);
    scen_outcome_free(&o);
    return rc;
}

static void on_calibration(void *ctx, int done, int total) {
    trial *t = ctx;
    (void)total;
    send_progress(t, "transform", (size_t)done, super_now() - t->t_xform0);
}

/* TRANSFORM+CONVERSION: the transformed model (cached in the run folder)
 * replaces the original for the conversion; t->g stays the original, whose
 * arithmetic the efficiency figures count. */
static int transform(trial *t, double *seconds, calma_error *e) {
    const wargs *a = t->a;
    send_phase(t, "transform");
    t->t_xform0 = super_now();
    wxform_args xa = {.x = t->en.xform,
                      .model_path = a->model,
                      .g = t->g,
                      .run_dir = a->run_dir,
                      .dir = a->xform_dir,
                      .options = a->options,
                      .seed = a->seed,
                      .calibration = a->calibration,
                      .inputs = a->inputs,
                      .n_inputs = a->n_inputs,
                      .progress = on_calibration,
                      .progress_ctx = t};
    wxform_out xo;
    int rc = wxform_run(&xa, &xo, e);
    *seconds = super_now() - t->t_xform0;
    cJSON_AddNumberToObject(t->phases, "transform_s", *seconds);
    cJSON_AddNumberToObject(t->phases, "calibration_s", xo.calibration_s);
    if (xo.info) cJSON_AddItemToObject(t->res, "transform", xo.info);
    if (rc) {
        ir_graph_free(xo.graph);
        if (rc == CALMA_E_USAGE) e->status = rc = CALMA_E_INVALID; /* an error, not unsupported */
        return rc;
    }
    t->xg = xo.graph;
    snprintf(t->xpath, sizeof t->xpath, "%s", xo.path);
    return CALMA_OK;
}

static int run_trial(trial *t) {
    const wargs *a = t->a;
    calma_error e = {0};
    int rc = registry_open(&t->reg, a->plugins, a->n_plugins, &e);
    if (rc) return fail_e(t, CALMA_E_USAGE, &e);
    if (registry_resolve(t->reg, a->conversion, &t->en, &e)) return fail(t, "error", e.msg);
    t->c = t->en.conv;
    t->precision = registry_precision(&t->en);
    if (t->c->backend->version) {
        const char *v = t->c->backend->version();
        if (v) {
            /* An engine's own text: one printable line of sane length. */
            char ver[WORKER_VERSION_MAX];
            snprintf(ver, sizeof ver, "%s", v);
            text_printable(ver);
            cJSON_AddStringToObject(t->res, "engine_version", ver);
        }
    }
    send_phase(t, "probe");
    rc = registry_probe(t->c, &e);
    if (rc) return fail_e(t, rc == CALMA_E_UNAVAILABLE ? rc : CALMA_E_UNAVAILABLE, &e);

    send_phase(t, "load");
    add_rss(t, "rss_before_load");
    double t0 = super_now(), xform_s = 0;
    rc = onnx_load(a->model, &t->g, &e);
    cJSON_AddNumberToObject(t->phases, "parse_s", super_now() - t0);
    if (rc) return fail_e(t, rc, &e); /* unsupported stays unsupported */
    if (t->en.xform && (rc = transform(t, &xform_s, &e))) return fail_e(t, rc, &e);
    rc = prepare_tensors(t, &e);
    if (rc) return fail_e(t, rc, &e);
    if (t->xg) ir_graph_set_batch(t->xg, a->batch);
    calma_model m = {.path = t->xg ? t->xpath : a->model,
                     .graph = t->xg ? t->xg : t->g,
                     .n_inputs = t->n_in,
                     .inputs = t->cin,
                     .n_outputs = t->n_out,
                     .outputs = t->cout,
                     .torchscript = a->torchscript};
    /* In a scenario, each stream's state gets its share of the threads. */
    int threads = a->scenario ? scen_threads_per_stream(a->threads, a->streams) : a->threads;
    calma_trial_config cfg = {.batch = a->batch,
                              .threads = threads,
                              .options = a->options ? a->options : "",
                              .profile = a->profile};
    /* Backends see the tensors' shapes at load time, not their data. */
    for (int i = 0; i < t->n_in; i++) t->cin[i].data = NULL;
    for (int k = 0; k < t->n_out; k++) t->cout[k].data = NULL;
    t0 = super_now();
    rc = t->c->backend->load(t->c, &m, &cfg, &t->state, &e);
    cJSON_AddNumberToObject(t->phases, "load_s", super_now() - t0);
    for (int i = 0; i < t->n_in; i++) t->cin[i].data = t->in[i].data;
    for (int k = 0; k < t->n_out; k++) t->cout[k].data = t->out[k].data;
    if (rc) {
        t->state = NULL;
        return fail_e(t, rc, &e);
    }
    add_rss(t, "rss_after_load");

    send_phase(t, "convert");
    t0 = super_now();
    if (t->c->backend->convert) rc = t->c->backend->convert(t->state, &e);
    /* The transform is part of converting the model. */
    cJSON_AddNumberToObject(t->phases, "convert_s", super_now() - t0 + xform_s);
    if (rc) return fail_e(t, rc, &e);
    add_rss(t, "rss_after_convert");
    const cJSON *before = cJSON_GetObjectItemCaseSensitive(t->mem, "rss_before_load");
    const cJSON *after = cJSON_GetObjectItemCaseSensitive(t->mem, "rss_after_convert");
    cJSON_AddNumberToObject(t->mem, "added_by_model", after->valuedouble - before->valuedouble);
    struct stat st;
    if (stat(m.path, &st) == 0) cJSON_AddNumberToObject(t->mem, "model_file", (double)st.st_size);

    send_phase(t, "first");
    rc = fill_inputs(t, 0, &e);
    if (rc) return fail_e(t, rc, &e);
    double first;
    rc = run_once(t, &first, &e);
    cJSON_AddNumberToObject(t->phases, "first_s", first);
    if (rc) return fail_e(t, rc, &e);
    if (a->oracle) {
        rc = write_oracle(t, &e);
        return rc ? fail_e(t, rc, &e) : 0;
    }

    send_phase(t, "validate");
    rc = validate(t, &e);
    if (rc) return fail_e(t, rc, &e);
    if (a->scenario) {
        rc = run_scenario(t, &m, &cfg, &e);
        return rc ? fail_e(t, rc, &e) : 0;
    }
    send_phase(t, "warmup");
    rc = warm_up(t, &e);
    if (rc) return fail_e(t, rc, &e);
    send_phase(t, "measure");
    rc = measure(t, &e);
    if (rc) return fail_e(t, rc, &e);
    return 0;
}

/* What the backend says about the model it converted (ABI 2 info), as
 * "engine_info": {"key": number or string, ...}. */
static void add_engine_info(trial *t) {
    const calma_backend *be = t->c->backend;
    if (be->abi < 2 || !be->info) return;
    calma_fact f[CALMA_MAX_FACTS];
    int n = be->info(t->state, f, CALMA_MAX_FACTS);
    if (n <= 0) return;
    if (n > CALMA_MAX_FACTS) n = CALMA_MAX_FACTS;
    cJSON *j = cJSON_AddObjectToObject(t->res, "engine_info");
    for (int i = 0; i < n; i++) {
        if (!f[i].key || !f[i].key[0] || cJSON_GetObjectItemCaseSensitive(j, f[i].key)) continue;
        if (f[i].text)
            cJSON_AddStringToObject(j, f[i].key, f[i].text);
        else if (isfinite(f[i].number))
            cJSON_AddNumberToObject(j, f[i].key, f[i].number);
    }
}

static int parse_args(wargs *a, int argc, char **argv, calma_error *e) {
    memset(a, 0, sizeof *a);
    a->batch = 1;
    a->threads = 1;
    a->seed = 42;
    a->precision = 0.01;
    a->max_time = 10;
    a->min_time = 0.5;
    a->atol = a->rtol = -1;
    a->min_cosine = a->min_top1 = a->min_top5 = -1;
    a->validation_batches = 1;
    a->id = "trial";
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "--oracle")) {
            a->oracle = 1;
            continue;
        }
        if (!strcmp(f, "--peak")) {
            a->peak = 1;
            continue;
        }
        if (!strcmp(f, "--profile")) {
            a->profile = 1;
            continue;
        }
        if (i + 1 >= argc) return err_set(e, CALMA_E_USAGE, "worker: %s needs a value", f);
        const char *v = argv[++i];
        if (!strcmp(f, "--model"))
            a->model = v;
        else if (!strcmp(f, "--conversion"))
            a->conversion = v;
        else if (!strcmp(f, "--run-dir"))
            a->run_dir = v;
        else if (!strcmp(f, "--oracle-dir"))
            a->oracle_dir = v;
        else if (!strcmp(f, "--transform-dir"))
            a->xform_dir = v;
        else if (!strcmp(f, "--id"))
            a->id = v;
        else if (!strcmp(f, "--batch"))
            a->batch = strtoll(v, NULL, 10);
        else if (!strcmp(f, "--threads"))
            a->threads = atoi(v);
        else if (!strcmp(f, "--seed"))
            a->seed = strtoull(v, NULL, 10);
        else if (!strcmp(f, "--samples"))
            a->samples = strtol(v, NULL, 10);
        else if (!strcmp(f, "--precision"))
            a->precision = strtod(v, NULL);
        else if (!strcmp(f, "--max-time"))
            a->max_time = strtod(v, NULL);
        else if (!strcmp(f, "--min-time"))
            a->min_time = strtod(v, NULL);
        else if (!strcmp(f, "--atol"))
            a->atol = strtod(v, NULL);
        else if (!strcmp(f, "--rtol"))
            a->rtol = strtod(v, NULL);
        else if (!strcmp(f, "--input") && a->n_inputs < PLAN_MAX_LIST && strchr(v, '='))
            a->inputs[a->n_inputs++] = v;
        else if (!strcmp(f, "--expected") && a->n_expected < PLAN_MAX_LIST && strchr(v, '='))
            a->expected[a->n_expected++] = v;
        else if (!strcmp(f, "--options"))
            a->options = v;
        else if (!strcmp(f, "--torchscript"))
            a->torchscript = v;
        else if (!strcmp(f, "--scenario"))
            a->scenario = !strcmp(v, "offline")  ? PLAN_OFFLINE
                          : !strcmp(v, "server") ? PLAN_SERVER
                          : !strcmp(v, "single") ? PLAN_SINGLE
                                                 : -1;
        else if (!strcmp(f, "--streams"))
            a->streams = atoi(v);
        else if (!strcmp(f, "--rate") && !strcmp(v, "auto"))
            a->rate_auto = 1;
        else if (!strcmp(f, "--rate"))
            a->rate = strtod(v, NULL);
        else if (!strcmp(f, "--latency-bound"))
            a->bound = strtod(v, NULL);
        else if (!strcmp(f, "--validation-batches"))
            a->validation_batches = atoi(v);
        else if (!strcmp(f, "--calibration"))
            a->calibration = atoi(v);
        else if (!strcmp(f, "--min-cosine"))
            a->min_cosine = strtod(v, NULL);
        else if (!strcmp(f, "--min-top1"))
            a->min_top1 = strtod(v, NULL);
        else if (!strcmp(f, "--min-top5"))
            a->min_top5 = strtod(v, NULL);
        else if (!strcmp(f, "--plugin") && a->n_plugins < PLAN_MAX_LIST)
            a->plugins[a->n_plugins++] = v;
        else
            return err_set(e, CALMA_E_USAGE, "worker: unknown flag %s", f);
    }
    if (a->peak) {
        if (a->threads < 1) return err_set(e, CALMA_E_USAGE, "worker: threads must be >= 1");
        return CALMA_OK;
    }
    if (!a->model || !a->run_dir || (!a->conversion && !a->oracle))
        return err_set(e, CALMA_E_USAGE, "worker: --model, --run-dir and --conversion are needed");
    if (a->oracle) a->conversion = "REFERENCE";
    if (a->batch < 1 || a->threads < 1)
        return err_set(e, CALMA_E_USAGE, "worker: batch and threads must be >= 1");
    if (a->scenario < 0 || a->streams < 0 || (a->scenario && a->streams > 256))
        return err_set(e, CALMA_E_USAGE,
                       "worker: --scenario single|offline|server, --streams 1..256");
    if (!a->streams) a->streams = 1;
    if (a->scenario == PLAN_SERVER && !a->rate_auto && !(a->rate > 0))
        return err_set(e, CALMA_E_USAGE, "worker: --scenario server needs --rate R > 0 or auto");
    if (a->rate_auto && !(a->bound > 0))
        return err_set(e, CALMA_E_USAGE, "worker: --rate auto needs --latency-bound");
    return CALMA_OK;
}

int worker_main(int argc, char **argv) {
    wargs a;
    calma_error e = {0};
    if (parse_args(&a, argc, argv, &e)) {
        fprintf(stderr, "calma %s\n", e.msg);
        return 2;
    }
    trial t;
    memset(&t, 0, sizeof t);
    t.a = &a;
    const char *fdenv = getenv(SUPER_PROTOCOL_ENV);
    t.fd = fdenv ? atoi(fdenv) : 1;
    t.res = cJSON_CreateObject();
    cJSON_AddStringToObject(t.res, "event", "result");
    cJSON_AddStringToObject(t.res, "status", "ok");
    cJSON_AddStringToObject(t.res, "message", "");
    t.phases = cJSON_AddObjectToObject(t.res, "phases");
    t.mem = cJSON_AddObjectToObject(t.res, "memory");
    send_phase(&t, "start");
    if (a.peak)
        measure_peak(&t);
    else
        run_trial(&t);
    if (t.state) {
        add_engine_info(&t);
        t.c->backend->release(t.state);
    }
    uint64_t rss, hwm;
    super_read_rss(0, &rss, &hwm);
    cJSON_AddNumberToObject(t.mem, "peak", (double)hwm);
    for (int i = 0; t.in && i < t.n_in; i++) ir_tensor_free(&t.in[i]);
    for (int k = 0; t.out && k < t.n_out; k++) ir_tensor_free(&t.out[k]);
    free(t.in);
    free(t.out);
    free(t.cin);
    free(t.cout);
    free(t.samples);
    ir_graph_free(t.g);
    ir_graph_free(t.xg);
    registry_close(t.reg);
    send(&t, t.res);
    return t.broken ? 1 : 0;
}
