/* Binary and variadic elementwise ops with numpy broadcasting: arithmetic,
 * comparisons, logic, BitShift, PRelu; Sum, Mean, Max, Min. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref_elementwise.h"

/* ---- broadcasting ---- */

int ref_ew_bcast_shape(ref_call *c, int n, const ir_tensor *const *ts, int *rank, int64_t *dims) {
    int r = 0;
    for (int k = 0; k < n; k++)
        if (ts[k]->rank > r) r = ts[k]->rank;
    for (int d = 0; d < r; d++) {
        int64_t v = 1;
        for (int k = 0; k < n; k++) {
            int i = d - (r - ts[k]->rank);
            if (i < 0) continue;
            int64_t x = ts[k]->dims[i];
            if (x == v || x == 1) continue;
            if (v != 1) {
                char a[96], b[96];
                return ref_ew_fail(c, CALMA_E_INVALID,
                                   "shapes %s and %s do not broadcast (dimension %d: %lld vs %lld)",
                                   ir_tensor_desc(ts[0], a, sizeof a),
                                   ir_tensor_desc(ts[k], b, sizeof b), d, (long long)v,
                                   (long long)x);
            }
            v = x;
        }
        dims[d] = v;
    }
    *rank = r;
    return CALMA_OK;
}

void ref_ew_bcast_plan(ref_ew_bcast *p, int out_rank, const int64_t *out_dims, int n,
                       const ir_tensor *const *ts) {
    int64_t st[REF_EW_MAX_BCAST][IR_MAX_RANK];
    for (int k = 0; k < n; k++) {
        int64_t s = 1;
        for (int d = out_rank - 1; d >= 0; d--) {
            int i = d - (out_rank - ts[k]->rank);
            int64_t x = i < 0 ? 1 : ts[k]->dims[i];
            st[k][d] = x == 1 ? 0 : s;
            s *= x;
        }
    }
    /* drop size-1 dimensions, then merge neighbours walked alike by all */
    p->n = n;
    p->rank = 0;
    for (int d = 0; d < out_rank; d++) {
        if (out_dims[d] == 1) continue;
        int r = p->rank;
        int merge = r > 0;
        for (int k = 0; k < n && merge; k++) merge = p->st[k][r - 1] == st[k][d] * out_dims[d];
        if (merge) {
            p->dims[r - 1] *= out_dims[d];
            for (int k = 0; k < n; k++) p->st[k][r - 1] = st[k][d];
        } else {
            p->dims[r] = out_dims[d];
            for (int k = 0; k < n; k++) p->st[k][r] = st[k][d];
            p->rank++;
        }
    }
    if (p->rank == 0) { /* a scalar, or all ones: one row of one */
        p->rank = 1;
        p->dims[0] = 1;
        for (int k = 0; k < n; k++) p->st[k][0] = 0;
    }
}

void ref_ew_bcast_rows(const ref_ew_bcast *p, ref_ew_row_fn fn, void *ctx) {
    int r = p->rank, n = p->n;
    for (int d = 0; d < r; d++)
        if (p->dims[d] == 0) return;
    int64_t idx[IR_MAX_RANK] = {0}, off[REF_EW_MAX_BCAST] = {0}, st[REF_EW_MAX_BCAST];
    int64_t len = p->dims[r - 1], o = 0;
    for (int k = 0; k < n; k++) st[k] = p->st[k][r - 1];
    for (;;) {
        fn(ctx, o, off, len, st);
        o += len;
        int d = r - 2;
        for (; d >= 0; d--) {
            idx[d]++;
            for (int k = 0; k < n; k++) off[k] += p->st[k][d];
            if (idx[d] < p->dims[d]) break;
            for (int k = 0; k < n; k++) off[k] -= p->st[k][d] * p->dims[d];
            idx[d] = 0;
        }
        if (d < 0) return;
    }
}

typedef struct expand_ctx {
    const ir_tensor *src;
    double *dst;
} expand_ctx;

