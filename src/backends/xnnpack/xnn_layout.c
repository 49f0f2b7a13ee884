/* Layout changes at the graph's edges: XNNPACK's subgraph has no transpose
 * node, so run() does them here, once per input and output. */
#include <string.h>

#include "backends/xnnpack/xnn_internal.h"
#include "backends/xnnpack/xnn_kernels.h"

/* Tiles of TILE channels x TILE pixels keep both sides in cache for the
 * large feature maps at a CNN's input. */
#define TILE 32

/* An image's few colour channels: one pass over the pixels reading each
 * plane in order, about 3x faster than the tiles for 3x224x224. */
XNNBE_VEC
static void few_channels(const float *restrict s, float *restrict d, size_t ch, size_t hw) {
    switch (ch) {
    case 1:
        memcpy(d, s, hw * sizeof(float));
        return;
    case 3:
        for (size_t p = 0; p < hw; p++) {
            d[3 * p] = s[p];
            d[3 * p + 1] = s[hw + p];
            d[3 * p + 2] = s[2 * hw + p];
        }
        return;
    default:
        for (size_t p = 0; p < hw; p++)
            for (size_t c = 0; c < ch; c++) d[p * ch + c] = s[c * hw + p];
    }
}

void xnnbe_nchw_to_nhwc(const float *src, float *dst, const int64_t *dims) {
    size_t n = (size_t)dims[0], ch = (size_t)dims[1], hw = (size_t)dims[2] * (size_t)dims[3];
    for (size_t b = 0; b < n; b++) {
        const float *s = src + b * ch * hw;
        float *d = dst + b * ch * hw;
        if (ch <= 4) {
            few_channels(s, d, ch, hw);
            continue;
        }
        for (size_t p0 = 0; p0 < hw; p0 += TILE) {
            size_t p1 = p0 + TILE < hw ? p0 + TILE : hw;
            for (size_t c0 = 0; c0 < ch; c0 += TILE) {
                size_t c1 = c0 + TILE < ch ? c0 + TILE : ch;
                for (size_t p = p0; p < p1; p++)
                    for (size_t c = c0; c < c1; c++) d[p * ch + c] = s[c * hw + p];
            }
        }
    }
}

void xnnbe_nhwc_to_nchw(const float *src, float *dst, const int64_t *dims) {
    size_t n = (size_t)dims[0], ch = (size_t)dims[1], hw = (size_t)dims[2] * (size_t)dims[3];
    for (size_t b = 0; b < n; b++) {
        const float *s = src + b * ch * hw;
        float *d = dst + b * ch * hw;
        for (size_t c0 = 0; c0 < ch; c0 += TILE) {
            size_t c1 = c0 + TILE < ch ? c0 + TILE : ch;
            for (size_t p0 = 0; p0 < hw; p0 += TILE) {
                size_t p1 = p0 + TILE < hw ? p0 + TILE : hw;
                for (size_t c = c0; c < c1; c++)
                    for (size_t p = p0; p < p1; p++) d[c * hw + p] = s[p * ch + c];
            }
        }
    }
}
