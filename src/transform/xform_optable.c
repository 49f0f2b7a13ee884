/* Which ops FP16+ and BF16+ may move to a 16-bit float type, and why the
 * others stay float32.
 *
 * The opset numbers are ONNX's own: the first default-domain opset whose
 * schema for the op admits float16 (resp. bfloat16) in every type constraint
 * that admits float32. They were read from ONNX 1.12's schemas (opsets 1..17);
 * tests/tools/onnx_check checks this table against the installed libonnx.
 * Types are only ever added to a schema, so the numbers hold for later
 * opsets too; a type added after opset 17 (Conv in bfloat16 arrives in opset
 * 22) is simply not used, which keeps the op in float32. 0 = never. */
#include <string.h>

#include "transform/xform_internal.h"

typedef struct optype {
    const char *op;
    int f16, bf16; /* first opset with the type; 0 = none */
    unsigned why;  /* XFORM_KEEP_* reasons that hold whatever the opset */
} optype;

#define ACC XFORM_KEEP_ACCUMULATES
#define OVF XFORM_KEEP_OVERFLOWS
#define FIX XFORM_KEEP_FIXED_FLOAT
#define ATT XFORM_KEEP_ATTR_TYPE

static const optype table[] = {
    /* elementwise */
    {"Abs", 1, 13, 0},
    {"Acos", 7, 0, 0},
    {"Acosh", 9, 0, 0},
    {"Add", 1, 13, 0},
    {"Asin", 7, 0, 0},
    {"Asinh", 9, 0, 0},
    {"Atan", 7, 0, 0},
    {"Atanh", 9, 0, 0},
    {"Ceil", 1, 13, 0},
    {"Clip", 1, 13, 0},
    {"Cos", 7, 0, 0},
    {"Cosh", 9, 0, OVF},
    {"Div", 1, 13, 0},
    {"Elu", 1, 0, 0},
    {"Equal", 11, 13, 0},
    {"Erf", 9, 13, 0},
    {"Exp", 1, 13, OVF},
    {"Floor", 1, 13, 0},
    {"Greater", 1, 13, 0},
    {"GreaterOrEqual", 12, 16, 0},
    {"HardSigmoid", 1, 0, 0},
    {"HardSwish", 14, 0, 0},
    {"IsNaN", 9, 13, 0},
    {"LeakyRelu", 1, 16, 0},
    {"Less", 1, 13, 0},
    {"LessOrEqual", 12, 16, 0},
    {"Log", 1, 13, 0},
    {"Max", 1, 13, 0},
    {"Mean", 1, 13, 0},
    {"Min", 1, 13, 0},
    {"Mod", 10, 13, 0},
    {"Mul", 1, 13, 0},
    {"Neg", 1, 13, 0},
    {"Pow", 1, 15, OVF},
    {"PRelu", 1, 16, 0},
    {"Reciprocal", 1, 13, 0},
    {"Relu", 1, 13, 0},
    {"Round", 11, 0, 0},
    {"Selu", 1, 0, 0},
    {"Shrink", 9, 0, 0},
    {"Sigmoid", 1, 13, 0},
    {"Sign", 9, 13, 0},
    {"Sin", 7, 0, 0},
    {"Sinh", 9, 0, OVF},
    {"Softplus", 1, 0, OVF},
    {"Softsign", 1, 0, 0},
    {"Sqrt", 1, 13, 0},
    {"Sub", 1, 13, 0},
    {"Sum", 1, 13, 0},
    {"Tan", 7, 0, 0},
    {"Tanh", 1, 13, 0},
    {"ThresholdedRelu", 10, 0, 0},
    {"Where", 9, 16, 0},
    /* linear algebra, convolution, pooling */
    {"AveragePool", 1, 0, 0},
    {"BatchNormalization", 1, 14, 0},
    {"Conv", 1, 0, 0},
    {"ConvTranspose", 1, 0, 0},
    {"Gemm", 1, 13, 0},
    {"GlobalAveragePool", 1, 0, 0},
    {"GlobalMaxPool", 1, 0, 0},
    {"LpPool", 1, 0, 0},
    {"MatMul", 1, 13, 0},
    {"MaxPool", 1, 0, 0},
    /* reductions and normalisations: sums over an axis */
    {"InstanceNormalization", 1, 0, ACC},
    {"LayerNormalization", 0, 17, ACC},
    {"LogSoftmax", 1, 13, ACC},
    {"LpNormalization", 1, 0, ACC},
    {"LRN", 1, 13, ACC},
    {"MeanVarianceNormalization", 9, 13, ACC},
    {"ReduceL1", 1, 13, ACC},
    {"ReduceL2", 1, 13, ACC | OVF},
    {"ReduceLogSum", 1, 13, ACC},
    {"ReduceLogSumExp", 1, 13, ACC | OVF},
    {"ReduceMax", 1, 13, 0},
    {"ReduceMean", 1, 13, ACC},
    {"ReduceMin", 1, 13, 0},
    {"ReduceProd", 1, 13, OVF},
    {"ReduceSum", 1, 13, ACC},
    {"ReduceSumSquare", 1, 13, ACC | OVF},
    {"Softmax", 1, 13, ACC},
    {"CumSum", 14, 14, ACC},
    {"NegativeLogLikelihoodLoss", 12, 0, ACC},
    {"SoftmaxCrossEntropyLoss", 12, 13, ACC},
    /* data movement */
    {"Concat", 1, 13, 0},
    {"DepthToSpace", 1, 13, 0},
    {"Dropout", 1, 0, 0},
    {"Expand", 8, 13, 0},
    {"Flatten", 1, 13, 0},
    {"Gather", 1, 13, 0},
    {"GatherElements", 11, 13, 0},
    {"GatherND", 11, 13, 0},
    {"Identity", 1, 13, 0},
    {"Pad", 1, 13, 0},
    {"Reshape", 1, 13, 0},
    {"ScatterElements", 11, 13, 0},
    {"ScatterND", 11, 13, 0},
    {"Shape", 1, 13, 0},
    {"Size", 1, 13, 0},
    {"Slice", 1, 13, 0},
    {"SpaceToDepth", 1, 13, 0},
    {"Split", 1, 13, 0},
    {"Squeeze", 1, 13, 0},
    {"Tile", 1, 13, 0},
    {"Transpose", 1, 13, 0},
    {"Trilu", 14, 14, 0},
    {"Unsqueeze", 1, 13, 0},
    {"ArgMax", 1, 13, 0},
    {"ArgMin", 1, 13, 0},
    {"Hardmax", 1, 13, 0},
    {"NonZero", 9, 13, 0},
    {"TopK", 1, 0, 0},
    /* inputs that must stay float32 whatever the data type */
    {"Resize", 10, 0, FIX},
    {"Upsample", 1, 0, FIX},
    {"RoiAlign", 10, 0, FIX},
    {"GridSample", 16, 0, FIX},
    /* outputs typed by an attribute: rewritten (Cast, Constant*) or kept */
    {"Cast", 1, 13, 0},
    {"Constant", 1, 13, 0},
    {"ConstantOfShape", 9, 0, 0},
    {"CastLike", 15, 15, ATT},
    {"EyeLike", 9, 0, ATT},
    {"RandomNormal", 1, 0, ATT},
    {"RandomNormalLike", 1, 0, ATT},
    {"RandomUniform", 1, 0, ATT},
    {"RandomUniformLike", 1, 0, ATT},
    {"Bernoulli", 15, 0, ATT},
    {"Multinomial", 7, 0, ATT},
};

