/* Vectorisable float approximations of exp, erf and tanh for the kernels
 * (libm's are scalar calls a loop cannot vectorise): plain arithmetic and
 * selects, inlined into each loop. */
#ifndef CALMA_XNN_KMATH_H
#define CALMA_XNN_KMATH_H

#include <math.h>
#include <stdint.h>

/* e^x: x = n ln2 + r, |r| <= ln2 / 2, e^r by its Taylor series to r^7
 * (relative error below 3e-8 before rounding), 2^n built in the exponent
 * bits. Clamped to float's normal range. */
static inline float xnnbe_exp_approx(float x) {
    x = x < -87.3f ? -87.3f : x;
    x = x > 88.3f ? 88.3f : x;
    /* round to nearest by adding 1.5 * 2^23: the sum's low bits are n */
    float t = x * 1.44269504088896341f + 12582912.0f;
    float n = t - 12582912.0f;
    int32_t ni = (int32_t)n;
    float r = x - n * 0.693145751953125f;
    r = r - n * 1.428606765330187045e-06f;
    float p = 1.0f / 5040;
    p = p * r + 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    /* a union, not memcpy: GCC vectorises the loop only this way */
    union {
        int32_t i;
        float f;
    } scale;
    scale.i = (ni + 127) << 23;
    return p * scale.f;
}

/* erf: its Taylor series near 0 (relative accuracy where erf is small),
 * else Abramowitz and Stegun 7.1.26, 1 - t P(t) e^(-x^2) with
 * t = 1 / (1 + 0.3275911 |x|) (absolute error below 1.5e-7). */
static inline float xnnbe_erf_approx(float x) {
    float ax = fabsf(x), x2 = x * x;
    float s = 1.2055650e-4f;
    s = s * x2 - 8.5483270e-4f;
    s = s * x2 + 5.2239776e-3f;
    s = s * x2 - 2.6866171e-2f;
    s = s * x2 + 1.1283792e-1f;
    s = s * x2 - 3.7612639e-1f;
    s = s * x2 + 1.1283792f;
    float small = s * x;
    float t = 1.0f / (1.0f + 0.3275911f * ax);
    float p = 1.061405429f;
    p = p * t - 1.453152027f;
    p = p * t + 1.421413741f;
    p = p * t - 0.284496736f;
    p = p * t + 0.254829592f;
    float big = copysignf(1.0f - p * t * xnnbe_exp_approx(-x2), x);
    return ax < 0.5f ? small : big;
}

/* tanh: odd Taylor series near 0, else 1 - 2 / (e^(2|x|) + 1). */
static inline float xnnbe_tanh_approx(float x) {
    float ax = fabsf(x), x2 = x * x;
    float s = -1382.0f / 155925;
    s = s * x2 + 62.0f / 2835;
    s = s * x2 - 17.0f / 315;
    s = s * x2 + 2.0f / 15;
    s = s * x2 - 1.0f / 3;
    s = s * x2 + 1.0f;
    float small = s * x;
    float big = copysignf(1.0f - 2.0f / (xnnbe_exp_approx(2.0f * ax) + 1.0f), x);
    return ax < 0.4f ? small : big;
}

#endif
