/* The PyTorch conversions on the real libtorch (CTest label torch), driven
 * through the backend interface with the conformance runner's wrapper:
 * every zoo model through TORCH_EAGER against the oracle (two runs each,
 * so state kept between runs is checked too), and the messages for what
 * cannot run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <cblas.h>

#include "backends/backends.h"
#include "bench/validate.h"
#include "conform/conform.h"
#include "io/gen.h"
#include "ir/ir.h"
#include "ref/ref.h"
#include "zoo/zoo.h"

#define MAX_T 4

static const calma_conversion *conversion(const char *name) {
    for (const calma_conversion *c = torchbe_conversions; c->name; c++)
        if (!strcmp(c->name, name)) return c;
    fail_msg("no conversion %s", name);
    return NULL;
}

/* This test is built only with libtorch (tests/CMakeLists.txt), so the
 * engine must load. */
static void need_torch(void) {
    calma_error e = {0};
    const calma_conversion *c = conversion("TORCH_EAGER");
    if (c->backend->probe(c, &e) != CALMA_OK) fail_msg("libtorch does not load: %s", e.msg);
}

/* Seeded inputs for g (batch fixed) and the oracle's outputs on them. */
static void prepare(const ir_graph *g, ir_tensor *in, ir_tensor *ref) {
    calma_error e = {0};
    assert_true(g->n_inputs <= MAX_T && g->n_outputs <= MAX_T);
    for (int i = 0; i < g->n_inputs; i++) {
        const ir_value *v = &g->values[g->inputs[i]];
        assert_int_equal(ir_tensor_alloc(&in[i], v->dtype, v->rank, v->dims, &e), CALMA_OK);
        gen_fill(&in[i], 5, i, 0);
    }
    ref_session *rs = NULL;
    int rc = ref_session_create(g, &rs, &e);
    if (!rc) rc = ref_session_run(rs, in, ref, &e);
    ref_session_free(rs);
    if (rc) fail_msg("oracle: %s", e.msg);
}

static void zoo_case(const char *name, int64_t batch) {
    need_torch();
    calma_error e = {0};
    ir_graph *g = NULL;
    assert_int_equal(zoo_build(name, 3, &g, &e), CALMA_OK);
    ir_graph_set_batch(g, batch);
    ir_tensor in[MAX_T] = {{0}}, ref[MAX_T] = {{0}};
    prepare(g, in, ref);
    conform_runner r;
    conform_backend_runner(conversion("TORCH_EAGER"), &r);
    void *st = NULL;
    if (r.open(r.ctx, NULL, g, &st, &e)) fail_msg("%s: open: %s", name, e.msg);
    for (int run = 0; run < 2; run++) {
        ir_tensor got[MAX_T] = {{0}};
        if (r.run(st, in, got, &e)) fail_msg("%s batch %lld: %s", name, (long long)batch, e.msg);
        for (int k = 0; k < g->n_outputs; k++) {
            validate_result v;
            assert_int_equal(
                validate_compare(&ref[k], &got[k], validate_default_tol(ref[k].dtype), &v, &e),
                CALMA_OK);
            printf("  %s b%lld run %d output %d: max_abs %.3g cosine %.9f\n", name,
                   (long long)batch, run, k, v.max_abs, v.cosine);
            if (!v.pass) fail_msg("%s output %d: %s", name, k, v.why);
            ir_tensor_free(&got[k]);
        }
    }
    r.close(st);
    for (int i = 0; i < MAX_T; i++) ir_tensor_free(&in[i]), ir_tensor_free(&ref[i]);
    ir_graph_free(g);
}

static void test_zoo_simple(void **state) {
    (void)state;
    zoo_case("simple", 1);
    zoo_case("simple", 3);
}

static void test_zoo_mlp(void **state) {
    (void)state;
    zoo_case("mlp", 1);
    zoo_case("mlp", 4);
}

static void test_zoo_resnet18(void **state) {
    (void)state;
    zoo_case("resnet18", 1);
}

static void test_zoo_mobilenet_v2(void **state) {
    (void)state;
    zoo_case("mobilenet_v2", 2);
}

static void test_zoo_transformer(void **state) {
    (void)state;
    zoo_case("transformer", 1);
    zoo_case("transformer", 2);
}

/* A kernel libtorch lacks for a dtype is "unsupported", naming the node,
 * in one line without libtorch's C++ frames. */
static void test_missing_kernel_names_node(void **state) {
    (void)state;
    need_torch();
    calma_error e = {0};
    ir_graph *g = ir_graph_new();
    int64_t d[] = {1, 1, 4, 4};
    assert_int_equal(ir_graph_set_opset(g, "", 17), 0);
    assert_int_equal(ir_graph_add_input(g, "x", CALMA_DT_UINT8, 4, d, NULL), 0);
    ir_node *n = ir_graph_add_node(g, "MaxPool", "pool_u8", 1, (const char *[]){"x"}, 1,
                                   (const char *[]){"y"});
    ir_node_set_ints(n, "kernel_shape", (int64_t[]){2, 2}, 2);
    assert_int_equal(ir_graph_add_output(g, "y", CALMA_DT_UNDEFINED, -1, NULL, NULL), 0);
    assert_int_equal(ir_graph_sort(g, &e), CALMA_OK);
    ir_tensor in[1] = {{0}}, out[1] = {{0}};
    assert_int_equal(ir_tensor_alloc(&in[0], CALMA_DT_UINT8, 4, d, &e), CALMA_OK);
    conform_runner r;
    conform_backend_runner(conversion("TORCH_EAGER"), &r);
    void *st = NULL;
    assert_int_equal(r.open(r.ctx, NULL, g, &st, &e), CALMA_OK);
    assert_int_equal(r.run(st, in, out, &e), CALMA_E_UNSUPPORTED);
    printf("  %s\n", e.msg);
    assert_non_null(strstr(e.msg, "pool_u8"));
    assert_non_null(strstr(e.msg, "not implemented for 'Byte'"));
    assert_null(strchr(e.msg, '\n'));
    assert_null(strstr(e.msg, "frame #"));
    r.close(st);
    ir_tensor_free(&in[0]);
    ir_graph_free(g);
}

