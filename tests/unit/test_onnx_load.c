/* onnx_load / onnx_save / onnx_load_tensor: round trips, every initializer
 * storage form, external data, attributes of every kind, and real files
 * from Debian's ONNX test data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "onnx/onnx.h"
#include "test_onnx_util.h"

#define TESTDATA "/usr/share/libonnx-testdata/data"

static const ir_node *find_node(const ir_graph *g, const char *name) {
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].name, name)) return &g->nodes[i];
    return NULL;
}

static const ir_tensor *init_of(const ir_graph *g, const char *name) {
    int v = ir_graph_find(g, name);
    return v >= 0 ? g->values[v].init : NULL;
}

static int is_runtime_input(const ir_graph *g, const char *name) {
    int v = ir_graph_find(g, name);
    for (int i = 0; i < g->n_inputs; i++)
        if (g->inputs[i] == v) return 1;
    return 0;
}

static int same_bytes(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        same = ca == cb;
        if (ca == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

/* ---- save, then load: everything the IR holds comes back ---- */

static ir_graph *build_graph(void) {
    calma_error e = {0};
    ir_graph *g = ir_graph_new();
    assert_non_null(g);
    g->name = strdup("roundtrip");
    assert_int_equal(ir_graph_set_opset(g, "", 17), 0);
    assert_int_equal(ir_graph_set_opset(g, "com.example", 2), 0);
    int64_t xd[] = {-1, 3, 4, 4};
    const char *xp[] = {"N", NULL, NULL, NULL};
    assert_int_equal(ir_graph_add_input(g, "x", CALMA_DT_FLOAT, 4, xd, xp), 0);
    ir_tensor w = {0};
    int64_t wd[] = {2, 3, 1, 1};
    assert_int_equal(ir_tensor_alloc(&w, CALMA_DT_FLOAT, 4, wd, &e), CALMA_OK);
    for (size_t i = 0; i < 6; i++) ((float *)w.data)[i] = (float)i * 0.5f - 1.0f;
    assert_int_equal(ir_graph_add_initializer(g, "W", &w), 0);
    ir_tensor b = {0};
    int64_t bd[] = {2};
    assert_int_equal(ir_tensor_alloc(&b, CALMA_DT_INT64, 1, bd, &e), CALMA_OK);
    ((int64_t *)b.data)[0] = -7;
    ((int64_t *)b.data)[1] = (int64_t)1 << 40;
    assert_int_equal(ir_graph_add_initializer(g, "B64", &b), 0);

    /* Conv with an omitted optional input and attributes of every kind. */
    ir_node *n = ir_graph_add_node(g, "Conv", "conv", 3, (const char *[]){"x", "W", ""}, 1,
                                   (const char *[]){"y"});
    assert_non_null(n);
    assert_int_equal(ir_node_set_ints(n, "strides", (int64_t[]){1, 1}, 2), 0);
    assert_int_equal(ir_node_set_int(n, "group", 1), 0);
    assert_int_equal(ir_node_set_float(n, "alpha", 0.25f), 0);
    assert_int_equal(ir_node_set_floats(n, "scales", (float[]){1.5f, -2.0f, 3.0f}, 3), 0);
    assert_int_equal(ir_node_set_string(n, "auto_pad", "SAME_UPPER"), 0);
    ir_attr *a = ir_node_new_attr(n, "names");
    assert_non_null(a);
    a->type = IR_ATTR_STRINGS;
    a->n = 2;
    a->strings = calloc(2, sizeof(char *));
    a->strings[0] = strdup("first");
    a->strings[1] = strdup("");
    a = ir_node_new_attr(n, "tensors");
    assert_non_null(a);
    a->type = IR_ATTR_TENSORS;
    a->n = 2;
    a->tensors = calloc(2, sizeof(ir_tensor));
    assert_int_equal(ir_tensor_alloc(&a->tensors[0], CALMA_DT_INT32, 1, (int64_t[]){3}, &e), 0);
    ((int32_t *)a->tensors[0].data)[2] = -9;
    assert_int_equal(ir_tensor_alloc(&a->tensors[1], CALMA_DT_UINT8, 0, NULL, &e), 0);
    ((uint8_t *)a->tensors[1].data)[0] = 200;
    assert_int_equal(ir_node_set_ints(n, "empty_ints", NULL, 0), 0);

    /* Constant keeps its tensor attribute and stays a node. */
    n = ir_graph_add_node(g, "Constant", "const", 0, NULL, 1, (const char *[]){"c"});
    assert_non_null(n);
    ir_tensor ct = {0};
    assert_int_equal(ir_tensor_alloc(&ct, CALMA_DT_FLOAT16, 1, (int64_t[]){2}, &e), CALMA_OK);
    ((uint16_t *)ct.data)[0] = 0x3c00;
    ((uint16_t *)ct.data)[1] = 0xc000;
    assert_int_equal(ir_node_set_tensor(n, "value", &ct), 0);

    n = ir_graph_add_node(g, "MyOp", "custom", 2, (const char *[]){"y", "c"}, 1,
                          (const char *[]){"z"});
    assert_non_null(n);
    free(n->domain);
    n->domain = strdup("com.example");
    int64_t zd[] = {-1, 2, 4, 4};
    assert_int_equal(ir_graph_add_output(g, "z", CALMA_DT_FLOAT, 4, zd, xp), 0);
    /* An intermediate value with a declared type becomes value_info. */
    int y = ir_graph_find(g, "y");
    assert_int_equal(ir_value_set_type(&g->values[y], CALMA_DT_FLOAT, 4, zd, xp), 0);
    assert_int_equal(ir_graph_sort(g, &e), CALMA_OK);
    return g;
}

