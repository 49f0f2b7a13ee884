/* Shared by the XNNPACK tests: run a graph through the XNNPACK conversion
 * (or XNNPACK_STRICT) and through the oracle, and compare
 * (validate_default_tol: atol 1e-4, rtol 1e-3 for float32); read the facts
 * the backend reports about its partition. Include after <cmocka.h>. */
#ifndef CALMA_TEST_XNN_HARNESS_H
#define CALMA_TEST_XNN_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backends.h"
#include "bench/validate.h"
#include "io/gen.h"
#include "ir/ir.h"
#include "ref/ref.h"
#include "zoo/zoo.h"

#define MAX_T 8

static inline const calma_conversion *xnn_named(const char *name) {
    for (const calma_conversion *c = xnnbe_conversions; c->name; c++)
        if (!strcmp(c->name, name)) return c;
    fail_msg("no %s conversion in xnnbe_conversions", name);
    return NULL;
}

static inline const calma_conversion *xnn(void) {
    return xnn_named("XNNPACK");
}

static inline const calma_conversion *xnn_strict(void) {
    return xnn_named("XNNPACK_STRICT");
}

static inline int xnn_here(void) {
    calma_error e = {0};
    return xnn()->backend->probe(xnn(), &e) == CALMA_OK;
}

#define NEED_XNN()                                                                                 \
    do {                                                                                           \
        if (!xnn_here()) skip();                                                                   \
    } while (0)

static inline calma_tensor view(const ir_tensor *t, const char *name) {
    calma_tensor v = {
        .name = name, .dtype = t->dtype, .rank = t->rank, .data = t->data, .nbytes = t->nbytes};
    memcpy(v.dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
    return v;
}

typedef struct trial {
    int n_in, n_out;
    ir_tensor in[MAX_T], ref[MAX_T], got[MAX_T];
    calma_tensor ti[MAX_T], to[MAX_T];
    const calma_conversion *conv;
    void *state;
} trial;

static inline void trial_free(trial *t) {
    if (t->state) t->conv->backend->release(t->state);
    for (int i = 0; i < MAX_T; i++) {
        ir_tensor_free(&t->in[i]);
        ir_tensor_free(&t->ref[i]);
        ir_tensor_free(&t->got[i]);
    }
}

/* Seeded inputs and the oracle's outputs for g (batch already fixed). */
static inline void trial_prepare(trial *t, const ir_graph *g) {
    calma_error e = {0};
    memset(t, 0, sizeof *t);
    t->conv = xnn();
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
static inline int trial_load(trial *t, const ir_graph *g, int threads, calma_error *e) {
    calma_model m = {.path = NULL,
                     .graph = g,
                     .n_inputs = t->n_in,
                     .inputs = t->ti,
                     .n_outputs = t->n_out,
                     .outputs = t->to};
    calma_trial_config cfg = {.batch = 1, .threads = threads, .options = "", .profile = 1};
    const calma_conversion *c = t->conv;
    int rc = c->backend->load(c, &m, &cfg, &t->state, e);
    if (!rc) rc = c->backend->convert(t->state, e);
    return rc;
}

static inline void trial_check(trial *t, const char *what) {
    calma_error e = {0};
    for (int k = 0; k < t->n_out; k++) {
        validate_result r;
        assert_int_equal(
            validate_compare(&t->ref[k], &t->got[k], validate_default_tol(CALMA_DT_FLOAT), &r, &e),
            CALMA_OK);
        printf("  %s output %d: max_abs %.3g max_rel %.3g cosine %.9f\n", what, k, r.max_abs,
               r.max_rel, r.cosine);
        if (!r.pass) fail_msg("%s output %d: %s", what, k, r.why);
    }
}

/* The facts the backend reports (info), printed. */
typedef struct facts {
    double in_engine, outside, folded, islands, layout_changes, outside_share;
    char ops_outside[512];
} facts;

static inline void read_facts(const trial *t, facts *f) {
    calma_fact fs[CALMA_MAX_FACTS];
    memset(f, 0, sizeof *f);
    f->outside_share = -1;
    assert_non_null(t->conv->backend->info);
    int n = t->conv->backend->info(t->state, fs, CALMA_MAX_FACTS);
    assert_true(n > 0 && n <= CALMA_MAX_FACTS);
    for (int i = 0; i < n; i++) {
        double v = fs[i].number;
        if (!strcmp(fs[i].key, "nodes_in_engine")) f->in_engine = v;
        if (!strcmp(fs[i].key, "nodes_outside")) f->outside = v;
        if (!strcmp(fs[i].key, "nodes_folded")) f->folded = v;
        if (!strcmp(fs[i].key, "islands")) f->islands = v;
        if (!strcmp(fs[i].key, "layout_changes")) f->layout_changes = v;
        if (!strcmp(fs[i].key, "outside_share")) f->outside_share = v;
        if (!strcmp(fs[i].key, "ops_outside"))
            snprintf(f->ops_outside, sizeof f->ops_outside, "%s", fs[i].text);
    }
    printf("  facts: %g in XNNPACK, %g outside (%s), %g folded, %g islands, %g layout changes, "
           "outside share %.3f\n",
           f->in_engine, f->outside, f->ops_outside, f->folded, f->islands, f->layout_changes,
           f->outside_share);
}

/* Runs g through XNNPACK `runs` times and checks against the oracle;
 * *f (may be NULL) gets the partition's facts. */
static inline void run_and_check_facts(const ir_graph *g, int threads, int runs, const char *what,
                                       facts *f) {
    trial t;
    calma_error e = {0};
    trial_prepare(&t, g);
    int rc = trial_load(&t, g, threads, &e);
    if (rc) fail_msg("%s: load/convert: %s", what, e.msg);
    for (int r = 0; r < runs; r++) {
        for (int k = 0; k < t.n_out; k++) memset(t.got[k].data, 0, t.got[k].nbytes);
        rc = t.conv->backend->run(t.state, t.ti, t.n_in, t.to, t.n_out, &e);
        if (rc) fail_msg("%s: run: %s", what, e.msg);
        trial_check(&t, what);
    }
    facts local;
    read_facts(&t, f ? f : &local);
    trial_free(&t);
}

static inline void run_and_check(const ir_graph *g, int threads, int runs, const char *what) {
    run_and_check_facts(g, threads, runs, what, NULL);
}

static inline void zoo_case_facts(const char *name, int64_t batch, int threads, facts *f) {
    ir_graph *g = NULL;
    calma_error e = {0};
    assert_int_equal(zoo_build(name, 7, &g, &e), CALMA_OK);
    ir_graph_set_batch(g, batch);
    run_and_check_facts(g, threads, 2, name, f);
    ir_graph_free(g);
}

static inline void zoo_case(const char *name, int64_t batch, int threads) {
    NEED_XNN();
    facts f;
    zoo_case_facts(name, batch, threads, &f);
    /* the zoo's CNNs and the MLP fit XNNPACK whole */
    assert_int_equal((int)f.outside, 0);
    assert_int_equal((int)f.islands, 1);
    assert_int_equal((int)f.layout_changes, 0);
}

/* ---- building graphs ---- */

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

static inline void sort_or_fail(ir_graph *g) {
    calma_error e = {0};
    if (ir_graph_sort(g, &e)) fail_msg("sort: %s", e.msg);
}

#endif
