/* resnet18 and mobilenet_v2 through ONEDNN (float32 tolerances) and
 * ONEDNN_BF16 (cosine >= 0.99) against the oracle, batch 2 on 2 threads;
 * kept apart from test_onednn_backend.c because the oracle takes a few
 * seconds on each. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_backend_harness.h"

static void cnn(const char *model) {
    const calma_conversion *f = bh_conv("ONEDNN"), *b = bh_conv("ONEDNN_BF16");
    BH_NEED(f);
    ir_graph *g = NULL;
    calma_error e = {0};
    assert_int_equal(zoo_build(model, 7, &g, &e), CALMA_OK);
    ir_graph_set_batch(g, 2);
    bh_run_check(f, g, 2, 2, model, 0);
    if (bh_here(b)) bh_run_check(b, g, 2, 1, model, 0.99);
    ir_graph_free(g);
}

static void test_zoo_resnet18(void **st) {
    (void)st;
    cnn("resnet18");
}

static void test_zoo_mobilenet_v2(void **st) {
    (void)st;
    cnn("mobilenet_v2");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zoo_resnet18),
        cmocka_unit_test(test_zoo_mobilenet_v2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
