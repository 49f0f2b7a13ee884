/* Reductions (ReduceSum, ReduceMean, ... accumulated in double) and
 * ArgMax/ArgMin. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref_elementwise.h"

typedef enum red_op {
    R_SUM,
    R_MEAN,
    R_MAX,
    R_MIN,
    R_PROD,
    R_L1,
    R_L2,
    R_SUMSQ,
    R_LOGSUM,
    R_LOGSUMEXP
} red_op;

static const struct {
    const char *name;
    red_op op;
} red_ops[] = {
    {"ReduceSum", R_SUM},       {"ReduceMean", R_MEAN},
    {"ReduceMax", R_MAX},       {"ReduceMin", R_MIN},
    {"ReduceProd", R_PROD},     {"ReduceL1", R_L1},
    {"ReduceL2", R_L2},         {"ReduceSumSquare", R_SUMSQ},
    {"ReduceLogSum", R_LOGSUM}, {"ReduceLogSumExp", R_LOGSUMEXP},
};

static int find_op(const char *name) {
    for (size_t i = 0; i < sizeof red_ops / sizeof red_ops[0]; i++)
        if (!strcmp(red_ops[i].name, name)) return (int)i;
    return -1;
}

static int numeric(calma_dtype dt) {
    return ref_ew_is_float(dt) || ref_ew_is_signed(dt) || ref_ew_is_unsigned(dt);
}

/* Marks the reduced axes in red[]. Axes come from the attribute, or from
 * input 1 for ReduceSum from opset 13 and the others from opset 18. No
 * axes means all of them, or none with noop_with_empty_axes. */
static int reduced_axes(ref_call *c, const ir_tensor *x, int *red) {
    int r = x->rank;
    int from_input = c->opset >= 18 || (c->opset >= 13 && !strcmp(c->node->op_type, "ReduceSum"));
    int64_t ax[IR_MAX_RANK];
    size_t n = 0;
    if (from_input) {
        const ir_tensor *t = ref_in(c, 1);
        if (t) {
            n = ir_tensor_numel(t);
            if (t->dtype != CALMA_DT_INT64) return ref_ew_bad_dtype(c, 1, t->dtype);
            if (n && !t->data) return REF_NEED_VALUE;
            if (n > (size_t)r)
                return ref_ew_fail(c, CALMA_E_INVALID, "%zu axes for a rank-%d input", n, r);
            for (size_t i = 0; i < n; i++) ax[i] = ((const int64_t *)t->data)[i];
        }
    } else {
        const int64_t *a = ir_node_ints(c->node, "axes", &n);
        if (n > (size_t)r)
            return ref_ew_fail(c, CALMA_E_INVALID, "%zu axes for a rank-%d input", n, r);
        for (size_t i = 0; i < n; i++) ax[i] = a[i];
    }
    int all = n == 0 && !ir_node_int(c->node, "noop_with_empty_axes", 0);
    for (int d = 0; d < r; d++) red[d] = all;
    for (size_t i = 0; i < n; i++) {
        int64_t a = ax[i] < 0 ? ax[i] + r : ax[i];
        if (a < 0 || a >= r)
            return ref_ew_fail(c, CALMA_E_INVALID, "axis %lld is out of range for rank %d",
                               (long long)ax[i], r);
        if (red[a])
            return ref_ew_fail(c, CALMA_E_INVALID, "axis %lld is given twice", (long long)ax[i]);
        red[a] = 1;
    }
    return CALMA_OK;
}

static void out_shape(const ir_tensor *x, const int *red, int keep, int *rank, int64_t *dims) {
    int k = 0;
    for (int d = 0; d < x->rank; d++) {
        if (!red[d])
            dims[k++] = x->dims[d];
        else if (keep)
            dims[k++] = 1;
    }
    *rank = k;
}

static int reduce_infer(ref_call *c) {
    const ir_tensor *x;
    int rc = ref_ew_need(c, 0, &x), red[IR_MAX_RANK], rank;
    int64_t dims[IR_MAX_RANK];
    if (rc) return rc;
    if (!numeric(x->dtype)) return ref_ew_bad_dtype(c, 0, x->dtype);
    if ((rc = reduced_axes(c, x, red))) return rc;
    out_shape(x, red, ir_node_int(c->node, "keepdims", 1) != 0, &rank, dims);
    ref_set_type(&c->out[0], x->dtype, rank, dims);
    return CALMA_OK;
}

