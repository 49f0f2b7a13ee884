/* The oracle never crashes on bad input: every model of the ONNX suite is
 * run with its declared input shapes relaxed and each input in turn made
 * wrong (a dimension larger, an empty tensor, an extra or a missing
 * dimension, a scalar, dimensions swapped with values shifted). Any status
 * is fine; a crash, or an ASan/UBSan report, is not. About 0.3 s here,
 * 2 s under the sanitizers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "conform/conform.h"
#include "onnx/onnx.h"
#include "ref/ref.h"

#ifdef CALMA_SANITIZE
/* A mutated shape may ask for an absurd allocation: calma must then fail
 * with CALMA_E_NOMEM, which needs malloc to return NULL under ASan too. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) {
    return "allocator_may_return_null=1";
}
#endif
#define MAX_IO 16
#define N_MUTATIONS 6

/* A copy of orig with its shape changed by mutation how (0..5), values
 * repeated from orig; t->data is NULL when the mutation does not apply. */
static void mutate(ir_tensor *t, int how, const ir_tensor *orig) {
    int64_t d[IR_MAX_RANK];
    int r = orig->rank;
    memcpy(d, orig->dims, sizeof d);
    memset(t, 0, sizeof *t);
    switch (how) {
    case 0:
        if (!r) return;
        d[r - 1] += 1;
        break;
    case 1:
        if (!r) return;
        d[0] = 0;
        break;
    case 2:
        if (r >= IR_MAX_RANK) return;
        d[r++] = 2;
        break;
    case 3:
        if (!r) return;
        r--;
        break;
    case 4:
        r = 0;
        break;
    default:
        if (r < 2) return;
        d[0] = orig->dims[r - 1];
        d[r - 1] = orig->dims[0] + 1;
    }
    if (ir_tensor_alloc(t, orig->dtype, r, d, NULL)) return;
    size_t n = ir_tensor_numel(t), on = ir_tensor_numel(orig);
    for (size_t i = 0; i < n && on; i++)
        ir_tensor_set_f64(t, i, ir_tensor_get_f64(orig, i % on) + (how == 5 ? 3 : 0));
}

/* Runs one case's mutations; returns how many runs were made. */
static int mutate_case(const char *dir, const char *name) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s/model.onnx", dir, name);
    ir_graph *g;
    calma_error e = {0};
    if (onnx_load(p, &g, &e)) return 0;
    ref_session *s;
    if (g->n_inputs > MAX_IO || g->n_outputs > MAX_IO || ref_session_create(g, &s, &e)) {
        ir_graph_free(g);
        return 0;
    }
    ir_tensor in[MAX_IO] = {{0}};
    int ok = 1, runs = 0;
    for (int i = 0; ok && i < g->n_inputs; i++) {
        snprintf(p, sizeof p, "%s/%s/test_data_set_0/input_%d.pb", dir, name, i);
        ok = onnx_load_tensor(p, &in[i], NULL, &e) == CALMA_OK;
        ir_value *v = &g->values[g->inputs[i]];
        ir_value_set_type(v, v->dtype, -1, NULL, NULL);
    }
    for (int how = 0; ok && how < N_MUTATIONS; how++)
        for (int which = 0; which < g->n_inputs; which++) {
            ir_tensor m[MAX_IO], types[MAX_IO], out[MAX_IO] = {{0}};
            for (int i = 0; i < g->n_inputs; i++) {
                m[i] = in[i];
                m[i].owns = 0;
            }
            mutate(&m[which], how, &in[which]);
            if (!m[which].data) continue;
            ref_session_run(s, m, out, &e);
            for (int k = 0; k < g->n_outputs; k++) ir_tensor_free(&out[k]);
            for (int i = 0; i < g->n_inputs; i++) {
                types[i] = m[i];
                types[i].data = NULL;
                types[i].owns = 0;
            }
            ref_infer_outputs(g, types, out, &e);
            ir_tensor_free(&m[which]);
            runs++;
        }
    for (int i = 0; i < MAX_IO; i++) ir_tensor_free(&in[i]);
    ref_session_free(s);
    ir_graph_free(g);
    return runs;
}

static void test_mutated_inputs(void **state) {
    (void)state;
    struct stat st;
    if (stat(CONFORM_DATA_ROOT "/node", &st) != 0) skip();
    int runs = 0;
    for (int d = 0; d < 4; d++) {
        DIR *dir = opendir(conform_default_dirs[d]);
        assert_non_null(dir);
        struct dirent *de;
        while ((de = readdir(dir)))
            if (de->d_name[0] != '.') runs += mutate_case(conform_default_dirs[d], de->d_name);
        closedir(dir);
    }
    printf("%d runs on mutated inputs, none crashed\n", runs);
    assert_true(runs > 8000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutated_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
