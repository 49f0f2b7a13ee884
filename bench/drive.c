/* See drive.h. */
#include "drive.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backends/backends.h"
#include "bench/stats.h"
#include "bench/validate.h"
#include "io/gen.h"
#include "ref/ref.h"
#include "util/err.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void drive_passive_openmp(char **argv) {
    if (getenv("OMP_WAIT_POLICY")) return;
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    execv("/proc/self/exe", argv);
    /* no /proc: run on with the runtime's default policy */
}

const calma_conversion *drive_find(const char *name) {
    const calma_conversion *const tables[] = {refbe_conversions, ortbe_conversions,
                                              xnnbe_conversions, dnnlbe_conversions,
                                              torchbe_conversions};
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const calma_conversion *c = tables[t]; c->name; c++)
            if (!strcmp(c->name, name)) return c;
    return NULL;
}

static calma_tensor view(const ir_tensor *t, const char *name) {
    calma_tensor v = {
        .name = name, .dtype = t->dtype, .rank = t->rank, .data = t->data, .nbytes = t->nbytes};
    memcpy(v.dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
    return v;
}

void drive_close(drive_side *a) {
    if (a->conv && a->state) a->conv->backend->release(a->state);
    for (int i = 0; i < DRIVE_MAX_IO; i++) {
        ir_tensor_free(&a->in[i]);
        ir_tensor_free(&a->out[i]);
    }
    free(a->samples);
    memset(a, 0, sizeof *a);
}

int drive_open(drive_side *a, const calma_conversion *c, const ir_graph *g, const drive_cfg *dc,
               calma_error *e) {
    size_t cap = dc->cap;
    memset(a, 0, sizeof *a);
    a->conv = c;
    if (g->n_inputs > DRIVE_MAX_IO || g->n_outputs > DRIVE_MAX_IO)
        return err_set(e, CALMA_E_UNSUPPORTED, "too many inputs or outputs");
    a->samples = calloc(cap ? cap : 1, sizeof(double));
    if (!a->samples) return err_set(e, CALMA_E_NOMEM, "out of memory");
    a->cap = cap;
    a->n_in = g->n_inputs;
    a->n_out = g->n_outputs;
    int rc;
    for (int i = 0; i < a->n_in; i++) {
        const ir_value *v = &g->values[g->inputs[i]];
        if ((rc = ir_tensor_alloc(&a->in[i], v->dtype, v->rank, v->dims, e))) return rc;
        gen_fill(&a->in[i], 1, i, 0);
        a->tin[i] = view(&a->in[i], v->name);
    }
    if ((rc = ref_infer_outputs(g, a->in, a->out, e))) return rc;
    for (int k = 0; k < a->n_out; k++) {
        ir_tensor t = a->out[k];
        memset(&a->out[k], 0, sizeof a->out[k]);
        if ((rc = ir_tensor_alloc(&a->out[k], t.dtype, t.rank, t.dims, e))) return rc;
        a->tout[k] = view(&a->out[k], g->values[g->outputs[k]].name);
    }
    calma_model m = {.path = dc->path,
                     .graph = g,
                     .n_inputs = a->n_in,
                     .inputs = a->tin,
                     .n_outputs = a->n_out,
                     .outputs = a->tout};
    calma_trial_config cfg = {.batch = dc->batch,
                              .threads = dc->threads,
                              .options = dc->options ? dc->options : "",
                              .profile = dc->profile};
    const calma_backend *be = c->backend;
    if ((rc = be->probe(c, e))) return rc;
    double t0 = now();
    if ((rc = be->load(c, &m, &cfg, &a->state, e))) return rc;
    double t1 = now();
    if (be->convert && (rc = be->convert(a->state, e))) return rc;
    double t2 = now();
    if ((rc = be->run(a->state, a->tin, a->n_in, a->tout, a->n_out, e))) return rc;
    a->load_s = t1 - t0;
    a->convert_s = t2 - t1;
    a->first_s = now() - t2;
    return CALMA_OK;
}

int drive_sample(drive_side *a, double *dt, calma_error *e) {
    double t0 = now();
    int rc = a->conv->backend->run(a->state, a->tin, a->n_in, a->tout, a->n_out, e);
    *dt = now() - t0;
    return rc;
}

int drive_runs(drive_side *a, int runs, int keep, calma_error *e) {
    for (int r = 0; r < runs; r++) {
        double t0 = now();
        int rc = a->conv->backend->run(a->state, a->tin, a->n_in, a->tout, a->n_out, e);
        if (rc) return rc;
        double dt = now() - t0;
        if (keep && a->n < a->cap) a->samples[a->n++] = dt;
    }
    return CALMA_OK;
}

int drive_interleave(drive_side *const *sides, int n, int blocks, int runs, calma_error *e) {
    int rc;
    for (int i = 0; i < n; i++)
        if (sides[i] && (rc = drive_runs(sides[i], 5, 0, e))) return rc;
    for (int b = 0; b < blocks; b++)
        for (int j = 0; j < n; j++) {
            drive_side *s = sides[b % 2 == 0 ? j : n - 1 - j];
            if (s && (rc = drive_runs(s, runs, 1, e))) return rc;
        }
    return CALMA_OK;
}

double drive_median(const drive_side *a, double *min) {
    stats_summary s;
    stats_summarize(a->samples, a->n, &s);
    if (min) *min = s.min;
    return s.median;
}

/* Multiply-adds of every Conv, Gemm and MatMul, from the shapes the oracle
 * infers for every value (the graph's outputs are widened for the call). */
double drive_count_macs(ir_graph *g, calma_error *e) {
    ir_tensor *types = calloc((size_t)g->n_values + 1, sizeof(ir_tensor));
    ir_tensor *in = calloc((size_t)g->n_inputs + 1, sizeof(ir_tensor));
    double macs = -1;
    if (!types || !in) goto out;
    for (int i = 0; i < g->n_inputs; i++) {
        const ir_value *v = &g->values[g->inputs[i]];
        in[i].dtype = v->dtype;
        in[i].rank = v->rank;
        memcpy(in[i].dims, v->dims, sizeof(int64_t) * (size_t)v->rank);
    }
    if (ref_infer_values(g, in, types, e)) goto out;
    macs = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *nd = &g->nodes[i];
        if (nd->n_out < 1 || nd->out[0] < 0) continue;
        double numel = (double)ir_tensor_numel(&types[nd->out[0]]);
        const ir_tensor *w = nd->n_in > 1 && nd->in[1] >= 0 ? g->values[nd->in[1]].init : NULL;
        if (!strcmp(nd->op_type, "Conv") && w && w->rank >= 3) {
            double per = 1;
            for (int d = 1; d < w->rank; d++) per *= (double)w->dims[d];
            macs += numel * per;
        } else if (!strcmp(nd->op_type, "Gemm") && w && w->rank == 2) {
            int64_t k = ir_node_int(nd, "transB", 0) ? w->dims[1] : w->dims[0];
            macs += numel * (double)k;
        } else if (!strcmp(nd->op_type, "MatMul") && w && w->rank == 2) {
            macs += numel * (double)w->dims[0];
        }
    }
out:
    if (types)
        for (int i = 0; i < g->n_values; i++) ir_tensor_free(&types[i]);
    free(types);
    free(in);
    return macs;
}

int drive_oracle(const ir_graph *g, const drive_side *a, ir_tensor *ref, calma_error *e) {
    ref_session *rs = NULL;
    int rc = ref_session_create(g, &rs, e);
    if (!rc) rc = ref_session_run(rs, a->in, ref, e);
    ref_session_free(rs);
    return rc;
}

int drive_compare(const drive_side *a, const ir_tensor *ref, double *cosine, double *max_abs,
                  calma_error *e) {
    *cosine = 1.0;
    *max_abs = 0.0;
    for (int k = 0; k < a->n_out; k++) {
        validate_result r;
        int rc = validate_compare(&ref[k], &a->out[k], validate_default_tol(CALMA_DT_FLOAT), &r, e);
        if (rc) return rc;
        if (r.cosine < *cosine) *cosine = r.cosine;
        if (r.max_abs > *max_abs) *max_abs = r.max_abs;
    }
    return CALMA_OK;
}
