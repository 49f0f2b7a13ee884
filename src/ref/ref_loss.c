/* NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (entries of
 * ref_ops_norm), following the ONNX reference: per-element losses weighted
 * by weight[target] (0 where target is ignore_index), then reduced by
 * none, sum, or mean (sum of losses over sum of weights). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref_elementwise.h"

typedef enum { RED_NONE, RED_SUM, RED_MEAN } loss_red;

static int loss_reduction(ref_call *c, loss_red *r) {
    const char *s = ir_node_string(c->node, "reduction", "mean");
    if (!strcmp(s, "none"))
        *r = RED_NONE;
    else if (!strcmp(s, "sum"))
        *r = RED_SUM;
    else if (!strcmp(s, "mean"))
        *r = RED_MEAN;
    else
        return ref_ew_fail(c, CALMA_E_INVALID, "reduction '%s' is not none, sum or mean", s);
    return CALMA_OK;
}

/* scores [N, C, d...], target [N, d...] (int32/int64), weight [C] */
int ref_ew_loss_infer(ref_call *c) {
    const ir_tensor *x, *t, *w = ref_in(c, 2);
    loss_red red = RED_NONE;
    int rc;
    if ((rc = ref_ew_need(c, 0, &x)) || (rc = ref_ew_need(c, 1, &t)) ||
        (rc = loss_reduction(c, &red)))
        return rc;
    if (!ref_ew_is_float(x->dtype)) return ref_ew_bad_dtype(c, 0, x->dtype);
    if (t->dtype != CALMA_DT_INT32 && t->dtype != CALMA_DT_INT64)
        return ref_ew_bad_dtype(c, 1, t->dtype);
    int ok = x->rank >= 2 && t->rank == x->rank - 1 && t->dims[0] == x->dims[0];
    for (int d = 1; ok && d < t->rank; d++) ok = t->dims[d] == x->dims[d + 1];
    if (w) ok = ok && ref_ew_is_float(w->dtype) && w->rank == 1 && w->dims[0] == x->dims[1];
    if (!ok) {
        char a[96], b[96];
        return ref_ew_fail(c, CALMA_E_INVALID,
                           "scores %s and target %s (and weight) do not fit [N,C,d...], [N,d...], "
                           "[C]",
                           ir_tensor_desc(x, a, sizeof a), ir_tensor_desc(t, b, sizeof b));
    }
    if (red == RED_NONE)
        ref_set_type(&c->out[0], x->dtype, t->rank, t->dims);
    else
        ref_set_type(&c->out[0], x->dtype, 0, NULL);
    if (c->n_out > 1) ref_set_type(&c->out[1], x->dtype, x->rank, x->dims); /* log_prob */
    return CALMA_OK;
}

/* In place over v [N, C, D]: log of the softmax along C. */
static void log_softmax_c(double *v, size_t n, size_t cls, size_t d) {
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < d; k++) {
            double *p = v + i * cls * d + k, m = -INFINITY, s = 0;
            for (size_t j = 0; j < cls; j++) m = p[j * d] > m ? p[j * d] : m;
            for (size_t j = 0; j < cls; j++) s += exp(p[j * d] - m);
            double ls = log(s);
            for (size_t j = 0; j < cls; j++) p[j * d] = p[j * d] - m - ls;
        }
    }
}

int ref_ew_loss_run(ref_call *c) {
    const ir_tensor *x = c->in[0], *t = c->in[1], *wt = ref_in(c, 2);
    loss_red red = RED_NONE;
    int rc = loss_reduction(c, &red);
    if (rc) return rc;
    const ir_attr *ia = ir_node_attr(c->node, "ignore_index");
    int64_t ignore = ia ? ia->i : 0;
    size_t n = (size_t)x->dims[0], cls = (size_t)x->dims[1], d = 1;
    for (int k = 2; k < x->rank; k++) d *= (size_t)x->dims[k];
    double *v = NULL, *w = NULL, *loss = NULL;
    rc = ref_ew_to_f64(c, x, &v);
    if (!rc && wt) rc = ref_ew_to_f64(c, wt, &w);
    if (!rc && !(loss = malloc(sizeof(double) * (n * d + 1))))
        rc = ref_ew_fail(c, CALMA_E_NOMEM, "out of memory for %zu losses", n * d);
    if (!rc && !strcmp(c->node->op_type, "SoftmaxCrossEntropyLoss")) {
        log_softmax_c(v, n, cls, d);
        if (c->n_out > 1 && c->out[1].data) rc = ref_ew_from_f64(c, &c->out[1], v);
    }
    double sum = 0, wsum = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        for (size_t k = 0; k < d; k++) {
            size_t at = i * d + k;
            int64_t cl = ir_tensor_get_i64(t, at);
            if (ia && cl == ignore) {
                loss[at] = 0;
                continue;
            }
            if (cl < 0 || (size_t)cl >= cls) {
                rc = ref_ew_fail(c, CALMA_E_INVALID, "target %lld at element %zu is outside 0..%zu",
                                 (long long)cl, at, cls - 1);
                break;
            }
            double wi = w ? w[cl] : 1.0;
            loss[at] = -v[(i * cls + (size_t)cl) * d + k] * wi;
            sum += loss[at];
            wsum += wi;
        }
    }
    if (!rc) {
        if (red == RED_NONE) {
            rc = ref_ew_from_f64(c, &c->out[0], loss);
        } else {
            double r = red == RED_SUM ? sum : sum / wsum;
            rc = ref_ew_from_f64(c, &c->out[0], &r);
        }
    }
    free(v);
    free(w);
    free(loss);
    return rc;
}
