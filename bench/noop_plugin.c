/* A calma plugin with one conversion, NOOP, whose run() does nothing. calma's
 * per-sample time on it is the harness's own cost (two clock reads, the call
 * through the backend table, the loop and the stopping rule's bookkeeping),
 * which bench/bench_measure.sh prints as issue 5's overhead figure. Its
 * outputs stay as calma allocated them, so validation reports a mismatch:
 * expected, and irrelevant to the figure. It links nothing of calma. */

#include "calma/backend.h"

static const char *noop_version(void) {
    return "noop 1.0";
}

static int noop_probe(const calma_conversion *c, calma_error *e) {
    (void)c;
    (void)e;
    return CALMA_OK;
}

static int noop_load(const calma_conversion *c, const calma_model *m, const calma_trial_config *cfg,
                     void **state, calma_error *e) {
    (void)c;
    (void)m;
    (void)cfg;
    (void)e;
    /* A non-NULL state, so a harness that checks it sees a loaded model. */
    static const int loaded = 1;
    *state = (void *)&loaded;
    return CALMA_OK;
}

static int noop_run(void *state, const calma_tensor *in, int n_in, calma_tensor *out, int n_out,
                    calma_error *e) {
    (void)state;
    (void)in;
    (void)n_in;
    (void)out;
    (void)n_out;
    (void)e;
    return CALMA_OK;
}

static void noop_release(void *state) {
    (void)state; /* load allocated nothing */
}

static const calma_backend noop_backend = {
    .abi = CALMA_BACKEND_ABI,
    .name = "noop",
    .version = noop_version,
    .probe = noop_probe,
    .load = noop_load,
    .convert = NULL,
    .run = noop_run,
    .release = noop_release,
};

static const calma_conversion noop_conversions[] = {
    {"NOOP", NULL, 3, "cpu",
     "does nothing: run() returns at once (measures calma's per-sample overhead)", &noop_backend,
     NULL},
};

static const calma_plugin noop_plugin = {
    .abi = CALMA_BACKEND_ABI,
    .name = "noop",
    .n_conversions = 1,
    .conversions = noop_conversions,
};

const calma_plugin *calma_plugin_entry(void);
const calma_plugin *calma_plugin_entry(void) {
    return &noop_plugin;
}