static void test_roundtrip(void **state) {
    (void)state;
    calma_error e = {0};
    char *dir = tu_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/rt.onnx", dir);
    ir_graph *g0 = build_graph();
    assert_int_equal(onnx_save(g0, path, &e), CALMA_OK);
    ir_graph *g = NULL;
    int rc = onnx_load(path, &g, &e);
    if (rc) fail_msg("%s", e.msg);
    assert_non_null(g);

    assert_int_equal(g->ir_version, 8);
    assert_string_equal(g->producer_name, "calma");
    assert_string_equal(g->name, "roundtrip");
    assert_int_equal(ir_graph_opset(g, ""), 17);
    assert_int_equal(ir_graph_opset(g, "com.example"), 2);
    assert_int_equal(g->n_inputs, 1);
    const ir_value *x = &g->values[g->inputs[0]];
    assert_string_equal(x->name, "x");
    assert_int_equal(x->dtype, CALMA_DT_FLOAT);
    assert_int_equal(x->rank, 4);
    assert_int_equal(x->dims[0], -1);
    assert_string_equal(x->dim_param[0], "N");
    assert_int_equal(x->dims[3], 4);
    assert_null(x->dim_param[1]);
    assert_int_equal(g->n_outputs, 1);
    const ir_value *z = &g->values[g->outputs[0]];
    assert_string_equal(z->name, "z");
    assert_string_equal(z->dim_param[0], "N");
    assert_int_equal(z->dims[1], 2);
    const ir_value *yv = &g->values[ir_graph_find(g, "y")];
    assert_int_equal(yv->dtype, CALMA_DT_FLOAT);
    assert_int_equal(yv->rank, 4);

    const ir_tensor *w = init_of(g, "W");
    assert_non_null(w);
    assert_int_equal(w->dtype, CALMA_DT_FLOAT);
    assert_int_equal(w->rank, 4);
    assert_int_equal(w->nbytes, 24);
    assert_true(((float *)w->data)[5] == 1.5f);
    const ir_tensor *b = init_of(g, "B64");
    assert_non_null(b);
    assert_int_equal(((int64_t *)b->data)[0], -7);
    assert_int_equal(((int64_t *)b->data)[1], (int64_t)1 << 40);
    assert_int_equal(ir_graph_param_count(g), 8);

    assert_int_equal(g->n_nodes, 3);
    const ir_node *conv = find_node(g, "conv");
    assert_non_null(conv);
    assert_string_equal(conv->domain, "");
    assert_int_equal(conv->n_in, 3);
    assert_int_equal(conv->in[2], -1);
    size_t cnt;
    const int64_t *st = ir_node_ints(conv, "strides", &cnt);
    assert_int_equal(cnt, 2);
    assert_int_equal(st[1], 1);
    assert_int_equal(ir_node_int(conv, "group", 0), 1);
    assert_true(ir_node_float(conv, "alpha", 0) == 0.25f);
    const float *sc = ir_node_floats(conv, "scales", &cnt);
    assert_int_equal(cnt, 3);
    assert_true(sc[1] == -2.0f);
    assert_string_equal(ir_node_string(conv, "auto_pad", ""), "SAME_UPPER");
    const ir_attr *names = ir_node_attr(conv, "names");
    assert_non_null(names);
    assert_int_equal(names->type, IR_ATTR_STRINGS);
    assert_int_equal(names->n, 2);
    assert_string_equal(names->strings[0], "first");
    assert_string_equal(names->strings[1], "");
    const ir_attr *ts = ir_node_attr(conv, "tensors");
    assert_non_null(ts);
    assert_int_equal(ts->type, IR_ATTR_TENSORS);
    assert_int_equal(ts->n, 2);
    assert_int_equal(ts->tensors[0].dtype, CALMA_DT_INT32);
    assert_int_equal(((int32_t *)ts->tensors[0].data)[2], -9);
    assert_int_equal(ts->tensors[1].rank, 0);
    assert_int_equal(((uint8_t *)ts->tensors[1].data)[0], 200);
    const ir_attr *ei = ir_node_attr(conv, "empty_ints");
    assert_non_null(ei);
    assert_int_equal(ei->type, IR_ATTR_INTS);
    assert_int_equal(ei->n, 0);

    const ir_node *cn = find_node(g, "const");
    assert_non_null(cn);
    assert_string_equal(cn->op_type, "Constant");
    const ir_attr *cv = ir_node_attr(cn, "value");
    assert_non_null(cv);
    assert_int_equal(cv->type, IR_ATTR_TENSOR);
    assert_int_equal(cv->t.dtype, CALMA_DT_FLOAT16);
    assert_int_equal(((uint16_t *)cv->t.data)[1], 0xc000);
    const ir_node *cu = find_node(g, "custom");
    assert_non_null(cu);
    assert_string_equal(cu->domain, "com.example");
    /* topological order survives */
    assert_string_equal(g->nodes[2].name, "custom");

    /* Saving what was loaded gives the same bytes again. */
    char path2[4096];
    snprintf(path2, sizeof path2, "%s/rt2.onnx", dir);
    assert_int_equal(onnx_save(g, path2, &e), CALMA_OK);
    assert_true(same_bytes(path, path2));
    ir_graph *g2 = NULL;
    assert_int_equal(onnx_load(path2, &g2, &e), CALMA_OK);
    assert_int_equal(g2->n_nodes, 3);
    assert_int_equal(g2->n_values, g->n_values);
    ir_graph_free(g2);

    ir_graph_free(g);
    ir_graph_free(g0);
    tu_rmdir(dir);
}

