/* Shared by the XNNPACK tests: run a graph through the XNNPACK conversion
 * (or XNNPACK_STRICT) and through the oracle, and compare
 * (validate_default_tol: atol 1e-4, rtol 1e-3 for float32); read the facts
 * the backend reports about its partition. Include after <cmocka.h>. */
#ifndef CALMA_TEST_XNN_HARNESS_H
#define CALMA_TEST_XNN_HARNESS_H

#include "test_backend_harness.h"

static inline const calma_conversion *xnn(void) {
    return bh_conv("XNNPACK");
}

static inline const calma_conversion *xnn_strict(void) {
    return bh_conv("XNNPACK_STRICT");
}

static inline int xnn_here(void) {
    return bh_here(xnn());
}

#define NEED_XNN()                                                                                 \
    do {                                                                                           \
        if (!xnn_here()) skip();                                                                   \
    } while (0)

/* Seeded inputs and the oracle's outputs for g (batch already fixed), for
 * the XNNPACK conversion with its profile on (the share of time outside). */
static inline void trial_prepare(trial *t, const ir_graph *g) {
    bh_trial_prepare(t, xnn(), g);
    t->profile = 1;
}

static inline int trial_load(trial *t, const ir_graph *g, int threads, calma_error *e) {
    return bh_trial_load(t, g, threads, e);
}

static inline void trial_check(trial *t, const char *what) {
    bh_trial_check(t, what, 0);
}

static inline void trial_free(trial *t) {
    bh_trial_free(t);
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

#endif