unsigned xform_float_keep(const char *op, const char *domain, int64_t opset, calma_dtype to) {
    if (domain && domain[0] && strcmp(domain, "ai.onnx")) return XFORM_KEEP_DOMAIN;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const optype *t = &table[i];
        if (strcmp(t->op, op)) continue;
        int since = to == CALMA_DT_BFLOAT16 ? t->bf16 : t->f16;
        unsigned why = t->why;
        /* bfloat16 has float32's exponent: what overflows float16 does not
         * overflow it. */
        if (to == CALMA_DT_BFLOAT16) why &= ~(unsigned)XFORM_KEEP_OVERFLOWS;
        if (!since || opset < since) why |= XFORM_KEEP_NOT_ONNX;
        return why;
    }
    return XFORM_KEEP_UNKNOWN;
}

const char *xform_keep_reason(unsigned why, calma_dtype to, int64_t opset, char *buf, size_t n) {
    const char *tn = to == CALMA_DT_BFLOAT16 ? "bfloat16" : "float16";
    if (why & XFORM_KEEP_NOT_ONNX)
        snprintf(buf, n, "ONNX opset %lld has no %s form of it", (long long)opset, tn);
    else if (why & XFORM_KEEP_FIXED_FLOAT)
        snprintf(buf, n, "some of its inputs must be float32 in ONNX");
    else if (why & XFORM_KEEP_ATTR_TYPE)
        snprintf(buf, n, "an attribute sets its output type");
    else if (why & XFORM_KEEP_OVERFLOWS)
        snprintf(buf, n, "its results overflow %s's largest value, 65504, on ordinary inputs", tn);
    else if (why & XFORM_KEEP_ACCUMULATES)
        snprintf(buf, n, "it sums over a whole axis, which loses precision in %s", tn);
    else if (why & XFORM_KEEP_DOMAIN)
        snprintf(buf, n, "an op of a custom domain, whose types calma does not know");
    else if (why & XFORM_KEEP_UNKNOWN)
        snprintf(buf, n, "not in calma's table of ops with a %s form", tn);
    else
        snprintf(buf, n, "-");
    return buf;
}
