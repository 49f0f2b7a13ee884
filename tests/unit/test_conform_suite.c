/* The whole ONNX backend test suite through the oracle: every case whose
 * ops are all supported must pass, except those in
 * tests/conformance/exclusions.txt, and every exclusion must still name a
 * case of the suite; and static shape inference must predict the outputs'
 * shapes wherever it claims to. Skipped when libonnx-testdata is not
 * installed. Both run in well under a second here. */
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

typedef struct suite_state {
    conform_exclusion *excl;
    int n_excl;
    char *seen;     /* per exclusion: its case ran */
    int unexpected; /* failed or errored, not excluded */
    int fixed;      /* excluded but passing now */
    int pass, unsupported;
} suite_state;

static void on_case(void *ctx, const char *label, const conform_result *res) {
    suite_state *s = ctx;
    const conform_exclusion *x = conform_exclusion_find(s->excl, s->n_excl, label);
    if (x) s->seen[x - s->excl] = 1;
    switch (res->status) {
    case CONFORM_PASS:
        s->pass++;
        if (x) {
            s->fixed++;
            printf("note: excluded case %s passes now; remove it from exclusions.txt\n", label);
        }
        break;
    case CONFORM_UNSUPPORTED:
        s->unsupported++;
        break;
    default:
        if (!x) {
            s->unexpected++;
            printf("UNEXPECTED %s  %s: %s\n", conform_status_name(res->status), label, res->detail);
        }
    }
}

static void test_suite(void **state) {
    (void)state;
    struct stat st;
    if (stat(CONFORM_DATA_ROOT "/node", &st) != 0) {
        printf("libonnx-testdata is not installed: skipping\n");
        skip();
    }
    const char *src = getenv("CALMA_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/conformance/exclusions.txt", src ? src : ".");
    suite_state s = {0};
    calma_error e = {0};
    assert_int_equal(conform_exclusions_load(path, &s.excl, &s.n_excl, &e), CALMA_OK);
    s.seen = calloc((size_t)s.n_excl + 1, 1);
    assert_non_null(s.seen);

    conform_options o = {0};
    o.on_case = on_case;
    o.on_case_ctx = &s;
    conform_totals t;
    assert_int_equal(conform_run(conform_reference_runner(), &o, &t, &e), CALMA_OK);
    printf("%d passed, %d unsupported, %d unexpected failures, %d exclusions\n", s.pass,
           s.unsupported, s.unexpected, s.n_excl);

    int stale = 0;
    for (int i = 0; i < s.n_excl; i++) {
        if (s.seen[i]) continue;
        stale++;
        printf("STALE exclusion %s: no such case in the suite\n", s.excl[i].label);
    }
    free(s.seen);
    conform_exclusions_free(s.excl, s.n_excl);
    assert_int_equal(s.unexpected, 0);
    assert_int_equal(stale, 0);
    /* the suite really ran: the oracle passes most of it */
    assert_true(s.pass > 700);
}

/* Static shape inference (types only, constants folded) must predict the
 * dtype and shape of every expected output it claims to know. */
static int check_inference(const char *dir, const char *name, int *inferred) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s/model.onnx", dir, name);
    ir_graph *g;
    calma_error e = {0};
    if (onnx_load(p, &g, &e)) return 0;
    ref_session *s;
    int bad = 0, n_in = g->n_inputs, n_out = g->n_outputs;
    ir_tensor *in = calloc((size_t)n_in + 1, sizeof *in);
    ir_tensor *exp = calloc((size_t)n_out + 1, sizeof *exp);
    ir_tensor *out = calloc((size_t)n_out + 1, sizeof *out);
    assert_true(in && exp && out);
    int ok = ref_session_create(g, &s, &e) == CALMA_OK;
    if (ok) ref_session_free(s);
    for (int i = 0; ok && i < n_in; i++) {
        snprintf(p, sizeof p, "%s/%s/test_data_set_0/input_%d.pb", dir, name, i);
        ok = onnx_load_tensor(p, &in[i], NULL, &e) == CALMA_OK;
    }
    for (int i = 0; ok && i < n_out; i++) {
        snprintf(p, sizeof p, "%s/%s/test_data_set_0/output_%d.pb", dir, name, i);
        ok = onnx_load_tensor(p, &exp[i], NULL, &e) == CALMA_OK;
    }
    if (ok) {
        ir_tensor *types = calloc((size_t)n_in + 1, sizeof *types);
        assert_non_null(types);
        for (int i = 0; i < n_in; i++) {
            types[i] = in[i];
            types[i].data = NULL;
            types[i].nbytes = 0;
            types[i].owns = 0;
        }
        if (ref_infer_outputs(g, types, out, &e) == CALMA_OK) {
            (*inferred)++;
            for (int k = 0; k < n_out; k++) {
                /* the suite stores bfloat16 as uint16 */
                if (out[k].dtype == CALMA_DT_BFLOAT16 && exp[k].dtype == CALMA_DT_UINT16)
                    exp[k].dtype = CALMA_DT_BFLOAT16;
                if (ir_tensor_same_shape(&out[k], &exp[k])) continue;
                char a[128], b[128];
                printf("MISMATCH %s output %d: inferred %s, expected %s\n", name, k,
                       ir_tensor_desc(&out[k], a, sizeof a), ir_tensor_desc(&exp[k], b, sizeof b));
                bad++;
            }
        }
        free(types);
    }
    for (int i = 0; i < n_in; i++) ir_tensor_free(&in[i]);
    for (int i = 0; i < n_out; i++) ir_tensor_free(&exp[i]);
    free(in);
    free(exp);
    free(out);
    ir_graph_free(g);
    return bad;
}

static void test_static_inference(void **state) {
    (void)state;
    struct stat st;
    if (stat(CONFORM_DATA_ROOT "/node", &st) != 0) skip();
    int bad = 0, inferred = 0;
    for (int d = 0; d < 4; d++) {
        DIR *dir = opendir(conform_default_dirs[d]);
        assert_non_null(dir);
        struct dirent *de;
        while ((de = readdir(dir)))
            if (de->d_name[0] != '.')
                bad += check_inference(conform_default_dirs[d], de->d_name, &inferred);
        closedir(dir);
    }
    printf("static inference predicted the outputs of %d cases\n", inferred);
    assert_int_equal(bad, 0);
    assert_true(inferred > 750);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suite),
        cmocka_unit_test(test_static_inference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