static void expand_row(void *ctx, int64_t o, const int64_t *off, int64_t len, const int64_t *st) {
    expand_ctx *x = ctx;
    if (st[0] == 0) {
        double v;
        ref_ew_convert(&v, CALMA_DT_DOUBLE,
                       (const char *)x->src->data + (size_t)off[0] * ir_dtype_size(x->src->dtype),
                       x->src->dtype, 1);
        for (int64_t k = 0; k < len; k++) x->dst[o + k] = v;
    } else {
        ref_ew_convert(x->dst + o, CALMA_DT_DOUBLE,
                       (const char *)x->src->data + (size_t)off[0] * ir_dtype_size(x->src->dtype),
                       x->src->dtype, (size_t)len);
    }
}

void ref_ew_expand_f64(const ir_tensor *src, int rank, const int64_t *dims, double *dst) {
    ref_ew_bcast p;
    const ir_tensor *ts[1] = {src};
    ref_ew_bcast_plan(&p, rank, dims, 1, ts);
    expand_ctx x = {src, dst};
    ref_ew_bcast_rows(&p, expand_row, &x);
}

/* ---- the ops ---- */

typedef enum bin_op {
    B_ADD,
    B_SUB,
    B_MUL,
    B_DIV,
    B_POW,
    B_MOD,
    B_FMOD,
    B_MAX,
    B_MIN,
    B_EQ,
    B_LT,
    B_GT,
    B_LE,
    B_GE,
    B_AND,
    B_OR,
    B_XOR,
    B_SHL,
    B_SHR,
    B_PRELU,
    B_NONE
} bin_op;

/* which dtypes an op takes */
enum { T_NUM = 1, T_BOOL = 2, T_UNSIGNED = 4, T_FLOAT = 8 };

static const struct {
    const char *name;
    bin_op op;
    int types;
    int to_bool;
} bin_ops[] = {
    {"Add", B_ADD, T_NUM, 0},
    {"Sub", B_SUB, T_NUM, 0},
    {"Mul", B_MUL, T_NUM, 0},
    {"Div", B_DIV, T_NUM, 0},
    {"Pow", B_POW, T_NUM, 0},
    {"Mod", B_MOD, T_NUM, 0},
    {"Equal", B_EQ, T_NUM | T_BOOL, 1},
    {"Less", B_LT, T_NUM, 1},
    {"Greater", B_GT, T_NUM, 1},
    {"LessOrEqual", B_LE, T_NUM, 1},
    {"GreaterOrEqual", B_GE, T_NUM, 1},
    {"And", B_AND, T_BOOL, 1},
    {"Or", B_OR, T_BOOL, 1},
    {"Xor", B_XOR, T_BOOL, 1},
    {"BitShift", B_SHL, T_UNSIGNED, 0},
    {"PRelu", B_PRELU, T_NUM, 0},
    {"Sum", B_ADD, T_NUM, 0},
    {"Mean", B_ADD, T_FLOAT, 0},
    {"Max", B_MAX, T_NUM, 0},
    {"Min", B_MIN, T_NUM, 0},
};

static int find_op(const char *name) {
    for (size_t i = 0; i < sizeof bin_ops / sizeof bin_ops[0]; i++)
        if (!strcmp(bin_ops[i].name, name)) return (int)i;
    return -1;
}

static int type_ok(int types, calma_dtype dt) {
    if (types & T_NUM && (ref_ew_is_float(dt) || ref_ew_is_signed(dt) || ref_ew_is_unsigned(dt)))
        return 1;
    if (types & T_FLOAT && ref_ew_is_float(dt)) return 1;
    if (types & T_UNSIGNED && ref_ew_is_unsigned(dt)) return 1;
    return types & T_BOOL && dt == CALMA_DT_BOOL;
}

/* Integer helpers: signed arithmetic goes through uint64 so overflow wraps
 * instead of being undefined; division by zero gives 0 instead of a trap. */
static inline int64_t sdiv(int64_t a, int64_t b) {
    if (b == 0) return 0;
    if (b == -1) return (int64_t)(0 - (uint64_t)a);
    return a / b;
}
static inline int64_t srem(int64_t a, int64_t b) {
    return b == 0 || b == -1 ? 0 : a % b;
}
static inline int64_t smod(int64_t a, int64_t b) { /* sign of the divisor, as Python */
    int64_t r = srem(a, b);
    return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
}
static inline int64_t spow(int64_t a, int64_t b) {
    if (b < 0) return a == 1 ? 1 : a == -1 ? (b & 1 ? -1 : 1) : 0;
    uint64_t r = 1, x = (uint64_t)a;
    for (; b; b >>= 1, x *= x)
        if (b & 1) r *= x;
    return (int64_t)r;
}
static inline double fmod_py(double a, double b) {
    double r = fmod(a, b);
    return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
}

