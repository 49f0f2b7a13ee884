/* QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear (entries of
 * ref_ops_elementwise): linear 8-bit quantisation, per tensor or per axis,
 * rounding half to even and saturating as ONNX says. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref_elementwise.h"

static int quant_type(calma_dtype dt) {
    return dt == CALMA_DT_UINT8 || dt == CALMA_DT_INT8;
}

/* Checks scale (and zero point) are scalars, or 1-D along axis; returns the
 * axis to index them by (-1 for per-tensor). */
static int quant_params(ref_call *c, const ir_tensor *x, int *axis) {
    const ir_tensor *s = c->in[1], *z = ref_in(c, 2);
    *axis = -1;
    if (ir_tensor_numel(s) == 1 && s->rank <= 1) {
        if (z && ir_tensor_numel(z) != 1)
            return ref_ew_fail(c, CALMA_E_INVALID, "zero point and scale differ in size");
        return CALMA_OK;
    }
    int64_t a = ir_node_int(c->node, "axis", 1), r = x->rank;
    if (a < -r || a >= r)
        return ref_ew_fail(c, CALMA_E_INVALID, "axis %lld is out of range for rank %lld",
                           (long long)a, (long long)r);
    if (a < 0) a += r;
    if (s->rank != 1 || s->dims[0] != x->dims[a] || (z && ir_tensor_numel(z) != (size_t)s->dims[0]))
        return ref_ew_fail(c, CALMA_E_INVALID,
                           "scale must be a scalar or hold one value per index of axis %lld",
                           (long long)a);
    *axis = (int)a;
    return CALMA_OK;
}

int ref_ew_quant_infer(ref_call *c) {
    const ir_tensor *x, *s, *z = ref_in(c, 2);
    int rc, axis;
    if ((rc = ref_ew_need(c, 0, &x)) || (rc = ref_ew_need(c, 1, &s))) return rc;
    int is_q = !strcmp(c->node->op_type, "QuantizeLinear");
    if (is_q ? !ref_ew_is_float(x->dtype) : !(quant_type(x->dtype) || x->dtype == CALMA_DT_INT32))
        return ref_ew_bad_dtype(c, 0, x->dtype);
    if (!ref_ew_is_float(s->dtype)) return ref_ew_bad_dtype(c, 1, s->dtype);
    if (z && (is_q ? !quant_type(z->dtype) : z->dtype != x->dtype))
        return ref_ew_bad_dtype(c, 2, z->dtype);
    if ((rc = quant_params(c, x, &axis))) return rc;
    calma_dtype out = is_q ? (z ? z->dtype : CALMA_DT_UINT8) : s->dtype;
    ref_set_type(&c->out[0], out, x->rank, x->dims);
    return CALMA_OK;
}

static double saturate(double v, calma_dtype dt) {
    double lo = dt == CALMA_DT_INT8 ? -128 : 0, hi = dt == CALMA_DT_INT8 ? 127 : 255;
    return v < lo ? lo : v > hi ? hi : v;
}

int ref_ew_quant_run(ref_call *c) {
    const ir_tensor *x = c->in[0], *z = ref_in(c, 2);
    ir_tensor *y = &c->out[0];
    int axis, rc = quant_params(c, x, &axis);
    if (rc) return rc;
    int is_q = !strcmp(c->node->op_type, "QuantizeLinear");
    size_t n = ir_tensor_numel(x), inner = 1, len = 1;
    if (axis >= 0) {
        len = (size_t)x->dims[axis];
        for (int d = axis + 1; d < x->rank; d++) inner *= (size_t)x->dims[d];
    }
    double *v = NULL, *s = NULL, *zp = NULL;
    rc = ref_ew_to_f64(c, x, &v);
    if (!rc) rc = ref_ew_to_f64(c, c->in[1], &s);
    if (!rc && z) rc = ref_ew_to_f64(c, z, &zp);
    for (size_t i = 0; i < n && !rc; i++) {
        size_t k = axis >= 0 ? (i / inner) % len : 0;
        double zk = zp ? zp[k] : 0;
        /* the division rounds in x's own precision, as engines do: a
         * quotient near .5 can round the other way in double */
        if (is_q && x->dtype == CALMA_DT_FLOAT)
            v[i] = saturate(nearbyint((float)v[i] / (float)s[k]) + zk, y->dtype);
        else if (is_q)
            v[i] = saturate(nearbyint(v[i] / s[k]) + zk, y->dtype);
        else
            v[i] = (v[i] - zk) * s[k];
    }
    if (!rc) rc = ref_ew_from_f64(c, y, v);
    free(v);
    free(s);
    free(zp);
    return rc;
}

int ref_ew_dynq_infer(ref_call *c) {
    const ir_tensor *x;
    int rc = ref_ew_need(c, 0, &x);
    if (rc) return rc;
    if (x->dtype != CALMA_DT_FLOAT) return ref_ew_bad_dtype(c, 0, x->dtype);
    ref_set_type(&c->out[0], CALMA_DT_UINT8, x->rank, x->dims);
    if (c->n_out > 1) ref_set_type(&c->out[1], CALMA_DT_FLOAT, 0, NULL);
    if (c->n_out > 2) ref_set_type(&c->out[2], CALMA_DT_UINT8, 0, NULL);
    return CALMA_OK;
}

/* The range always includes 0 so that 0 is exact; scale and zero point are
 * computed in float32 as the ONNX reference does. */
int ref_ew_dynq_run(ref_call *c) {
    const ir_tensor *x = c->in[0];
    const float *v = x->data;
    size_t n = ir_tensor_numel(x);
    float lo = 0, hi = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < lo) lo = v[i];
        if (v[i] > hi) hi = v[i];
    }
    float scale = (hi - lo) / 255.0f;
    double zp = scale == 0 ? 0 : saturate(nearbyint(0.0f - lo / scale), CALMA_DT_UINT8);
    uint8_t *y = c->out[0].data;
    for (size_t i = 0; i < n; i++) {
        double q = scale == 0 ? 0 : nearbyint(v[i] / scale);
        y[i] = (uint8_t)saturate(q + zp, CALMA_DT_UINT8);
    }
    if (c->n_out > 1 && c->out[1].data) *(float *)c->out[1].data = scale;
    if (c->n_out > 2 && c->out[2].data) *(uint8_t *)c->out[2].data = (uint8_t)zp;
    return CALMA_OK;
}
