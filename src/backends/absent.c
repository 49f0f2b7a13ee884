/* absent_: the functions of a backend calma was built without
 * (CALMA_ABSENT_BACKEND in backends.h). Each such conversion's data is the
 * reason (with the install command), which probe and load report as
 * unavailable; the names stay known, so a plan naming them says why rather
 * than "unknown conversion". */
#include "backends/backends.h"
#include "util/err.h"

static const char *absent_reason(const calma_conversion *c) {
    return c && c->data ? (const char *)c->data : "this engine was not built into calma";
}

const char *absent_version(void) {
    return NULL;
}

int absent_probe(const calma_conversion *c, calma_error *e) {
    return err_set(e, CALMA_E_UNAVAILABLE, "%s", absent_reason(c));
}

int absent_load(const calma_conversion *c, const calma_model *m, const calma_trial_config *cfg,
                void **state, calma_error *e) {
    (void)m;
    (void)cfg;
    *state = NULL;
    return err_set(e, CALMA_E_UNAVAILABLE, "%s", absent_reason(c));
}

int absent_run(void *state, const calma_tensor *inputs, int n_in, calma_tensor *outputs, int n_out,
               calma_error *e) {
    (void)state;
    (void)inputs;
    (void)n_in;
    (void)outputs;
    (void)n_out;
    return err_set(e, CALMA_E_UNAVAILABLE, "this engine was not built into calma");
}

void absent_release(void *state) {
    (void)state;
}
