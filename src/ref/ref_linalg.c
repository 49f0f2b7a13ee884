/* Gemm and MatMul for the oracle.
 *
 * Products are summed in double (integer MatMul in 64-bit integers). Each
 * output row is accumulated in a double row: for every k, the row of B
 * scaled by A[i][k] is added, so the innermost loop runs over contiguous
 * memory. B is first copied into a double [K][N] matrix, which also takes
 * care of transB. */
#include <stdlib.h>
#include <string.h>

#include "ref/ref_op.h"
#include "util/mem.h"

static const char *label(const ref_call *c, char *buf, size_t n) {
    return ir_node_label(c->node, buf, n);
}

static int is_float_dtype(calma_dtype dt) {
    return dt == CALMA_DT_FLOAT || dt == CALMA_DT_DOUBLE;
}

static int is_int_dtype(calma_dtype dt) {
    return dt == CALMA_DT_INT32 || dt == CALMA_DT_INT64 || dt == CALMA_DT_UINT32 ||
           dt == CALMA_DT_UINT64;
}

static double load(const void *p, calma_dtype dt, size_t i) {
    return dt == CALMA_DT_FLOAT ? ((const float *)p)[i] : ((const double *)p)[i];
}

static void store(void *p, calma_dtype dt, size_t i, double v) {
    if (dt == CALMA_DT_FLOAT)
        ((float *)p)[i] = (float)v;
    else
        ((double *)p)[i] = v;
}

/* Integers are carried as uint64 so overflow wraps instead of being
 * undefined; the result is then truncated to the dtype. */
static uint64_t load_u(const void *p, calma_dtype dt, size_t i) {
    switch (dt) {
    case CALMA_DT_INT32:
        return (uint64_t)(int64_t)((const int32_t *)p)[i];
    case CALMA_DT_UINT32:
        return ((const uint32_t *)p)[i];
    case CALMA_DT_INT64:
        return (uint64_t)((const int64_t *)p)[i];
    default:
        return ((const uint64_t *)p)[i];
    }
}

static void store_u(void *p, calma_dtype dt, size_t i, uint64_t v) {
    switch (dt) {
    case CALMA_DT_INT32:
        ((int32_t *)p)[i] = (int32_t)(uint32_t)v;
        break;
    case CALMA_DT_UINT32:
        ((uint32_t *)p)[i] = (uint32_t)v;
        break;
    case CALMA_DT_INT64:
        memcpy((int64_t *)p + i, &v, sizeof v);
        break;
    default:
        ((uint64_t *)p)[i] = v;
        break;
    }
}

static int bad_dtype(ref_call *c, const char *name, calma_dtype dt) {
    char lab[256];
    return err_set(c->err, CALMA_E_UNSUPPORTED, "%s: input %s has dtype %s, which %s does not run",
                   label(c, lab, sizeof lab), name, ir_dtype_name(dt), c->node->op_type);
}

/* ---- Gemm ---- */

typedef struct gemm_shape {
    int64_t m, k, n;
    int ta, tb;
} gemm_shape;

