/* The elementwise family's table, its shared error helpers, and the ops
 * that fit neither the unary nor the binary mould: Where, Clip. */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ref/ref_elementwise.h"

int ref_ew_fail(ref_call *c, int status, const char *fmt, ...) {
    char msg[CALMA_ERROR_MAX / 2], label[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(c->err, status, "%s: %s", ir_node_label(c->node, label, sizeof label), msg);
}

int ref_ew_bad_dtype(ref_call *c, int input, calma_dtype dt) {
    return ref_ew_fail(c, CALMA_E_UNSUPPORTED, "%s on input %d of dtype %s is not supported",
                       c->node->op_type, input, ir_dtype_name(dt));
}

int ref_ew_need(ref_call *c, int i, const ir_tensor **t) {
    *t = ref_in(c, i);
    if (!*t) return ref_ew_fail(c, CALMA_E_INVALID, "required input %d is missing", i);
    return CALMA_OK;
}

int ref_ew_is_float(calma_dtype dt) {
    return dt == CALMA_DT_FLOAT || dt == CALMA_DT_DOUBLE;
}

int ref_ew_is_signed(calma_dtype dt) {
    return dt == CALMA_DT_INT8 || dt == CALMA_DT_INT16 || dt == CALMA_DT_INT32 ||
           dt == CALMA_DT_INT64;
}

int ref_ew_is_unsigned(calma_dtype dt) {
    return dt == CALMA_DT_UINT8 || dt == CALMA_DT_UINT16 || dt == CALMA_DT_UINT32 ||
           dt == CALMA_DT_UINT64;
}

/* ---- Where ---- */

static int where_infer(ref_call *c) {
    const ir_tensor *ts[3];
    int rc, rank;
    int64_t dims[IR_MAX_RANK];
    for (int k = 0; k < 3; k++)
        if ((rc = ref_ew_need(c, k, &ts[k]))) return rc;
    if (ts[0]->dtype != CALMA_DT_BOOL) return ref_ew_bad_dtype(c, 0, ts[0]->dtype);
    if (ts[1]->dtype != ts[2]->dtype)
        return ref_ew_fail(c, CALMA_E_INVALID, "X is %s but Y is %s", ir_dtype_name(ts[1]->dtype),
                           ir_dtype_name(ts[2]->dtype));
    if (!ir_dtype_size(ts[1]->dtype)) return ref_ew_bad_dtype(c, 1, ts[1]->dtype);
    if ((rc = ref_ew_bcast_shape(c, 3, ts, &rank, dims))) return rc;
    ref_set_type(&c->out[0], ts[1]->dtype, rank, dims);
    return CALMA_OK;
}

typedef struct where_ctx {
    size_t es;
    const uint8_t *cond;
    const void *x, *y;
    void *o;
} where_ctx;

#define WHERE_ROW(T)                                                                               \
    do {                                                                                           \
        const uint8_t *pc = w->cond + off[0];                                                      \
        const T *px = (const T *)w->x + off[1], *py = (const T *)w->y + off[2];                    \
        T *po = (T *)w->o + o;                                                                     \
        for (int64_t k = 0; k < len; k++) po[k] = pc[k * st[0]] ? px[k * st[1]] : py[k * st[2]];   \
    } while (0)

static void where_row(void *ctx, int64_t o, const int64_t *off, int64_t len, const int64_t *st) {
    where_ctx *w = ctx;
    switch (w->es) {
    case 1:
        WHERE_ROW(uint8_t);
        break;
    case 2:
        WHERE_ROW(uint16_t);
        break;
    case 4:
        WHERE_ROW(uint32_t);
        break;
    default:
        WHERE_ROW(uint64_t);
        break;
    }
}

static int where_run(ref_call *c) {
    ir_tensor *y = &c->out[0];
    ref_ew_bcast p;
    ref_ew_bcast_plan(&p, y->rank, y->dims, 3, (const ir_tensor *const *)c->in);
    where_ctx w = {ir_dtype_size(y->dtype), c->in[0]->data, c->in[1]->data, c->in[2]->data,
                   y->data};
    ref_ew_bcast_rows(&p, where_row, &w);
    return CALMA_OK;
}

/* ---- Clip ---- */

static int clip_infer(ref_call *c) {
    const ir_tensor *x;
    int rc = ref_ew_need(c, 0, &x);
    if (rc) return rc;
    if (!ref_ew_is_float(x->dtype) && !ref_ew_is_signed(x->dtype) && !ref_ew_is_unsigned(x->dtype))
        return ref_ew_bad_dtype(c, 0, x->dtype);
    for (int k = 1; k < 3; k++) {
        const ir_tensor *b = ref_in(c, k);
        if (!b) continue;
        if (c->opset < 11)
            return ref_ew_fail(c, CALMA_E_INVALID, "opset %lld Clip takes one input, not %d",
                               (long long)c->opset, c->n_in);
        if (b->dtype != x->dtype)
            return ref_ew_fail(c, CALMA_E_INVALID, "bound input %d is %s but input is %s", k,
                               ir_dtype_name(b->dtype), ir_dtype_name(x->dtype));
        if (b->rank > 1 || ir_tensor_numel(b) != 1) {
            char buf[96];
            return ref_ew_fail(c, CALMA_E_INVALID, "bound input %d must be a scalar, not %s", k,
                               ir_tensor_desc(b, buf, sizeof buf));
        }
    }
    ref_set_type(&c->out[0], x->dtype, x->rank, x->dims);
    return CALMA_OK;
}

/* Bounds are held in the input's own type, so int64 bounds stay exact;
 * min is applied before max, so min > max gives max everywhere (ONNX). */
#define CLIP_LOOP(T, LOWEST, HIGHEST)                                                              \
    do {                                                                                           \
        T lo = LOWEST, hi = HIGHEST;                                                               \
        if (has_lo) ref_ew_convert(&lo, x->dtype, lo_p, lo_dt, 1);                                 \
        if (has_hi) ref_ew_convert(&hi, x->dtype, hi_p, hi_dt, 1);                                 \
        const T *px = x->data;                                                                     \
        T *py = y->data;                                                                           \
        for (size_t i = 0; i < n; i++) {                                                           \
            T v = px[i] < lo ? lo : px[i];                                                         \
            py[i] = v > hi ? hi : v;                                                               \
        }                                                                                          \
    } while (0)

static int clip_run(ref_call *c) {
    const ir_tensor *x = c->in[0];
    ir_tensor *y = &c->out[0];
    size_t n = ir_tensor_numel(x);
    double lo_attr = 0, hi_attr = 0;
    const void *lo_p = NULL, *hi_p = NULL;
    calma_dtype lo_dt = x->dtype, hi_dt = x->dtype;
    int has_lo = 0, has_hi = 0;
    if (c->opset < 11) {
        const ir_attr *a = ir_node_attr(c->node, "min"), *b = ir_node_attr(c->node, "max");
        if (a) lo_attr = ir_node_float(c->node, "min", 0), lo_p = &lo_attr, has_lo = 1;
        if (b) hi_attr = ir_node_float(c->node, "max", 0), hi_p = &hi_attr, has_hi = 1;
        lo_dt = hi_dt = CALMA_DT_DOUBLE;
    } else {
        const ir_tensor *a = ref_in(c, 1), *b = ref_in(c, 2);
        if (a) lo_p = a->data, has_lo = 1;
        if (b) hi_p = b->data, has_hi = 1;
    }
    switch (x->dtype) {
    case CALMA_DT_FLOAT:
        CLIP_LOOP(float, -INFINITY, INFINITY);
        break;
    case CALMA_DT_DOUBLE:
        CLIP_LOOP(double, -INFINITY, INFINITY);
        break;
    case CALMA_DT_INT8:
        CLIP_LOOP(int8_t, INT8_MIN, INT8_MAX);
        break;
    case CALMA_DT_INT16:
        CLIP_LOOP(int16_t, INT16_MIN, INT16_MAX);
        break;
    case CALMA_DT_INT32:
        CLIP_LOOP(int32_t, INT32_MIN, INT32_MAX);
        break;
    case CALMA_DT_INT64:
        CLIP_LOOP(int64_t, INT64_MIN, INT64_MAX);
        break;
    case CALMA_DT_UINT8:
        CLIP_LOOP(uint8_t, 0, UINT8_MAX);
        break;
    case CALMA_DT_UINT16:
        CLIP_LOOP(uint16_t, 0, UINT16_MAX);
        break;
    case CALMA_DT_UINT32:
        CLIP_LOOP(uint32_t, 0, UINT32_MAX);
        break;
    case CALMA_DT_UINT64:
        CLIP_LOOP(uint64_t, 0, UINT64_MAX);
        break;
    default:
        return ref_ew_bad_dtype(c, 0, x->dtype);
    }
    return CALMA_OK;
}

/* ---- Trilu ---- */

static int trilu_infer(ref_call *c) {
    const ir_tensor *x, *k = ref_in(c, 1);
    int rc = ref_ew_need(c, 0, &x);
    if (rc) return rc;
    if (x->rank < 2 || !ir_dtype_size(x->dtype))
        return ref_ew_fail(c, CALMA_E_INVALID, "input must be a matrix or a batch of them");
    if (k && (k->dtype != CALMA_DT_INT64 || ir_tensor_numel(k) != 1))
        return ref_ew_fail(c, CALMA_E_INVALID, "k must be one int64");
    ref_set_type(&c->out[0], x->dtype, x->rank, x->dims);
    return CALMA_OK;
}

/* Keeps element (i, j) of each matrix when j - i >= k (upper) or <= k
 * (lower); the rest are zero (outputs start zeroed). */
static int trilu_run(ref_call *c) {
    const ir_tensor *x = c->in[0], *kt = ref_in(c, 1);
    int64_t k = kt ? ((const int64_t *)kt->data)[0] : 0;
    int upper = ir_node_int(c->node, "upper", 1) != 0;
    size_t rows = (size_t)x->dims[x->rank - 2], cols = (size_t)x->dims[x->rank - 1];
    size_t per = rows * cols, mats = per ? ir_tensor_numel(x) / per : 0;
    size_t es = ir_dtype_size(x->dtype);
    const char *src = x->data;
    char *dst = c->out[0].data;
    for (size_t m = 0; m < mats; m++)
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < cols; j++) {
                int64_t d = (int64_t)j - (int64_t)i;
                if (upper ? d >= k : d <= k) {
                    size_t at = ((m * rows + i) * cols + j) * es;
                    memcpy(dst + at, src + at, es);
                }
            }
    return CALMA_OK;
}

