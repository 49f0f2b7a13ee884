/* Unary elementwise ops. Float math is done in double and rounded once to
 * the output type, so float32 results are as exact as float32 can hold. */
#include <math.h>
#include <string.h>

#include "ref/ref_elementwise.h"

typedef enum un_op {
    U_SQRT,
    U_EXP,
    U_LOG,
    U_ERF,
    U_TANH,
    U_SIGMOID,
    U_RELU,
    U_LEAKY,
    U_ELU,
    U_SELU,
    U_CELU,
    U_SOFTPLUS,
    U_SOFTSIGN,
    U_HSIGMOID,
    U_HSWISH,
    U_NEG,
    U_ABS,
    U_RECIP,
    U_FLOOR,
    U_CEIL,
    U_ROUND,
    U_SIGN,
    U_SIN,
    U_COS,
    U_TAN,
    U_ASIN,
    U_ACOS,
    U_ATAN,
    U_SINH,
    U_COSH,
    U_ASINH,
    U_ACOSH,
    U_ATANH,
    U_ISNAN,
    U_ISINF,
    U_NOT,
    U_GELU,
    U_MISH,
    U_THRELU,
    U_SHRINK
} un_op;

/* dtypes beyond float32/float64 */
enum { I_NONE = 0, I_SIGNED = 1, I_ALLINT = 2, I_BOOL_ONLY = 4, I_TO_BOOL = 8 };

static const struct {
    const char *name;
    un_op op;
    int ints;
} un_ops[] = {
    {"Sqrt", U_SQRT, 0},
    {"Exp", U_EXP, 0},
    {"Log", U_LOG, 0},
    {"Erf", U_ERF, 0},
    {"Tanh", U_TANH, 0},
    {"Sigmoid", U_SIGMOID, 0},
    {"Relu", U_RELU, I_SIGNED},
    {"LeakyRelu", U_LEAKY, 0},
    {"Elu", U_ELU, 0},
    {"Selu", U_SELU, 0},
    {"Celu", U_CELU, 0},
    {"Softplus", U_SOFTPLUS, 0},
    {"Softsign", U_SOFTSIGN, 0},
    {"HardSigmoid", U_HSIGMOID, 0},
    {"HardSwish", U_HSWISH, 0},
    {"Neg", U_NEG, I_SIGNED},
    {"Abs", U_ABS, I_ALLINT},
    {"Reciprocal", U_RECIP, 0},
    {"Floor", U_FLOOR, 0},
    {"Ceil", U_CEIL, 0},
    {"Round", U_ROUND, 0},
    {"Sign", U_SIGN, I_ALLINT},
    {"Sin", U_SIN, 0},
    {"Cos", U_COS, 0},
    {"Tan", U_TAN, 0},
    {"Asin", U_ASIN, 0},
    {"Acos", U_ACOS, 0},
    {"Atan", U_ATAN, 0},
    {"Sinh", U_SINH, 0},
    {"Cosh", U_COSH, 0},
    {"Asinh", U_ASINH, 0},
    {"Acosh", U_ACOSH, 0},
    {"Atanh", U_ATANH, 0},
    {"IsNaN", U_ISNAN, I_TO_BOOL},
    {"IsInf", U_ISINF, I_TO_BOOL},
    {"Not", U_NOT, I_BOOL_ONLY},
    {"Gelu", U_GELU, 0},
    {"Mish", U_MISH, 0},
    {"ThresholdedRelu", U_THRELU, 0},
    {"Shrink", U_SHRINK, I_ALLINT},
};

static int find_op(const char *name) {
    for (size_t i = 0; i < sizeof un_ops / sizeof un_ops[0]; i++)
        if (!strcmp(un_ops[i].name, name)) return (int)i;
    return -1;
}

