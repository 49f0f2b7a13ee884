/* TensorProto -> ir_tensor, for every way ONNX stores tensor data. */
#include "onnx/onnx_priv.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/mem.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "calma reads ONNX raw_data (little-endian) straight into memory"
#endif

calma_dtype onnx_dtype(int32_t elem_type) {
    switch (elem_type) {
    case CALMA_DT_FLOAT:
    case CALMA_DT_UINT8:
    case CALMA_DT_INT8:
    case CALMA_DT_UINT16:
    case CALMA_DT_INT16:
    case CALMA_DT_INT32:
    case CALMA_DT_INT64:
    case CALMA_DT_STRING:
    case CALMA_DT_BOOL:
    case CALMA_DT_FLOAT16:
    case CALMA_DT_DOUBLE:
    case CALMA_DT_UINT32:
    case CALMA_DT_UINT64:
    case CALMA_DT_BFLOAT16:
        return (calma_dtype)elem_type;
    default:
        return CALMA_DT_UNDEFINED;
    }
}

const char *onnx_elem_type_name(int32_t elem_type) {
    calma_dtype dt = onnx_dtype(elem_type);
    if (dt != CALMA_DT_UNDEFINED) return ir_dtype_name(dt);
    switch (elem_type) {
    case 8:
        return "string";
    case 14:
        return "complex64";
    case 15:
        return "complex128";
    case 17:
        return "float8e4m3fn";
    case 18:
        return "float8e4m3fnuz";
    case 19:
        return "float8e5m2";
    case 20:
        return "float8e5m2fnuz";
    case 0:
        return "undefined";
    default:
        return "unknown";
    }
}

/* int32_data carries every type of 16 bits or fewer, one element per entry
 * (float16 and bfloat16 as their bit patterns). */
static void from_int32(const Onnx__TensorProto *tp, ir_tensor *t, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t v = (uint32_t)tp->int32_data[i];
        switch (t->dtype) {
        case CALMA_DT_INT32:
            ((uint32_t *)t->data)[i] = v;
            break;
        case CALMA_DT_INT16:
        case CALMA_DT_UINT16:
        case CALMA_DT_FLOAT16:
        case CALMA_DT_BFLOAT16:
            ((uint16_t *)t->data)[i] = (uint16_t)(v & 0xffff);
            break;
        case CALMA_DT_BOOL:
            ((uint8_t *)t->data)[i] = v != 0;
            break;
        default:
            ((uint8_t *)t->data)[i] = (uint8_t)(v & 0xff);
            break;
        }
    }
}

/* Which typed field may hold dt, and how many entries it has. */
static const char *typed_field(const Onnx__TensorProto *tp, calma_dtype dt, size_t *count) {
    switch (dt) {
    case CALMA_DT_FLOAT:
        *count = tp->n_float_data;
        return "float_data";
    case CALMA_DT_INT32:
    case CALMA_DT_INT16:
    case CALMA_DT_INT8:
    case CALMA_DT_UINT16:
    case CALMA_DT_UINT8:
    case CALMA_DT_BOOL:
    case CALMA_DT_FLOAT16:
    case CALMA_DT_BFLOAT16:
        *count = tp->n_int32_data;
        return "int32_data";
    case CALMA_DT_INT64:
        *count = tp->n_int64_data;
        return "int64_data";
    case CALMA_DT_DOUBLE:
        *count = tp->n_double_data;
        return "double_data";
    case CALMA_DT_UINT32:
    case CALMA_DT_UINT64:
        *count = tp->n_uint64_data;
        return "uint64_data";
    default:
        *count = 0;
        return "?";
    }
}

/* A typed field used for the wrong element type is a lie about the data. */
static const char *misplaced_field(const Onnx__TensorProto *tp, const char *right) {
    if (tp->n_float_data && strcmp(right, "float_data")) return "float_data";
    if (tp->n_int32_data && strcmp(right, "int32_data")) return "int32_data";
    if (tp->n_int64_data && strcmp(right, "int64_data")) return "int64_data";
    if (tp->n_double_data && strcmp(right, "double_data")) return "double_data";
    if (tp->n_uint64_data && strcmp(right, "uint64_data")) return "uint64_data";
    return NULL;
}

/* Checked before anything is allocated, so a tensor that claims a huge
 * shape but carries no data fails without trying to allocate it. */
static int check_typed(const Onnx__TensorProto *tp, const ir_tensor *t, size_t n, const char *what,
                       calma_error *e) {
    char desc[128];
    size_t count;
    const char *field = typed_field(tp, t->dtype, &count);
    const char *wrong = misplaced_field(tp, field);
    if (wrong)
        return err_set(e, CALMA_E_INVALID, "%s: %s is set but the tensor is %s", what, wrong,
                       ir_tensor_desc(t, desc, sizeof desc));
    if (count != n) {
        if (count == 0)
            return err_set(e, CALMA_E_INVALID, "%s: no data for %s", what,
                           ir_tensor_desc(t, desc, sizeof desc));
        return err_set(e, CALMA_E_INVALID, "%s: %s holds %zu values, shape %s needs %zu", what,
                       field, count, ir_tensor_desc(t, desc, sizeof desc), n);
    }
    return CALMA_OK;
}

