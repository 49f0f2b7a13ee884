/* The engines conformance can drive: the oracle directly, and any
 * conversion through its backend interface. */
#include <stdlib.h>
#include <string.h>

#include "conform/conform.h"
#include "conform/conform_backend.h"
#include "ref/ref.h"
#include "util/err.h"

/* ---- the oracle ---- */

static int refr_open(const void *ctx, const char *path, const ir_graph *g, void **state,
                     calma_error *e) {
    (void)ctx;
    (void)path;
    return ref_session_create(g, (ref_session **)state, e);
}

static int refr_run(void *state, const ir_tensor *inputs, ir_tensor *outputs, calma_error *e) {
    return ref_session_run(state, inputs, outputs, e);
}

static void refr_close(void *state) {
    ref_session_free(state);
}

static const conform_runner refr_runner = {"REFERENCE", NULL, refr_open, refr_run, refr_close};

const conform_runner *conform_reference_runner(void) {
    return &refr_runner;
}

/* ---- any conversion ---- */

typedef struct bkr_state {
    const calma_conversion *conv;
    const char *path;
    const ir_graph *g;
    void *engine;        /* the backend's state, NULL until the first run */
    ir_tensor *in_types; /* the input types the engine was loaded for */
    calma_tensor *in, *out;
    ir_tensor *out_types;
} bkr_state;

static void bkr_close(void *p) {
    bkr_state *s = p;
    if (!s) return;
    if (s->engine) s->conv->backend->release(s->engine);
    free(s->in_types);
    free(s->in);
    free(s->out);
    free(s->out_types);
    free(s);
}

static int bkr_open(const void *ctx, const char *path, const ir_graph *g, void **state,
                    calma_error *e) {
    const calma_conversion *conv = ctx;
    int rc = conv->backend->probe(conv, e);
    if (rc) return rc;
    bkr_state *s = calloc(1, sizeof *s);
    if (!s) return err_set(e, CALMA_E_NOMEM, "out of memory");
    s->conv = conv;
    s->path = path;
    s->g = g;
    size_t ni = (size_t)g->n_inputs + 1, no = (size_t)g->n_outputs + 1;
    s->in_types = calloc(ni, sizeof *s->in_types);
    s->in = calloc(ni, sizeof *s->in);
    s->out = calloc(no, sizeof *s->out);
    s->out_types = calloc(no, sizeof *s->out_types);
    if (!s->in_types || !s->in || !s->out || !s->out_types) {
        bkr_close(s);
        return err_set(e, CALMA_E_NOMEM, "out of memory");
    }
    *state = s;
    return CALMA_OK;
}

static void bkr_view(calma_tensor *v, const char *name, const ir_tensor *t) {
    v->name = name;
    v->dtype = t->dtype;
    v->rank = t->rank;
    memcpy(v->dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
    v->data = t->data;
    v->nbytes = t->nbytes;
}

static int same_types(const ir_tensor *a, const ir_tensor *b, int n) {
    for (int i = 0; i < n; i++)
        if (!ir_tensor_same_shape(&a[i], &b[i])) return 0;
    return 1;
}

/* (Re)loads the engine for these input shapes. */
static int bkr_load(bkr_state *s, const ir_tensor *inputs, calma_error *e) {
    const ir_graph *g = s->g;
    if (s->engine && same_types(s->in_types, inputs, g->n_inputs)) return CALMA_OK;
    if (s->engine) {
        s->conv->backend->release(s->engine);
        s->engine = NULL;
    }
    int rc = conform_output_types(g, inputs, s->out_types, e);
    if (rc) return err_prefix(e, "output shapes");
    for (int i = 0; i < g->n_inputs; i++) {
        s->in_types[i] = inputs[i];
        s->in_types[i].data = NULL;
        s->in_types[i].owns = 0;
        bkr_view(&s->in[i], g->values[g->inputs[i]].name, &s->in_types[i]);
    }
    for (int k = 0; k < g->n_outputs; k++)
        bkr_view(&s->out[k], g->values[g->outputs[k]].name, &s->out_types[k]);
    calma_model m = {.path = s->path,
                     .graph = g,
                     .n_inputs = g->n_inputs,
                     .inputs = s->in,
                     .n_outputs = g->n_outputs,
                     .outputs = s->out};
    calma_trial_config cfg = {.batch = g->n_inputs && inputs[0].rank ? inputs[0].dims[0] : 1,
                              .threads = 1,
                              .options = ""};
    rc = s->conv->backend->load(s->conv, &m, &cfg, &s->engine, e);
    if (!rc && s->conv->backend->convert) rc = s->conv->backend->convert(s->engine, e);
    if (rc && s->engine) {
        s->conv->backend->release(s->engine);
        s->engine = NULL;
    }
    return rc;
}

static int bkr_run(void *p, const ir_tensor *inputs, ir_tensor *outputs, calma_error *e) {
    bkr_state *s = p;
    const ir_graph *g = s->g;
    int rc = bkr_load(s, inputs, e);
    if (rc) return rc;
    for (int k = 0; k < g->n_outputs && !rc; k++)
        rc = ir_tensor_alloc(&outputs[k], s->out_types[k].dtype, s->out_types[k].rank,
                             s->out_types[k].dims, e);
    for (int i = 0; i < g->n_inputs; i++) bkr_view(&s->in[i], s->in[i].name, &inputs[i]);
    for (int k = 0; k < g->n_outputs && !rc; k++) bkr_view(&s->out[k], s->out[k].name, &outputs[k]);
    if (!rc) rc = s->conv->backend->run(s->engine, s->in, g->n_inputs, s->out, g->n_outputs, e);
    if (rc)
        for (int k = 0; k < g->n_outputs; k++) ir_tensor_free(&outputs[k]);
    return rc;
}

void conform_backend_runner(const calma_conversion *conv, conform_runner *out) {
    out->name = conv->name;
    out->ctx = conv;
    out->open = bkr_open;
    out->run = bkr_run;
    out->close = bkr_close;
}
