/* Cast and CastLike, and the typed conversion loops every other kernel of
 * the family uses to read inputs as double and write results back. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref_elementwise.h"

/* Truncation toward zero without the undefined behaviour C gives an
 * out-of-range float->integer conversion. */
static inline int64_t clamp_i64(double v) {
    if (isnan(v)) return 0;
    if (v >= 9223372036854775807.0) return INT64_MAX;
    if (v <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}

static inline uint64_t clamp_u64(double v) {
    if (isnan(v) || v <= -1.0) return (uint64_t)clamp_i64(v); /* wraps like C on x86 */
    if (v >= 18446744073709551615.0) return UINT64_MAX;
    return (uint64_t)v;
}

/* Two copies of the type list: a macro cannot expand itself when the
 * source loop nests the destination loop. KIND: F float, I integer, B bool. */
#define CV_TYPES_A(M, P)                                                                           \
    M(CALMA_DT_FLOAT, float, F, P)                                                                 \
    M(CALMA_DT_DOUBLE, double, F, P)                                                               \
    M(CALMA_DT_INT8, int8_t, I, P)                                                                 \
    M(CALMA_DT_INT16, int16_t, I, P)                                                               \
    M(CALMA_DT_INT32, int32_t, I, P)                                                               \
    M(CALMA_DT_INT64, int64_t, I, P)                                                               \
    M(CALMA_DT_UINT8, uint8_t, I, P)                                                               \
    M(CALMA_DT_UINT16, uint16_t, I, P)                                                             \
    M(CALMA_DT_UINT32, uint32_t, I, P)                                                             \
    M(CALMA_DT_UINT64, uint64_t, U, P)                                                             \
    M(CALMA_DT_BOOL, uint8_t, B, P)
#define CV_TYPES_B(M, P)                                                                           \
    M(CALMA_DT_FLOAT, float, F, P)                                                                 \
    M(CALMA_DT_DOUBLE, double, F, P)                                                               \
    M(CALMA_DT_INT8, int8_t, I, P)                                                                 \
    M(CALMA_DT_INT16, int16_t, I, P)                                                               \
    M(CALMA_DT_INT32, int32_t, I, P)                                                               \
    M(CALMA_DT_INT64, int64_t, I, P)                                                               \
    M(CALMA_DT_UINT8, uint8_t, I, P)                                                               \
    M(CALMA_DT_UINT16, uint16_t, I, P)                                                             \
    M(CALMA_DT_UINT32, uint32_t, I, P)                                                             \
    M(CALMA_DT_UINT64, uint64_t, U, P)                                                             \
    M(CALMA_DT_BOOL, uint8_t, B, P)

/* (TS)0.5 != 0 is a constant: true only when the source is a float type. */
#define CVT_F(TD, TS, x) ((TD)(x))
#define CVT_I(TD, TS, x) ((TS)0.5 != 0 ? (TD)clamp_i64((double)(x)) : (TD)(x))
#define CVT_U(TD, TS, x) ((TS)0.5 != 0 ? (TD)clamp_u64((double)(x)) : (TD)(x))
#define CVT_B(TD, TS, x) ((TD)((x) != 0))

#define CV_DST(DDT, TD, KD, TS)                                                                    \
    case DDT: {                                                                                    \
        TD *d = dst;                                                                               \
        for (size_t i = 0; i < n; i++) d[i] = CVT_##KD(TD, TS, s[i]);                              \
        return 0;                                                                                  \
    }
#define CV_SRC(SDT, TS, KS, P)                                                                     \
    case SDT: {                                                                                    \
        const TS *s = src;                                                                         \
        switch (dd) {                                                                              \
            CV_TYPES_B(CV_DST, TS)                                                                 \
        default:                                                                                   \
            return -1;                                                                             \
        }                                                                                          \
    }

static int convert_plain(void *dst, calma_dtype dd, const void *src, calma_dtype sd, size_t n) {
    /* bool sources are 0/1 by contract, so they convert like uint8 */
    switch (sd) {
        CV_TYPES_A(CV_SRC, _)
    default:
        return -1;
    }
}

static int is_half(calma_dtype dt) {
    return dt == CALMA_DT_FLOAT16 || dt == CALMA_DT_BFLOAT16;
}

int ref_ew_convert(void *dst, calma_dtype dd, const void *src, calma_dtype sd, size_t n) {
    if (!is_half(dd) && !is_half(sd)) return convert_plain(dst, dd, src, sd, n);
    /* 16-bit float storage goes through float32 in chunks */
    float buf[256];
    size_t ds = ir_dtype_size(dd), ss = ir_dtype_size(sd);
    if (!ds || !ss) return -1;
    for (size_t at = 0; at < n; at += 256) {
        size_t k = n - at < 256 ? n - at : 256;
        const char *s = (const char *)src + at * ss;
        char *d = (char *)dst + at * ds;
        if (sd == CALMA_DT_FLOAT16) {
            for (size_t i = 0; i < k; i++) buf[i] = ir_half_to_float(((const uint16_t *)s)[i]);
        } else if (sd == CALMA_DT_BFLOAT16) {
            for (size_t i = 0; i < k; i++) buf[i] = ir_bf16_to_float(((const uint16_t *)s)[i]);
        } else if (convert_plain(buf, CALMA_DT_FLOAT, s, sd, k)) {
            return -1;
        }
        if (dd == CALMA_DT_FLOAT16) {
            for (size_t i = 0; i < k; i++) ((uint16_t *)d)[i] = ir_float_to_half(buf[i]);
        } else if (dd == CALMA_DT_BFLOAT16) {
            for (size_t i = 0; i < k; i++) ((uint16_t *)d)[i] = ir_float_to_bf16(buf[i]);
        } else if (convert_plain(d, dd, buf, CALMA_DT_FLOAT, k)) {
            return -1;
        }
    }
    return 0;
}

int ref_ew_to_f64(ref_call *c, const ir_tensor *t, double **out) {
    size_t n = ir_tensor_numel(t);
    double *v = malloc(sizeof(double) * (n ? n : 1));
    *out = NULL;
    if (!v) return ref_ew_fail(c, CALMA_E_NOMEM, "out of memory for %zu doubles", n);
    if (ref_ew_convert(v, CALMA_DT_DOUBLE, t->data, t->dtype, n)) {
        free(v);
        return ref_ew_fail(c, CALMA_E_UNSUPPORTED, "cannot read a %s tensor as numbers",
                           ir_dtype_name(t->dtype));
    }
    *out = v;
    return CALMA_OK;
}

int ref_ew_from_f64(ref_call *c, ir_tensor *t, const double *v) {
    if (ref_ew_convert(t->data, t->dtype, v, CALMA_DT_DOUBLE, ir_tensor_numel(t)))
        return ref_ew_fail(c, CALMA_E_UNSUPPORTED, "cannot write a %s output",
                           ir_dtype_name(t->dtype));
    return CALMA_OK;
}

/* ---- Cast, CastLike ---- */

static int cast_storable(calma_dtype dt) {
    return dt != CALMA_DT_STRING && ir_dtype_size(dt) != 0;
}

/* The dtype the oracle holds for a requested one: 16-bit floats live as
 * float32, rounded to their precision. */
static calma_dtype held_dtype(calma_dtype dt) {
    return is_half(dt) ? CALMA_DT_FLOAT : dt;
}

static int cast_target(ref_call *c, calma_dtype *to) {
    if (!strcmp(c->node->op_type, "CastLike")) {
        const ir_tensor *like;
        int rc = ref_ew_need(c, 1, &like);
        if (rc) return rc;
        *to = like->dtype;
        return CALMA_OK;
    }
    const ir_attr *a = ir_node_attr(c->node, "to");
    if (!a || a->type != IR_ATTR_INT)
        return ref_ew_fail(c, CALMA_E_INVALID, "attribute 'to' is missing or not an int");
    *to = (calma_dtype)a->i;
    return CALMA_OK;
}

int ref_ew_cast_infer(ref_call *c) {
    const ir_tensor *x;
    calma_dtype to = CALMA_DT_UNDEFINED;
    int rc = ref_ew_need(c, 0, &x);
    if (rc || (rc = cast_target(c, &to))) return rc;
    if (!cast_storable(to))
        return ref_ew_fail(c, CALMA_E_UNSUPPORTED, "cast to %s (%d) is not supported",
                           ir_dtype_name(to), (int)to);
    if (!cast_storable(x->dtype))
        return ref_ew_fail(c, CALMA_E_UNSUPPORTED, "cast from %s is not supported",
                           ir_dtype_name(x->dtype));
    ref_set_type(&c->out[0], held_dtype(to), x->rank, x->dims);
    return CALMA_OK;
}

int ref_ew_cast_run(ref_call *c) {
    const ir_tensor *x = c->in[0];
    ir_tensor *y = &c->out[0];
    calma_dtype to = CALMA_DT_UNDEFINED;
    int rc = cast_target(c, &to);
    if (rc) return rc;
    size_t n = ir_tensor_numel(x);
    if (ref_ew_convert(y->data, y->dtype, x->data, x->dtype, n))
        return ref_ew_fail(c, CALMA_E_UNSUPPORTED, "cast from %s to %s is not supported",
                           ir_dtype_name(x->dtype), ir_dtype_name(y->dtype));
    float *f = y->data;
    if (to == CALMA_DT_FLOAT16 && y->dtype == CALMA_DT_FLOAT) {
        for (size_t i = 0; i < n; i++) f[i] = ir_half_to_float(ir_float_to_half(f[i]));
    } else if (to == CALMA_DT_BFLOAT16 && y->dtype == CALMA_DT_FLOAT) {
        for (size_t i = 0; i < n; i++) f[i] = ir_bf16_to_float(ir_float_to_bf16(f[i]));
    }
    return CALMA_OK;
}