/* ---- every storage form of an initializer ---- */

static Onnx__TensorProto *typed(tu_arena *a, Onnx__ModelProto *m, const char *name, int dt, int n) {
    int64_t d[] = {n};
    Onnx__TensorProto *t = tu_tensor(a, name, dt, 1, d);
    tu_add_init(m, t);
    return t;
}

static void test_storage_forms(void **state) {
    (void)state;
    tu_arena a = {0};
    calma_error e = {0};
    char *dir = tu_tmpdir();
    Onnx__ModelProto *m = tu_add_model(&a);
    /* w is also listed as a graph input (older exporters do this). */
    int64_t wd[] = {2};
    tu_add_input(m, tu_vi(&a, "w", 1, 1, wd, (const char *[]){"K"}));

    Onnx__TensorProto *t = typed(&a, m, "f32", CALMA_DT_FLOAT, 3);
    float fv[] = {1.0f, -0.5f, 3.25f};
    t->n_float_data = 3;
    t->float_data = fv;
    int32_t i8v[] = {-1, 127, -128}, u8v[] = {0, 255, 7}, i16v[] = {-300, 300}, u16v[] = {65535, 1},
            bv[] = {1, 0, 1}, f16v[] = {0x3c00, 0xc000}, bf16v[] = {0x3f80}, i32v[] = {-5, 7};
    struct {
        const char *name;
        int dt, n;
        int32_t *v;
    } i32forms[] = {
        {"i8", CALMA_DT_INT8, 3, i8v},         {"u8", CALMA_DT_UINT8, 3, u8v},
        {"i16", CALMA_DT_INT16, 2, i16v},      {"u16", CALMA_DT_UINT16, 2, u16v},
        {"b", CALMA_DT_BOOL, 3, bv},           {"f16", CALMA_DT_FLOAT16, 2, f16v},
        {"bf16", CALMA_DT_BFLOAT16, 1, bf16v}, {"i32", CALMA_DT_INT32, 2, i32v},
    };
    for (size_t k = 0; k < sizeof i32forms / sizeof i32forms[0]; k++) {
        t = typed(&a, m, i32forms[k].name, i32forms[k].dt, i32forms[k].n);
        t->n_int32_data = (size_t)i32forms[k].n;
        t->int32_data = i32forms[k].v;
    }
    int64_t i64v[] = {-1, (int64_t)1 << 40};
    t = typed(&a, m, "i64", CALMA_DT_INT64, 2);
    t->n_int64_data = 2;
    t->int64_data = i64v;
    double dv[] = {0.25, -1e300};
    t = typed(&a, m, "f64", CALMA_DT_DOUBLE, 2);
    t->n_double_data = 2;
    t->double_data = dv;
    uint64_t u32v[] = {4000000000u}, u64v[] = {UINT64_MAX};
    t = typed(&a, m, "u32", CALMA_DT_UINT32, 1);
    t->n_uint64_data = 1;
    t->uint64_data = u32v;
    t = typed(&a, m, "u64", CALMA_DT_UINT64, 1);
    t->n_uint64_data = 1;
    t->uint64_data = u64v;
    double rawd[] = {2.5, -3.0};
    t = typed(&a, m, "rawf64", CALMA_DT_DOUBLE, 2);
    tu_raw(&a, t, rawd, sizeof rawd);
    t = tu_tensor(&a, "scalar", CALMA_DT_FLOAT, 0, NULL);
    float sv = 3.5f;
    t->n_float_data = 1;
    t->float_data = &sv;
    tu_add_init(m, t);
    t = typed(&a, m, "empty", CALMA_DT_FLOAT, 0);

    char *path = tu_path(&a, dir, "forms.onnx");
    assert_int_equal(tu_write_msg(&m->base, path), 0);
    ir_graph *g = NULL;
    int rc = onnx_load(path, &g, &e);
    if (rc) fail_msg("%s", e.msg);

    const ir_tensor *w = init_of(g, "w");
    assert_non_null(w);
    assert_true(((float *)w->data)[1] == -2.0f);
    assert_false(is_runtime_input(g, "w"));
    assert_true(is_runtime_input(g, "x"));
    assert_int_equal(g->n_inputs, 1);
    assert_int_equal(g->values[g->inputs[0]].rank, 2);
    assert_int_equal(g->values[g->inputs[0]].dims[1], 2);
    /* the constant's type is the initializer's, not the input's "K" */
    const ir_value *wv = &g->values[ir_graph_find(g, "w")];
    assert_int_equal(wv->dims[0], 2);
    assert_null(wv->dim_param[0]);

    const ir_tensor *x;
    x = init_of(g, "f32");
    assert_true(((float *)x->data)[2] == 3.25f);
    x = init_of(g, "i8");
    assert_int_equal(x->dtype, CALMA_DT_INT8);
    assert_int_equal(x->nbytes, 3);
    assert_int_equal(((int8_t *)x->data)[0], -1);
    assert_int_equal(((int8_t *)x->data)[2], -128);
    x = init_of(g, "u8");
    assert_int_equal(((uint8_t *)x->data)[1], 255);
    x = init_of(g, "i16");
    assert_int_equal(((int16_t *)x->data)[0], -300);
    x = init_of(g, "u16");
    assert_int_equal(((uint16_t *)x->data)[0], 65535);
    x = init_of(g, "b");
    assert_int_equal(x->dtype, CALMA_DT_BOOL);
    assert_int_equal(((uint8_t *)x->data)[0], 1);
    assert_int_equal(((uint8_t *)x->data)[1], 0);
    x = init_of(g, "f16");
    assert_true(ir_tensor_get_f64(x, 1) == -2.0);
    x = init_of(g, "bf16");
    assert_true(ir_tensor_get_f64(x, 0) == 1.0);
    x = init_of(g, "i32");
    assert_int_equal(((int32_t *)x->data)[0], -5);
    x = init_of(g, "i64");
    assert_int_equal(((int64_t *)x->data)[1], (int64_t)1 << 40);
    x = init_of(g, "f64");
    assert_true(((double *)x->data)[1] == -1e300);
    x = init_of(g, "u32");
    assert_int_equal(x->nbytes, 4);
    assert_int_equal(((uint32_t *)x->data)[0], 4000000000u);
    x = init_of(g, "u64");
    assert_true(((uint64_t *)x->data)[0] == UINT64_MAX);
    x = init_of(g, "rawf64");
    assert_true(((double *)x->data)[0] == 2.5);
    x = init_of(g, "scalar");
    assert_int_equal(x->rank, 0);
    assert_true(((float *)x->data)[0] == 3.5f);
    x = init_of(g, "empty");
    assert_non_null(x);
    assert_int_equal(x->nbytes, 0);
    assert_int_equal(x->dims[0], 0);
    ir_graph_free(g);
    tu_free(&a);
    tu_rmdir(dir);
}

