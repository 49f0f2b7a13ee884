#include "zoo/zoo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/mem.h"
#include "zoo/zoo_models.h"

static const struct {
    const char *name;
    const char *description;
    void (*build)(zb *b);
} models[] = {
    {"simple",
     "small CNN (3x Conv-BN-Relu, MaxPool, GlobalAveragePool, Gemm) on 3x224x224, 10 classes",
     zoo_simple},
    {"mlp", "multilayer perceptron 784-512-256-10 (Gemm, Relu)", zoo_mlp},
    {"resnet18", "torchvision ResNet-18 on 3x224x224, 1000 classes, BatchNorm unfolded",
     zoo_resnet18},
    {"mobilenet_v2", "torchvision MobileNetV2 on 3x224x224, depthwise convs, ReLU6 as Clip",
     zoo_mobilenet_v2},
    {"transformer", "2-layer transformer encoder on 32 tokens x 64 (4 heads, Erf GELU, LayerNorm)",
     zoo_transformer},
};

#define N_MODELS ((int)(sizeof models / sizeof models[0]))

int zoo_count(void) {
    return N_MODELS;
}

const char *zoo_name(int i) {
    return i >= 0 && i < N_MODELS ? models[i].name : NULL;
}

const char *zoo_description(int i) {
    return i >= 0 && i < N_MODELS ? models[i].description : NULL;
}

int zoo_find(const char *name) {
    if (!name) return -1;
    for (int i = 0; i < N_MODELS; i++)
        if (!strcmp(models[i].name, name)) return i;
    return -1;
}

static const char *const batch_param[IR_MAX_RANK] = {"N"};

static void add_io(zb *b, int is_output, int rank, const int64_t *dims) {
    if (b->rc) return;
    int64_t d[IR_MAX_RANK];
    for (int i = 0; i < rank; i++) d[i] = i ? dims[i] : -1;
    int rc = is_output ? ir_graph_add_output(b->g, "output", CALMA_DT_FLOAT, rank, d, batch_param)
                       : ir_graph_add_input(b->g, "input", CALMA_DT_FLOAT, rank, d, batch_param);
    if (rc) zb_fail(b, CALMA_E_NOMEM, is_output ? "output" : "input");
}

void zoo_add_input(zb *b, int rank, const int64_t *dims) {
    add_io(b, 0, rank, dims);
    /* gen_fill's floats: uniform on [-1, 1), mean 0, variance 1/3 */
    if (rank == 4) zb_set_moments(b, "input", (int)dims[1], 0.0, 1.0 / 3.0);
}

void zoo_add_output(zb *b, int rank, const int64_t *dims) {
    add_io(b, 1, rank, dims);
}

int zoo_build(const char *name, uint64_t seed, ir_graph **out, calma_error *e) {
    *out = NULL;
    int idx = zoo_find(name);
    if (idx < 0) {
        char list[256] = "";
        for (int i = 0; i < N_MODELS; i++) {
            size_t len = strlen(list);
            snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", models[i].name);
        }
        return err_set(e, CALMA_E_USAGE, "unknown built-in model '%s' (known: %s)",
                       name ? name : "(null)", list);
    }
    ir_graph *g = ir_graph_new();
    if (!g) return err_set(e, CALMA_E_NOMEM, "zoo: out of memory building '%s'", name);
    /* Mixing the seed once keeps seeds 0, 1, 2, ... far apart in the
     * generator's sequence. */
    zb b = {.g = g, .rng = seed ^ 0x6a09e667f3bcc909ull, .e = e};
    zb_next(&b);
    g->name = mem_strdup(models[idx].name);
    g->producer_name = mem_strdup("calma");
    g->producer_version = mem_strdup(CALMA_VERSION);
    g->ir_version = 8;
    if (!g->name || !g->producer_name || !g->producer_version || ir_graph_set_opset(g, "", 17))
        zb_fail(&b, CALMA_E_NOMEM, models[idx].name);
    models[idx].build(&b);
    zb_free(&b);
    if (!b.rc && ir_graph_sort(g, e)) b.rc = err_prefix(e, "zoo: model '%s'", name);
    if (b.rc) {
        ir_graph_free(g);
        return b.rc;
    }
    *out = g;
    return CALMA_OK;
}

static int is_float(calma_dtype dt) {
    return dt == CALMA_DT_FLOAT || dt == CALMA_DT_DOUBLE || dt == CALMA_DT_FLOAT16 ||
           dt == CALMA_DT_BFLOAT16;
}

int64_t zoo_trainable_params(const ir_graph *g) {
    /* A flag per value, so a large loaded model costs one pass, not a
     * search of every node per initializer. */
    unsigned char *stat = calloc((size_t)g->n_values + 1, 1);
    if (!stat) return -1;
    for (int k = 0; k < g->n_nodes; k++) {
        const ir_node *n = &g->nodes[k];
        if (strcmp(n->op_type, "BatchNormalization") || n->domain[0]) continue;
        for (int j = 3; j < n->n_in && j < 5; j++)
            if (n->in[j] >= 0 && n->in[j] < g->n_values) stat[n->in[j]] = 1;
    }
    int64_t total = 0;
    for (int v = 0; v < g->n_values; v++) {
        const ir_tensor *t = g->values[v].init;
        if (t && t->rank >= 1 && is_float(t->dtype) && !stat[v])
            total += (int64_t)ir_tensor_numel(t);
    }
    free(stat);
    return total;
}
