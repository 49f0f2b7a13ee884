/* Hostile and broken input to onnx_load / onnx_load_tensor: each case
 * asserts the status and that the message names the file and the problem;
 * a mutation sweep asserts that no corrupted model crashes or leaks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "onnx/onnx.h"
#include "test_onnx_util.h"

typedef struct fixture {
    char *dir;
    tu_arena a;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    f->dir = tu_tmpdir();
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    tu_free(&f->a);
    tu_rmdir(f->dir);
    free(f);
    return 0;
}

/* Loads path and checks the status and that the message starts with the
 * path and contains each of the given words. */
static void expect_load(const char *path, int status, const char *w1, const char *w2) {
    calma_error e = {0};
    ir_graph *g = (ir_graph *)(uintptr_t)1;
    int rc = onnx_load(path, &g, &e);
    if (rc != status)
        fail_msg("%s: expected status %s, got %s: %s", path, calma_status_name(status),
                 calma_status_name(rc), e.msg);
    assert_null(g);
    assert_int_equal(e.status, status);
    assert_memory_equal(e.msg, path, strlen(path));
    if (w1 && !strstr(e.msg, w1)) fail_msg("'%s' not in: %s", w1, e.msg);
    if (w2 && !strstr(e.msg, w2)) fail_msg("'%s' not in: %s", w2, e.msg);
}

static char *write_model(fixture *f, const char *name, Onnx__ModelProto *m) {
    char *p = tu_path(&f->a, f->dir, name);
    assert_int_equal(tu_write_msg(&m->base, p), 0);
    return p;
}

/* ---- not a model at all ---- */

