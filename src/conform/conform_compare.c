/* Output comparison with the ONNX backend test runner's rules. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "conform/conform.h"

static int is_float(calma_dtype dt) {
    return dt == CALMA_DT_FLOAT || dt == CALMA_DT_DOUBLE || dt == CALMA_DT_FLOAT16 ||
           dt == CALMA_DT_BFLOAT16;
}

static void shape_str(const ir_tensor *t, char *buf, size_t n) {
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < t->rank && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, d ? ",%lld" : "%lld", (long long)t->dims[d]);
    if (used < n) snprintf(buf + used, n - used, "]");
}

int conform_compare(const ir_tensor *got, const ir_tensor *exp, double rtol, double atol, char *msg,
                    size_t n) {
    char a[128], b[128];
    if (got->dtype != exp->dtype) {
        snprintf(msg, n, "dtype %s, expected %s", ir_dtype_name(got->dtype),
                 ir_dtype_name(exp->dtype));
        return 0;
    }
    if (got->rank != exp->rank ||
        memcmp(got->dims, exp->dims, sizeof(int64_t) * (size_t)got->rank)) {
        shape_str(got, a, sizeof a);
        shape_str(exp, b, sizeof b);
        snprintf(msg, n, "shape %s, expected %s", a, b);
        return 0;
    }
    size_t count = ir_tensor_numel(exp), es = ir_dtype_size(exp->dtype), bad = 0, worst = 0;
    if (count &&
        (!got->data || !exp->data || got->nbytes < count * es || exp->nbytes < count * es)) {
        snprintf(msg, n, "missing data");
        return 0;
    }
    double worst_score = -1;
    int fl = is_float(exp->dtype);
    for (size_t i = 0; i < count; i++) {
        double score;
        if (fl) {
            double g = ir_tensor_get_f64(got, i), x = ir_tensor_get_f64(exp, i);
            if (isnan(g) || isnan(x)) {
                if (isnan(g) && isnan(x)) continue;
                score = INFINITY;
            } else if (g == x) {
                continue;
            } else {
                double diff = fabs(g - x), tol = atol + rtol * fabs(x);
                if (diff <= tol) continue;
                score = isinf(diff) ? INFINITY : diff / tol;
            }
        } else {
            if (!memcmp((const char *)got->data + i * es, (const char *)exp->data + i * es, es))
                continue;
            score = 1;
        }
        bad++;
        if (score > worst_score) {
            worst_score = score;
            worst = i;
        }
    }
    if (!bad) return 1;
    if (fl)
        snprintf(msg, n, "element %zu: got %.9g expected %.9g (%zu of %zu differ)", worst,
                 ir_tensor_get_f64(got, worst), ir_tensor_get_f64(exp, worst), bad, count);
    else
        snprintf(msg, n, "element %zu: got %lld expected %lld (%zu of %zu differ)", worst,
                 (long long)ir_tensor_get_i64(got, worst), (long long)ir_tensor_get_i64(exp, worst),
                 bad, count);
    return 0;
}