/* K: F float, S signed, U unsigned, B bool */
#define ADD_F(T, a, b) ((a) + (b))
#define ADD_S(T, a, b) ((T)((uint64_t)(a) + (uint64_t)(b)))
#define ADD_U ADD_S
#define SUB_F(T, a, b) ((a) - (b))
#define SUB_S(T, a, b) ((T)((uint64_t)(a) - (uint64_t)(b)))
#define SUB_U SUB_S
#define MUL_F(T, a, b) ((a) * (b))
#define MUL_S(T, a, b) ((T)((uint64_t)(a) * (uint64_t)(b)))
#define MUL_U MUL_S
#define DIV_F(T, a, b) ((a) / (b))
#define DIV_S(T, a, b) ((T)sdiv((a), (b)))
#define DIV_U(T, a, b) ((T)((b) ? (a) / (b) : 0))
#define POW_F(T, a, b) ((T)pow((double)(a), (double)(b)))
#define POW_S(T, a, b) ((T)spow((a), (b)))
#define POW_U(T, a, b) ((T)spow((int64_t)(a), (int64_t)(b)))
#define MOD_F(T, a, b) ((T)fmod_py((a), (b)))
#define MOD_S(T, a, b) ((T)smod((a), (b)))
#define MOD_U(T, a, b) ((T)((b) ? (a) % (b) : 0))
#define FMOD_F(T, a, b) ((T)fmod((a), (b)))
#define FMOD_S(T, a, b) ((T)srem((a), (b)))
#define FMOD_U MOD_U
#define MAX_F(T, a, b) ((a) != (a) || (a) > (b) ? (a) : (b)) /* NaN wins, as numpy */
#define MAX_S(T, a, b) ((a) > (b) ? (a) : (b))
#define MAX_U MAX_S
#define MIN_F(T, a, b) ((a) != (a) || (a) < (b) ? (a) : (b))
#define MIN_S(T, a, b) ((a) < (b) ? (a) : (b))
#define MIN_U MIN_S
#define PRELU_F(T, a, b) ((a) < 0 ? (a) * (b) : (a))
#define PRELU_S(T, a, b) ((a) < 0 ? MUL_S(T, a, b) : (a))
#define PRELU_U(T, a, b) ((void)(b), (a))
#define EQ_F(T, a, b) ((a) == (b))
#define EQ_S EQ_F
#define EQ_U EQ_F
#define EQ_B(T, a, b) (((a) != 0) == ((b) != 0))
#define LT_F(T, a, b) ((a) < (b))
#define LT_S LT_F
#define LT_U LT_F
#define GT_F(T, a, b) ((a) > (b))
#define GT_S GT_F
#define GT_U GT_F
#define LE_F(T, a, b) ((a) <= (b))
#define LE_S LE_F
#define LE_U LE_F
#define GE_F(T, a, b) ((a) >= (b))
#define GE_S GE_F
#define GE_U GE_F
#define AND_B(T, a, b) ((a) && (b))
#define OR_B(T, a, b) ((a) || (b))
#define XOR_B(T, a, b) (((a) != 0) != ((b) != 0))
#define SHL_U(T, a, b) ((T)((b) >= sizeof(T) * 8 ? 0 : (uint64_t)(a) << (b)))
#define SHR_U(T, a, b) ((T)((b) >= sizeof(T) * 8 ? 0 : (uint64_t)(a) >> (b)))

#define NUM_TYPES(M, OP)                                                                           \
    M(CALMA_DT_FLOAT, float, F, OP)                                                                \
    M(CALMA_DT_DOUBLE, double, F, OP)                                                              \
    M(CALMA_DT_INT8, int8_t, S, OP)                                                                \
    M(CALMA_DT_INT16, int16_t, S, OP)                                                              \
    M(CALMA_DT_INT32, int32_t, S, OP)                                                              \
    M(CALMA_DT_INT64, int64_t, S, OP)                                                              \
    M(CALMA_DT_UINT8, uint8_t, U, OP)                                                              \
    M(CALMA_DT_UINT16, uint16_t, U, OP)                                                            \
    M(CALMA_DT_UINT32, uint32_t, U, OP)                                                            \
    M(CALMA_DT_UINT64, uint64_t, U, OP)