static int gemm_setup(ref_call *c, gemm_shape *s) {
    char lab[256];
    const ir_tensor *a = ref_in(c, 0), *b = ref_in(c, 1), *cc = ref_in(c, 2);
    if (!a || !b)
        return err_set(c->err, CALMA_E_INVALID, "%s: needs inputs A and B",
                       label(c, lab, sizeof lab));
    if (c->n_out < 1)
        return err_set(c->err, CALMA_E_INVALID, "%s: has no output", label(c, lab, sizeof lab));
    if (!is_float_dtype(a->dtype)) return bad_dtype(c, "A", a->dtype);
    if (b->dtype != a->dtype || (cc && cc->dtype != a->dtype))
        return err_set(c->err, CALMA_E_INVALID, "%s: A, B and C must share one dtype (A is %s)",
                       label(c, lab, sizeof lab), ir_dtype_name(a->dtype));
    if (a->rank != 2 || b->rank != 2)
        return err_set(c->err, CALMA_E_INVALID, "%s: A and B must be 2-D (ranks %d and %d)",
                       label(c, lab, sizeof lab), a->rank, b->rank);
    s->ta = ir_node_int(c->node, "transA", 0) != 0;
    s->tb = ir_node_int(c->node, "transB", 0) != 0;
    s->m = a->dims[s->ta ? 1 : 0];
    s->k = a->dims[s->ta ? 0 : 1];
    int64_t kb = b->dims[s->tb ? 1 : 0];
    s->n = b->dims[s->tb ? 0 : 1];
    if (s->k >= 0 && kb >= 0 && s->k != kb)
        return err_set(c->err, CALMA_E_INVALID,
                       "%s: inner dimensions differ: A gives K = %lld, B gives K = %lld",
                       label(c, lab, sizeof lab), (long long)s->k, (long long)kb);
    if (s->k < 0) s->k = kb;
    if (cc) {
        if (cc->rank > 2)
            return err_set(c->err, CALMA_E_INVALID, "%s: C has rank %d; at most 2",
                           label(c, lab, sizeof lab), cc->rank);
        int64_t want[2] = {s->m, s->n};
        for (int i = 0; i < cc->rank; i++) {
            int64_t d = cc->dims[i], w = want[2 - cc->rank + i];
            if (d >= 0 && w >= 0 && d != 1 && d != w)
                return err_set(c->err, CALMA_E_INVALID,
                               "%s: C dimension %d is %lld; cannot broadcast to %lld",
                               label(c, lab, sizeof lab), i, (long long)d, (long long)w);
        }
    }
    return CALMA_OK;
}

static int gemm_infer(ref_call *c) {
    gemm_shape s;
    int st = gemm_setup(c, &s);
    if (st) return st;
    int64_t dims[2] = {s.m, s.n};
    ref_set_type(&c->out[0], ref_in(c, 0)->dtype, 2, dims);
    return CALMA_OK;
}

/* Value of C broadcast at (i, j). */
static double c_at(const ir_tensor *cc, int64_t i, int64_t j) {
    int64_t r = 0, q = 0;
    if (cc->rank == 2) {
        r = cc->dims[0] == 1 ? 0 : i;
        q = cc->dims[1] == 1 ? 0 : j;
        return load(cc->data, cc->dtype, (size_t)(r * cc->dims[1] + q));
    }
    if (cc->rank == 1) return load(cc->data, cc->dtype, (size_t)(cc->dims[0] == 1 ? 0 : j));
    return load(cc->data, cc->dtype, 0);
}

/* acc[0..n) = sum_k a(k) * bd[k][0..n); a read with stride as. */
static void row_product(const void *a, calma_dtype adt, size_t a0, size_t as, const double *bd,
                        int64_t k, int64_t n, double *restrict acc) {
    for (int64_t j = 0; j < n; j++) acc[j] = 0.0;
    for (int64_t kk = 0; kk < k; kk++) {
        double av = load(a, adt, a0 + (size_t)kk * as);
        const double *restrict br = bd + kk * n;
        for (int64_t j = 0; j < n; j++) acc[j] += av * br[j];
    }
}

/* Copies a K x N slice of B (row-major [K][N], or [N][K] when tb) into bd. */
static void b_to_double(const void *b, calma_dtype dt, size_t off, int64_t k, int64_t n, int tb,
                        double *bd) {
    for (int64_t kk = 0; kk < k; kk++)
        for (int64_t j = 0; j < n; j++)
            bd[kk * n + j] = load(b, dt, off + (size_t)(tb ? j * k + kk : kk * n + j));
}

