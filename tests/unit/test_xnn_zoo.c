/* resnet18 and mobilenet_v2 through the XNNPACK conversion (2 threads)
 * against the oracle; kept apart from test_xnn_backend.c because the
 * oracle takes a few seconds on each. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_xnn_harness.h"

static void test_zoo_resnet18(void **st) {
    (void)st;
    zoo_case("resnet18", 1, 2);
}

static void test_zoo_mobilenet_v2(void **st) {
    (void)st;
    zoo_case("mobilenet_v2", 1, 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zoo_resnet18),
        cmocka_unit_test(test_zoo_mobilenet_v2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
