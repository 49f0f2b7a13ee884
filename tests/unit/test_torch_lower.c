/* TORCH_EAGER's lowering (src/backends/torch/torch_lower*.c), without
 * libtorch: which nodes become ATen steps, what calma's shape inference
 * folds, the parameters ONNX attributes turn into, the drop lists, and the
 * messages for what cannot be lowered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "backends/torch/torch_internal.h"
#include "ir/ir.h"
#include "ref/ref.h"

typedef struct net {
    ir_graph *g;
    calma_tensor in[4];
} net;

static void net_new(net *n, calma_dtype dt, int rank, const int64_t *dims) {
    memset(n, 0, sizeof *n);
    n->g = ir_graph_new();
    assert_non_null(n->g);
    assert_int_equal(ir_graph_set_opset(n->g, "", 17), 0);
    assert_int_equal(ir_graph_add_input(n->g, "x", dt, rank, dims, NULL), 0);
}

static ir_node *node(net *n, const char *op, const char *name, int n_in, const char *const *in,
                     const char *out) {
    const char *o[] = {out};
    ir_node *nd = ir_graph_add_node(n->g, op, name, n_in, in, 1, o);
    assert_non_null(nd);
    return nd;
}

static void const_i64(net *n, const char *name, int count, const int64_t *v) {
    ir_tensor t = {0};
    calma_error e;
    int64_t dims[] = {count};
    assert_int_equal(ir_tensor_alloc(&t, CALMA_DT_INT64, 1, dims, &e), 0);
    memcpy(t.data, v, sizeof *v * (size_t)count);
    assert_int_equal(ir_graph_add_initializer(n->g, name, &t), 0);
}

static void const_f32(net *n, const char *name, int rank, const int64_t *dims) {
    ir_tensor t = {0};
    calma_error e;
    assert_int_equal(ir_tensor_alloc(&t, CALMA_DT_FLOAT, rank, dims, &e), 0);
    for (size_t i = 0; i < ir_tensor_numel(&t); i++) ((float *)t.data)[i] = 0.01f * (float)i;
    assert_int_equal(ir_graph_add_initializer(n->g, name, &t), 0);
}

/* Declares the output, sorts, lowers. */
static int lower(net *n, const char *out, torchbe_lowered **l, calma_error *e) {
    assert_int_equal(ir_graph_add_output(n->g, out, CALMA_DT_UNDEFINED, -1, NULL, NULL), 0);
    assert_int_equal(ir_graph_sort(n->g, e), CALMA_OK);
    const ir_value *x = &n->g->values[n->g->inputs[0]];
    n->in[0].name = x->name;
    n->in[0].dtype = x->dtype;
    n->in[0].rank = x->rank;
    memcpy(n->in[0].dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
    calma_model m = {.graph = n->g, .n_inputs = 1, .inputs = n->in};
    return torchbe_lower(n->g, &m, l, e);
}

static const torchbe_step *step_of(const torchbe_lowered *l, int kind) {
    for (int i = 0; i < l->prog.n_steps; i++)
        if (l->prog.steps[i].kind == kind) return &l->prog.steps[i];
    return NULL;
}

/* PyTorch's exports compute Reshape targets with Shape, Gather, Unsqueeze
 * and Concat: all folded, leaving one Reshape step with the dims. */
static void test_shape_chain_folds(void **state) {
    (void)state;
    net n;
    int64_t d[] = {2, 3, 4, 5};
    net_new(&n, CALMA_DT_FLOAT, 4, d);
    const_i64(&n, "zero", 1, (int64_t[]){0});
    const_i64(&n, "minus1", 1, (int64_t[]){-1});
    node(&n, "Shape", "shape", 1, (const char *[]){"x"}, "s");
    node(&n, "Gather", "batch", 2, (const char *[]){"s", "zero"}, "b");
    node(&n, "Concat", "target", 2, (const char *[]){"b", "minus1"}, "t");
    ir_node_set_int(&n.g->nodes[2], "axis", 0);
    node(&n, "Reshape", "flat", 2, (const char *[]){"x", "t"}, "y");
    torchbe_lowered *l;
    calma_error e;
    assert_int_equal(lower(&n, "y", &l, &e), CALMA_OK);
    assert_int_equal(l->prog.n_steps, 1);
    const torchbe_step *st = &l->prog.steps[0];
    assert_int_equal(st->kind, TORCHBE_RESHAPE);
    assert_int_equal(st->n_in, 1); /* the shape operand is not passed */
    assert_int_equal(st->n_p, 2);
    assert_int_equal(st->p[0], 2);
    assert_int_equal(st->p[1], 60);
    assert_int_equal(l->prog.n_consts, 0);
    assert_non_null(strstr(st->node, "flat"));
    torchbe_lowered_free(l);
    ir_graph_free(n.g);
}

/* Every op without an ATen mapping is named with its first node, before
 * anything runs; one message for all. */
static void test_unsupported_ops_named(void **state) {
    (void)state;
    net n;
    int64_t d[] = {1, 4, 6, 6};
    net_new(&n, CALMA_DT_FLOAT, 4, d);
    node(&n, "Hardmax", "hm", 1, (const char *[]){"x"}, "a");
    node(&n, "Relu", "r", 1, (const char *[]){"a"}, "b");
    node(&n, "LRN", "norm1", 1, (const char *[]){"b"}, "c");
    ir_node_set_int(&n.g->nodes[2], "size", 3);
    node(&n, "Hardmax", "hm2", 1, (const char *[]){"c"}, "y");
    torchbe_lowered *l = NULL;
    calma_error e;
    assert_int_equal(lower(&n, "y", &l, &e), CALMA_E_UNSUPPORTED);
    assert_null(l);
    assert_non_null(strstr(e.msg, "'Hardmax' (node 'hm')"));
    assert_non_null(strstr(e.msg, "'LRN' (node 'norm1')"));
    assert_null(strstr(e.msg, "hm2")); /* each op once */
    ir_graph_free(n.g);
}

/* An op TORCH_EAGER does not map is fine when it only feeds on constants:
 * calma folds it once at load. */
static void test_constant_subgraph_folds_any_op(void **state) {
    (void)state;
    net n;
    int64_t d[] = {2, 3};
    net_new(&n, CALMA_DT_FLOAT, 2, d);
    const_i64(&n, "shape", 2, (int64_t[]){2, 3});
    ir_node *c = node(&n, "ConstantOfShape", "fill", 1, (const char *[]){"shape"}, "k");
    ir_tensor one = {0};
    calma_error e;
    assert_int_equal(ir_tensor_alloc(&one, CALMA_DT_FLOAT, 1, (int64_t[]){1}, &e), 0);
    ((float *)one.data)[0] = 1.5f;
    assert_int_equal(ir_node_set_tensor(c, "value", &one), 0);
    node(&n, "Add", "add", 2, (const char *[]){"x", "k"}, "y");
    torchbe_lowered *l;
    assert_int_equal(lower(&n, "y", &l, &e), CALMA_OK);
    assert_int_equal(l->prog.n_steps, 1);
    assert_int_equal(l->prog.steps[0].kind, TORCHBE_ADD);
    assert_int_equal(l->prog.n_consts, 1); /* the folded ConstantOfShape */
    assert_int_equal(l->prog.consts[0].rank, 2);
    assert_true(((const float *)l->prog.consts[0].data)[5] == 1.5f);
    torchbe_lowered_free(l);
    ir_graph_free(n.g);
}

/* SAME_UPPER on an even input with stride 2: the extra pad goes at the end. */
static void test_conv_auto_pad(void **state) {
    (void)state;
    net n;
    int64_t d[] = {1, 2, 8, 7}, wd[] = {4, 2, 3, 3};
    net_new(&n, CALMA_DT_FLOAT, 4, d);
    const_f32(&n, "w", 4, wd);
    ir_node *c = node(&n, "Conv", "conv", 2, (const char *[]){"x", "w"}, "y");
    ir_node_set_string(c, "auto_pad", "SAME_UPPER");
    ir_node_set_ints(c, "strides", (int64_t[]){2, 2}, 2);
    torchbe_lowered *l;
    calma_error e;
    assert_int_equal(lower(&n, "y", &l, &e), CALMA_OK);
    const torchbe_step *st = step_of(l, TORCHBE_CONV);
    assert_non_null(st);
    assert_int_equal(st->win.nsp, 2);
    /* H 8: out 4, total pad (4-1)*2+3-8 = 1: 0 before, 1 after; W 7: total 2: 1 and 1 */
    assert_int_equal(st->win.pad_begin[0], 0);
    assert_int_equal(st->win.pad_end[0], 1);
    assert_int_equal(st->win.pad_begin[1], 1);
    assert_int_equal(st->win.pad_end[1], 1);
    assert_int_equal(st->win.groups, 1);
    assert_int_equal(l->prog.n_consts, 1); /* the weight */
    torchbe_lowered_free(l);
    ir_graph_free(n.g);
}

/* A negative step becomes a flip and a positive slice. */
static void test_slice_negative_step(void **state) {
    (void)state;
    net n;
    int64_t d[] = {10, 4};
    net_new(&n, CALMA_DT_FLOAT, 2, d);
    const_i64(&n, "starts", 1, (int64_t[]){-2});
    const_i64(&n, "ends", 1, (int64_t[]){INT64_MIN});
    const_i64(&n, "axes", 1, (int64_t[]){0});
    const_i64(&n, "steps", 1, (int64_t[]){-3});
    node(&n, "Slice", "sl", 5, (const char *[]){"x", "starts", "ends", "axes", "steps"}, "y");
    torchbe_lowered *l;
    calma_error e;
    assert_int_equal(lower(&n, "y", &l, &e), CALMA_OK);
    const torchbe_step *st = step_of(l, TORCHBE_SLICE);
    assert_non_null(st);
    assert_int_equal(st->n_in, 1);
    assert_int_equal(st->n_p, 5);
    /* elements 8, 5, 2 of 10 are elements 1, 4, 7 of the flipped axis */
    assert_int_equal(st->p[0], 0);
    assert_int_equal(st->p[1], 1);
    assert_int_equal(st->p[2], 10);
    assert_int_equal(st->p[3], 3);
    assert_int_equal(st->p[4], 1);
    torchbe_lowered_free(l);
    ir_graph_free(n.g);
}

/* Each intermediate is released after its last reader; inputs and graph
 * outputs never are. */
static void test_drop_lists(void **state) {
    (void)state;
    net n;
    int64_t d[] = {4};
    net_new(&n, CALMA_DT_FLOAT, 1, d);
    node(&n, "Relu", "a", 1, (const char *[]){"x"}, "t1");
    node(&n, "Sigmoid", "b", 1, (const char *[]){"t1"}, "t2");
    node(&n, "Add", "c", 2, (const char *[]){"t2", "x"}, "y");
    torchbe_lowered *l;
    calma_error e;
    assert_int_equal(lower(&n, "y", &l, &e), CALMA_OK);
    assert_int_equal(l->prog.n_steps, 3);
    int t1 = ir_graph_find(n.g, "t1"), t2 = ir_graph_find(n.g, "t2");
    assert_int_equal(l->prog.steps[0].n_drop, 0);
    assert_int_equal(l->prog.steps[1].n_drop, 1);
    assert_int_equal(l->prog.steps[1].drop[0], t1);
    assert_int_equal(l->prog.steps[2].n_drop, 1);
    assert_int_equal(l->prog.steps[2].drop[0], t2);
    torchbe_lowered_free(l);
    ir_graph_free(n.g);
}

/* Clip's constant bounds become scalars; an unused MaxPool Indices is
 * dropped, a used one is unsupported. */
static void test_clip_and_optional_outputs(void **state) {
    (void)state;
    net n;
    int64_t d[] = {1, 1, 4, 4}, one[] = {0};
    net_new(&n, CALMA_DT_FLOAT, 4, d);
    const_f32(&n, "lo", 0, one);
    node(&n, "Clip", "relu6", 2, (const char *[]){"x", "lo"}, "y");
    torchbe_lowered *l;
    calma_error e;
    assert_int_equal(lower(&n, "y", &l, &e), CALMA_OK);
    const torchbe_step *st = step_of(l, TORCHBE_CLIP);
    assert_int_equal(st->i0, 1);
    assert_true(st->f0 == 0.0);
    assert_int_equal(st->in[1], -1);
    torchbe_lowered_free(l);
    ir_graph_free(n.g);

    net_new(&n, CALMA_DT_FLOAT, 4, d);
    const char *o[] = {"y", "idx"};
    ir_node *mp = ir_graph_add_node(n.g, "MaxPool", "pool", 1, (const char *[]){"x"}, 2, o);
    ir_node_set_ints(mp, "kernel_shape", (int64_t[]){2, 2}, 2);
    assert_int_equal(ir_graph_add_output(n.g, "idx", CALMA_DT_UNDEFINED, -1, NULL, NULL), 0);
    assert_int_equal(lower(&n, "y", &l, &e), CALMA_E_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "Indices"));
    assert_non_null(strstr(e.msg, "pool"));
    ir_graph_free(n.g);
}

