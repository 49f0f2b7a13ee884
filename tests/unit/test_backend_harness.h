/* Shared by the backend tests: hand-built graphs, running a graph through
 * one conversion and through the oracle, and comparing (validate_default_tol:
 * atol 1e-4, rtol 1e-3 for float32; or, for reduced precision, a lowest
 * cosine similarity). Include after <cmocka.h>. */
#ifndef CALMA_TEST_BACKEND_HARNESS_H
#define CALMA_TEST_BACKEND_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backends.h"
#include "bench/validate.h"
#include "io/gen.h"
#include "ir/ir.h"
#include "ref/ref.h"
#include "zoo/zoo.h"

#define MAX_T 64

/* A built-in conversion by canonical name; fails the test when absent. */
static inline const calma_conversion *bh_conv(const char *name) {
    const calma_conversion *const tables[] = {refbe_conversions, ortbe_conversions,
                                              xnnbe_conversions, dnnlbe_conversions,
                                              torchbe_conversions};
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const calma_conversion *c = tables[t]; c->name; c++)
            if (!strcmp(c->name, name)) return c;
    fail_msg("no conversion %s in the built-in tables", name);
    return NULL;
}

static inline int bh_here(const calma_conversion *c) {
    calma_error e = {0};
    return c->backend->probe(c, &e) == CALMA_OK;
}

#define BH_NEED(c)                                                                                 \
    do {                                                                                           \
        if (!bh_here(c)) skip();                                                                   \
    } while (0)

