#include "ir/ir.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/mem.h"

int ir_shape_numel(int rank, const int64_t *dims, size_t *out, calma_error *e) {
    if (rank < 0 || rank > IR_MAX_RANK)
        return err_set(e, CALMA_E_INVALID, "rank %d is outside 0..%d", rank, IR_MAX_RANK);
    size_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0)
            return err_set(e, CALMA_E_INVALID, "dimension %d is negative (%lld)", i,
                           (long long)dims[i]);
        if ((uint64_t)dims[i] > SIZE_MAX || mem_mul_size(n, (size_t)dims[i], &n))
            return err_set(e, CALMA_E_INVALID, "element count overflows at dimension %d", i);
    }
    *out = n;
    return CALMA_OK;
}

size_t ir_tensor_numel(const ir_tensor *t) {
    size_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= (size_t)t->dims[i];
    return n;
}

int ir_tensor_alloc(ir_tensor *t, calma_dtype dt, int rank, const int64_t *dims, calma_error *e) {
    size_t n, bytes;
    int64_t d[IR_MAX_RANK];
    int rc = ir_shape_numel(rank, dims, &n, e);
    if (rc) return rc;
    size_t es = ir_dtype_size(dt);
    if (!es)
        return err_set(e, CALMA_E_UNSUPPORTED, "dtype %s has no flat storage", ir_dtype_name(dt));
    if (mem_mul_size(n, es, &bytes))
        return err_set(e, CALMA_E_INVALID, "byte size of %zu %s elements overflows", n,
                       ir_dtype_name(dt));
    if (rank) memcpy(d, dims, sizeof(int64_t) * (size_t)rank); /* dims may alias t->dims */
    ir_tensor_free(t);
    void *p = calloc(bytes ? bytes : 1, 1);
    if (!p) return err_set(e, CALMA_E_NOMEM, "out of memory allocating %zu bytes", bytes);
    t->dtype = dt;
    t->rank = rank;
    if (rank) memcpy(t->dims, d, sizeof(int64_t) * (size_t)rank);
    t->data = p;
    t->nbytes = bytes;
    t->owns = 1;
    return CALMA_OK;
}

void ir_tensor_free(ir_tensor *t) {
    if (!t) return;
    if (t->owns) free(t->data);
    memset(t, 0, sizeof *t);
}

int ir_tensor_copy(ir_tensor *dst, const ir_tensor *src, calma_error *e) {
    ir_tensor tmp = {0};
    tmp.dtype = src->dtype;
    tmp.rank = src->rank;
    memcpy(tmp.dims, src->dims, sizeof tmp.dims);
    if (src->data) {
        tmp.data = malloc(src->nbytes ? src->nbytes : 1);
        if (!tmp.data) return err_set(e, CALMA_E_NOMEM, "out of memory copying a tensor");
        if (src->nbytes) memcpy(tmp.data, src->data, src->nbytes);
        tmp.nbytes = src->nbytes;
        tmp.owns = 1;
    }
    *dst = tmp;
    return CALMA_OK;
}

int ir_tensor_same_shape(const ir_tensor *a, const ir_tensor *b) {
    if (a->dtype != b->dtype || a->rank != b->rank) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    return 1;
}

const char *ir_tensor_desc(const ir_tensor *t, char *buf, size_t n) {
    size_t used = (size_t)snprintf(buf, n, "%s[", ir_dtype_name(t->dtype));
    for (int i = 0; i < t->rank && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, i ? ",%lld" : "%lld", (long long)t->dims[i]);
    if (used < n) snprintf(buf + used, n - used, "]");
    return buf;
}

