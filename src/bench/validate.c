#include "bench/validate.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "util/err.h"

validate_tol validate_default_tol(calma_dtype dt) {
    validate_tol t = {0.0, 0.0};
    switch (dt) {
    case CALMA_DT_FLOAT:
        t.atol = 1e-4;
        t.rtol = 1e-3;
        break;
    case CALMA_DT_DOUBLE:
        t.atol = 1e-7;
        t.rtol = 1e-6;
        break;
    case CALMA_DT_FLOAT16:
        t.atol = 1e-2;
        t.rtol = 1e-2;
        break;
    case CALMA_DT_BFLOAT16:
        t.atol = 5e-2;
        t.rtol = 5e-2;
        break;
    default:
        break; /* integers and bool: exact */
    }
    return t;
}

int validate_compare(const ir_tensor *ref, const ir_tensor *got, validate_tol tol,
                     validate_result *r, calma_error *e) {
    memset(r, 0, sizeof *r);
    r->cosine = 1.0;
    char a[128], b[128];
    if (!ref->data || !got->data)
        return err_set(e, CALMA_E_INTERNAL, "validation needs both tensors' data");
    if (!ir_tensor_same_shape(ref, got)) {
        snprintf(r->why, sizeof r->why, "expected %s, got %s", ir_tensor_desc(ref, a, sizeof a),
                 ir_tensor_desc(got, b, sizeof b));
        return CALMA_OK;
    }
    size_t n = ir_tensor_numel(ref);
    double dot = 0, nr = 0, ng = 0, worst_excess = -1;
    for (size_t i = 0; i < n; i++) {
        double x = ir_tensor_get_f64(ref, i), y = ir_tensor_get_f64(got, i);
        if (!isfinite(y)) r->nonfinite++;
        if (!isfinite(y) || !isfinite(x)) {
            /* The same NaN or infinity on both sides agrees. */
            int same = (isnan(x) && isnan(y)) || (isinf(x) && x == y);
            if (!same) {
                r->bad++;
                if (worst_excess < INFINITY) {
                    worst_excess = INFINITY;
                    r->worst_index = i;
                    r->worst_ref = x;
                    r->worst_got = y;
                }
                r->max_abs = INFINITY;
            }
            continue;
        }
        double d = fabs(x - y);
        if (d > r->max_abs) r->max_abs = d;
        if (x != 0 && d / fabs(x) > r->max_rel) r->max_rel = d / fabs(x);
        double excess = d - (tol.atol + tol.rtol * fabs(x));
        if (excess > 0) {
            r->bad++;
            if (excess > worst_excess) {
                worst_excess = excess;
                r->worst_index = i;
                r->worst_ref = x;
                r->worst_got = y;
            }
        }
        dot += x * y;
        nr += x * x;
        ng += y * y;
    }
    if (nr > 0 && ng > 0)
        r->cosine = dot / (sqrt(nr) * sqrt(ng));
    else if (nr > 0 || ng > 0)
        r->cosine = 0.0;
    r->pass = r->bad == 0;
    if (!r->pass)
        snprintf(r->why, sizeof r->why,
                 "%zu of %zu elements beyond atol %g + rtol %g; worst at index %zu: got %.9g, "
                 "expected %.9g%s",
                 r->bad, n, tol.atol, tol.rtol, r->worst_index, r->worst_got, r->worst_ref,
                 r->nonfinite ? " (the output has non-finite values)" : "");
    return CALMA_OK;
}