static inline calma_tensor view(const ir_tensor *t, const char *name) {
    calma_tensor v = {
        .name = name, .dtype = t->dtype, .rank = t->rank, .data = t->data, .nbytes = t->nbytes};
    memcpy(v.dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
    return v;
}

typedef struct trial {
    const calma_conversion *conv;
    const char *options; /* the engine settings load gets; NULL for none */
    int profile;         /* calma_trial_config.profile */
    int n_in, n_out;
    ir_tensor in[MAX_T], ref[MAX_T], got[MAX_T];
    calma_tensor ti[MAX_T], to[MAX_T];
    void *state;
} trial;

static inline void bh_trial_free(trial *t) {
    if (t->state) t->conv->backend->release(t->state);
    for (int i = 0; i < MAX_T; i++) {
        ir_tensor_free(&t->in[i]);
        ir_tensor_free(&t->ref[i]);
        ir_tensor_free(&t->got[i]);
    }
}

/* Seeded inputs and the oracle's outputs for g (batch already fixed). */
static inline void bh_trial_prepare(trial *t, const calma_conversion *c, const ir_graph *g) {
    calma_error e = {0};
    memset(t, 0, sizeof *t);
    t->conv = c;
    t->n_in = g->n_inputs;
    t->n_out = g->n_outputs;
    assert_true(t->n_in <= MAX_T && t->n_out <= MAX_T);
    for (int i = 0; i < t->n_in; i++) {
        const ir_value *v = &g->values[g->inputs[i]];
        assert_int_equal(ir_tensor_alloc(&t->in[i], v->dtype, v->rank, v->dims, &e), CALMA_OK);
        gen_fill(&t->in[i], 11, i, 0);
        t->ti[i] = view(&t->in[i], v->name);
    }
    ref_session *rs = NULL;
    int rc = ref_session_create(g, &rs, &e);
    if (!rc) rc = ref_session_run(rs, t->in, t->ref, &e);
    ref_session_free(rs);
    if (rc) fail_msg("oracle: %s", e.msg);
    for (int k = 0; k < t->n_out; k++) {
        const ir_tensor *r = &t->ref[k];
        assert_int_equal(ir_tensor_alloc(&t->got[k], r->dtype, r->rank, r->dims, &e), CALMA_OK);
        t->to[k] = view(&t->got[k], g->values[g->outputs[k]].name);
    }
}

/* load + convert; returns the status, message in e. */
static inline int bh_trial_load(trial *t, const ir_graph *g, int threads, calma_error *e) {
    calma_model m = {.path = NULL,
                     .graph = g,
                     .n_inputs = t->n_in,
                     .inputs = t->ti,
                     .n_outputs = t->n_out,
                     .outputs = t->to};
    calma_trial_config cfg = {.batch = 1,
                              .threads = threads,
                              .options = t->options ? t->options : "",
                              .profile = t->profile};
    const calma_conversion *c = t->conv;
    int rc = c->backend->load(c, &m, &cfg, &t->state, e);
    if (!rc && c->backend->convert) rc = c->backend->convert(t->state, e);
    return rc;
}

/* min_cos 0: float32 tolerances; else every output's cosine similarity
 * with the oracle's must reach min_cos (and no value may be non-finite). */
static inline void bh_trial_check(trial *t, const char *what, double min_cos) {
    calma_error e = {0};
    for (int k = 0; k < t->n_out; k++) {
        validate_result r;
        assert_int_equal(
            validate_compare(&t->ref[k], &t->got[k], validate_default_tol(CALMA_DT_FLOAT), &r, &e),
            CALMA_OK);
        printf("  %s %s output %d: max_abs %.3g max_rel %.3g cosine %.9f\n", t->conv->name, what, k,
               r.max_abs, r.max_rel, r.cosine);
        if (min_cos <= 0 && !r.pass) fail_msg("%s output %d: %s", what, k, r.why);
        if (min_cos > 0 && (r.cosine < min_cos || r.nonfinite))
            fail_msg("%s output %d: cosine %.6f below %.4f (%zu non-finite)", what, k, r.cosine,
                     min_cos, r.nonfinite);
    }
}

/* runs inferences of g through c after one load at threads, each checked
 * (min_cos as for bh_trial_check); options: engine settings or NULL. */
static inline void bh_run_check_opts(const calma_conversion *c, const ir_graph *g, int threads,
                                     int runs, const char *what, double min_cos,
                                     const char *options) {
    trial t;
    calma_error e = {0};
    bh_trial_prepare(&t, c, g);
    t.options = options;
    int rc = bh_trial_load(&t, g, threads, &e);
    if (rc) fail_msg("%s: load/convert: %s", what, e.msg);
    for (int r = 0; r < runs; r++) {
        for (int k = 0; k < t.n_out; k++) memset(t.got[k].data, 0, t.got[k].nbytes);
        rc = c->backend->run(t.state, t.ti, t.n_in, t.to, t.n_out, &e);
        if (rc) fail_msg("%s: run: %s", what, e.msg);
        bh_trial_check(&t, what, min_cos);
    }
    bh_trial_free(&t);
}

static inline void bh_run_check(const calma_conversion *c, const ir_graph *g, int threads, int runs,
                                const char *what, double min_cos) {
    bh_run_check_opts(c, g, threads, runs, what, min_cos, NULL);
}

static inline void bh_zoo_case(const calma_conversion *c, const char *name, int64_t batch,
                               int threads, double min_cos) {
    BH_NEED(c);
    ir_graph *g = NULL;
    calma_error e = {0};
    assert_int_equal(zoo_build(name, 7, &g, &e), CALMA_OK);
    ir_graph_set_batch(g, batch);
    bh_run_check(c, g, threads, 2, name, min_cos);
    ir_graph_free(g);
}

static inline void bh_expect_unsupported(const calma_conversion *c, const ir_graph *g,
                                         const char *const *needles) {
    trial t;
    calma_error e = {0};
    bh_trial_prepare(&t, c, g);
    int rc = bh_trial_load(&t, g, 1, &e);
    printf("  message: %s\n", e.msg);
    assert_int_equal(rc, CALMA_E_UNSUPPORTED);
    assert_null(t.state);
    for (; *needles; needles++)
        if (!strstr(e.msg, *needles)) fail_msg("'%s' not in '%s'", *needles, e.msg);
    bh_trial_free(&t);
}

/* Loads g with the declared shapes of its inputs and outputs (no oracle:
 * such graphs may be broken on purpose) and returns load's status. */
static inline int bh_load_only(const calma_conversion *c, const ir_graph *g, calma_error *e) {
    calma_tensor ti[MAX_T], to[MAX_T];
    assert_true(g->n_inputs <= MAX_T && g->n_outputs <= MAX_T);
    for (int i = 0; i < g->n_inputs; i++) {
        const ir_value *v = &g->values[g->inputs[i]];
        ti[i] = (calma_tensor){.name = v->name, .dtype = v->dtype, .rank = v->rank};
        memcpy(ti[i].dims, v->dims, sizeof(int64_t) * (size_t)v->rank);
    }
    for (int k = 0; k < g->n_outputs; k++) {
        const ir_value *v = &g->values[g->outputs[k]];
        to[k] = (calma_tensor){.name = v->name, .dtype = v->dtype, .rank = v->rank};
        memcpy(to[k].dims, v->dims, sizeof(int64_t) * (size_t)(v->rank > 0 ? v->rank : 0));
    }
    calma_model m = {.graph = g,
                     .n_inputs = g->n_inputs,
                     .inputs = ti,
                     .n_outputs = g->n_outputs,
                     .outputs = to};
    calma_trial_config cfg = {.batch = 1, .threads = 1, .options = ""};
    void *state = NULL;
    int rc = c->backend->load(c, &m, &cfg, &state, e);
    if (!rc && c->backend->convert) rc = c->backend->convert(state, e);
    c->backend->release(state);
    return rc;
}

/* ---- building graphs by hand ---- */

/* A node from comma-separated input and output names ("" for none). */
static inline ir_node *add(ir_graph *g, const char *op, const char *name, const char *ins,
                           const char *outs) {
    char buf[2][256];
    const char *lists[2] = {ins, outs};
    const char *names[2][8];
    int count[2] = {0, 0};
    for (int l = 0; l < 2; l++) {
        snprintf(buf[l], sizeof buf[l], "%s", lists[l]);
        char *p = buf[l];
        if (!*p) continue;
        for (;;) {
            names[l][count[l]++] = p;
            char *comma = strchr(p, ',');
            if (!comma) break;
            *comma = '\0';
            p = comma + 1;
        }
    }
    ir_node *n = ir_graph_add_node(g, op, name, count[0], names[0], count[1], names[1]);
    assert_non_null(n);
    return n;
}

/* A float32 initializer uniform in [lo, hi) from seed. */
static inline void init_f(ir_graph *g, const char *name, int rank, const int64_t *dims, float lo,
                          float hi, uint64_t seed) {
    ir_tensor t = {0};
    calma_error e = {0};
    assert_int_equal(ir_tensor_alloc(&t, CALMA_DT_FLOAT, rank, dims, &e), CALMA_OK);
    gen_fill(&t, seed, 0, 0); /* [-1, 1) */
    float *f = t.data;
    for (size_t i = 0; i < ir_tensor_numel(&t); i++) f[i] = lo + (f[i] + 1.0f) * 0.5f * (hi - lo);
    assert_int_equal(ir_graph_add_initializer(g, name, &t), CALMA_OK);
}

static inline void init_i64(ir_graph *g, const char *name, int n, const int64_t *v) {
    ir_tensor t = {0};
    calma_error e = {0};
    int64_t d = n;
    assert_int_equal(ir_tensor_alloc(&t, CALMA_DT_INT64, 1, &d, &e), CALMA_OK);
    memcpy(t.data, v, sizeof(int64_t) * (size_t)n);
    assert_int_equal(ir_graph_add_initializer(g, name, &t), CALMA_OK);
}

static inline void init_scalar(ir_graph *g, const char *name, float v) {
    ir_tensor t = {0};
    calma_error e = {0};
    assert_int_equal(ir_tensor_alloc(&t, CALMA_DT_FLOAT, 0, NULL, &e), CALMA_OK);
    ((float *)t.data)[0] = v;
    assert_int_equal(ir_graph_add_initializer(g, name, &t), CALMA_OK);
}

/* BatchNormalization parameters p_s, p_b, p_m, p_v for c channels. */
static inline void bn_params(ir_graph *g, const char *p, int64_t c, uint64_t seed) {
    char n[64];
    snprintf(n, sizeof n, "%s_s", p);
    init_f(g, n, 1, &c, 0.5f, 1.5f, seed);
    snprintf(n, sizeof n, "%s_b", p);
    init_f(g, n, 1, &c, -0.5f, 0.5f, seed + 1);
    snprintf(n, sizeof n, "%s_m", p);
    init_f(g, n, 1, &c, -0.2f, 0.2f, seed + 2);
    snprintf(n, sizeof n, "%s_v", p);
    init_f(g, n, 1, &c, 0.5f, 2.0f, seed + 3);
}

static inline void sort_or_fail(ir_graph *g) {
    calma_error e = {0};
    if (ir_graph_sort(g, &e)) fail_msg("sort: %s", e.msg);
}

#endif
