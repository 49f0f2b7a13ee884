/* The XNNPACK tests' names for the shared backend harness
 * (test_backend_harness.h), bound to the XNNPACK conversion. Include after
 * <cmocka.h>. */
#ifndef CALMA_TEST_XNN_HARNESS_H
#define CALMA_TEST_XNN_HARNESS_H

#include "test_backend_harness.h"

static inline const calma_conversion *xnn(void) {
    return bh_conv("XNNPACK");
}

#define NEED_XNN() BH_NEED(xnn())

static inline void trial_free(trial *t) {
    bh_trial_free(t);
}

static inline void trial_prepare(trial *t, const ir_graph *g) {
    bh_trial_prepare(t, xnn(), g);
}

static inline int trial_load(trial *t, const ir_graph *g, int threads, calma_error *e) {
    return bh_trial_load(t, g, threads, e);
}

static inline void trial_check(trial *t, const char *what) {
    bh_trial_check(t, what, 0);
}

static inline void run_and_check(const ir_graph *g, int threads, int runs, const char *what) {
    bh_run_check(xnn(), g, threads, runs, what, 0);
}

static inline void zoo_case(const char *name, int64_t batch, int threads) {
    bh_zoo_case(xnn(), name, batch, threads, 0);
}

static inline void expect_unsupported(const ir_graph *g, const char *const *needles) {
    bh_expect_unsupported(xnn(), g, needles);
}

static inline int load_only(const ir_graph *g, calma_error *e) {
    return bh_load_only(xnn(), g, e);
}

#endif
