/* calma's own float32 kernels for the ops between XNNPACK islands. Each
 * kernel is a step: fixed arguments made at load (shapes, strides and
 * pointers never change between runs) and a function run() calls with the
 * trial's pthreadpool (NULL with one thread).
 *
 * They accumulate in float, keep their inner loops simple and unit-stride
 * so the compiler vectorises them (these files build with -O3; the hottest
 * loops are also compiled for AVX2 and AVX-512 and picked at run time, the
 * portable version staying the default), and split large work across the
 * pool. Prepare functions run at load and do all the shape arithmetic. */
#ifndef CALMA_XNN_KERNELS_H
#define CALMA_XNN_KERNELS_H

#include <pthreadpool.h>
#include <stddef.h>
#include <stdint.h>

#include "backends/xnnpack/xnn_view.h"

/* Versions for wider vector units, chosen when the program starts (GCC's
 * function multiversioning); other compilers get the portable one. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define XNNBE_VEC __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define XNNBE_VEC
#endif

#define XNNBE_KRANK IR_MAX_RANK

/* Runs fn(ctx, start, count) over [0, n) in tiles of about `grain` items
 * (work in floats per item: per_item), on the pool when the work is large
 * enough to pay for waking it. */
typedef void (*xnnbe_range_fn)(void *ctx, size_t start, size_t count);
void xnnbe_parallel(pthreadpool_t pool, size_t n, size_t per_item, xnnbe_range_fn fn, void *ctx);

/* ---- xnn_kcopy.c: copies between views ---- */

typedef struct xnnbe_copy_args {
    const float *src;
    float *dst;
    int rank; /* merged dims, in dst's memory order, outermost first */
    int64_t dims[XNNBE_KRANK], ss[XNNBE_KRANK], ds[XNNBE_KRANK];
    int tile; /* the dim where src is unit-stride (a transpose), or -1 */
} xnnbe_copy_args;

/* Prepares a copy of src into dst (same logical shape). */
void xnnbe_copy_prepare(xnnbe_copy_args *a, const xnnbe_view *src, const xnnbe_view *dst);
void xnnbe_k_copy(const void *args, pthreadpool_t pool);

/* Several copies in one step (Concat's pieces, Gather's rows). */
typedef struct xnnbe_copies_args {
    int n;
    xnnbe_copy_args *parts;
} xnnbe_copies_args;
void xnnbe_k_copies(const void *args, pthreadpool_t pool);

/* ---- xnn_keltwise.c: element-wise ---- */

enum xnnbe_eop {
    /* unary */
    XNNBE_COPY,
    XNNBE_ERF,
    XNNBE_SQRT,
    XNNBE_RSQRT,
    XNNBE_RECIP,
    XNNBE_SQUARE,
    XNNBE_CUBE,
    XNNBE_POWC, /* x^p0 for any other constant exponent */
    XNNBE_EXP,
    XNNBE_LOG,
    XNNBE_TANH,
    XNNBE_SIGMOID,
    XNNBE_RELU,
    XNNBE_CLIP, /* to [p0, p1] */
    XNNBE_LEAKY,
    XNNBE_ELU,
    XNNBE_NEG,
    XNNBE_ABS,
    XNNBE_FLOOR,
    XNNBE_CEIL,
    XNNBE_HSIGMOID, /* max(0, min(1, p0 x + p1)) */
    XNNBE_HSWISH,
    XNNBE_SOFTPLUS,
    XNNBE_GELU, /* 0.5 x (1 + erf(x / sqrt 2)) */
    /* binary */
    XNNBE_ADD,
    XNNBE_SUB,
    XNNBE_MUL,
    XNNBE_DIV,
    XNNBE_POW,
    XNNBE_MAX,
    XNNBE_MIN,
    XNNBE_EOP_COUNT
};
#define XNNBE_FIRST_BINARY XNNBE_ADD

typedef struct xnnbe_elt_args {
    int op;
    float p0, p1;
    const float *a, *b; /* b NULL for a unary op */
    float *o;
    int rank; /* merged dims in o's memory order */
    int64_t dims[XNNBE_KRANK], sa[XNNBE_KRANK], sb[XNNBE_KRANK], so[XNNBE_KRANK];
} xnnbe_elt_args;

/* o = op(a[, b]) with a and b broadcast to o's shape (o is packed). */
void xnnbe_elt_prepare(xnnbe_elt_args *e, int op, float p0, float p1, const xnnbe_view *a,
                       const xnnbe_view *b, const xnnbe_view *o);
void xnnbe_k_elt(const void *args, pthreadpool_t pool);

/* Where(cond, x, y): cond is a constant byte mask. */
typedef struct xnnbe_where_args {
    const unsigned char *cond;
    const float *x, *y;
    float *o;
    int rank;
    int64_t dims[XNNBE_KRANK], sc[XNNBE_KRANK], sx[XNNBE_KRANK], sy[XNNBE_KRANK], so[XNNBE_KRANK];
} xnnbe_where_args;
void xnnbe_k_where(const void *args, pthreadpool_t pool);

/* The vectorisable approximations the kernels use (relative error a few
 * float ulps for exp, below 1e-6 for erf and tanh): exported for tests. */
float xnnbe_expf(float x);
float xnnbe_erff(float x);
float xnnbe_tanhf(float x);

/* ---- xnn_kreduce.c: reductions and normalisations over rows ---- */

enum { XNNBE_RSUM, XNNBE_RMEAN, XNNBE_RMAX, XNNBE_RMIN, XNNBE_RSUMSQ, XNNBE_RL2 };

/* dst[o][i] = reduce over r of src[o][r][i] (src, dst packed). */
typedef struct xnnbe_reduce_args {
    int op;
    const float *src;
    float *dst;
    size_t outer, red, inner;
} xnnbe_reduce_args;
void xnnbe_k_reduce(const void *args, pthreadpool_t pool);

/* Softmax or LogSoftmax over rows of n (src, dst packed [rows][n]). */
typedef struct xnnbe_softmax_args {
    const float *src;
    float *dst;
    size_t rows, n;
    int log;
} xnnbe_softmax_args;
void xnnbe_k_softmax(const void *args, pthreadpool_t pool);

/* LayerNormalization over rows of n: (x - mean) / sqrt(var + eps) * gamma
 * + beta, gamma and beta of n floats (beta may be NULL). */
typedef struct xnnbe_layernorm_args {
    const float *src, *gamma, *beta;
    float *dst;
    size_t rows, n;
    float eps;
} xnnbe_layernorm_args;
void xnnbe_k_layernorm(const void *args, pthreadpool_t pool);

/* ---- xnn_kmatmul.c: batched matrix products ---- */

/* o[b] = a[b] (M x K) * b[b] (K x N) for nb batches, o packed [nb][M][N];
 * a and b are read through strides (a transposed operand costs nothing
 * more: b is packed into panels each run anyway). */
typedef struct xnnbe_matmul_args {
    size_t nb, M, N, K;
    const float *a, *b;
    float *o;
    const int64_t *a_off, *b_off; /* per batch, in floats */
    int64_t sam, sak, sbk, sbn;
    float *panels; /* nb * K * round_up(N, XNNBE_NR) floats */
} xnnbe_matmul_args;
#define XNNBE_NR 16
#define XNNBE_MR 4
void xnnbe_k_matmul(const void *args, pthreadpool_t pool);

#endif