/* Walks the input in order; o follows the output element each input
 * element folds into (ost is 0 along reduced axes). */
#define RED_LOOP_T(T, SRC, STMT)                                                                   \
    do {                                                                                           \
        int64_t idx[IR_MAX_RANK] = {0};                                                            \
        size_t o = 0;                                                                              \
        for (size_t i = 0; i < n; i++) {                                                           \
            T v = SRC[i];                                                                          \
            STMT;                                                                                  \
            for (int d = r - 1; d >= 0; d--) {                                                     \
                o += (size_t)ost[d];                                                               \
                if (++idx[d] < x->dims[d]) break;                                                  \
                o -= (size_t)(ost[d] * x->dims[d]);                                                \
                idx[d] = 0;                                                                        \
            }                                                                                      \
        }                                                                                          \
    } while (0)

#define RED_LOOP(STMT) RED_LOOP_T(double, xv, STMT)

/* Integer Sum, Prod, Max, Min stay in int64 (wrapping like the type),
 * exact where a double would round above 2^53. */
static int reduce_int(ref_call *c, red_op op, const int64_t *ost) {
    const ir_tensor *x = c->in[0];
    ir_tensor *y = &c->out[0];
    int r = x->rank;
    size_t n = ir_tensor_numel(x), no = ir_tensor_numel(y);
    int64_t *xi = malloc(sizeof(int64_t) * (n ? n : 1));
    uint64_t *acc = malloc(sizeof(uint64_t) * (no ? no : 1));
    if (!xi || !acc) {
        free(xi);
        free(acc);
        return ref_ew_fail(c, CALMA_E_NOMEM, "out of memory for %zu values", n);
    }
    ref_ew_convert(xi, CALMA_DT_INT64, x->data, x->dtype, n);
    uint64_t init = op == R_PROD  ? 1
                    : op == R_MAX ? (uint64_t)INT64_MIN
                    : op == R_MIN ? (uint64_t)INT64_MAX
                                  : 0;
    for (size_t i = 0; i < no; i++) acc[i] = init;
    switch (op) {
    case R_SUM:
        RED_LOOP_T(int64_t, xi, acc[o] += (uint64_t)v);
        break;
    case R_PROD:
        RED_LOOP_T(int64_t, xi, acc[o] *= (uint64_t)v);
        break;
    case R_MAX:
        RED_LOOP_T(int64_t, xi, if (v > (int64_t)acc[o]) acc[o] = (uint64_t)v);
        break;
    case R_MIN:
        RED_LOOP_T(int64_t, xi, if (v < (int64_t)acc[o]) acc[o] = (uint64_t)v);
        break;
    default:
        break;
    }
    ref_ew_convert(y->data, y->dtype, acc, CALMA_DT_INT64, no);
    free(xi);
    free(acc);
    return CALMA_OK;
}