/* Loads zoo model name (batch 1, one input, one output) into conv with
 * TorchScript file pt on threads, then releases it; returns load's status.
 * after (may be NULL) runs between load and release. */
static int load_zoo(const char *conv, const char *name, const char *pt, int threads,
                    void (*after)(int threads), calma_error *e) {
    ir_graph *g = NULL;
    assert_int_equal(zoo_build(name, 3, &g, e), CALMA_OK);
    ir_graph_set_batch(g, 1);
    const ir_value *x = &g->values[g->inputs[0]], *y = &g->values[g->outputs[0]];
    calma_tensor ti = {.name = x->name, .dtype = x->dtype, .rank = x->rank};
    calma_tensor to = {.name = y->name, .dtype = y->dtype, .rank = y->rank};
    memcpy(ti.dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
    memcpy(to.dims, y->dims, sizeof(int64_t) * (size_t)y->rank);
    calma_model m = {.graph = g,
                     .n_inputs = 1,
                     .inputs = &ti,
                     .n_outputs = 1,
                     .outputs = &to,
                     .torchscript = pt};
    calma_trial_config cfg = {.batch = 1, .threads = threads, .options = ""};
    const calma_conversion *c = conversion(conv);
    void *st = NULL;
    int rc = c->backend->load(c, &m, &cfg, &st, e);
    if (!rc && after) after(threads);
    c->backend->release(st);
    ir_graph_free(g);
    return rc;
}

static int load_script(const char *conv, const char *pt, calma_error *e) {
    return load_zoo(conv, "simple", pt, 1, NULL, e);
}

/* Without a TorchScript file the trial is unavailable and says how to make
 * one; a file that is not TorchScript is a parse error naming it. */
static void test_script_files(void **state) {
    (void)state;
    need_torch();
    calma_error e = {0};
    assert_int_equal(load_script("TORCHSCRIPT", NULL, &e), CALMA_E_UNAVAILABLE);
    assert_non_null(strstr(e.msg, "torch.jit.trace"));
    assert_non_null(strstr(e.msg, "--torchscript"));
    char path[] = "/tmp/calma-torch-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "not a zip archive\n", 18), 18);
    close(fd);
    assert_int_equal(load_script("TORCHSCRIPT_FROZEN", path, &e), CALMA_E_PARSE);
    printf("  %s\n", e.msg);
    assert_non_null(strstr(e.msg, path));
    assert_non_null(strstr(e.msg, "is not a TorchScript file"));
    assert_null(strchr(e.msg, '\n'));
    unlink(path);
    assert_int_equal(load_script("TORCHSCRIPT", path, &e), CALMA_E_IO);
    assert_non_null(strstr(e.msg, "cannot be read"));
}

/* CALMA_TORCH_LIBRARY is an explicit choice: when it does not load, the
 * conversions are unavailable naming it, with no fallback. */
static void test_library_override(void **state) {
    (void)state;
    const calma_conversion *c = conversion("TORCH_EAGER");
    calma_error e = {0};
    setenv("CALMA_TORCH_LIBRARY", "/nonexistent/calma_torch.so", 1);
    assert_int_equal(c->backend->probe(c, &e), CALMA_E_UNAVAILABLE);
    unsetenv("CALMA_TORCH_LIBRARY");
    printf("  %s\n", e.msg);
    assert_non_null(strstr(e.msg, "/nonexistent/calma_torch.so (not found)"));
    assert_non_null(strstr(e.msg, "CALMA_TORCH_LIBRARY"));
}

/* A trial's thread count reaches libtorch's BLAS (OpenBLAS, with threads
 * of its own) as well as ATen, and libgomp waits without spinning unless
 * the user chose a policy. */
static void blas_threads_are(int threads) {
    assert_int_equal(openblas_get_num_threads(), threads);
}

static void test_threads_reach_blas(void **state) {
    (void)state;
    need_torch();
    for (int threads = 1; threads <= 2; threads++) {
        calma_error e = {0};
        openblas_set_num_threads(3 - threads); /* the other value */
        assert_int_equal(load_zoo("TORCH_EAGER", "mlp", NULL, threads, blas_threads_are, &e),
                         CALMA_OK);
    }
    const char *policy = getenv("OMP_WAIT_POLICY");
    assert_non_null(policy);
    printf("  OMP_WAIT_POLICY=%s\n", policy);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zoo_simple),       cmocka_unit_test(test_zoo_mlp),
        cmocka_unit_test(test_zoo_resnet18),     cmocka_unit_test(test_zoo_mobilenet_v2),
        cmocka_unit_test(test_zoo_transformer),  cmocka_unit_test(test_missing_kernel_names_node),
        cmocka_unit_test(test_script_files),     cmocka_unit_test(test_threads_reach_blas),
        cmocka_unit_test(test_library_override),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
