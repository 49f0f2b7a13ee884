#include "ref/ref_flops.h"

#include <string.h>

static double numel(const ir_tensor *t) {
    double n = 1;
    if (!t) return 0;
    for (int i = 0; i < t->rank; i++) n *= (double)t->dims[i];
    return n;
}

static int is(const ir_node *n, const char *op) {
    return strcmp(n->op_type, op) == 0;
}

/* Operations per output element of the ops that are not contractions. */
static double per_element(const ir_node *n) {
    static const struct {
        const char *op;
        double cost;
    } table[] = {
        {"Add", 1},
        {"Sub", 1},
        {"Mul", 1},
        {"Div", 1},
        {"Pow", 1},
        {"Sqrt", 1},
        {"Exp", 1},
        {"Log", 1},
        {"Erf", 1},
        {"Tanh", 1},
        {"Sigmoid", 1},
        {"Relu", 1},
        {"LeakyRelu", 1},
        {"Clip", 1},
        {"HardSigmoid", 2},
        {"HardSwish", 3},
        {"Neg", 1},
        {"Abs", 1},
        {"Reciprocal", 1},
        {"Max", 1},
        {"Min", 1},
        {"Sum", 1},
        {"Mean", 1},
        {"PRelu", 1},
        {"Elu", 1},
        {"Selu", 2},
        {"Softplus", 2},
        {"Gelu", 4},
        {"Where", 1},
        {"Softmax", 3},
        {"LogSoftmax", 3},
        {"BatchNormalization", 2},
        {"InstanceNormalization", 5},
        {"LayerNormalization", 5},
        {"Resize", 4},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (is(n, table[i].op)) return table[i].cost;
    return 0;
}

double ref_flops_node(const ir_node *n, const ir_tensor *const *in, int n_in, const ir_tensor *out,
                      int n_out) {
    if (n_out < 1 || !out) return 0;
    const ir_tensor *x = n_in > 0 ? in[0] : NULL, *w = n_in > 1 ? in[1] : NULL;
    const ir_tensor *y = &out[0];
    if ((is(n, "Conv") || is(n, "ConvTranspose")) && x && w && w->rank >= 3) {
        /* W is [M, C/group, k...] for Conv and [C, M/group, k...] for
         * ConvTranspose: each weight meets every output (Conv) or input
         * (ConvTranspose) position of its batch once. */
        double kernel = 1;
        for (int d = 2; d < w->rank; d++) kernel *= (double)w->dims[d];
        double per_pos = (double)w->dims[1] * kernel;
        double positions = is(n, "Conv") ? numel(y) : numel(x);
        double bias = n_in > 2 && in[2] ? numel(y) : 0;
        return 2.0 * positions * per_pos + bias;
    }
    if (is(n, "Gemm") && x && w && x->rank == 2 && w->rank == 2) {
        double k = (double)(ir_node_int(n, "transA", 0) ? x->dims[0] : x->dims[1]);
        double c = n_in > 2 && in[2] ? numel(y) : 0;
        return 2.0 * numel(y) * k + c;
    }
    if (is(n, "MatMul") && x && w && x->rank >= 1) {
        double k = (double)x->dims[x->rank - 1];
        return 2.0 * numel(y) * k;
    }
    if ((is(n, "MaxPool") || is(n, "AveragePool"))) {
        size_t count;
        const int64_t *ks = ir_node_ints(n, "kernel_shape", &count);
        double kernel = 1;
        for (size_t i = 0; i < count; i++) kernel *= (double)ks[i];
        return numel(y) * kernel;
    }
    if (is(n, "GlobalAveragePool") || is(n, "GlobalMaxPool") || !strncmp(n->op_type, "Reduce", 6))
        return numel(x);
    return per_element(n) * numel(y);
}