static int gemm_run(ref_call *c) {
    gemm_shape s;
    int st = gemm_setup(c, &s);
    if (st) return st;
    const ir_tensor *a = ref_in(c, 0), *b = ref_in(c, 1), *cc = ref_in(c, 2);
    ir_tensor *y = &c->out[0];
    double alpha = ir_node_float(c->node, "alpha", 1.0f);
    double beta = ir_node_float(c->node, "beta", 1.0f);
    if (s.m == 0 || s.n == 0) return CALMA_OK;
    double *bd = malloc((size_t)(s.k > 0 ? s.k * s.n : 1) * sizeof *bd);
    double *acc = malloc((size_t)s.n * sizeof *acc);
    if (!bd || !acc) {
        free(bd);
        free(acc);
        char lab[256];
        return err_set(c->err, CALMA_E_NOMEM, "%s: out of memory", label(c, lab, sizeof lab));
    }
    b_to_double(b->data, b->dtype, 0, s.k, s.n, s.tb, bd);
    for (int64_t i = 0; i < s.m; i++) {
        /* Row i of op(A): A[i][k] at i*K + k, or A[k][i] at k*M + i. */
        size_t a0 = (size_t)(s.ta ? i : i * s.k), as = (size_t)(s.ta ? s.m : 1);
        row_product(a->data, a->dtype, a0, as, bd, s.k, s.n, acc);
        for (int64_t j = 0; j < s.n; j++) {
            double v = alpha * acc[j];
            if (cc) v += beta * c_at(cc, i, j);
            store(y->data, y->dtype, (size_t)(i * s.n + j), v);
        }
    }
    free(bd);
    free(acc);
    return CALMA_OK;
}

/* ---- MatMul ---- */

/* numpy matmul: 1-D operands get a dimension of 1 added (then removed from
 * the result); leading dimensions broadcast. */
typedef struct mm_shape {
    int64_t m, k, n;
    int batch_rank;
    int64_t batch[IR_MAX_RANK];
    int64_t a_stride[IR_MAX_RANK], b_stride[IR_MAX_RANK]; /* in matrices; 0 when broadcast */
    int rank;
    int64_t dims[IR_MAX_RANK];
} mm_shape;

static int mm_setup(ref_call *c, mm_shape *s) {
    char lab[256];
    const ir_tensor *a = ref_in(c, 0), *b = ref_in(c, 1);
    if (!a || !b)
        return err_set(c->err, CALMA_E_INVALID, "%s: needs inputs A and B",
                       label(c, lab, sizeof lab));
    if (c->n_out < 1)
        return err_set(c->err, CALMA_E_INVALID, "%s: has no output", label(c, lab, sizeof lab));
    if (!is_float_dtype(a->dtype) && !is_int_dtype(a->dtype)) return bad_dtype(c, "A", a->dtype);
    if (b->dtype != a->dtype)
        return err_set(c->err, CALMA_E_INVALID, "%s: A is %s but B is %s",
                       label(c, lab, sizeof lab), ir_dtype_name(a->dtype), ir_dtype_name(b->dtype));
    if (a->rank < 1 || b->rank < 1)
        return err_set(c->err, CALMA_E_INVALID, "%s: A and B must have rank 1 or more",
                       label(c, lab, sizeof lab));
    memset(s, 0, sizeof *s);
    int ab = a->rank >= 2 ? a->rank - 2 : 0, bb = b->rank >= 2 ? b->rank - 2 : 0;
    s->m = a->rank >= 2 ? a->dims[a->rank - 2] : 1;
    s->k = a->dims[a->rank - 1];
    int64_t kb = b->rank >= 2 ? b->dims[b->rank - 2] : b->dims[0];
    s->n = b->rank >= 2 ? b->dims[b->rank - 1] : 1;
    if (s->k >= 0 && kb >= 0 && s->k != kb)
        return err_set(c->err, CALMA_E_INVALID,
                       "%s: inner dimensions differ: A has K = %lld, B has K = %lld",
                       label(c, lab, sizeof lab), (long long)s->k, (long long)kb);
    if (s->k < 0) s->k = kb;
    s->batch_rank = ab > bb ? ab : bb;
    int extra = (a->rank >= 2) + (b->rank >= 2);
    if (s->batch_rank + extra > IR_MAX_RANK)
        return err_set(c->err, CALMA_E_INVALID, "%s: result rank exceeds %d",
                       label(c, lab, sizeof lab), IR_MAX_RANK);
    /* Strides in whole matrices, from the innermost batch dimension out. */
    int64_t as = 1, bs = 1;
    for (int i = s->batch_rank - 1; i >= 0; i--) {
        int ia = i - (s->batch_rank - ab), ib = i - (s->batch_rank - bb);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        int64_t d;
        if (da == db || db == 1)
            d = da;
        else if (da == 1)
            d = db;
        else if (da < 0 || db < 0)
            d = da < 0 ? db : da;
        else
            return err_set(c->err, CALMA_E_INVALID,
                           "%s: batch dimensions %lld and %lld do not broadcast",
                           label(c, lab, sizeof lab), (long long)da, (long long)db);
        s->batch[i] = d;
        s->a_stride[i] = da == 1 && d != 1 ? 0 : as;
        s->b_stride[i] = db == 1 && d != 1 ? 0 : bs;
        if (da > 0) as *= da;
        if (db > 0) bs *= db;
    }
    s->rank = 0;
    for (int i = 0; i < s->batch_rank; i++) s->dims[s->rank++] = s->batch[i];
    if (a->rank >= 2) s->dims[s->rank++] = s->m;
    if (b->rank >= 2) s->dims[s->rank++] = s->n;
    return CALMA_OK;
}