static void fill_typed(const Onnx__TensorProto *tp, ir_tensor *t, size_t n) {
    if (n == 0) return;
    switch (t->dtype) {
    case CALMA_DT_FLOAT:
        memcpy(t->data, tp->float_data, n * sizeof(float));
        break;
    case CALMA_DT_INT64:
        memcpy(t->data, tp->int64_data, n * sizeof(int64_t));
        break;
    case CALMA_DT_DOUBLE:
        memcpy(t->data, tp->double_data, n * sizeof(double));
        break;
    case CALMA_DT_UINT64:
        memcpy(t->data, tp->uint64_data, n * sizeof(uint64_t));
        break;
    case CALMA_DT_UINT32:
        for (size_t i = 0; i < n; i++)
            ((uint32_t *)t->data)[i] = (uint32_t)(tp->uint64_data[i] & 0xffffffffu);
        break;
    default:
        from_int32(tp, t, n);
        break;
    }
}

/* Typed arrays are copied, not taken (their width may differ from the
 * dtype's): free them now so the model's data is not held twice while the
 * rest of the model is imported. They came from onnx_pb_allocator. */
static void release_typed(Onnx__TensorProto *tp) {
    free(tp->float_data);
    free(tp->int32_data);
    free(tp->int64_data);
    free(tp->double_data);
    free(tp->uint64_data);
    tp->float_data = NULL;
    tp->int32_data = NULL;
    tp->int64_data = NULL;
    tp->double_data = NULL;
    tp->uint64_data = NULL;
    tp->n_float_data = tp->n_int32_data = tp->n_int64_data = 0;
    tp->n_double_data = tp->n_uint64_data = 0;
}

int onnx_tensor_from_proto(Onnx__TensorProto *tp, const char *dir, const char *what, ir_tensor *out,
                           calma_error *e) {
    char desc[128];
    memset(out, 0, sizeof *out);
    if (!tp->has_data_type || tp->data_type == 0)
        return err_set(e, CALMA_E_INVALID, "%s has no data type", what);
    calma_dtype dt = onnx_dtype(tp->data_type);
    if (dt == CALMA_DT_STRING)
        return err_set(e, CALMA_E_UNSUPPORTED,
                       "%s is a string tensor; calma holds numeric tensors only", what);
    if (dt == CALMA_DT_UNDEFINED)
        return err_set(e, CALMA_E_UNSUPPORTED, "%s has data type %d (%s), which calma cannot hold",
                       what, (int)tp->data_type, onnx_elem_type_name(tp->data_type));
    if (tp->n_dims > IR_MAX_RANK)
        return err_set(e, CALMA_E_UNSUPPORTED, "%s has rank %zu; calma holds at most %d dimensions",
                       what, tp->n_dims, IR_MAX_RANK);
    if (tp->segment)
        return err_set(e, CALMA_E_UNSUPPORTED, "%s is a segment of a larger tensor", what);
    int rank = (int)tp->n_dims;
    size_t n, bytes;
    int rc = ir_shape_numel(rank, tp->dims, &n, e);
    if (rc) {
        err_prefix(e, "%s", what);
        return rc;
    }
    if (mem_mul_size(n, ir_dtype_size(dt), &bytes))
        return err_set(e, CALMA_E_INVALID, "%s: byte size of %zu elements overflows", what, n);

    ir_tensor t = {0};
    t.dtype = dt;
    t.rank = rank;
    for (int i = 0; i < rank; i++) t.dims[i] = tp->dims[i];
    int external =
        tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;

    if (!external && tp->has_raw_data) {
        if (tp->raw_data.len != bytes)
            return err_set(e, CALMA_E_INVALID, "%s: raw_data holds %zu bytes, shape %s needs %zu",
                           what, tp->raw_data.len, ir_tensor_desc(&t, desc, sizeof desc), bytes);
        if (bytes && tp->raw_data.data) {
            /* Take the buffer protobuf-c allocated instead of copying it: a
             * large model then needs its weights in memory once, not twice. */
            t.data = tp->raw_data.data;
            t.nbytes = bytes;
            t.owns = 1;
            tp->raw_data.data = NULL;
            tp->raw_data.len = 0;
            tp->has_raw_data = 0;
            *out = t;
            return CALMA_OK;
        }
    }
    if (external) {
        rc = onnx_read_external(tp, dir, bytes, &t.data, e);
        if (rc) {
            err_prefix(e, "%s", what);
            return rc;
        }
        t.nbytes = bytes;
        t.owns = 1;
        *out = t;
        return CALMA_OK;
    }
    if (!tp->has_raw_data && (rc = check_typed(tp, &t, n, what, e))) return rc;
    rc = ir_tensor_alloc(&t, dt, rank, tp->dims, e);
    if (rc) {
        err_prefix(e, "%s", what);
        return rc;
    }
    if (!tp->has_raw_data) {
        fill_typed(tp, &t, n);
        release_typed(tp);
    }
    *out = t;
    return CALMA_OK;
}
