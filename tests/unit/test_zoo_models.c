/* Unit tests of the built-in models: registry, parameter counts against
 * torchvision's, dynamic batch, output shapes by shape inference at batch 1
 * and 3, determinism of the seeded weights, and the ops each model uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "onnx/onnx.h"
#include "ref/ref.h"
#include "zoo/zoo.h"

static ir_graph *build(const char *name, uint64_t seed) {
    calma_error e = {0};
    ir_graph *g = NULL;
    int rc = zoo_build(name, seed, &g, &e);
    if (rc) fail_msg("zoo_build(%s): %s", name, e.msg);
    assert_non_null(g);
    return g;
}

static int count_op(const ir_graph *g, const char *op) {
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) n += !strcmp(g->nodes[i].op_type, op);
    return n;
}

static void test_registry(void **state) {
    (void)state;
    static const char *const names[] = {"simple", "mlp", "resnet18", "mobilenet_v2", "transformer"};
    assert_int_equal(zoo_count(), 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(zoo_find(names[i]), i);
        assert_string_equal(zoo_name(i), names[i]);
        assert_true(strlen(zoo_description(i)) > 10);
    }
    assert_int_equal(zoo_find("resnet50"), -1);
    assert_int_equal(zoo_find(NULL), -1);
    assert_null(zoo_name(5));
    assert_null(zoo_description(-1));
    calma_error e = {0};
    ir_graph *g = (ir_graph *)&e; /* must be reset to NULL on failure */
    assert_int_equal(zoo_build("resnet50", 0, &g, &e), CALMA_E_USAGE);
    assert_null(g);
    assert_non_null(strstr(e.msg, "resnet50"));
    assert_non_null(strstr(e.msg, "mobilenet_v2")); /* lists the known names */
}

static void test_param_counts(void **state) {
    (void)state;
    ir_graph *g = build("resnet18", 0);
    assert_int_equal(zoo_trainable_params(g), 11689512);
    /* plus running mean and variance: 2 per BN channel (9,600 in all) */
    assert_int_equal(ir_graph_param_count(g), 11689512 + 9600);
    assert_int_equal(count_op(g, "Conv"), 20);
    assert_int_equal(count_op(g, "BatchNormalization"), 20);
    assert_int_equal(count_op(g, "Add"), 8);
    assert_int_equal(count_op(g, "Gemm"), 1);
    ir_graph_free(g);

    g = build("mobilenet_v2", 0);
    assert_int_equal(zoo_trainable_params(g), 3504872);
    assert_int_equal(count_op(g, "Conv"), 52);
    assert_int_equal(count_op(g, "Add"), 10);
    int depthwise = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        if (strcmp(n->op_type, "Conv")) continue;
        int64_t group = ir_node_int(n, "group", 1);
        if (group > 1) {
            depthwise++;
            /* depthwise: one input channel per group */
            const ir_tensor *w = g->values[n->in[1]].init;
            assert_non_null(w);
            assert_int_equal(w->dims[1], 1);
            assert_int_equal(w->dims[0], group);
        }
    }
    assert_int_equal(depthwise, 17);
    assert_int_equal(count_op(g, "Clip"), 35);
    ir_graph_free(g);

    g = build("mlp", 0);
    assert_int_equal(zoo_trainable_params(g), 784 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10);
    ir_graph_free(g);
}

