/* Output shapes for conversions under test, with the oracle as the fallback
 * for shapes that only the inputs' values decide. */
#include "conform/conform_backend.h"

#include <stdlib.h>
#include <string.h>

#include "ref/ref.h"
#include "util/err.h"

int conform_output_types(const ir_graph *g, const ir_tensor *inputs, ir_tensor *out_types,
                         calma_error *e) {
    int rc = ref_infer_outputs(g, inputs, out_types, e);
    if (rc == CALMA_OK) return CALMA_OK;
    /* Keep the static inference's message: it is the better one to show
     * when the oracle cannot run the model either. */
    calma_error first = *e;
    ref_session *s = NULL;
    ir_tensor *outs = calloc((size_t)g->n_outputs + 1, sizeof *outs);
    calma_error e2 = {0};
    int ok = outs && ref_session_create(g, &s, &e2) == CALMA_OK &&
             ref_session_run(s, inputs, outs, &e2) == CALMA_OK;
    if (ok)
        for (int k = 0; k < g->n_outputs; k++) {
            memset(&out_types[k], 0, sizeof out_types[k]);
            out_types[k].dtype = outs[k].dtype;
            out_types[k].rank = outs[k].rank;
            memcpy(out_types[k].dims, outs[k].dims, sizeof(int64_t) * (size_t)outs[k].rank);
        }
    if (outs)
        for (int k = 0; k < g->n_outputs; k++) ir_tensor_free(&outs[k]);
    free(outs);
    ref_session_free(s);
    if (ok) {
        err_clear(e);
        return CALMA_OK;
    }
    *e = first;
    return rc;
}
