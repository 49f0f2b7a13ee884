/* A tiny harness for calling one oracle kernel by hand: builds a node in a
 * graph, fills inputs, runs infer, allocates outputs, runs the kernel.
 * Included by test_ref_ops_*.c (after cmocka.h). */
#ifndef TEST_REF_OPS_HARNESS_H
#define TEST_REF_OPS_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "ref/ref_op.h"

#define HT_MAX 8

typedef struct ht {
    ir_graph *g;
    ir_node *node;
    int n_in, n_out;
    ir_tensor in[HT_MAX];
    const ir_tensor *pin[HT_MAX];
    ir_tensor out[HT_MAX];
    calma_error err;
    int64_t opset;
    int infer_rc;
} ht;

static inline const ref_op *ht_find(const char *op) {
    const ref_op *tabs[] = {ref_ops_elementwise, ref_ops_reduce, ref_ops_norm};
    for (size_t k = 0; k < sizeof tabs / sizeof tabs[0]; k++)
        for (const ref_op *o = tabs[k]; o->op_type; o++)
            if (!strcmp(o->op_type, op)) return o;
    return NULL;
}

static inline ht *ht_new(const char *op, int n_in, int n_out, int64_t opset) {
    ht *t = calloc(1, sizeof *t);
    assert_non_null(t);
    char in[HT_MAX][8], out[HT_MAX][8];
    const char *pi[HT_MAX], *po[HT_MAX];
    for (int i = 0; i < HT_MAX; i++) {
        snprintf(in[i], sizeof in[i], "i%d", i);
        snprintf(out[i], sizeof out[i], "o%d", i);
        pi[i] = in[i];
        po[i] = out[i];
    }
    t->g = ir_graph_new();
    t->node = ir_graph_add_node(t->g, op, "n", n_in, pi, n_out, po);
    assert_non_null(t->node);
    t->n_in = n_in;
    t->n_out = n_out;
    t->opset = opset;
    for (int i = 0; i < n_in; i++) t->pin[i] = &t->in[i];
    return t;
}

/* Input i with values given as doubles (NULL: zeros). */
static inline void ht_in(ht *t, int i, calma_dtype dt, int rank, const int64_t *dims,
                         const double *v) {
    assert_int_equal(ir_tensor_alloc(&t->in[i], dt, rank, dims, &t->err), CALMA_OK);
    if (v)
        for (size_t k = 0; k < ir_tensor_numel(&t->in[i]); k++)
            ir_tensor_set_f64(&t->in[i], k, v[k]);
}

static inline void ht_omit(ht *t, int i) {
    t->pin[i] = NULL;
}

/* infer, allocate, run; returns the first failing status. */
static inline int ht_run(ht *t) {
    const ref_op *op = ht_find(t->node->op_type);
    assert_non_null(op);
    ref_call c = {t->node, t->opset, t->pin, t->n_in, t->out, t->n_out, &t->err};
    int rc = op->infer(&c);
    t->infer_rc = rc;
    if (rc) return rc;
    for (int j = 0; j < t->n_out; j++) {
        if (!t->out[j].dtype) continue;
        ir_tensor o = t->out[j];
        assert_int_equal(ir_tensor_alloc(&t->out[j], o.dtype, o.rank, o.dims, &t->err), CALMA_OK);
    }
    return op->run(&c);
}

static inline void ht_free(ht *t) {
    for (int i = 0; i < HT_MAX; i++) {
        ir_tensor_free(&t->in[i]);
        ir_tensor_free(&t->out[i]);
    }
    ir_graph_free(t->g);
    free(t);
}

static inline void ht_shape(const ht *t, int j, calma_dtype dt, int rank, const int64_t *dims) {
    assert_int_equal(t->out[j].dtype, dt);
    assert_int_equal(t->out[j].rank, rank);
    for (int d = 0; d < rank; d++) assert_int_equal(t->out[j].dims[d], dims[d]);
}

/* Output j equals want within tol (absolute + relative); NaN matches NaN. */
static inline void ht_expect(const ht *t, int j, size_t n, const double *want, double tol) {
    assert_int_equal(ir_tensor_numel(&t->out[j]), n);
    for (size_t k = 0; k < n; k++) {
        double got = ir_tensor_get_f64(&t->out[j], k);
        if (isnan(want[k]) && isnan(got)) continue;
        if (isinf(want[k]) && got == want[k]) continue;
        if (!(fabs(got - want[k]) <= tol + tol * fabs(want[k]))) {
            print_error("%s output %d element %zu: got %.17g want %.17g\n", t->node->op_type, j, k,
                        got, want[k]);
            fail();
        }
    }
}

#endif
