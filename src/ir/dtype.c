#include "ir/ir.h"

#include <string.h>

size_t ir_dtype_size(calma_dtype dt) {
    switch (dt) {
    case CALMA_DT_FLOAT:
        return 4;
    case CALMA_DT_UINT8:
        return 1;
    case CALMA_DT_INT8:
        return 1;
    case CALMA_DT_UINT16:
        return 2;
    case CALMA_DT_INT16:
        return 2;
    case CALMA_DT_INT32:
        return 4;
    case CALMA_DT_INT64:
        return 8;
    case CALMA_DT_BOOL:
        return 1;
    case CALMA_DT_FLOAT16:
        return 2;
    case CALMA_DT_DOUBLE:
        return 8;
    case CALMA_DT_UINT32:
        return 4;
    case CALMA_DT_UINT64:
        return 8;
    case CALMA_DT_BFLOAT16:
        return 2;
    default:
        return 0;
    }
}

static const struct {
    calma_dtype dt;
    const char *name;
} names[] = {
    {CALMA_DT_FLOAT, "float32"},   {CALMA_DT_UINT8, "uint8"},       {CALMA_DT_INT8, "int8"},
    {CALMA_DT_UINT16, "uint16"},   {CALMA_DT_INT16, "int16"},       {CALMA_DT_INT32, "int32"},
    {CALMA_DT_INT64, "int64"},     {CALMA_DT_STRING, "string"},     {CALMA_DT_BOOL, "bool"},
    {CALMA_DT_FLOAT16, "float16"}, {CALMA_DT_DOUBLE, "float64"},    {CALMA_DT_UINT32, "uint32"},
    {CALMA_DT_UINT64, "uint64"},   {CALMA_DT_BFLOAT16, "bfloat16"},
};

const char *ir_dtype_name(calma_dtype dt) {
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].dt == dt) return names[i].name;
    return "?";
}

calma_dtype ir_dtype_parse(const char *s) {
    if (!s) return CALMA_DT_UNDEFINED;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(names[i].name, s) == 0) return names[i].dt;
    if (!strcmp(s, "float") || !strcmp(s, "fp32")) return CALMA_DT_FLOAT;
    if (!strcmp(s, "half") || !strcmp(s, "fp16")) return CALMA_DT_FLOAT16;
    if (!strcmp(s, "double") || !strcmp(s, "fp64")) return CALMA_DT_DOUBLE;
    if (!strcmp(s, "bf16")) return CALMA_DT_BFLOAT16;
    return CALMA_DT_UNDEFINED;
}

float ir_half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t ir_float_to_half(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    int32_t exp = (int32_t)((x >> 23) & 0xff);
    uint32_t man = x & 0x7fffff;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
    int32_t e = exp - 127 + 15;
    if (e >= 0x1f) return (uint16_t)(sign | 0x7c00);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        man |= 0x800000;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t half = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)e << 10) | (man >> 13);
    uint32_t rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++; /* may carry into exp: correct */
    return (uint16_t)half;
}

float ir_bf16_to_float(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t ir_float_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 0x40);
    uint32_t lsb = (x >> 16) & 1;
    x += 0x7fff + lsb;
    return (uint16_t)(x >> 16);
}