/* ---- external data ---- */

/* Loads the Add model with w stored outside; returns the status. */
static int load_external(const char *dir, const char *loc, const char *off, const char *len,
                         calma_error *e, float *w_out) {
    tu_arena a = {0};
    Onnx__ModelProto *m = tu_add_model(&a);
    Onnx__TensorProto *w = m->graph->initializer[0];
    w->has_raw_data = 0;
    tu_external(&a, w, loc, off, len);
    char *path = tu_path(&a, dir, "ext.onnx");
    assert_int_equal(tu_write_msg(&m->base, path), 0);
    ir_graph *g = NULL;
    int rc = onnx_load(path, &g, e);
    if (!rc) {
        const ir_tensor *t = init_of(g, "w");
        memcpy(w_out, t->data, 2 * sizeof(float));
        ir_graph_free(g);
    } else {
        assert_null(g);
        assert_non_null(strstr(e->msg, path)); /* the message names the model */
        assert_non_null(strstr(e->msg, "initializer 'w'"));
    }
    tu_free(&a);
    return rc;
}

static void test_external_data(void **state) {
    (void)state;
    calma_error e = {0};
    char *dir = tu_tmpdir();
    char *other = tu_tmpdir();
    char p[4096];
    /* 16 bytes of padding, then the two floats */
    uint8_t blob[24] = {0};
    float wv[] = {4.0f, -8.5f};
    memcpy(blob + 16, wv, sizeof wv);
    snprintf(p, sizeof p, "%s/w.bin", dir);
    assert_int_equal(tu_write_bytes(p, blob, sizeof blob), 0);
    snprintf(p, sizeof p, "%s/sub", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/sub/w.bin", dir);
    assert_int_equal(tu_write_bytes(p, wv, sizeof wv), 0);
    snprintf(p, sizeof p, "%s/outside.bin", other);
    assert_int_equal(tu_write_bytes(p, wv, sizeof wv), 0);
    char slink[4096];
    snprintf(slink, sizeof slink, "%s/link.bin", dir);
    assert_int_equal(symlink(p, slink), 0);

    float got[2] = {0};
    assert_int_equal(load_external(dir, "w.bin", "16", "8", &e, got), CALMA_OK);
    assert_true(got[0] == 4.0f && got[1] == -8.5f);
    memset(got, 0, sizeof got);
    assert_int_equal(load_external(dir, "sub/w.bin", NULL, NULL, &e, got), CALMA_OK);
    assert_true(got[1] == -8.5f);
    assert_int_equal(load_external(dir, "./sub/w.bin", "0", NULL, &e, got), CALMA_OK);

    assert_int_equal(load_external(dir, "nope.bin", NULL, NULL, &e, got), CALMA_E_IO);
    assert_non_null(strstr(e.msg, "missing"));
    assert_non_null(strstr(e.msg, "nope.bin"));
    assert_int_equal(load_external(dir, "../w.bin", NULL, NULL, &e, got), CALMA_E_INVALID);
    assert_non_null(strstr(e.msg, "escapes"));
    assert_int_equal(load_external(dir, "sub/../../x.bin", NULL, NULL, &e, got), CALMA_E_INVALID);
    assert_non_null(strstr(e.msg, "escapes"));
    assert_int_equal(load_external(dir, p, NULL, NULL, &e, got), CALMA_E_INVALID);
    assert_non_null(strstr(e.msg, "absolute"));
    assert_int_equal(load_external(dir, "link.bin", NULL, NULL, &e, got), CALMA_E_INVALID);
    assert_non_null(strstr(e.msg, "outside the model's folder"));
    assert_int_equal(load_external(dir, "w.bin", "1000", "8", &e, got), CALMA_E_INVALID);
    assert_non_null(strstr(e.msg, "beyond the end"));
    assert_int_equal(load_external(dir, "w.bin", "20", "8", &e, got), CALMA_E_INVALID);
    assert_non_null(strstr(e.msg, "past its end"));
    assert_int_equal(load_external(dir, "w.bin", "0", "4", &e, got), CALMA_E_INVALID);
    assert_non_null(strstr(e.msg, "length 4"));
    assert_int_equal(load_external(dir, "w.bin", "-4", NULL, &e, got), CALMA_E_INVALID);
    assert_non_null(strstr(e.msg, "offset"));
    assert_int_equal(load_external(dir, "sub", NULL, NULL, &e, got), CALMA_E_IO);
    assert_non_null(strstr(e.msg, "directory"));
    /* A hard link is a second name for a file that may live anywhere on
     * the file system: nothing in the folder says where. */
    char hard[4096];
    snprintf(hard, sizeof hard, "%s/hard.bin", dir);
    assert_int_equal(link(p, hard), 0);
    assert_int_equal(load_external(dir, "hard.bin", NULL, NULL, &e, got), CALMA_E_INVALID);
    assert_non_null(strstr(e.msg, "hard link"));
    /* Offsets at and past the end of int64, and one whose sum with the
     * length wraps. */
    assert_int_equal(load_external(dir, "w.bin", "9223372036854775807", "8", &e, got),
                     CALMA_E_INVALID);
    assert_int_equal(load_external(dir, "w.bin", "9223372036854775808", "8", &e, got),
                     CALMA_E_INVALID);
    assert_int_equal(load_external(dir, "w.bin", "18446744073709551615", "8", &e, got),
                     CALMA_E_INVALID);
    assert_int_equal(load_external(dir, "w.bin", "18446744073709551616", "8", &e, got),
                     CALMA_E_INVALID);
    assert_non_null(strstr(e.msg, "not a number"));
    assert_int_equal(load_external(dir, "w.bin", "16", "18446744073709551615", &e, got),
                     CALMA_E_INVALID);
    tu_rmdir(dir);
    tu_rmdir(other);
}

/* ---- attributes read from protobuf directly ---- */

static void test_attribute_kinds(void **state) {
    (void)state;
    tu_arena a = {0};
    calma_error e = {0};
    char *dir = tu_tmpdir();
    Onnx__ModelProto *m = tu_add_model(&a);
    Onnx__NodeProto *n = m->graph->node[0];
    Onnx__AttributeProto *at = tu_attr(&a, n, "f", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    at->has_f = 1;
    at->f = 0.125f;
    at = tu_attr(&a, n, "i", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    at->has_i = 1;
    at->i = -3;
    at = tu_attr(&a, n, "s", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    at->has_s = 1;
    at->s.data = (uint8_t *)tu_str(&a, "hello");
    at->s.len = 5;
    at = tu_attr(&a, n, "t", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
    at->t = tu_tensor(&a, NULL, CALMA_DT_INT64, 1, (int64_t[]){2});
    int64_t tv[] = {5, 6};
    at->t->n_int64_data = 2;
    at->t->int64_data = tv;
    at = tu_attr(&a, n, "fs", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS);
    float fs[] = {1, 2, 3};
    at->n_floats = 3;
    at->floats = fs;
    at = tu_attr(&a, n, "is", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t is[] = {9, -9};
    at->n_ints = 2;
    at->ints = is;
    at = tu_attr(&a, n, "ss", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS);
    ProtobufCBinaryData ss[] = {{1, (uint8_t *)"a"}, {2, (uint8_t *)"bc"}};
    at->n_strings = 2;
    at->strings = ss;
    at = tu_attr(&a, n, "ts", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS);
    at->tensors = tu_new(&a, sizeof(void *));
    at->tensors[0] = tu_tensor(&a, NULL, CALMA_DT_FLOAT, 0, NULL);
    float one = 1.0f;
    tu_raw(&a, at->tensors[0], &one, sizeof one);
    at->n_tensors = 1;
    at = tu_attr(&a, n, "g", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH);
    at->g = tu_new(&a, sizeof *at->g);
    onnx__graph_proto__init(at->g);
    /* no type field (IR version 1): inferred from what is set */
    at = tu_attr(&a, n, "old_ints", 0);
    int64_t oi[] = {4};
    at->n_ints = 1;
    at->ints = oi;

    char *path = tu_path(&a, dir, "attrs.onnx");
    assert_int_equal(tu_write_msg(&m->base, path), 0);
    ir_graph *g = NULL;
    int rc = onnx_load(path, &g, &e);
    if (rc) fail_msg("%s", e.msg);
    const ir_node *node = &g->nodes[0];
    assert_int_equal(node->n_attr, 10);
    assert_true(ir_node_float(node, "f", 0) == 0.125f);
    assert_int_equal(ir_node_int(node, "i", 0), -3);
    const ir_attr *s = ir_node_attr(node, "s");
    assert_string_equal(s->s, "hello");
    assert_int_equal(s->s_len, 5);
    const ir_attr *t = ir_node_attr(node, "t");
    assert_int_equal(t->type, IR_ATTR_TENSOR);
    assert_int_equal(((int64_t *)t->t.data)[1], 6);
    size_t cnt;
    assert_true(ir_node_floats(node, "fs", &cnt)[2] == 3.0f);
    assert_int_equal(cnt, 3);
    assert_int_equal(ir_node_ints(node, "is", &cnt)[1], -9);
    const ir_attr *sl = ir_node_attr(node, "ss");
    assert_int_equal(sl->n, 2);
    assert_string_equal(sl->strings[1], "bc");
    const ir_attr *tl = ir_node_attr(node, "ts");
    assert_int_equal(tl->n, 1);
    assert_true(*(float *)tl->tensors[0].data == 1.0f);
    assert_int_equal(ir_node_attr(node, "g")->type, IR_ATTR_GRAPH);
    assert_int_equal(ir_node_ints(node, "old_ints", &cnt)[0], 4);

    /* the graph attribute is not held, so the model cannot be written */
    char *out = tu_path(&a, dir, "out.onnx");
    assert_int_equal(onnx_save(g, out, &e), CALMA_E_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "'g'"));
    assert_non_null(strstr(e.msg, out));
    ir_graph_free(g);
    tu_free(&a);
    tu_rmdir(dir);
}

/* ---- TensorProto files ---- */

static void test_tensor_files(void **state) {
    (void)state;
    calma_error e = {0};
    char *dir = tu_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/t.pb", dir);
    ir_tensor t = {0};
    int64_t d[] = {2, 3};
    assert_int_equal(ir_tensor_alloc(&t, CALMA_DT_INT32, 2, d, &e), CALMA_OK);
    ((int32_t *)t.data)[5] = 77;
    assert_int_equal(onnx_save_tensor(&t, "inp", path, &e), CALMA_OK);
    ir_tensor u;
    char *name = NULL;
    assert_int_equal(onnx_load_tensor(path, &u, &name, &e), CALMA_OK);
    assert_string_equal(name, "inp");
    assert_true(ir_tensor_same_shape(&t, &u));
    assert_int_equal(((int32_t *)u.data)[5], 77);
    free(name);
    ir_tensor_free(&u);
    /* nameless, and name not asked for */
    assert_int_equal(onnx_save_tensor(&t, NULL, path, &e), CALMA_OK);
    assert_int_equal(onnx_load_tensor(path, &u, &name, &e), CALMA_OK);
    assert_null(name);
    ir_tensor_free(&u);
    assert_int_equal(onnx_load_tensor(path, &u, NULL, &e), CALMA_OK);
    ir_tensor_free(&u);
    ir_tensor_free(&t);
    tu_rmdir(dir);
}

/* ---- real files from the ONNX test suite ---- */

static void test_real_files(void **state) {
    (void)state;
    calma_error e = {0};
    ir_graph *g = NULL;
    const char *p = TESTDATA "/node/test_conv_with_strides_padding/model.onnx";
    if (access(p, R_OK)) skip();
    int rc = onnx_load(p, &g, &e);
    if (rc) fail_msg("%s", e.msg);
    assert_int_equal(ir_graph_opset(g, ""), 11);
    assert_int_equal(g->n_inputs, 2);
    const ir_value *x = &g->values[g->inputs[0]];
    assert_string_equal(x->name, "x");
    assert_int_equal(x->rank, 4);
    assert_int_equal(x->dims[2], 7);
    assert_int_equal(x->dims[3], 5);
    assert_string_equal(g->values[g->inputs[1]].name, "W");
    assert_int_equal(g->n_outputs, 1);
    const ir_value *y = &g->values[g->outputs[0]];
    assert_string_equal(y->name, "y");
    assert_int_equal(y->dims[2], 4);
    assert_int_equal(y->dims[3], 3);
    assert_int_equal(g->n_nodes, 1);
    assert_string_equal(g->nodes[0].op_type, "Conv");
    size_t cnt;
    const int64_t *strides = ir_node_ints(&g->nodes[0], "strides", &cnt);
    assert_int_equal(cnt, 2);
    assert_int_equal(strides[0], 2);
    ir_graph_free(g);

    ir_tensor t;
    char *name = NULL;
    rc = onnx_load_tensor(
        TESTDATA "/node/test_conv_with_strides_padding/test_data_set_0/input_0.pb", &t, &name, &e);
    if (rc) fail_msg("%s", e.msg);
    assert_string_equal(name, "x");
    assert_int_equal(t.dtype, CALMA_DT_FLOAT);
    assert_int_equal(t.rank, 4);
    assert_int_equal(t.dims[2], 7);
    assert_int_equal(t.nbytes, 35 * sizeof(float));
    assert_true(((float *)t.data)[34] == 34.0f); /* the test feeds 0..34 */
    free(name);
    ir_tensor_free(&t);

    rc = onnx_load(TESTDATA "/pytorch-converted/test_ConvTranspose2d/model.onnx", &g, &e);
    if (rc) fail_msg("%s", e.msg);
    assert_int_equal(g->n_inputs, 1);
    x = &g->values[g->inputs[0]];
    assert_int_equal(x->rank, 4);
    assert_int_equal(x->dims[1], 3);
    assert_int_equal(g->n_nodes, 1);
    assert_string_equal(g->nodes[0].op_type, "ConvTranspose");
    /* the weight and bias were graph inputs too: now constants */
    int64_t params = ir_graph_param_count(g);
    assert_int_equal(params, 112);
    y = &g->values[g->outputs[0]];
    assert_int_equal(y->dims[1], 4);
    ir_graph_free(g);

    /* Constant stays a node with its 5x5 tensor */
    rc = onnx_load(TESTDATA "/node/test_constant/model.onnx", &g, &e);
    if (rc) fail_msg("%s", e.msg);
    assert_int_equal(g->n_nodes, 1);
    assert_string_equal(g->nodes[0].op_type, "Constant");
    const ir_attr *v = ir_node_attr(&g->nodes[0], "value");
    assert_non_null(v);
    assert_int_equal(v->type, IR_ATTR_TENSOR);
    assert_int_equal(v->t.rank, 2);
    assert_int_equal(v->t.nbytes, 25 * sizeof(float));
    ir_graph_free(g);

    /* If: its branches are kept as GRAPH attributes (type only) */
    rc = onnx_load(TESTDATA "/node/test_if/model.onnx", &g, &e);
    if (rc) fail_msg("%s", e.msg);
    assert_string_equal(g->nodes[0].op_type, "If");
    assert_int_equal(ir_node_attr(&g->nodes[0], "then_branch")->type, IR_ATTR_GRAPH);
    assert_int_equal(ir_node_attr(&g->nodes[0], "else_branch")->type, IR_ATTR_GRAPH);
    assert_int_equal(g->values[g->inputs[0]].dtype, CALMA_DT_BOOL);
    assert_int_equal(g->values[g->inputs[0]].rank, 0);
    ir_graph_free(g);
}

/* Every model of the ONNX test suite loads or is refused as unsupported
 * (sequences, strings, other domains), and every input file of a loaded
 * model loads with the dtype and shape the model declares. */
/* Save g and load it back: the same nodes, attributes, values and data. */
static void check_resave(const ir_graph *g, const char *tmp) {
    calma_error e = {0};
    int rc = onnx_save(g, tmp, &e);
    if (rc == CALMA_E_UNSUPPORTED) return; /* control flow: subgraphs are not kept */
    if (rc) fail_msg("%s", e.msg);
    ir_graph *h = NULL;
    if (onnx_load(tmp, &h, &e)) fail_msg("%s", e.msg);
    assert_int_equal(h->n_nodes, g->n_nodes);
    assert_int_equal(h->n_inputs, g->n_inputs);
    assert_int_equal(h->n_outputs, g->n_outputs);
    assert_int_equal(ir_graph_param_count(h), ir_graph_param_count(g));
    for (int i = 0; i < g->n_nodes; i++) {
        assert_string_equal(h->nodes[i].op_type, g->nodes[i].op_type);
        assert_int_equal(h->nodes[i].n_attr, g->nodes[i].n_attr);
        assert_int_equal(h->nodes[i].n_in, g->nodes[i].n_in);
    }
    for (int v = 0; v < g->n_values; v++) {
        const ir_tensor *a = g->values[v].init;
        if (!a) continue;
        const ir_tensor *b = h->values[ir_graph_find(h, g->values[v].name)].init;
        assert_non_null(b);
        assert_true(ir_tensor_same_shape(a, b));
        assert_memory_equal(a->data, b->data, a->nbytes);
    }
    ir_graph_free(h);
}

static int check_case(const char *dir, int *models, int *inputs, const char *tmp) {
    char path[4096];
    int mismatches = 0;
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    if (access(path, R_OK)) return 0;
    calma_error e = {0};
    ir_graph *g = NULL;
    int rc = onnx_load(path, &g, &e);
    if (rc == CALMA_E_UNSUPPORTED) return 0;
    if (rc) fail_msg("%s", e.msg);
    if ((*models)++ % 8 == 0) check_resave(g, tmp);
    for (int k = 0; k < g->n_inputs; k++) {
        snprintf(path, sizeof path, "%s/test_data_set_0/input_%d.pb", dir, k);
        if (access(path, R_OK)) continue;
        ir_tensor t;
        char *name = NULL;
        rc = onnx_load_tensor(path, &t, &name, &e);
        if (rc) fail_msg("%s", e.msg);
        (*inputs)++;
        const ir_value *v = &g->values[g->inputs[k]];
        if (name) assert_string_equal(name, v->name);
        /* ONNX 1.12 stores bfloat16 test inputs as their uint16 bits (NumPy
         * has no bfloat16): the conformance runner reinterprets them. */
        int bf16_bits = v->dtype == CALMA_DT_BFLOAT16 && t.dtype == CALMA_DT_UINT16;
        int same = !v->dtype || t.dtype == v->dtype || bf16_bits;
        if (v->rank >= 0) {
            same &= t.rank == v->rank;
            for (int d = 0; same && d < v->rank; d++)
                same &= v->dims[d] < 0 || t.dims[d] == v->dims[d];
        }
        if (!same) {
            char desc[128];
            print_message("declared shape differs: %s holds %s\n", path,
                          ir_tensor_desc(&t, desc, sizeof desc));
            mismatches++;
        }
        free(name);
        ir_tensor_free(&t);
    }
    ir_graph_free(g);
    return mismatches;
}

static void test_whole_test_suite(void **state) {
    (void)state;
    const char *folders[] = {"node", "pytorch-converted", "pytorch-operator", "simple"};
    int models = 0, inputs = 0, mismatches = 0;
    if (access(TESTDATA "/node", R_OK)) skip();
    char *tdir = tu_tmpdir();
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/resaved.onnx", tdir);
    for (size_t f = 0; f < 4; f++) {
        char base[512];
        snprintf(base, sizeof base, "%s/%s", TESTDATA, folders[f]);
        DIR *d = opendir(base);
        if (!d) continue;
        struct dirent *ent;
        while ((ent = readdir(d))) {
            if (ent->d_name[0] == '.') continue;
            char dir[1024];
            snprintf(dir, sizeof dir, "%s/%s", base, ent->d_name);
            mismatches += check_case(dir, &models, &inputs, tmp);
        }
        closedir(d);
    }
    print_message("test suite: %d models loaded, %d input files checked, %d differ from the "
                  "declared shape\n",
                  models, inputs, mismatches);
    assert_true(models > 1000);
    assert_true(inputs > 1500);
    tu_rmdir(tdir);
    /* the four castlike cases of ONNX 1.12 declare [3,4] for a [1] input */
    assert_true(mismatches <= 4);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),        cmocka_unit_test(test_storage_forms),
        cmocka_unit_test(test_external_data),    cmocka_unit_test(test_attribute_kinds),
        cmocka_unit_test(test_tensor_files),     cmocka_unit_test(test_real_files),
        cmocka_unit_test(test_whole_test_suite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