static void test_dtype_libtorch_lacks(void **state) {
    (void)state;
    net n;
    int64_t d[] = {3};
    net_new(&n, CALMA_DT_UINT16, 1, d);
    node(&n, "Identity", "id", 1, (const char *[]){"x"}, "y");
    torchbe_lowered *l;
    calma_error e;
    assert_int_equal(lower(&n, "y", &l, &e), CALMA_E_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "uint16"));
    assert_non_null(strstr(e.msg, "'x'"));
    ir_graph_free(n.g);
}

/* Lowering runs calma's shape inference first, so every mapped op must be
 * one the oracle runs. */
static void test_every_op_known_to_the_oracle(void **state) {
    (void)state;
    assert_true(torchbe_op_count() > 50);
    for (int i = 0; i < torchbe_op_count(); i++) {
        const char *op = torchbe_op_name(i);
        if (!ref_op_supported(op)) fail_msg("%s is mapped but the oracle does not run it", op);
        assert_ptr_equal(torchbe_find_op(op)->op_type, op);
    }
    assert_null(torchbe_find_op("NoSuchOp"));
    assert_null(torchbe_op_name(torchbe_op_count()));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shape_chain_folds),
        cmocka_unit_test(test_unsupported_ops_named),
        cmocka_unit_test(test_constant_subgraph_folds_any_op),
        cmocka_unit_test(test_conv_auto_pad),
        cmocka_unit_test(test_slice_negative_step),
        cmocka_unit_test(test_drop_lists),
        cmocka_unit_test(test_clip_and_optional_outputs),
        cmocka_unit_test(test_dtype_libtorch_lacks),
        cmocka_unit_test(test_every_op_known_to_the_oracle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