static int reduce_run(ref_call *c) {
    const ir_tensor *x = c->in[0];
    ir_tensor *y = &c->out[0];
    red_op op = red_ops[find_op(c->node->op_type)].op;
    int red[IR_MAX_RANK], r = x->rank;
    int rc = reduced_axes(c, x, red);
    if (rc) return rc;
    int64_t ost[IR_MAX_RANK], s = 1, count = 1;
    for (int d = r - 1; d >= 0; d--) {
        ost[d] = red[d] ? 0 : s;
        if (red[d])
            count *= x->dims[d];
        else
            s *= x->dims[d];
    }
    if ((ref_ew_is_signed(x->dtype) || ref_ew_is_unsigned(x->dtype)) &&
        (op == R_SUM || op == R_PROD || op == R_MAX || op == R_MIN))
        return reduce_int(c, op, ost);
    size_t n = ir_tensor_numel(x), no = ir_tensor_numel(y);
    double *xv;
    if ((rc = ref_ew_to_f64(c, x, &xv))) return rc;
    double *acc = malloc(sizeof(double) * (no ? no : 1));
    double *mx = op == R_LOGSUMEXP ? malloc(sizeof(double) * (no ? no : 1)) : NULL;
    if (!acc || (op == R_LOGSUMEXP && !mx)) {
        free(xv);
        free(acc);
        free(mx);
        return ref_ew_fail(c, CALMA_E_NOMEM, "out of memory for %zu values", no);
    }
    double init = op == R_PROD ? 1.0 : op == R_MAX ? -INFINITY : op == R_MIN ? INFINITY : 0.0;
    for (size_t i = 0; i < no; i++) acc[i] = init;
    switch (op) {
    case R_SUM:
    case R_MEAN:
    case R_LOGSUM:
        RED_LOOP(acc[o] += v);
        break;
    case R_MAX:
        RED_LOOP(if (v > acc[o] || isnan(v)) acc[o] = v);
        break;
    case R_MIN:
        RED_LOOP(if (v < acc[o] || isnan(v)) acc[o] = v);
        break;
    case R_PROD:
        RED_LOOP(acc[o] *= v);
        break;
    case R_L1:
        RED_LOOP(acc[o] += fabs(v));
        break;
    case R_L2:
    case R_SUMSQ:
        RED_LOOP(acc[o] += v * v);
        break;
    case R_LOGSUMEXP:
        /* subtract each group's max so exp cannot overflow */
        for (size_t i = 0; i < no; i++) mx[i] = -INFINITY;
        RED_LOOP(if (v > mx[o]) mx[o] = v);
        RED_LOOP(acc[o] += isinf(mx[o]) ? exp(v) : exp(v - mx[o]));
        break;
    }
    for (size_t i = 0; i < no; i++) {
        switch (op) {
        case R_MEAN:
            acc[i] = count ? acc[i] / (double)count : NAN;
            break;
        case R_L2:
            acc[i] = sqrt(acc[i]);
            break;
        case R_LOGSUM:
            acc[i] = log(acc[i]);
            break;
        case R_LOGSUMEXP:
            acc[i] = (isinf(mx[i]) ? 0 : mx[i]) + log(acc[i]);
            break;
        default:
            break;
        }
    }
    rc = ref_ew_from_f64(c, y, acc);
    free(xv);
    free(acc);
    free(mx);
    return rc;
}

/* ---- ArgMax, ArgMin ---- */

static int arg_axis(ref_call *c, const ir_tensor *x, int *axis) {
    int64_t a = ir_node_int(c->node, "axis", 0);
    int r = x->rank;
    if (a < -r || a >= r || r == 0)
        return ref_ew_fail(c, CALMA_E_INVALID, "axis %lld is out of range for rank %d",
                           (long long)a, r);
    *axis = (int)(a < 0 ? a + r : a);
    return CALMA_OK;
}

static int arg_infer(ref_call *c) {
    const ir_tensor *x;
    int rc = ref_ew_need(c, 0, &x), axis = 0, red[IR_MAX_RANK] = {0}, rank;
    int64_t dims[IR_MAX_RANK];
    if (rc) return rc;
    if (!numeric(x->dtype)) return ref_ew_bad_dtype(c, 0, x->dtype);
    if ((rc = arg_axis(c, x, &axis))) return rc;
    if (x->dims[axis] == 0 && ir_tensor_numel(x) == 0) {
        /* an empty axis has no arg; other empty dims give an empty output */
        int64_t rest = 1;
        for (int d = 0; d < x->rank; d++)
            if (d != axis) rest *= x->dims[d];
        if (rest) return ref_ew_fail(c, CALMA_E_INVALID, "axis %d has no elements", axis);
    }
    red[axis] = 1;
    out_shape(x, red, ir_node_int(c->node, "keepdims", 1) != 0, &rank, dims);
    ref_set_type(&c->out[0], CALMA_DT_INT64, rank, dims);
    return CALMA_OK;
}