#define UNSIGNED_TYPES(M, OP)                                                                      \
    M(CALMA_DT_UINT8, uint8_t, U, OP)                                                              \
    M(CALMA_DT_UINT16, uint16_t, U, OP)                                                            \
    M(CALMA_DT_UINT32, uint32_t, U, OP)                                                            \
    M(CALMA_DT_UINT64, uint64_t, U, OP)

typedef struct bin_ctx {
    bin_op op;
    calma_dtype dt;
    void *o;
    const void *a, *b;
} bin_ctx;

/* One row: strides are 0 or 1 almost always, and the loop stays typed. */
#define ROW(TI, TO, EXPR)                                                                          \
    do {                                                                                           \
        const TI *pa = (const TI *)x->a + off[0], *pb = (const TI *)x->b + off[1];                 \
        TO *po = (TO *)x->o + o;                                                                   \
        int64_t sa = st[0], sb = st[1];                                                            \
        if (sa == 1 && sb == 1) {                                                                  \
            for (int64_t k = 0; k < len; k++) {                                                    \
                TI A = pa[k], B = pb[k];                                                           \
                po[k] = (TO)(EXPR);                                                                \
            }                                                                                      \
        } else {                                                                                   \
            for (int64_t k = 0; k < len; k++) {                                                    \
                TI A = pa[k * sa], B = pb[k * sb];                                                 \
                po[k] = (TO)(EXPR);                                                                \
            }                                                                                      \
        }                                                                                          \
    } while (0)

