/* Layout changes at the graph's edges: XNNPACK's subgraph has no transpose
 * node, so run() does them here, once per input and output. */
#include "backends/xnnpack/xnn_internal.h"

/* Tiles of TILE channels x TILE pixels keep both sides in cache for the
 * large feature maps at a CNN's input. */
#define TILE 32

void xnnbe_nchw_to_nhwc(const float *src, float *dst, const int64_t *dims) {
    size_t n = (size_t)dims[0], ch = (size_t)dims[1], hw = (size_t)dims[2] * (size_t)dims[3];
    for (size_t b = 0; b < n; b++) {
        const float *s = src + b * ch * hw;
        float *d = dst + b * ch * hw;
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