/* ---- HannWindow, HammingWindow, BlackmanWindow ---- */

static int window_size(ref_call *c, int64_t *n) {
    const ir_tensor *t;
    int rc = ref_ew_need(c, 0, &t);
    if (rc) return rc;
    if ((t->dtype != CALMA_DT_INT32 && t->dtype != CALMA_DT_INT64) || ir_tensor_numel(t) != 1 ||
        t->rank > 1)
        return ref_ew_fail(c, CALMA_E_INVALID, "size must be one int32/int64");
    if (!t->data) return REF_NEED_VALUE;
    *n = ir_tensor_get_i64(t, 0);
    if (*n < 0) return ref_ew_fail(c, CALMA_E_INVALID, "size %lld is negative", (long long)*n);
    return CALMA_OK;
}

static int window_infer(ref_call *c) {
    int64_t n = 0;
    int rc = window_size(c, &n);
    if (rc) return rc;
    calma_dtype dt = (calma_dtype)ir_node_int(c->node, "output_datatype", CALMA_DT_FLOAT);
    if (!ref_ew_is_float(dt) && !ref_ew_is_signed(dt) && !ref_ew_is_unsigned(dt))
        return ref_ew_fail(c, CALMA_E_UNSUPPORTED, "output_datatype %s is not supported",
                           ir_dtype_name(dt));
    ref_set_type(&c->out[0], dt, 1, &n);
    return CALMA_OK;
}

