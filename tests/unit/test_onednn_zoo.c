/* resnet18 and mobilenet_v2 through ONEDNN (float32 tolerances),
 * ONEDNN_BF16 (cosine >= 0.99) and ONEDNN_INT8 (cosine >= 0.99 on resnet18;
 * 0.975 on mobilenet_v2, whose depthwise network loses more to per-tensor
 * activation scales: INT8+ORT_CPU reaches 0.981 on it) against the oracle,
 * batch 2 on 2 threads; kept apart from test_onednn_backend.c because the
 * oracle takes a few seconds on each. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_backend_harness.h"

static void cnn(const char *model, double int8_min_cos) {
    const calma_conversion *f = bh_conv("ONEDNN"), *b = bh_conv("ONEDNN_BF16"),
                           *q = bh_conv("ONEDNN_INT8");
    BH_NEED(f);
    ir_graph *g = NULL;
    calma_error e = {0};
    assert_int_equal(zoo_build(model, 7, &g, &e), CALMA_OK);
    ir_graph_set_batch(g, 2);
    bh_run_check(f, g, 2, 2, model, 0);
    if (bh_here(b)) bh_run_check(b, g, 2, 1, model, 0.99);
    /* 2 calibration batches of 2: the oracle's time dominates this test */
    if (bh_here(q)) bh_run_check_opts(q, g, 2, 1, model, int8_min_cos, "calibration=2");
    ir_graph_free(g);
}

static void test_zoo_resnet18(void **st) {
    (void)st;
    cnn("resnet18", 0.99);
}

static void test_zoo_mobilenet_v2(void **st) {
    (void)st;
    cnn("mobilenet_v2", 0.975);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zoo_resnet18),
        cmocka_unit_test(test_zoo_mobilenet_v2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