static void test_structure(void **state) {
    (void)state;
    for (int i = 0; i < zoo_count(); i++) {
        ir_graph *g = build(zoo_name(i), 1);
        assert_int_equal(ir_graph_opset(g, ""), 17);
        assert_int_equal(g->n_inputs, 1);
        assert_int_equal(g->n_outputs, 1);
        const ir_value *in = &g->values[g->inputs[0]];
        const ir_value *out = &g->values[g->outputs[0]];
        assert_string_equal(in->name, "input");
        assert_string_equal(out->name, "output");
        assert_int_equal(in->dtype, CALMA_DT_FLOAT);
        assert_int_equal(in->dims[0], -1);
        assert_string_equal(in->dim_param[0], "N");
        assert_int_equal(out->dims[0], -1);
        assert_string_equal(out->dim_param[0], "N");
        for (int d = 1; d < in->rank; d++) assert_true(in->dims[d] > 0);
        /* sorted: every node's inputs come from earlier nodes or constants */
        for (int k = 0; k < g->n_nodes; k++)
            for (int j = 0; j < g->nodes[k].n_in; j++) {
                int v = g->nodes[k].in[j];
                assert_true(v >= 0);
                assert_true(g->values[v].producer < k);
            }
        ir_graph_free(g);
    }
    ir_graph *t = build("transformer", 0);
    static const char *const ops[] = {"MatMul",  "LayerNormalization", "Softmax", "Erf",
                                      "Reshape", "Transpose"};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) assert_true(count_op(t, ops[k]) > 0);
    assert_int_equal(count_op(t, "Softmax"), 2);
    assert_int_equal(count_op(t, "LayerNormalization"), 4);
    /* Reshape targets keep the batch dynamic: 0 copies it */
    for (int k = 0; k < t->n_nodes; k++) {
        if (strcmp(t->nodes[k].op_type, "Reshape")) continue;
        const ir_tensor *s = t->values[t->nodes[k].in[1]].init;
        assert_non_null(s);
        assert_int_equal(s->dtype, CALMA_DT_INT64);
        assert_int_equal(((const int64_t *)s->data)[0], 0);
    }
    ir_graph_free(t);
}

static void test_deterministic(void **state) {
    (void)state;
    for (int i = 0; i < zoo_count(); i++) {
        ir_graph *a = build(zoo_name(i), 7), *b = build(zoo_name(i), 7), *c = build(zoo_name(i), 8);
        assert_int_equal(a->n_values, b->n_values);
        assert_int_equal(a->n_nodes, c->n_nodes);
        int differs = 0;
        for (int v = 0; v < a->n_values; v++) {
            assert_string_equal(a->values[v].name, b->values[v].name);
            const ir_tensor *ta = a->values[v].init, *tb = b->values[v].init;
            const ir_tensor *tc = c->values[v].init;
            if (!ta) continue;
            assert_non_null(tb);
            assert_int_equal(ta->nbytes, tb->nbytes);
            assert_memory_equal(ta->data, tb->data, ta->nbytes);
            if (ta->nbytes > 64 && memcmp(ta->data, tc->data, ta->nbytes)) differs++;
            if (ta->dtype == CALMA_DT_FLOAT)
                for (size_t k = 0; k < ir_tensor_numel(ta); k++)
                    assert_true(isfinite(((const float *)ta->data)[k]));
        }
        assert_true(differs > 0); /* another seed, other weights */
        ir_graph_free(a);
        ir_graph_free(b);
        ir_graph_free(c);
    }
}

/* Pinned: the first weight of resnet18 at seed 0. Reproducibility across
 * machines and versions depends on it; change it only deliberately. */
static void test_pinned_weight(void **state) {
    (void)state;
    ir_graph *g = build("resnet18", 0);
    int v = ir_graph_find(g, "conv1.weight");
    assert_true(v >= 0);
    const ir_tensor *w = g->values[v].init;
    assert_int_equal(w->rank, 4);
    assert_int_equal(w->dims[0], 64);
    assert_int_equal(w->dims[1], 3);
    assert_int_equal(w->dims[2], 7);
    float first = ((const float *)w->data)[0];
    float bound = sqrtf(6.0f / 147.0f);
    assert_true(fabsf(first) <= bound);
    assert_float_equal(first, 0.145254269f, 0.0f);
    ir_graph_free(g);
}

static void check_shapes(const char *name, int64_t batch, int rank, const int64_t *want) {
    ir_graph *g = build(name, 0);
    ir_graph_set_batch(g, batch);
    const ir_value *in = &g->values[g->inputs[0]];
    ir_tensor it = {.dtype = in->dtype, .rank = in->rank};
    memcpy(it.dims, in->dims, sizeof it.dims);
    assert_int_equal(it.dims[0], batch);
    ir_tensor ot = {0};
    calma_error e = {0};
    int rc = ref_infer_outputs(g, &it, &ot, &e);
    if (rc) fail_msg("ref_infer_outputs(%s): %s", name, e.msg);
    assert_int_equal(ot.dtype, CALMA_DT_FLOAT);
    assert_int_equal(ot.rank, rank);
    assert_int_equal(ot.dims[0], batch);
    for (int d = 1; d < rank; d++) assert_int_equal(ot.dims[d], want[d]);
    assert_null(ot.data);
    ir_graph_free(g);
}