double ir_tensor_get_f64(const ir_tensor *t, size_t i) {
    const void *p = t->data;
    switch (t->dtype) {
    case CALMA_DT_FLOAT:
        return ((const float *)p)[i];
    case CALMA_DT_DOUBLE:
        return ((const double *)p)[i];
    case CALMA_DT_FLOAT16:
        return ir_half_to_float(((const uint16_t *)p)[i]);
    case CALMA_DT_BFLOAT16:
        return ir_bf16_to_float(((const uint16_t *)p)[i]);
    case CALMA_DT_INT8:
        return ((const int8_t *)p)[i];
    case CALMA_DT_UINT8:
        return ((const uint8_t *)p)[i];
    case CALMA_DT_BOOL:
        return ((const uint8_t *)p)[i] != 0;
    case CALMA_DT_INT16:
        return ((const int16_t *)p)[i];
    case CALMA_DT_UINT16:
        return ((const uint16_t *)p)[i];
    case CALMA_DT_INT32:
        return ((const int32_t *)p)[i];
    case CALMA_DT_UINT32:
        return ((const uint32_t *)p)[i];
    case CALMA_DT_INT64:
        return (double)((const int64_t *)p)[i];
    case CALMA_DT_UINT64:
        return (double)((const uint64_t *)p)[i];
    default:
        return 0.0;
    }
}

int64_t ir_tensor_get_i64(const ir_tensor *t, size_t i) {
    const void *p = t->data;
    switch (t->dtype) {
    case CALMA_DT_INT64:
        return ((const int64_t *)p)[i];
    case CALMA_DT_INT32:
        return ((const int32_t *)p)[i];
    case CALMA_DT_INT16:
        return ((const int16_t *)p)[i];
    case CALMA_DT_INT8:
        return ((const int8_t *)p)[i];
    case CALMA_DT_UINT8:
        return ((const uint8_t *)p)[i];
    case CALMA_DT_BOOL:
        return ((const uint8_t *)p)[i] != 0;
    case CALMA_DT_UINT16:
        return ((const uint16_t *)p)[i];
    case CALMA_DT_UINT32:
        return ((const uint32_t *)p)[i];
    case CALMA_DT_UINT64:
        return (int64_t)((const uint64_t *)p)[i];
    default: {
        double v = ir_tensor_get_f64(t, i);
        if (isnan(v)) return 0;
        if (v >= 9.2e18) return INT64_MAX;
        if (v <= -9.2e18) return INT64_MIN;
        return (int64_t)v;
    }
    }
}

/* Float-to-integer conversion that never invokes undefined behaviour. */
static int64_t clamp_to_i64(double v) {
    if (isnan(v)) return 0;
    if (v >= 9.2e18) return INT64_MAX;
    if (v <= -9.2e18) return INT64_MIN;
    return (int64_t)v;
}

void ir_tensor_set_f64(ir_tensor *t, size_t i, double v) {
    void *p = t->data;
    switch (t->dtype) {
    case CALMA_DT_FLOAT:
        ((float *)p)[i] = (float)v;
        break;
    case CALMA_DT_DOUBLE:
        ((double *)p)[i] = v;
        break;
    case CALMA_DT_FLOAT16:
        ((uint16_t *)p)[i] = ir_float_to_half((float)v);
        break;
    case CALMA_DT_BFLOAT16:
        ((uint16_t *)p)[i] = ir_float_to_bf16((float)v);
        break;
    case CALMA_DT_BOOL:
        ((uint8_t *)p)[i] = v != 0.0;
        break;
    case CALMA_DT_INT8:
        ((int8_t *)p)[i] = (int8_t)clamp_to_i64(v);
        break;
    case CALMA_DT_UINT8:
        ((uint8_t *)p)[i] = (uint8_t)clamp_to_i64(v);
        break;
    case CALMA_DT_INT16:
        ((int16_t *)p)[i] = (int16_t)clamp_to_i64(v);
        break;
    case CALMA_DT_UINT16:
        ((uint16_t *)p)[i] = (uint16_t)clamp_to_i64(v);
        break;
    case CALMA_DT_INT32:
        ((int32_t *)p)[i] = (int32_t)clamp_to_i64(v);
        break;
    case CALMA_DT_UINT32:
        ((uint32_t *)p)[i] = (uint32_t)clamp_to_i64(v);
        break;
    case CALMA_DT_INT64:
        ((int64_t *)p)[i] = clamp_to_i64(v);
        break;
    case CALMA_DT_UINT64:
        ((uint64_t *)p)[i] = v <= 0 ? 0 : (uint64_t)clamp_to_i64(v);
        break;
    default:
        break;
    }
}