static int arg_run(ref_call *c) {
    const ir_tensor *x = c->in[0];
    int axis = 0, rc = arg_axis(c, x, &axis);
    if (rc) return rc;
    int is_max = !strcmp(c->node->op_type, "ArgMax");
    int last = ir_node_int(c->node, "select_last_index", 0) != 0;
    size_t outer = 1, inner = 1, len = (size_t)x->dims[axis];
    for (int d = 0; d < axis; d++) outer *= (size_t)x->dims[d];
    for (int d = axis + 1; d < x->rank; d++) inner *= (size_t)x->dims[d];
    double *xv;
    if ((rc = ref_ew_to_f64(c, x, &xv))) return rc;
    int64_t *y = c->out[0].data;
    for (size_t o = 0; o < outer; o++) {
        for (size_t i = 0; i < inner; i++) {
            const double *p = xv + o * len * inner + i;
            size_t best = 0;
            for (size_t k = 1; k < len; k++) {
                double v = p[k * inner], b = p[best * inner];
                int better = is_max ? (v > b || (last && v == b)) : (v < b || (last && v == b));
                if (better) best = k;
            }
            y[o * inner + i] = (int64_t)best;
        }
    }
    free(xv);
    return CALMA_OK;
}

/* ---- CumSum ---- */

static int cumsum_infer(ref_call *c) {
    const ir_tensor *x, *a;
    int rc;
    if ((rc = ref_ew_need(c, 0, &x)) || (rc = ref_ew_need(c, 1, &a))) return rc;
    if (!numeric(x->dtype)) return ref_ew_bad_dtype(c, 0, x->dtype);
    if ((a->dtype != CALMA_DT_INT32 && a->dtype != CALMA_DT_INT64) || a->rank > 1 ||
        ir_tensor_numel(a) != 1) {
        char buf[96];
        return ref_ew_fail(c, CALMA_E_INVALID, "axis must be an int32/int64 scalar, not %s",
                           ir_tensor_desc(a, buf, sizeof buf));
    }
    ref_set_type(&c->out[0], x->dtype, x->rank, x->dims);
    return CALMA_OK;
}

static int cumsum_run(ref_call *c) {
    const ir_tensor *x = c->in[0];
    int64_t a = ir_tensor_get_i64(c->in[1], 0), r = x->rank;
    if (a < -r || a >= r)
        return ref_ew_fail(c, CALMA_E_INVALID, "axis %lld is out of range for rank %lld",
                           (long long)a, (long long)r);
    if (a < 0) a += r;
    int excl = ir_node_int(c->node, "exclusive", 0) != 0;
    int rev = ir_node_int(c->node, "reverse", 0) != 0;
    size_t outer = 1, len = (size_t)x->dims[a], inner = 1;
    for (int64_t d = 0; d < a; d++) outer *= (size_t)x->dims[d];
    for (int64_t d = a + 1; d < r; d++) inner *= (size_t)x->dims[d];
    double *v;
    int rc = ref_ew_to_f64(c, x, &v);
    if (rc) return rc;
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) {
            double acc = 0, *p = v + o * len * inner + i;
            for (size_t k = 0; k < len; k++) {
                size_t at = (rev ? len - 1 - k : k) * inner;
                double cur = p[at];
                p[at] = excl ? acc : acc + cur;
                acc += cur;
            }
        }
    rc = ref_ew_from_f64(c, &c->out[0], v);
    free(v);
    return rc;
}

/* ---- TopK ---- */

static int topk_k(ref_call *c, const ir_tensor *x, int axis, int64_t *k) {
    const ir_tensor *kt = c->in[1];
    if (kt->dtype != CALMA_DT_INT64 || ir_tensor_numel(kt) != 1 || kt->rank > 1)
        return ref_ew_fail(c, CALMA_E_INVALID, "K must be one int64");
    if (!kt->data) return REF_NEED_VALUE;
    *k = ((const int64_t *)kt->data)[0];
    if (*k < 0 || *k > x->dims[axis])
        return ref_ew_fail(c, CALMA_E_INVALID, "K=%lld is outside 0..%lld (axis %d)", (long long)*k,
                           (long long)x->dims[axis], axis);
    return CALMA_OK;
}

static int topk_axis(ref_call *c, const ir_tensor *x, int *axis) {
    int64_t a = ir_node_int(c->node, "axis", -1);
    if (x->rank == 0 || a < -x->rank || a >= x->rank)
        return ref_ew_fail(c, CALMA_E_INVALID, "axis %lld is out of range for rank %d",
                           (long long)a, x->rank);
    *axis = (int)(a < 0 ? a + x->rank : a);
    return CALMA_OK;
}