static void test_not_protobuf(void **state) {
    fixture *f = *state;
    char *p = tu_path(&f->a, f->dir, "text.onnx");
    const char *text = "this is a plain text file, not an ONNX model\n";
    assert_int_equal(tu_write_bytes(p, text, strlen(text)), 0);
    calma_error e = {0};
    ir_graph *g = NULL;
    int rc = onnx_load(p, &g, &e);
    /* Some text happens to be valid protobuf; it then lacks a graph. */
    assert_int_equal(rc, CALMA_E_PARSE);
    assert_null(g);
    assert_memory_equal(e.msg, p, strlen(p));
    assert_non_null(strstr(e.msg, "not an ONNX model"));
    /* bytes that are certainly not protobuf: a group start tag */
    uint8_t junk[] = {0x0b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    p = tu_path(&f->a, f->dir, "junk.onnx");
    assert_int_equal(tu_write_bytes(p, junk, sizeof junk), 0);
    expect_load(p, CALMA_E_PARSE, "not an ONNX model", NULL);
}

static void test_truncated(void **state) {
    fixture *f = *state;
    Onnx__ModelProto *m = tu_add_model(&f->a);
    size_t len;
    uint8_t *buf = tu_pack(&m->base, &len);
    char *p = tu_path(&f->a, f->dir, "trunc.onnx");
    /* cut inside the graph */
    assert_int_equal(tu_write_bytes(p, buf, len - 20), 0);
    expect_load(p, CALMA_E_PARSE, "truncated", NULL);
    /* cut right after ir_version and producer: no graph */
    assert_int_equal(tu_write_bytes(p, buf, 8), 0);
    calma_error e = {0};
    ir_graph *g = NULL;
    assert_int_equal(onnx_load(p, &g, &e), CALMA_E_PARSE);
    assert_memory_equal(e.msg, p, strlen(p));
    free(buf);
}

static void test_empty_missing_directory(void **state) {
    fixture *f = *state;
    char *p = tu_path(&f->a, f->dir, "empty.onnx");
    assert_int_equal(tu_write_bytes(p, "", 0), 0);
    expect_load(p, CALMA_E_PARSE, "empty", NULL);
    expect_load(f->dir, CALMA_E_IO, "directory", NULL);
    p = tu_path(&f->a, f->dir, "absent.onnx");
    expect_load(p, CALMA_E_IO, "no such file", NULL);
}

static void test_no_graph(void **state) {
    fixture *f = *state;
    Onnx__ModelProto *m = tu_add_model(&f->a);
    m->graph = NULL;
    expect_load(write_model(f, "nograph.onnx", m), CALMA_E_PARSE, "no graph", NULL);
}

static void test_deep_nesting(void **state) {
    fixture *f = *state;
    /* graph { node { attribute { g { node { ... } } } } }, wrapped from the
     * inside out; protobuf-c would recurse once per level. */
    size_t cap = 1 << 20, len = 0;
    uint8_t *buf = malloc(cap), *tmp = malloc(cap);
    const uint8_t tags[] = {(6 << 3) | 2, (5 << 3) | 2, (1 << 3) | 2}; /* g, attribute, node */
    for (int level = 0; level < 3 * 200; level++) {
        size_t n = 0;
        tmp[n++] = tags[level % 3];
        size_t v = len;
        do {
            tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
            v >>= 7;
        } while (v);
        memcpy(tmp + n, buf, len);
        len += n;
        memcpy(buf, tmp, len);
    }
    /* model.graph = that */
    size_t n = 0;
    tmp[n++] = (7 << 3) | 2;
    size_t v = len;
    do {
        tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    memcpy(tmp + n, buf, len);
    char *p = tu_path(&f->a, f->dir, "deep.onnx");
    assert_int_equal(tu_write_bytes(p, tmp, n + len), 0);
    expect_load(p, CALMA_E_PARSE, "nested more than", NULL);
    free(buf);
    free(tmp);
}

/* ---- external data ---- */

static void test_external_bad(void **state) {
    fixture *f = *state;
    Onnx__ModelProto *m = tu_add_model(&f->a);
    Onnx__TensorProto *w = m->graph->initializer[0];
    w->has_raw_data = 0;
    tu_external(&f->a, w, "weights.bin", NULL, NULL);
    expect_load(write_model(f, "ext_missing.onnx", m), CALMA_E_IO, "weights.bin", "missing");
    w->external_data[0]->value = tu_str(&f->a, "../../etc/passwd");
    expect_load(write_model(f, "ext_escape.onnx", m), CALMA_E_INVALID, "escapes", NULL);
    w->external_data[0]->value = tu_str(&f->a, "/etc/passwd");
    expect_load(write_model(f, "ext_abs.onnx", m), CALMA_E_INVALID, "absolute", NULL);
    char *lnk = tu_path(&f->a, f->dir, "escape.bin");
    assert_int_equal(symlink("/etc/passwd", lnk), 0);
    w->external_data[0]->value = tu_str(&f->a, "escape.bin");
    expect_load(write_model(f, "ext_link.onnx", m), CALMA_E_INVALID, "outside", NULL);
    char *data = tu_path(&f->a, f->dir, "small.bin");
    assert_int_equal(tu_write_bytes(data, "abcd", 4), 0);
    w->external_data[0]->value = tu_str(&f->a, "small.bin");
    expect_load(write_model(f, "ext_short.onnx", m), CALMA_E_INVALID, "past its end", NULL);
}

/* ---- tensors that lie about their data ---- */

static void test_raw_data_mismatch(void **state) {
    fixture *f = *state;
    Onnx__ModelProto *m = tu_add_model(&f->a);
    Onnx__TensorProto *w = m->graph->initializer[0];
    w->raw_data.len = 4; /* shape [2] float needs 8 */
    expect_load(write_model(f, "raw.onnx", m), CALMA_E_INVALID, "initializer 'w'",
                "raw_data holds 4 bytes");
    w->raw_data.len = 8;
    w->has_raw_data = 0;
    float fv[] = {1.0f, 2.0f, 3.0f};
    w->n_float_data = 3;
    w->float_data = fv;
    expect_load(write_model(f, "typed.onnx", m), CALMA_E_INVALID, "float_data holds 3",
                "initializer 'w'");
    w->n_float_data = 0;
    expect_load(write_model(f, "nodata.onnx", m), CALMA_E_INVALID, "no data", NULL);
    int64_t iv[] = {1, 2};
    w->n_int64_data = 2;
    w->int64_data = iv;
    expect_load(write_model(f, "wrongfield.onnx", m), CALMA_E_INVALID, "int64_data", "float32");
}

static void test_bad_dims(void **state) {
    fixture *f = *state;
    Onnx__ModelProto *m = tu_add_model(&f->a);
    Onnx__TensorProto *w = m->graph->initializer[0];
    w->dims[0] = -2;
    expect_load(write_model(f, "neg.onnx", m), CALMA_E_INVALID, "initializer 'w'", "negative");
    int64_t big[] = {INT64_MAX, INT64_MAX, 3};
    w->n_dims = 3;
    w->dims = big;
    expect_load(write_model(f, "ovf.onnx", m), CALMA_E_INVALID, "initializer 'w'", "overflow");
    int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 2};
    w->n_dims = 9;
    w->dims = nine;
    expect_load(write_model(f, "rank9.onnx", m), CALMA_E_UNSUPPORTED, "initializer 'w'", "rank 9");

    /* the same on declared input shapes */
    m = tu_add_model(&f->a);
    m->graph->input[0]->type->tensor_type->shape->dim[1]->dim_value = -5;
    expect_load(write_model(f, "negin.onnx", m), CALMA_E_INVALID, "graph input 'x'", "negative");
    m = tu_add_model(&f->a);
    int64_t hd[] = {(int64_t)1 << 40, (int64_t)1 << 40};
    m->graph->input[0] = tu_vi(&f->a, "x", 1, 2, hd, NULL);
    expect_load(write_model(f, "ovfin.onnx", m), CALMA_E_INVALID, "graph input 'x'", "overflow");
    m = tu_add_model(&f->a);
    m->graph->input[0] = tu_vi(&f->a, "x", 1, 9, nine, NULL);
    expect_load(write_model(f, "rank9in.onnx", m), CALMA_E_UNSUPPORTED, "graph input 'x'",
                "rank 9");
}

static void test_unsupported_types(void **state) {
    fixture *f = *state;
    Onnx__ModelProto *m = tu_add_model(&f->a);
    Onnx__TensorProto *w = m->graph->initializer[0];
    w->data_type = CALMA_DT_STRING;
    w->has_raw_data = 0;
    w->n_string_data = 2;
    w->string_data = tu_new(&f->a, 2 * sizeof(ProtobufCBinaryData));
    expect_load(write_model(f, "str.onnx", m), CALMA_E_UNSUPPORTED, "initializer 'w'", "string");
    w->data_type = 14; /* complex64 */
    w->n_string_data = 0;
    expect_load(write_model(f, "cplx.onnx", m), CALMA_E_UNSUPPORTED, "complex64", NULL);
    m = tu_add_model(&f->a);
    m->graph->n_sparse_initializer = 1;
    m->graph->sparse_initializer = tu_new(&f->a, sizeof(void *));
    Onnx__SparseTensorProto *sp = tu_new(&f->a, sizeof *sp);
    onnx__sparse_tensor_proto__init(sp);
    m->graph->sparse_initializer[0] = sp;
    expect_load(write_model(f, "sparse.onnx", m), CALMA_E_UNSUPPORTED, "sparse", NULL);
}

/* ---- graphs that are wrong ---- */

static void test_cycle(void **state) {
    fixture *f = *state;
    Onnx__ModelProto *m = tu_model(&f->a, 13);
    int64_t d[] = {2};
    tu_add_input(m, tu_vi(&f->a, "x", 1, 1, d, NULL));
    tu_add_output(m, tu_vi(&f->a, "y", 1, 1, d, NULL));
    tu_add_node(
        m, tu_node(&f->a, "Add", "a", 2, (const char *[]){"x", "t2"}, 1, (const char *[]){"t1"}));
    tu_add_node(m,
                tu_node(&f->a, "Relu", "b", 1, (const char *[]){"t1"}, 1, (const char *[]){"t2"}));
    tu_add_node(m,
                tu_node(&f->a, "Relu", "c", 1, (const char *[]){"t1"}, 1, (const char *[]){"y"}));
    expect_load(write_model(f, "cycle.onnx", m), CALMA_E_INVALID, "cycle", "node '");
}

static void test_dangling(void **state) {
    fixture *f = *state;
    Onnx__ModelProto *m = tu_add_model(&f->a);
    m->graph->node[0]->input[1] = tu_str(&f->a, "ghost");
    expect_load(write_model(f, "dangling.onnx", m), CALMA_E_INVALID, "'ghost'", "node 'add0'");
    m = tu_add_model(&f->a);
    m->graph->output[0]->name = tu_str(&f->a, "nowhere");
    expect_load(write_model(f, "noout.onnx", m), CALMA_E_INVALID, "'nowhere'", "produced");
    m = tu_add_model(&f->a);
    m->graph->node[0]->op_type = NULL;
    expect_load(write_model(f, "noop.onnx", m), CALMA_E_INVALID, "add0", "op_type");
    m = tu_add_model(&f->a);
    tu_add_input(m, m->graph->input[0]);
    expect_load(write_model(f, "dupin.onnx", m), CALMA_E_INVALID, "'x'", "twice");
    m = tu_add_model(&f->a);
    tu_add_init(m, m->graph->initializer[0]);
    expect_load(write_model(f, "dupinit.onnx", m), CALMA_E_INVALID, "'w'", "twice");
    m = tu_add_model(&f->a);
    tu_add_node(
        m, tu_node(&f->a, "Relu", "again", 1, (const char *[]){"x"}, 1, (const char *[]){"y"}));
    expect_load(write_model(f, "twice.onnx", m), CALMA_E_INVALID, "'y'", "two nodes");
}

static void test_opsets(void **state) {
    fixture *f = *state;
    Onnx__ModelProto *m = tu_add_model(&f->a);
    m->opset_import[0]->version = ONNX_MAX_OPSET + 1;
    expect_load(write_model(f, "opset22.onnx", m), CALMA_E_UNSUPPORTED, "opset 22",
                "default ONNX domain");
    m->opset_import[0]->version = 0;
    expect_load(write_model(f, "opset0.onnx", m), CALMA_E_UNSUPPORTED, "opset 0", NULL);
    m->opset_import[0]->domain = tu_str(&f->a, "ai.onnx.ml");
    m->opset_import[0]->version = 3;
    expect_load(write_model(f, "mlonly.onnx", m), CALMA_E_UNSUPPORTED, "default ONNX domain",
                "ai.onnx.ml");
    m->n_opset_import = 0;
    expect_load(write_model(f, "noopset.onnx", m), CALMA_E_UNSUPPORTED, "default ONNX domain",
                NULL);
    /* "ai.onnx" is the default domain spelled out */
    m = tu_add_model(&f->a);
    m->opset_import[0]->domain = tu_str(&f->a, "ai.onnx");
    calma_error e = {0};
    ir_graph *g = NULL;
    assert_int_equal(onnx_load(write_model(f, "aionnx.onnx", m), &g, &e), CALMA_OK);
    assert_int_equal(ir_graph_opset(g, ""), 13);
    ir_graph_free(g);
}

static void test_sequence_input(void **state) {
    fixture *f = *state;
    Onnx__ModelProto *m = tu_add_model(&f->a);
    Onnx__TypeProto *tp = m->graph->input[0]->type;
    Onnx__TypeProto__Sequence *sq = tu_new(&f->a, sizeof *sq);
    onnx__type_proto__sequence__init(sq);
    tp->value_case = ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE;
    tp->sequence_type = sq;
    expect_load(write_model(f, "seq.onnx", m), CALMA_E_UNSUPPORTED, "graph input 'x'", "sequence");
}

/* ---- TensorProto files ---- */

static void expect_tensor(const char *path, int status, const char *word) {
    calma_error e = {0};
    ir_tensor t;
    char *name = (char *)1;
    int rc = onnx_load_tensor(path, &t, &name, &e);
    if (rc != status)
        fail_msg("%s: expected %s, got %s: %s", path, calma_status_name(status),
                 calma_status_name(rc), e.msg);
    assert_null(t.data);
    assert_null(name);
    assert_memory_equal(e.msg, path, strlen(path));
    if (word && !strstr(e.msg, word)) fail_msg("'%s' not in: %s", word, e.msg);
}

static void test_tensor_file_bad(void **state) {
    fixture *f = *state;
    char *p = tu_path(&f->a, f->dir, "empty.pb");
    assert_int_equal(tu_write_bytes(p, "", 0), 0);
    expect_tensor(p, CALMA_E_PARSE, "empty");
    expect_tensor(f->dir, CALMA_E_IO, "directory");
    expect_tensor(tu_path(&f->a, f->dir, "none.pb"), CALMA_E_IO, "no such file");
    p = tu_path(&f->a, f->dir, "junk.pb");
    uint8_t junk[] = {0x0b, 0x01, 0x02};
    assert_int_equal(tu_write_bytes(p, junk, sizeof junk), 0);
    expect_tensor(p, CALMA_E_PARSE, "TensorProto");
    Onnx__TensorProto *t = tu_tensor(&f->a, "x", CALMA_DT_FLOAT, 2, (int64_t[]){2, 2});
    tu_raw(&f->a, t, "12345678", 8);
    p = tu_path(&f->a, f->dir, "short.pb");
    assert_int_equal(tu_write_msg(&t->base, p), 0);
    expect_tensor(p, CALMA_E_INVALID, "raw_data holds 8 bytes");
    t->has_data_type = 0;
    assert_int_equal(tu_write_msg(&t->base, p), 0);
    expect_tensor(p, CALMA_E_INVALID, "no data type");
}

/* ---- corrupted bytes never crash ---- */

static void test_mutations(void **state) {
    fixture *f = *state;
    Onnx__ModelProto *m = tu_add_model(&f->a);
    Onnx__NodeProto *n = m->graph->node[0];
    Onnx__AttributeProto *at =
        tu_attr(&f->a, n, "ints", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t iv[] = {1, 2, 3};
    at->n_ints = 3;
    at->ints = iv;
    size_t len;
    uint8_t *good = tu_pack(&m->base, &len);
    uint8_t *buf = malloc(len);
    char *p = tu_path(&f->a, f->dir, "mut.onnx");
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    int ok = 0, refused = 0;
    for (int iter = 0; iter < 1000; iter++) {
        memcpy(buf, good, len);
        int flips = 1 + iter % 3;
        for (int k = 0; k < flips; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            size_t at_byte = (size_t)(seed >> 33) % len;
            buf[at_byte] = (uint8_t)(seed >> 13);
        }
        size_t cut = iter % 7 == 6 ? (size_t)(seed >> 40) % len + 1 : len;
        assert_int_equal(tu_write_bytes(p, buf, cut), 0);
        calma_error e = {0};
        ir_graph *g = NULL;
        int rc = onnx_load(p, &g, &e);
        if (rc == CALMA_OK) {
            assert_non_null(g);
            ok++;
        } else {
            assert_null(g);
            assert_true(rc == CALMA_E_PARSE || rc == CALMA_E_INVALID || rc == CALMA_E_IO ||
                        rc == CALMA_E_UNSUPPORTED || rc == CALMA_E_NOMEM);
            assert_memory_equal(e.msg, p, strlen(p));
            refused++;
        }
        ir_graph_free(g);
    }
    assert_true(refused > 50);
    print_message("mutations: %d loaded, %d refused\n", ok, refused);
    free(buf);
    free(good);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_not_protobuf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_missing_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_graph, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deep_nesting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_external_bad, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_data_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_dims, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsupported_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dangling, setup, teardown),
        cmocka_unit_test_setup_teardown(test_opsets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sequence_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tensor_file_bad, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mutations, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
