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

static int is_float(calma_dtype dt) {
    return dt == CALMA_DT_FLOAT || dt == CALMA_DT_DOUBLE || dt == CALMA_DT_FLOAT16 ||
           dt == CALMA_DT_BFLOAT16;
}

validate_rule validate_default_rule(const char *precision, calma_dtype dt) {
    validate_rule r = {validate_default_tol(dt), 1, -1, -1, -1};
    if (!precision || !is_float(dt) || !strcmp(precision, "fp32")) return r;
    r.elementwise = 0;
    if (!strcmp(precision, "fp16")) {
        r.min_cosine = 0.999;
        r.min_top1 = 0.99;
    } else if (!strcmp(precision, "bf16")) {
        r.min_cosine = 0.99;
        r.min_top1 = 0.99;
    } else if (!strcmp(precision, "int8")) {
        r.min_cosine = 0.99;
        r.min_top1 = 0.98;
    } else {
        r.elementwise = 1; /* an unknown precision is held to float32's rule */
    }
    return r;
}

void validate_acc_init(validate_acc *a) {
    memset(a, 0, sizeof *a);
    a->worst_excess = -1;
}

static void count_elements(validate_acc *a, const ir_tensor *ref, const ir_tensor *got,
                           validate_tol tol) {
    size_t n = ir_tensor_numel(ref), base = a->n;
    for (size_t i = 0; i < n; i++) {
        double x = ir_tensor_get_f64(ref, i), y = ir_tensor_get_f64(got, i);
        if (!isfinite(y)) a->nonfinite++;
        if (!isfinite(y) || !isfinite(x)) {
            /* The same NaN or infinity on both sides agrees. */
            int same = (isnan(x) && isnan(y)) || (isinf(x) && x == y);
            if (!same) {
                a->bad++;
                a->nf_bad++;
                if (a->worst_excess < INFINITY) {
                    a->worst_excess = INFINITY;
                    a->worst_index = base + i;
                    a->worst_ref = x;
                    a->worst_got = y;
                }
                a->max_abs = INFINITY;
            }
            continue;
        }
        double d = fabs(x - y);
        if (d > a->max_abs) a->max_abs = d;
        if (x != 0 && d / fabs(x) > a->max_rel) a->max_rel = d / fabs(x);
        double excess = d - (tol.atol + tol.rtol * fabs(x));
        if (excess > 0) {
            a->bad++;
            if (excess > a->worst_excess) {
                a->worst_excess = excess;
                a->worst_index = base + i;
                a->worst_ref = x;
                a->worst_got = y;
            }
        }
        a->dot += x * y;
        a->nr += x * x;
        a->ng += y * y;
    }
    a->n += n;
}

/* Rows of a [N, C] output: does the conversion's top-1 class equal the
 * oracle's, and is the oracle's top-1 among the conversion's top 5? */
static void count_topk(validate_acc *a, const ir_tensor *ref, const ir_tensor *got) {
    if (ref->rank != 2 || ref->dims[1] < 2 || !is_float(ref->dtype)) return;
    size_t rows = (size_t)ref->dims[0], c = (size_t)ref->dims[1];
    a->classes = (int)c;
    for (size_t r = 0; r < rows; r++) {
        size_t best_ref = 0, best_got = 0;
        for (size_t j = 1; j < c; j++) {
            if (ir_tensor_get_f64(ref, r * c + j) > ir_tensor_get_f64(ref, r * c + best_ref))
                best_ref = j;
            if (ir_tensor_get_f64(got, r * c + j) > ir_tensor_get_f64(got, r * c + best_got))
                best_got = j;
        }
        double mine = ir_tensor_get_f64(got, r * c + best_ref);
        size_t above = 0;
        for (size_t j = 0; j < c; j++)
            if (!(ir_tensor_get_f64(got, r * c + j) <= mine) && j != best_ref) above++;
        a->rows++;
        a->top1 += best_got == best_ref && isfinite(mine);
        a->top5 += above < 5 && isfinite(mine);
    }
}