static int topk_infer(ref_call *c) {
    const ir_tensor *x, *kt;
    int rc, axis = 0;
    int64_t k, dims[IR_MAX_RANK];
    if ((rc = ref_ew_need(c, 0, &x)) || (rc = ref_ew_need(c, 1, &kt))) return rc;
    if (!numeric(x->dtype)) return ref_ew_bad_dtype(c, 0, x->dtype);
    if ((rc = topk_axis(c, x, &axis)) || (rc = topk_k(c, x, axis, &k))) return rc;
    memcpy(dims, x->dims, sizeof dims);
    dims[axis] = k;
    ref_set_type(&c->out[0], x->dtype, x->rank, dims);
    if (c->n_out > 1) ref_set_type(&c->out[1], CALMA_DT_INT64, x->rank, dims);
    return CALMA_OK;
}

typedef struct topk_item {
    double v;
    int64_t i;
} topk_item;

/* Ties keep the lower index first, as ONNX asks. */
static int by_largest(const void *a, const void *b) {
    const topk_item *x = a, *y = b;
    if (x->v != y->v) return x->v > y->v ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static int by_smallest(const void *a, const void *b) {
    const topk_item *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static int topk_run(ref_call *c) {
    const ir_tensor *x = c->in[0];
    int axis = 0, rc;
    int64_t k;
    if ((rc = topk_axis(c, x, &axis)) || (rc = topk_k(c, x, axis, &k))) return rc;
    int largest = ir_node_int(c->node, "largest", 1) != 0;
    size_t outer = 1, len = (size_t)x->dims[axis], inner = 1;
    for (int d = 0; d < axis; d++) outer *= (size_t)x->dims[d];
    for (int d = axis + 1; d < x->rank; d++) inner *= (size_t)x->dims[d];
    double *xv, *yv = malloc(sizeof(double) * (outer * (size_t)k * inner + 1));
    topk_item *items = malloc(sizeof(topk_item) * (len + 1));
    if (!yv || !items) {
        free(yv);
        free(items);
        return ref_ew_fail(c, CALMA_E_NOMEM, "out of memory sorting %zu values", len);
    }
    if ((rc = ref_ew_to_f64(c, x, &xv))) {
        free(yv);
        free(items);
        return rc;
    }
    int64_t *yi = c->n_out > 1 ? c->out[1].data : NULL;
    for (size_t o = 0; o < outer; o++) {
        for (size_t i = 0; i < inner; i++) {
            for (size_t j = 0; j < len; j++) {
                items[j].v = xv[(o * len + j) * inner + i];
                items[j].i = (int64_t)j;
            }
            qsort(items, len, sizeof *items, largest ? by_largest : by_smallest);
            for (size_t j = 0; j < (size_t)k; j++) {
                size_t at = (o * (size_t)k + j) * inner + i;
                yv[at] = items[j].v;
                if (yi) yi[at] = items[j].i;
            }
        }
    }
    rc = ref_ew_from_f64(c, &c->out[0], yv);
    free(xv);
    free(yv);
    free(items);
    return rc;
}

const ref_op ref_ops_reduce[] = {
    {"ReduceSum", reduce_infer, reduce_run},
    {"ReduceMean", reduce_infer, reduce_run},
    {"ReduceMax", reduce_infer, reduce_run},
    {"ReduceMin", reduce_infer, reduce_run},
    {"ReduceProd", reduce_infer, reduce_run},
    {"ReduceL1", reduce_infer, reduce_run},
    {"ReduceL2", reduce_infer, reduce_run},
    {"ReduceSumSquare", reduce_infer, reduce_run},
    {"ReduceLogSum", reduce_infer, reduce_run},
    {"ReduceLogSumExp", reduce_infer, reduce_run},
    {"ArgMax", arg_infer, arg_run},
    {"ArgMin", arg_infer, arg_run},
    {"CumSum", cumsum_infer, cumsum_run},
    {"TopK", topk_infer, topk_run},
    {NULL, NULL, NULL},
};