int ref_ew_unary_infer(ref_call *c) {
    int idx = find_op(c->node->op_type);
    const ir_tensor *x;
    int rc = ref_ew_need(c, 0, &x);
    if (idx < 0) return ref_ew_fail(c, CALMA_E_INTERNAL, "not a unary op");
    if (rc) return rc;
    int ints = un_ops[idx].ints, ok;
    calma_dtype dt = x->dtype;
    if (ints & I_BOOL_ONLY)
        ok = dt == CALMA_DT_BOOL;
    else
        ok = ref_ew_is_float(dt) || ((ints & (I_SIGNED | I_ALLINT)) && ref_ew_is_signed(dt)) ||
             ((ints & I_ALLINT) && ref_ew_is_unsigned(dt));
    if (!ok) return ref_ew_bad_dtype(c, 0, dt);
    if (un_ops[idx].op == U_GELU) {
        const char *ap = ir_node_string(c->node, "approximate", "none");
        if (strcmp(ap, "none") && strcmp(ap, "tanh"))
            return ref_ew_fail(c, CALMA_E_UNSUPPORTED, "approximate='%s' (none or tanh)", ap);
    }
    ref_set_type(&c->out[0], ints & I_TO_BOOL ? CALMA_DT_BOOL : dt, x->rank, x->dims);
    return CALMA_OK;
}

/* The attributes an op reads, fetched once per call. */
typedef struct un_par {
    double alpha, beta, gamma;
    int tanh_gelu, pos, neg;
} un_par;

static void read_params(const ir_node *n, un_op op, un_par *p) {
    memset(p, 0, sizeof *p);
    switch (op) {
    case U_LEAKY:
        p->alpha = ir_node_float(n, "alpha", 0.01f);
        break;
    case U_ELU:
    case U_CELU:
    case U_THRELU:
        p->alpha = ir_node_float(n, "alpha", 1.0f);
        break;
    case U_SELU:
        p->alpha = ir_node_float(n, "alpha", 1.67326319217681884765625f);
        p->gamma = ir_node_float(n, "gamma", 1.05070102214813232421875f);
        break;
    case U_HSIGMOID:
        p->alpha = ir_node_float(n, "alpha", 0.2f);
        p->beta = ir_node_float(n, "beta", 0.5f);
        break;
    case U_SHRINK:
        p->alpha = ir_node_float(n, "lambd", 0.5f);
        p->beta = ir_node_float(n, "bias", 0.0f);
        break;
    case U_GELU:
        p->tanh_gelu = !strcmp(ir_node_string(n, "approximate", "none"), "tanh");
        break;
    case U_ISINF:
        p->pos = (int)ir_node_int(n, "detect_positive", 1);
        p->neg = (int)ir_node_int(n, "detect_negative", 1);
        break;
    default:
        break;
    }
}

