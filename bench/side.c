#include "side.h"

#include <string.h>
#include <time.h>

#include "io/gen.h"
#include "ref/ref.h"
#include "util/err.h"

double bside_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

const calma_conversion *bside_find(const calma_conversion *table, const char *name) {
    for (const calma_conversion *c = table; c->name; c++)
        if (!strcmp(c->name, name)) return c;
    return NULL;
}

static calma_tensor view(const ir_tensor *t, const char *name) {
    calma_tensor v = {
        .name = name, .dtype = t->dtype, .rank = t->rank, .data = t->data, .nbytes = t->nbytes};
    memcpy(v.dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
    return v;
}

void bside_close(bside *a) {
    if (a->conv && a->state) a->conv->backend->release(a->state);
    for (int i = 0; i < BSIDE_MAX_IO; i++) {
        ir_tensor_free(&a->in[i]);
        ir_tensor_free(&a->out[i]);
    }
    memset(a, 0, sizeof *a);
}

/* Inputs from seed 1 and outputs as the oracle infers them. */
static int tensors(bside *a, const ir_graph *g, calma_error *e) {
    if (g->n_inputs > BSIDE_MAX_IO || g->n_outputs > BSIDE_MAX_IO)
        return err_set(e, CALMA_E_UNSUPPORTED, "more than %d inputs or outputs", BSIDE_MAX_IO);
    a->n_in = g->n_inputs;
    a->n_out = g->n_outputs;
    for (int i = 0; i < a->n_in; i++) {
        const ir_value *v = &g->values[g->inputs[i]];
        int rc = ir_tensor_alloc(&a->in[i], v->dtype, v->rank, v->dims, e);
        if (rc) return rc;
        gen_fill(&a->in[i], 1, i, 0);
        a->tin[i] = view(&a->in[i], v->name);
    }
    int rc = ref_infer_outputs(g, a->in, a->out, e);
    if (rc) return rc;
    for (int k = 0; k < a->n_out; k++) {
        ir_tensor t = a->out[k];
        memset(&a->out[k], 0, sizeof a->out[k]);
        if ((rc = ir_tensor_alloc(&a->out[k], t.dtype, t.rank, t.dims, e))) return rc;
        a->tout[k] = view(&a->out[k], g->values[g->outputs[k]].name);
    }
    return CALMA_OK;
}

int bside_open(bside *a, const calma_conversion *c, const ir_graph *g, const char *path,
               int threads, int64_t batch, int profile, calma_error *e) {
    memset(a, 0, sizeof *a);
    a->conv = c;
    int rc = tensors(a, g, e);
    if (rc) return rc;
    calma_model m = {.path = path,
                     .graph = g,
                     .n_inputs = a->n_in,
                     .inputs = a->tin,
                     .n_outputs = a->n_out,
                     .outputs = a->tout};
    calma_trial_config cfg = {
        .batch = batch, .threads = threads, .options = "", .profile = profile};
    const calma_backend *be = c->backend;
    if ((rc = be->probe(c, e))) return rc;
    double t0 = bside_now();
    if ((rc = be->load(c, &m, &cfg, &a->state, e))) return rc;
    double t1 = bside_now();
    if (be->convert && (rc = be->convert(a->state, e))) return rc;
    double t2 = bside_now();
    if ((rc = be->run(a->state, a->tin, a->n_in, a->tout, a->n_out, e))) return rc;
    a->load_s = t1 - t0;
    a->convert_s = t2 - t1;
    a->first_s = bside_now() - t2;
    return CALMA_OK;
}

int bside_sample(bside *a, double *dt, calma_error *e) {
    double t0 = bside_now();
    int rc = a->conv->backend->run(a->state, a->tin, a->n_in, a->tout, a->n_out, e);
    *dt = bside_now() - t0;
    return rc;
}
