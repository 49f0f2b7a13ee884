#include "io/gen.h"

#define GEN_GAMMA 0x9e3779b97f4a7c15ull

static inline uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* 24 bits to [-1, 1): exact in float, so every machine agrees. */
static inline float to_unit(uint64_t h) {
    return (float)(h >> 40) * (2.0f / 16777216.0f) - 1.0f;
}

/* [0, GEN_INT_RANGE) by multiply-shift: no division per element. */
static inline uint32_t to_small(uint64_t h) {
    return (uint32_t)(((h >> 32) * GEN_INT_RANGE) >> 32);
}

void gen_fill(ir_tensor *t, uint64_t seed, int input_index, uint64_t sample_index) {
    if (!t || !t->data) return;
    size_t n = ir_tensor_numel(t);
    size_t es = ir_dtype_size(t->dtype);
    if (!es || n > t->nbytes / es) return; /* a tensor whose buffer does not match its shape */
    /* Chained mixing, so nearby (seed, input, sample) triples give unrelated
     * streams rather than shifted copies of one stream. */
    uint64_t key = mix(mix(mix(seed + GEN_GAMMA) + (uint64_t)(int64_t)input_index) + sample_index);
    switch (t->dtype) {
    case CALMA_DT_FLOAT: {
        float *p = t->data;
        for (size_t i = 0; i < n; i++) p[i] = to_unit(mix(key + (i + 1) * GEN_GAMMA));
        break;
    }
    case CALMA_DT_DOUBLE: {
        double *p = t->data;
        for (size_t i = 0; i < n; i++) p[i] = to_unit(mix(key + (i + 1) * GEN_GAMMA));
        break;
    }
    case CALMA_DT_FLOAT16: {
        uint16_t *p = t->data;
        for (size_t i = 0; i < n; i++)
            p[i] = ir_float_to_half(to_unit(mix(key + (i + 1) * GEN_GAMMA)));
        break;
    }
    case CALMA_DT_BFLOAT16: {
        uint16_t *p = t->data;
        for (size_t i = 0; i < n; i++)
            p[i] = ir_float_to_bf16(to_unit(mix(key + (i + 1) * GEN_GAMMA)));
        break;
    }
    case CALMA_DT_BOOL: {
        uint8_t *p = t->data;
        for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(mix(key + (i + 1) * GEN_GAMMA) >> 63);
        break;
    }
/* One loop per width: the value is written as its own type, whatever the
 * host's byte order. */
#define GEN_INTS(dt, type)                                                                         \
    case dt: {                                                                                     \
        type *p = t->data;                                                                         \
        for (size_t i = 0; i < n; i++) p[i] = (type)to_small(mix(key + (i + 1) * GEN_GAMMA));      \
        break;                                                                                     \
    }
        GEN_INTS(CALMA_DT_INT8, int8_t)
        GEN_INTS(CALMA_DT_UINT8, uint8_t)
        GEN_INTS(CALMA_DT_INT16, int16_t)
        GEN_INTS(CALMA_DT_UINT16, uint16_t)
        GEN_INTS(CALMA_DT_INT32, int32_t)
        GEN_INTS(CALMA_DT_UINT32, uint32_t)
        GEN_INTS(CALMA_DT_INT64, int64_t)
        GEN_INTS(CALMA_DT_UINT64, uint64_t)
#undef GEN_INTS
    default:
        break;
    }
}