static inline double sigmoid(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

static inline double softplus(double x) {
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

static inline double clamp01(double v) {
    return v < 0 ? 0 : v > 1 ? 1 : v;
}

static inline double gelu(double x, int tanh_form) {
    if (tanh_form) return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
}

#define UL(TI, TO, EXPR)                                                                           \
    do {                                                                                           \
        const TI *px = x->data;                                                                    \
        TO *py = y->data;                                                                          \
        for (size_t i = 0; i < n; i++) {                                                           \
            double v = (double)px[i];                                                              \
            py[i] = (TO)(EXPR);                                                                    \
        }                                                                                          \
    } while (0)

/* Every op for one float type T. */
#define FLOAT_OPS(T)                                                                               \
    switch (op) {                                                                                  \
    case U_SQRT:                                                                                   \
        UL(T, T, sqrt(v));                                                                         \
        break;                                                                                     \
    case U_EXP:                                                                                    \
        UL(T, T, exp(v));                                                                          \
        break;                                                                                     \
    case U_LOG:                                                                                    \
        UL(T, T, log(v));                                                                          \
        break;                                                                                     \
    case U_ERF:                                                                                    \
        UL(T, T, erf(v));                                                                          \
        break;                                                                                     \
    case U_TANH:                                                                                   \
        UL(T, T, tanh(v));                                                                         \
        break;                                                                                     \
    case U_SIGMOID:                                                                                \
        UL(T, T, sigmoid(v));                                                                      \
        break;                                                                                     \
    case U_RELU:                                                                                   \
        UL(T, T, v > 0 ? v : 0 * v);                                                               \
        break; /* 0*v keeps NaN */                                                                 \
    case U_LEAKY:                                                                                  \
        UL(T, T, v >= 0 ? v : p.alpha * v);                                                        \
        break;                                                                                     \
    case U_ELU:                                                                                    \
        UL(T, T, v >= 0 ? v : p.alpha * expm1(v));                                                 \
        break;                                                                                     \
    case U_SELU:                                                                                   \
        UL(T, T, v > 0 ? p.gamma * v : p.gamma * p.alpha * expm1(v));                              \
        break;                                                                                     \
    case U_CELU:                                                                                   \
        UL(T, T, fmax(0, v) + fmin(0, p.alpha * expm1(v / p.alpha)));                              \
        break;                                                                                     \
    case U_SOFTPLUS:                                                                               \
        UL(T, T, softplus(v));                                                                     \
        break;                                                                                     \
    case U_SOFTSIGN:                                                                               \
        UL(T, T, v / (1 + fabs(v)));                                                               \
        break;                                                                                     \
    case U_HSIGMOID:                                                                               \
        UL(T, T, clamp01(p.alpha *v + p.beta));                                                    \
        break;                                                                                     \
    case U_HSWISH:                                                                                 \
        UL(T, T, v *clamp01(v / 6.0 + 0.5));                                                       \
        break;                                                                                     \
    case U_NEG:                                                                                    \
        UL(T, T, -v);                                                                              \
        break;                                                                                     \
    case U_ABS:                                                                                    \
        UL(T, T, fabs(v));                                                                         \
        break;                                                                                     \
    case U_RECIP:                                                                                  \
        UL(T, T, 1.0 / v);                                                                         \
        break;                                                                                     \
    case U_FLOOR:                                                                                  \
        UL(T, T, floor(v));                                                                        \
        break;                                                                                     \
    case U_CEIL:                                                                                   \
        UL(T, T, ceil(v));                                                                         \
        break;                                                                                     \
    case U_ROUND:                                                                                  \
        UL(T, T, nearbyint(v));                                                                    \
        break; /* default mode: half to even */                                                    \
    case U_SIGN:                                                                                   \
        UL(T, T, v > 0 ? 1.0 : v < 0 ? -1.0 : v);                                                  \
        break;                                                                                     \
    case U_SIN:                                                                                    \
        UL(T, T, sin(v));                                                                          \
        break;                                                                                     \
    case U_COS:                                                                                    \
        UL(T, T, cos(v));                                                                          \
        break;                                                                                     \
    case U_TAN:                                                                                    \
        UL(T, T, tan(v));                                                                          \
        break;                                                                                     \
    case U_ASIN:                                                                                   \
        UL(T, T, asin(v));                                                                         \
        break;                                                                                     \
    case U_ACOS:                                                                                   \
        UL(T, T, acos(v));                                                                         \
        break;                                                                                     \
    case U_ATAN:                                                                                   \
        UL(T, T, atan(v));                                                                         \
        break;                                                                                     \
    case U_SINH:                                                                                   \
        UL(T, T, sinh(v));                                                                         \
        break;                                                                                     \
    case U_COSH:                                                                                   \
        UL(T, T, cosh(v));                                                                         \
        break;                                                                                     \
    case U_ASINH:                                                                                  \
        UL(T, T, asinh(v));                                                                        \
        break;                                                                                     \
    case U_ACOSH:                                                                                  \
        UL(T, T, acosh(v));                                                                        \
        break;                                                                                     \
    case U_ATANH:                                                                                  \
        UL(T, T, atanh(v));                                                                        \
        break;                                                                                     \
    case U_ISNAN:                                                                                  \
        UL(T, uint8_t, isnan(v) != 0);                                                             \
        break;                                                                                     \
    case U_ISINF:                                                                                  \
        UL(T, uint8_t, isinf(v) && (v > 0 ? p.pos : p.neg));                                       \
        break;                                                                                     \
    case U_GELU:                                                                                   \
        UL(T, T, gelu(v, p.tanh_gelu));                                                            \
        break;                                                                                     \
    case U_MISH:                                                                                   \
        UL(T, T, v *tanh(softplus(v)));                                                            \
        break;                                                                                     \
    case U_THRELU:                                                                                 \
        UL(T, T, v > p.alpha ? v : 0);                                                             \
        break;                                                                                     \
    case U_SHRINK:                                                                                 \
        UL(T, T, v<-p.alpha ? v + p.beta : v> p.alpha ? v - p.beta : 0);                           \
        break;                                                                                     \
    case U_NOT:                                                                                    \
        break;                                                                                     \
    }

/* Integer ops: exact in the type itself (negation wraps through uint64). */
#define IL(T, EXPR)                                                                                \
    do {                                                                                           \
        const T *px = x->data;                                                                     \
        T *py = y->data;                                                                           \
        for (size_t i = 0; i < n; i++) {                                                           \
            T v = px[i];                                                                           \
            py[i] = (T)(EXPR);                                                                     \
        }                                                                                          \
    } while (0)
#define INT_OPS(T)                                                                                 \
    switch (op) {                                                                                  \
    case U_NEG:                                                                                    \
        IL(T, 0 - (uint64_t)v);                                                                    \
        break;                                                                                     \
    case U_ABS:                                                                                    \
        IL(T, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);                                              \
        break;                                                                                     \
    case U_SIGN:                                                                                   \
        IL(T, (v > 0) - (v < 0));                                                                  \
        break;                                                                                     \
    case U_RELU:                                                                                   \
        IL(T, v > 0 ? v : 0);                                                                      \
        break;                                                                                     \
    case U_SHRINK:                                                                                 \
        IL(T, v<-p.alpha ? v + p.beta : v> p.alpha ? v - p.beta : 0);                              \
        break;                                                                                     \
    default:                                                                                       \
        break;                                                                                     \
    }
#define UINT_OPS(T)                                                                                \
    switch (op) {                                                                                  \
    case U_ABS:                                                                                    \
        IL(T, v);                                                                                  \
        break;                                                                                     \
    case U_SIGN:                                                                                   \
        IL(T, v > 0);                                                                              \
        break;                                                                                     \
    case U_SHRINK:                                                                                 \
        IL(T, v<-p.alpha ? v + p.beta : v> p.alpha ? v - p.beta : 0);                              \
        break;                                                                                     \
    default:                                                                                       \
        break;                                                                                     \
    }

int ref_ew_unary_run(ref_call *c) {
    int idx = find_op(c->node->op_type);
    if (idx < 0) return ref_ew_fail(c, CALMA_E_INTERNAL, "not a unary op");
    const ir_tensor *x = c->in[0];
    ir_tensor *y = &c->out[0];
    un_op op = un_ops[idx].op;
    un_par p;
    read_params(c->node, op, &p);
    size_t n = ir_tensor_numel(x);
    switch (x->dtype) {
    case CALMA_DT_FLOAT:
        FLOAT_OPS(float);
        break;
    case CALMA_DT_DOUBLE:
        FLOAT_OPS(double);
        break;
    case CALMA_DT_INT8:
        INT_OPS(int8_t);
        break;
    case CALMA_DT_INT16:
        INT_OPS(int16_t);
        break;
    case CALMA_DT_INT32:
        INT_OPS(int32_t);
        break;
    case CALMA_DT_INT64:
        INT_OPS(int64_t);
        break;
    case CALMA_DT_UINT8:
        UINT_OPS(uint8_t);
        break;
    case CALMA_DT_UINT16:
        UINT_OPS(uint16_t);
        break;
    case CALMA_DT_UINT32:
        UINT_OPS(uint32_t);
        break;
    case CALMA_DT_UINT64:
        UINT_OPS(uint64_t);
        break;
    case CALMA_DT_BOOL:
        if (op == U_NOT) {
            const uint8_t *px = x->data;
            uint8_t *py = y->data;
            for (size_t i = 0; i < n; i++) py[i] = !px[i];
        }
        break;
    default:
        return ref_ew_bad_dtype(c, 0, x->dtype);
    }
    return CALMA_OK;
}
