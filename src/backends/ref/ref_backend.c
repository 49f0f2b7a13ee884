/* refbe_: the oracle as a backend, so it runs through the same worker and
 * timing path as every other conversion. */
#include <stdlib.h>
#include <string.h>

#include "backends/backends.h"
#include "ir/ir.h"
#include "ref/ref.h"
#include "util/err.h"

typedef struct refbe_state {
    const ir_graph *graph;
    ref_session *session;
    int n_in, n_out;
    ir_tensor *in;  /* views on the caller's input buffers */
    ir_tensor *out; /* results of the last run, copied out to the caller */
} refbe_state;

static const char *refbe_version(void) {
    return "calma " CALMA_VERSION;
}

static int refbe_probe(const calma_conversion *c, calma_error *e) {
    (void)c;
    (void)e;
    return CALMA_OK;
}

static void refbe_release(void *p) {
    refbe_state *s = p;
    if (!s) return;
    ref_session_free(s->session);
    if (s->out)
        for (int i = 0; i < s->n_out; i++) ir_tensor_free(&s->out[i]);
    free(s->in);
    free(s->out);
    free(s);
}

static int refbe_load(const calma_conversion *c, const calma_model *m,
                      const calma_trial_config *cfg, void **state, calma_error *e) {
    (void)c;
    (void)cfg;
    if (!m->graph)
        return err_set(e, CALMA_E_INTERNAL, "the reference backend needs the parsed graph");
    refbe_state *s = calloc(1, sizeof *s);
    if (!s) return err_set(e, CALMA_E_NOMEM, "out of memory");
    s->graph = m->graph;
    s->n_in = m->n_inputs;
    s->n_out = m->n_outputs;
    s->in = calloc((size_t)s->n_in + 1, sizeof(ir_tensor));
    s->out = calloc((size_t)s->n_out + 1, sizeof(ir_tensor));
    if (!s->in || !s->out) {
        refbe_release(s);
        return err_set(e, CALMA_E_NOMEM, "out of memory");
    }
    int rc = ref_session_create(m->graph, &s->session, e);
    if (rc) {
        refbe_release(s);
        return rc;
    }
    *state = s;
    return CALMA_OK;
}

static int refbe_run(void *p, const calma_tensor *inputs, int n_in, calma_tensor *outputs,
                     int n_out, calma_error *e) {
    refbe_state *s = p;
    if (n_in != s->n_in || n_out != s->n_out)
        return err_set(e, CALMA_E_INTERNAL, "expected %d inputs and %d outputs, got %d and %d",
                       s->n_in, s->n_out, n_in, n_out);
    for (int i = 0; i < n_in; i++) {
        ir_tensor *t = &s->in[i];
        t->dtype = inputs[i].dtype;
        t->rank = inputs[i].rank;
        memcpy(t->dims, inputs[i].dims, sizeof(int64_t) * (size_t)inputs[i].rank);
        t->data = inputs[i].data;
        t->nbytes = inputs[i].nbytes;
        t->owns = 0;
    }
    int rc = ref_session_run(s->session, s->in, s->out, e);
    if (rc) return rc;
    for (int k = 0; k < n_out; k++) {
        const ir_tensor *r = &s->out[k];
        if (r->dtype != outputs[k].dtype || r->nbytes != outputs[k].nbytes)
            return err_set(e, CALMA_E_INVALID,
                           "output '%s' came out as %s with %zu bytes, expected %zu bytes of %s",
                           outputs[k].name ? outputs[k].name : "?", ir_dtype_name(r->dtype),
                           r->nbytes, outputs[k].nbytes, ir_dtype_name(outputs[k].dtype));
        memcpy(outputs[k].data, r->data, r->nbytes);
    }
    return CALMA_OK;
}

static const calma_backend refbe_backend = {
    .abi = CALMA_BACKEND_ABI,
    .name = "reference",
    .version = refbe_version,
    .probe = refbe_probe,
    .load = refbe_load,
    .convert = NULL,
    .run = refbe_run,
    .release = refbe_release,
    .flags = CALMA_BACKEND_READS_ONNX,
};

const calma_conversion refbe_conversions[] = {
    {"REFERENCE", "ORACLE,REF", 1, "cpu",
     "calma's own interpreter: exact (double accumulation), slow; the oracle every other "
     "conversion is checked against",
     &refbe_backend, NULL},
    {NULL, NULL, 0, NULL, NULL, NULL, NULL},
};
