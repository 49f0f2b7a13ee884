/* Machine facts and the measured peak are plausible. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "machine/machine.h"

static void test_info(void **state) {
    (void)state;
    machine_info m;
    machine_read(&m);
    assert_true(m.cores >= 1);
    assert_true(m.mem_total > 1e8);
    assert_true(strlen(m.kernel) > 0);
    assert_true(strlen(m.vector) > 0);
}

static void test_peak(void **state) {
    (void)state;
    double one = machine_peak_gflops(1, 0.05);
    assert_true(one > 0.1);     /* any CPU of this century */
    assert_true(one < 10000.0); /* and no core does 10 TFLOP/s */
}

static void test_rss(void **state) {
    (void)state;
    long peak;
    long rss = machine_rss(0, &peak);
    assert_true(rss > 0);
    assert_true(peak >= rss);
    volatile char *p = malloc(64 << 20); /* volatile: the stores must happen */
    assert_non_null(p);
    for (size_t i = 0; i < (64u << 20); i += 4096) p[i] = 1;
    long rss2 = machine_rss(0, &peak);
    assert_true(rss2 > rss + (32 << 20));
    free((void *)p);
    assert_int_equal(machine_rss(999999999, NULL), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_info), cmocka_unit_test(test_peak),
                                       cmocka_unit_test(test_rss)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
