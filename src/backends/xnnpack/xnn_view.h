/* xnnbe_view: a float32 tensor outside XNNPACK as a strided view of memory
 * a step wrote. Element (i0, ..., ir-1) lives at data[sum(i_k * st[k])].
 * Strides may be zero (a broadcast) or negative (a reversed slice). A
 * memory order lists the logical axes from the outermost (largest stride)
 * to the innermost; "packed in order o" means contiguous in that order.
 * Size-1 axes never matter: their stride is ignored everywhere. */
#ifndef CALMA_XNN_VIEW_H
#define CALMA_XNN_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"

#define XNNBE_MAX_VIEWS 3

typedef struct xnnbe_view {
    float *data;
    int rank;
    int64_t dims[IR_MAX_RANK];
    int64_t st[IR_MAX_RANK];
} xnnbe_view;

/* N, H, W, C as an order of the logical axes N, C, H, W. */
extern const int xnnbe_order_nhwc[4];

size_t xnnbe_view_numel(const xnnbe_view *v);
/* Strides packing dims in memory order `order` (NULL: logical order). */
void xnnbe_view_packed(xnnbe_view *v, float *data, int rank, const int64_t *dims, const int *order);
/* Is v packed in order `order` (NULL: logical)? */
int xnnbe_view_is_packed(const xnnbe_view *v, const int *order);
/* v's memory order: axes by decreasing stride magnitude, ties by axis. */
void xnnbe_view_order(const xnnbe_view *v, int *order);
/* Packed in its own memory order (no gaps, no broadcast): numel floats
 * from data on. */
int xnnbe_view_dense(const xnnbe_view *v);
/* Is v (rank 4) packed as N,H,W,C? */
int xnnbe_view_is_nhwc(const xnnbe_view *v);

/* out = x with axes permuted: out.dims[i] = x.dims[perm[i]]. */
void xnnbe_view_transpose(const xnnbe_view *x, const int64_t *perm, xnnbe_view *out);
/* out = x read as shape dims (row-major element order, as ONNX Reshape)
 * without moving data; 0 when x's strides do not allow it. */
int xnnbe_view_reshape(const xnnbe_view *x, int rank, const int64_t *dims, xnnbe_view *out);
/* A memory order for x's shape close to x's own in which reshaping to
 * dims needs no copy (each merged or split group of axes contiguous). */
void xnnbe_reshape_order(const xnnbe_view *x, int rank, const int64_t *dims, int *order);
/* out = x broadcast to rank, dims (right-aligned; stride 0 where x has 1).
 * 0 when the shapes do not broadcast. */
int xnnbe_view_expand(const xnnbe_view *x, int rank, const int64_t *dims, xnnbe_view *out);

#endif