static void test_output_shapes(void **state) {
    (void)state;
    const int64_t cls10[2] = {0, 10}, cls1000[2] = {0, 1000}, seq[3] = {0, 32, 64};
    for (int64_t batch = 1; batch <= 3; batch += 2) {
        check_shapes("simple", batch, 2, cls10);
        check_shapes("mlp", batch, 2, cls10);
        check_shapes("resnet18", batch, 2, cls1000);
        check_shapes("mobilenet_v2", batch, 2, cls1000);
        check_shapes("transformer", batch, 3, seq);
    }
}

/* What counts as trainable on a hand-made graph: float tensors of rank >= 1
 * except BatchNormalization's inputs 3 and 4; not scalars, not int64. */
static void test_trainable_rule(void **state) {
    (void)state;
    ir_graph *g = ir_graph_new();
    calma_error e = {0};
    int64_t four[1] = {4}, two[1] = {2};
    const char *const inits[] = {"scale", "bias", "mean", "var", "shape", "half"};
    for (int i = 0; i < 6; i++) {
        ir_tensor t = {0};
        calma_dtype dt = i == 4 ? CALMA_DT_INT64 : CALMA_DT_FLOAT;
        assert_int_equal(ir_tensor_alloc(&t, dt, i == 5 ? 0 : 1, i == 4 ? two : four, &e), 0);
        assert_int_equal(ir_graph_add_initializer(g, inits[i], &t), 0);
    }
    int64_t dims[4] = {-1, 4, 2, 2};
    assert_int_equal(ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 4, dims, NULL), 0);
    const char *bn_in[5] = {"x", "scale", "bias", "mean", "var"}, *bn_out[1] = {"y"};
    assert_non_null(ir_graph_add_node(g, "BatchNormalization", "bn", 5, bn_in, 1, bn_out));
    assert_int_equal(zoo_trainable_params(g), 8);
    assert_int_equal(ir_graph_param_count(g), 4 * 4 + 2 + 1);
    ir_graph_free(g);
}

/* Written with onnx_save and read back with onnx_load, every model keeps
 * its nodes, attributes count, symbolic batch and initializer bytes. */
static void test_save_load_roundtrip(void **state) {
    (void)state;
    char dir[] = "/tmp/calma_zoo_XXXXXX";
    assert_non_null(mkdtemp(dir));
    for (int i = 0; i < zoo_count(); i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/%s.onnx", dir, zoo_name(i));
        ir_graph *g = build(zoo_name(i), 5), *h = NULL;
        calma_error e = {0};
        if (onnx_save(g, path, &e)) fail_msg("onnx_save(%s): %s", path, e.msg);
        if (onnx_load(path, &h, &e)) fail_msg("onnx_load(%s): %s", path, e.msg);
        assert_int_equal(h->n_nodes, g->n_nodes);
        assert_int_equal(ir_graph_opset(h, ""), 17);
        assert_int_equal(zoo_trainable_params(h), zoo_trainable_params(g));
        assert_int_equal(ir_graph_param_count(h), ir_graph_param_count(g));
        assert_int_equal(h->n_inputs, 1);
        const ir_value *in = &h->values[h->inputs[0]];
        assert_string_equal(in->name, "input");
        assert_int_equal(in->dims[0], -1);
        assert_string_equal(in->dim_param[0], "N");
        for (int k = 0; k < g->n_nodes; k++) {
            assert_string_equal(h->nodes[k].op_type, g->nodes[k].op_type);
            assert_int_equal(h->nodes[k].n_attr, g->nodes[k].n_attr);
        }
        for (int v = 0; v < g->n_values; v++) {
            const ir_tensor *t = g->values[v].init;
            if (!t) continue;
            int w = ir_graph_find(h, g->values[v].name);
            assert_true(w >= 0);
            assert_non_null(h->values[w].init);
            assert_int_equal(h->values[w].init->nbytes, t->nbytes);
            assert_memory_equal(h->values[w].init->data, t->data, t->nbytes);
        }
        ir_graph_free(g);
        ir_graph_free(h);
        assert_int_equal(unlink(path), 0);
    }
    assert_int_equal(rmdir(dir), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_param_counts),
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_pinned_weight),
        cmocka_unit_test(test_output_shapes),
        cmocka_unit_test(test_save_load_roundtrip),
        cmocka_unit_test(test_trainable_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