static int matmul_infer(ref_call *c) {
    mm_shape s;
    int st = mm_setup(c, &s);
    if (st) return st;
    ref_set_type(&c->out[0], ref_in(c, 0)->dtype, s.rank, s.dims);
    return CALMA_OK;
}

static void mm_int(const ir_tensor *a, const ir_tensor *b, ir_tensor *y, size_t aoff, size_t boff,
                   size_t yoff, const mm_shape *s) {
    for (int64_t i = 0; i < s->m; i++)
        for (int64_t j = 0; j < s->n; j++) {
            uint64_t sum = 0;
            for (int64_t k = 0; k < s->k; k++)
                sum += load_u(a->data, a->dtype, aoff + (size_t)(i * s->k + k)) *
                       load_u(b->data, b->dtype, boff + (size_t)(k * s->n + j));
            store_u(y->data, y->dtype, yoff + (size_t)(i * s->n + j), sum);
        }
}

static int matmul_run(ref_call *c) {
    mm_shape s;
    int st = mm_setup(c, &s);
    if (st) return st;
    const ir_tensor *a = ref_in(c, 0), *b = ref_in(c, 1);
    ir_tensor *y = &c->out[0];
    int64_t nb = 1;
    for (int i = 0; i < s.batch_rank; i++) nb *= s.batch[i];
    if (nb == 0 || s.m == 0 || s.n == 0) return CALMA_OK;
    int fl = is_float_dtype(a->dtype);
    double *bd = NULL, *acc = NULL;
    if (fl) {
        bd = malloc((size_t)(s.k > 0 ? s.k * s.n : 1) * sizeof *bd);
        acc = malloc((size_t)s.n * sizeof *acc);
        if (!bd || !acc) {
            free(bd);
            free(acc);
            char lab[256];
            return err_set(c->err, CALMA_E_NOMEM, "%s: out of memory", label(c, lab, sizeof lab));
        }
    }
    size_t amat = (size_t)(s.m * s.k), bmat = (size_t)(s.k * s.n), ymat = (size_t)(s.m * s.n);
    size_t prev_b = (size_t)-1;
    for (int64_t t = 0; t < nb; t++) {
        int64_t ai = 0, bi = 0, rest = t;
        for (int i = s.batch_rank - 1; i >= 0; i--) {
            int64_t idx = rest % s.batch[i];
            rest /= s.batch[i];
            ai += idx * s.a_stride[i];
            bi += idx * s.b_stride[i];
        }
        size_t aoff = (size_t)ai * amat, boff = (size_t)bi * bmat, yoff = (size_t)t * ymat;
        if (!fl) {
            mm_int(a, b, y, aoff, boff, yoff, &s);
            continue;
        }
        /* A broadcast B (the usual weights case) is converted once. */
        if (boff != prev_b) b_to_double(b->data, b->dtype, boff, s.k, s.n, 0, bd);
        prev_b = boff;
        for (int64_t i = 0; i < s.m; i++) {
            row_product(a->data, a->dtype, aoff + (size_t)(i * s.k), 1, bd, s.k, s.n, acc);
            for (int64_t j = 0; j < s.n; j++)
                store(y->data, y->dtype, yoff + (size_t)(i * s.n + j), acc[j]);
        }
    }
    free(bd);
    free(acc);
    return CALMA_OK;
}

const ref_op ref_ops_linalg[] = {
    {"Gemm", gemm_infer, gemm_run},
    {"MatMul", matmul_infer, matmul_run},
    {NULL, NULL, NULL},
};