int validate_acc_add(validate_acc *a, const ir_tensor *ref, const ir_tensor *got, validate_tol tol,
                     calma_error *e) {
    char x[128], y[128];
    if (!ref->data || !got->data)
        return err_set(e, CALMA_E_INTERNAL, "validation needs both tensors' data");
    a->batches++;
    a->dtype = ref->dtype;
    if (!ir_tensor_same_shape(ref, got)) {
        if (!a->shape_bad)
            snprintf(a->shape_why, sizeof a->shape_why, "expected %s, got %s",
                     ir_tensor_desc(ref, x, sizeof x), ir_tensor_desc(got, y, sizeof y));
        a->shape_bad = 1;
        return CALMA_OK;
    }
    count_elements(a, ref, got, tol);
    count_topk(a, ref, got);
    return CALMA_OK;
}

/* The first broken criterion of a reduced-precision rule, into why. */
static int judge_accuracy(const validate_acc *a, const validate_result *r,
                          const validate_rule *rule, char *why, size_t n) {
    if (a->nf_bad) {
        snprintf(why, n, "%zu non-finite values where the oracle's are finite (or differ)",
                 a->nf_bad);
        return 0;
    }
    if (rule->min_cosine >= 0 && !(r->cosine >= rule->min_cosine)) {
        snprintf(why, n, "cosine similarity %.6f is below %g", r->cosine, rule->min_cosine);
        return 0;
    }
    if (r->top1 >= 0 && rule->min_top1 >= 0 && r->top1 < rule->min_top1) {
        snprintf(why, n, "top-1 agrees with the oracle in %.1f%% of %zu rows, below %g%%",
                 100 * r->top1, r->rows, 100 * rule->min_top1);
        return 0;
    }
    if (r->top5 >= 0 && rule->min_top5 >= 0 && r->top5 < rule->min_top5) {
        snprintf(why, n, "the oracle's top-1 is in the top 5 in %.1f%% of %zu rows, below %g%%",
                 100 * r->top5, r->rows, 100 * rule->min_top5);
        return 0;
    }
    return 1;
}

void validate_acc_finish(const validate_acc *a, const validate_rule *rule, validate_result *r) {
    memset(r, 0, sizeof *r);
    r->max_abs = a->max_abs;
    r->max_rel = a->max_rel;
    r->nonfinite = a->nonfinite;
    r->bad = a->bad;
    r->worst_index = a->worst_index;
    r->worst_ref = a->worst_ref;
    r->worst_got = a->worst_got;
    r->batches = a->batches;
    r->rows = a->rows;
    r->top1 = a->rows ? (double)a->top1 / (double)a->rows : -1;
    r->top5 = a->rows && a->classes > 5 ? (double)a->top5 / (double)a->rows : -1;
    r->cosine = 1.0;
    if (a->nr > 0 && a->ng > 0)
        r->cosine = a->dot / (sqrt(a->nr) * sqrt(a->ng));
    else if (a->nr > 0 || a->ng > 0)
        r->cosine = 0.0;
    if (a->shape_bad) {
        snprintf(r->why, sizeof r->why, "%s", a->shape_why);
        return;
    }
    if (rule->elementwise || !is_float(a->dtype)) {
        r->pass = a->bad == 0;
        if (!r->pass)
            snprintf(r->why, sizeof r->why,
                     "%zu of %zu elements beyond atol %g + rtol %g; worst at index %zu: got %.9g, "
                     "expected %.9g%s",
                     a->bad, a->n, rule->tol.atol, rule->tol.rtol, a->worst_index, a->worst_got,
                     a->worst_ref, a->nonfinite ? " (the output has non-finite values)" : "");
        /* a float32 trial may also be held to cosine or top-k bounds */
        if (r->pass && is_float(a->dtype))
            r->pass = judge_accuracy(a, r, rule, r->why, sizeof r->why);
        return;
    }
    r->pass = judge_accuracy(a, r, rule, r->why, sizeof r->why);
}

int validate_compare(const ir_tensor *ref, const ir_tensor *got, validate_tol tol,
                     validate_result *r, calma_error *e) {
    validate_acc a;
    validate_acc_init(&a);
    memset(r, 0, sizeof *r);
    r->cosine = 1.0;
    int rc = validate_acc_add(&a, ref, got, tol, e);
    if (rc) return rc;
    validate_rule rule = {tol, 1, -1, -1, -1};
    validate_acc_finish(&a, &rule, r);
    return CALMA_OK;
}