#define CASE_SAME(DT, T, K, OP)                                                                    \
    case DT:                                                                                       \
        ROW(T, T, OP##_##K(T, A, B));                                                              \
        break;
#define CASE_BOOL(DT, T, K, OP)                                                                    \
    case DT:                                                                                       \
        ROW(T, uint8_t, OP##_##K(T, A, B));                                                        \
        break;
#define OP_SAME(TYPES, OP)                                                                         \
    switch (x->dt) {                                                                               \
        TYPES(CASE_SAME, OP)                                                                       \
    default:                                                                                       \
        break;                                                                                     \
    }                                                                                              \
    break
#define OP_BOOL(TYPES, OP)                                                                         \
    switch (x->dt) {                                                                               \
        TYPES(CASE_BOOL, OP)                                                                       \
    default:                                                                                       \
        break;                                                                                     \
    }                                                                                              \
    break
#define OP_LOGIC(OP)                                                                               \
    if (x->dt == CALMA_DT_BOOL) ROW(uint8_t, uint8_t, OP##_B(uint8_t, A, B));                      \
    break

static void bin_row(void *ctx, int64_t o, const int64_t *off, int64_t len, const int64_t *st) {
    bin_ctx *x = ctx;
    switch (x->op) {
    case B_ADD:
        OP_SAME(NUM_TYPES, ADD);
    case B_SUB:
        OP_SAME(NUM_TYPES, SUB);
    case B_MUL:
        OP_SAME(NUM_TYPES, MUL);
    case B_DIV:
        OP_SAME(NUM_TYPES, DIV);
    case B_POW:
        OP_SAME(NUM_TYPES, POW);
    case B_MOD:
        OP_SAME(NUM_TYPES, MOD);
    case B_FMOD:
        OP_SAME(NUM_TYPES, FMOD);
    case B_MAX:
        OP_SAME(NUM_TYPES, MAX);
    case B_MIN:
        OP_SAME(NUM_TYPES, MIN);
    case B_PRELU:
        OP_SAME(NUM_TYPES, PRELU);
    case B_EQ:
        if (x->dt == CALMA_DT_BOOL) ROW(uint8_t, uint8_t, EQ_B(uint8_t, A, B));
        OP_BOOL(NUM_TYPES, EQ);
    case B_LT:
        OP_BOOL(NUM_TYPES, LT);
    case B_GT:
        OP_BOOL(NUM_TYPES, GT);
    case B_LE:
        OP_BOOL(NUM_TYPES, LE);
    case B_GE:
        OP_BOOL(NUM_TYPES, GE);
    case B_AND:
        OP_LOGIC(AND);
    case B_OR:
        OP_LOGIC(OR);
    case B_XOR:
        OP_LOGIC(XOR);
    case B_SHL:
        OP_SAME(UNSIGNED_TYPES, SHL);
    case B_SHR:
        OP_SAME(UNSIGNED_TYPES, SHR);
    case B_NONE:
        break;
    }
}

/* out = a op b, where out has the broadcast shape (out may alias a when a
 * already has that shape: each element is read before it is written). */
static void bin_apply(bin_op op, calma_dtype dt, ir_tensor *out, const ir_tensor *a,
                      const ir_tensor *b) {
    ref_ew_bcast p;
    const ir_tensor *ts[2] = {a, b};
    ref_ew_bcast_plan(&p, out->rank, out->dims, 2, ts);
    bin_ctx x = {op, dt, out->data, a->data, b->data};
    ref_ew_bcast_rows(&p, bin_row, &x);
}

static int check_types(ref_call *c, int idx, int n, const ir_tensor *const *ts) {
    for (int k = 0; k < n; k++) {
        if (!type_ok(bin_ops[idx].types, ts[k]->dtype)) return ref_ew_bad_dtype(c, k, ts[k]->dtype);
        if (ts[k]->dtype != ts[0]->dtype)
            return ref_ew_fail(c, CALMA_E_INVALID, "input %d is %s but input 0 is %s", k,
                               ir_dtype_name(ts[k]->dtype), ir_dtype_name(ts[0]->dtype));
    }
    return CALMA_OK;
}

/* Before opset 7 a 1-D PRelu slope of C values applies along dimension 1
 * (channels), not the last one: seen as [C, 1, ...] it broadcasts as numpy. */
static const ir_tensor *prelu_slope(const ref_call *c, const ir_tensor *x, const ir_tensor *s,
                                    ir_tensor *view) {
    if (c->opset >= 7 || s->rank != 1 || x->rank < 3 || s->dims[0] != x->dims[1] || s->dims[0] == 1)
        return s;
    *view = *s;
    view->rank = x->rank - 1;
    for (int d = 1; d < view->rank; d++) view->dims[d] = 1;
    return view;
}

int ref_ew_binary_infer(ref_call *c) {
    int idx = find_op(c->node->op_type);
    const ir_tensor *ts[2];
    ir_tensor view;
    int rc, rank;
    int64_t dims[IR_MAX_RANK];
    if (idx < 0) return ref_ew_fail(c, CALMA_E_INTERNAL, "not a binary op");
    if ((rc = ref_ew_need(c, 0, &ts[0])) || (rc = ref_ew_need(c, 1, &ts[1]))) return rc;
    if (bin_ops[idx].op == B_PRELU) ts[1] = prelu_slope(c, ts[0], ts[1], &view);
    if (bin_ops[idx].op == B_POW) { /* base and exponent may differ from opset 12 */
        for (int k = 0; k < 2; k++)
            if (!type_ok(T_NUM, ts[k]->dtype)) return ref_ew_bad_dtype(c, k, ts[k]->dtype);
    } else if ((rc = check_types(c, idx, 2, ts))) {
        return rc;
    }
    if ((rc = ref_ew_bcast_shape(c, 2, ts, &rank, dims))) return rc;
    if (bin_ops[idx].op == B_PRELU) { /* slope broadcasts to X, never the other way */
        int same = rank == ts[0]->rank;
        for (int d = 0; same && d < rank; d++) same = dims[d] == ts[0]->dims[d];
        if (!same) return ref_ew_fail(c, CALMA_E_INVALID, "slope does not broadcast to X");
    }
    ref_set_type(&c->out[0], bin_ops[idx].to_bool ? CALMA_DT_BOOL : ts[0]->dtype, rank, dims);
    return CALMA_OK;
}

/* Pow with different base and exponent types: compute in double and store
 * in the base's type. */
static int pow_mixed(ref_call *c, const ir_tensor *a, const ir_tensor *b) {
    ir_tensor *y = &c->out[0];
    size_t n = ir_tensor_numel(y);
    double *va = malloc(sizeof(double) * (n ? n : 1)), *vb = malloc(sizeof(double) * (n ? n : 1));
    int rc = CALMA_OK;
    if (!va || !vb) {
        rc = ref_ew_fail(c, CALMA_E_NOMEM, "out of memory for %zu elements", n);
    } else {
        ref_ew_expand_f64(a, y->rank, y->dims, va);
        ref_ew_expand_f64(b, y->rank, y->dims, vb);
        int is_int = !ref_ew_is_float(a->dtype);
        for (size_t i = 0; i < n; i++) {
            va[i] = pow(va[i], vb[i]);
            if (is_int) va[i] = trunc(va[i]);
        }
        rc = ref_ew_from_f64(c, y, va);
    }
    free(va);
    free(vb);
    return rc;
}

int ref_ew_binary_run(ref_call *c) {
    int idx = find_op(c->node->op_type);
    if (idx < 0) return ref_ew_fail(c, CALMA_E_INTERNAL, "not a binary op");
    const ir_tensor *a = c->in[0], *b = c->in[1];
    ir_tensor view;
    bin_op op = bin_ops[idx].op;
    if (op == B_PRELU) b = prelu_slope(c, a, b, &view);
    if (op == B_POW && a->dtype != b->dtype) return pow_mixed(c, a, b);
    if (op == B_MOD && ir_node_int(c->node, "fmod", 0)) op = B_FMOD;
    if (op == B_SHL) {
        const char *dir = ir_node_string(c->node, "direction", "");
        if (!strcmp(dir, "RIGHT")) {
            op = B_SHR;
        } else if (strcmp(dir, "LEFT")) {
            return ref_ew_fail(c, CALMA_E_INVALID, "direction '%s' is neither LEFT nor RIGHT", dir);
        }
    }
    bin_apply(op, a->dtype, &c->out[0], a, b);
    return CALMA_OK;
}

/* ---- Sum, Mean, Max, Min ---- */

int ref_ew_variadic_infer(ref_call *c) {
    int idx = find_op(c->node->op_type);
    if (idx < 0) return ref_ew_fail(c, CALMA_E_INTERNAL, "not a variadic op");
    if (c->n_in < 1 || c->n_in > 64)
        return ref_ew_fail(c, CALMA_E_INVALID, "%d inputs (1 to 64 supported)", c->n_in);
    const ir_tensor *ts[64];
    int rc, rank = 0;
    int64_t dims[IR_MAX_RANK];
    for (int k = 0; k < c->n_in; k++)
        if ((rc = ref_ew_need(c, k, &ts[k]))) return rc;
    if ((rc = check_types(c, idx, c->n_in, ts))) return rc;
    /* broadcast pairwise: the helper takes a few shapes at a time */
    ir_tensor acc = *ts[0];
    for (int k = 1; k < c->n_in; k++) {
        const ir_tensor *pair[2] = {&acc, ts[k]};
        if ((rc = ref_ew_bcast_shape(c, 2, pair, &rank, dims))) return rc;
        ref_set_type(&acc, acc.dtype, rank, dims);
    }
    ref_set_type(&c->out[0], ts[0]->dtype, acc.rank, acc.dims);
    return CALMA_OK;
}

int ref_ew_variadic_run(ref_call *c) {
    int idx = find_op(c->node->op_type);
    if (idx < 0) return ref_ew_fail(c, CALMA_E_INTERNAL, "not a variadic op");
    ir_tensor *y = &c->out[0];
    bin_op op = bin_ops[idx].op;
    calma_dtype dt = c->in[0]->dtype;
    if (c->n_in == 1) {
        ref_ew_bcast p;
        const ir_tensor *ts[2] = {c->in[0], c->in[0]};
        ref_ew_bcast_plan(&p, y->rank, y->dims, 2, ts);
        bin_ctx x = {B_MAX, dt, y->data, c->in[0]->data, c->in[0]->data}; /* max(a, a) = a */
        ref_ew_bcast_rows(&p, bin_row, &x);
    } else {
        bin_apply(op, dt, y, c->in[0], c->in[1]);
        for (int k = 2; k < c->n_in; k++) bin_apply(op, dt, y, y, c->in[k]);
    }
    if (!strcmp(c->node->op_type, "Mean")) {
        size_t n = ir_tensor_numel(y);
        if (dt == CALMA_DT_FLOAT) {
            float *v = y->data;
            for (size_t i = 0; i < n; i++) v[i] /= (float)c->n_in;
        } else {
            double *v = y->data;
            for (size_t i = 0; i < n; i++) v[i] /= c->n_in;
        }
    }
    return CALMA_OK;
}