/* a0 - a1 cos(2 pi n / N) + a2 cos(4 pi n / N), N = size (periodic) or
 * size - 1 (symmetric). */
static int window_run(ref_call *c) {
    int64_t n = 0;
    int rc = window_size(c, &n);
    if (rc) return rc;
    const char *op = c->node->op_type;
    double a0 = 0.5, a1 = 0.5, a2 = 0;
    if (!strcmp(op, "HammingWindow")) {
        a0 = 25.0 / 46;
        a1 = 21.0 / 46;
    } else if (!strcmp(op, "BlackmanWindow")) {
        a0 = 0.42;
        a2 = 0.08;
    }
    double big_n = (double)(ir_node_int(c->node, "periodic", 1) ? n : n - 1);
    ir_tensor *y = &c->out[0];
    for (int64_t i = 0; i < n; i++) {
        double w = 2 * M_PI * (double)i / big_n;
        ir_tensor_set_f64(y, (size_t)i, a0 - a1 * cos(w) + a2 * cos(2 * w));
    }
    return CALMA_OK;
}

const ref_op ref_ops_elementwise[] = {
    /* unary (ref_unary.c) */
    {"Sqrt", ref_ew_unary_infer, ref_ew_unary_run},
    {"Exp", ref_ew_unary_infer, ref_ew_unary_run},
    {"Log", ref_ew_unary_infer, ref_ew_unary_run},
    {"Erf", ref_ew_unary_infer, ref_ew_unary_run},
    {"Tanh", ref_ew_unary_infer, ref_ew_unary_run},
    {"Sigmoid", ref_ew_unary_infer, ref_ew_unary_run},
    {"Relu", ref_ew_unary_infer, ref_ew_unary_run},
    {"LeakyRelu", ref_ew_unary_infer, ref_ew_unary_run},
    {"Elu", ref_ew_unary_infer, ref_ew_unary_run},
    {"Selu", ref_ew_unary_infer, ref_ew_unary_run},
    {"Celu", ref_ew_unary_infer, ref_ew_unary_run},
    {"Softplus", ref_ew_unary_infer, ref_ew_unary_run},
    {"Softsign", ref_ew_unary_infer, ref_ew_unary_run},
    {"HardSigmoid", ref_ew_unary_infer, ref_ew_unary_run},
    {"HardSwish", ref_ew_unary_infer, ref_ew_unary_run},
    {"Neg", ref_ew_unary_infer, ref_ew_unary_run},
    {"Abs", ref_ew_unary_infer, ref_ew_unary_run},
    {"Reciprocal", ref_ew_unary_infer, ref_ew_unary_run},
    {"Floor", ref_ew_unary_infer, ref_ew_unary_run},
    {"Ceil", ref_ew_unary_infer, ref_ew_unary_run},
    {"Round", ref_ew_unary_infer, ref_ew_unary_run},
    {"Sign", ref_ew_unary_infer, ref_ew_unary_run},
    {"Sin", ref_ew_unary_infer, ref_ew_unary_run},
    {"Cos", ref_ew_unary_infer, ref_ew_unary_run},
    {"Tan", ref_ew_unary_infer, ref_ew_unary_run},
    {"Asin", ref_ew_unary_infer, ref_ew_unary_run},
    {"Acos", ref_ew_unary_infer, ref_ew_unary_run},
    {"Atan", ref_ew_unary_infer, ref_ew_unary_run},
    {"Sinh", ref_ew_unary_infer, ref_ew_unary_run},
    {"Cosh", ref_ew_unary_infer, ref_ew_unary_run},
    {"Asinh", ref_ew_unary_infer, ref_ew_unary_run},
    {"Acosh", ref_ew_unary_infer, ref_ew_unary_run},
    {"Atanh", ref_ew_unary_infer, ref_ew_unary_run},
    {"IsNaN", ref_ew_unary_infer, ref_ew_unary_run},
    {"IsInf", ref_ew_unary_infer, ref_ew_unary_run},
    {"Not", ref_ew_unary_infer, ref_ew_unary_run},
    {"Gelu", ref_ew_unary_infer, ref_ew_unary_run},
    {"Mish", ref_ew_unary_infer, ref_ew_unary_run},
    {"ThresholdedRelu", ref_ew_unary_infer, ref_ew_unary_run},
    {"Shrink", ref_ew_unary_infer, ref_ew_unary_run},
    /* binary with broadcasting (ref_binary.c) */
    {"Add", ref_ew_binary_infer, ref_ew_binary_run},
    {"Sub", ref_ew_binary_infer, ref_ew_binary_run},
    {"Mul", ref_ew_binary_infer, ref_ew_binary_run},
    {"Div", ref_ew_binary_infer, ref_ew_binary_run},
    {"Pow", ref_ew_binary_infer, ref_ew_binary_run},
    {"Mod", ref_ew_binary_infer, ref_ew_binary_run},
    {"Equal", ref_ew_binary_infer, ref_ew_binary_run},
    {"Less", ref_ew_binary_infer, ref_ew_binary_run},
    {"Greater", ref_ew_binary_infer, ref_ew_binary_run},
    {"LessOrEqual", ref_ew_binary_infer, ref_ew_binary_run},
    {"GreaterOrEqual", ref_ew_binary_infer, ref_ew_binary_run},
    {"And", ref_ew_binary_infer, ref_ew_binary_run},
    {"Or", ref_ew_binary_infer, ref_ew_binary_run},
    {"Xor", ref_ew_binary_infer, ref_ew_binary_run},
    {"BitShift", ref_ew_binary_infer, ref_ew_binary_run},
    {"PRelu", ref_ew_binary_infer, ref_ew_binary_run},
    {"Sum", ref_ew_variadic_infer, ref_ew_variadic_run},
    {"Mean", ref_ew_variadic_infer, ref_ew_variadic_run},
    {"Max", ref_ew_variadic_infer, ref_ew_variadic_run},
    {"Min", ref_ew_variadic_infer, ref_ew_variadic_run},
    /* others */
    {"Where", where_infer, where_run},
    {"Clip", clip_infer, clip_run},
    {"Trilu", trilu_infer, trilu_run},
    {"HannWindow", window_infer, window_run},
    {"HammingWindow", window_infer, window_run},
    {"BlackmanWindow", window_infer, window_run},
    {"Cast", ref_ew_cast_infer, ref_ew_cast_run},
    {"CastLike", ref_ew_cast_infer, ref_ew_cast_run},
    /* quantisation (ref_quant.c) */
    {"QuantizeLinear", ref_ew_quant_infer, ref_ew_quant_run},
    {"DequantizeLinear", ref_ew_quant_infer, ref_ew_quant_run},
    {"DynamicQuantizeLinear", ref_ew_dynq_infer, ref_ew_dynq_run},
    {NULL, NULL, NULL},
};
