/* bench_oracle: the oracle's latency on a built-in model (default resnet18),
 * batch 1, one thread. Prints the median of several runs and, per op type,
 * the time its kernels took in one extra run (called through the same op
 * tables the interpreter uses).
 *
 *   bench_oracle [MODEL] [RUNS]      e.g. bench_oracle resnet18 5 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ir/ir.h"
#include "ref/ref.h"
#include "ref/ref_op.h"
#include "zoo/zoo.h"

static double clock_s(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double now_s(void) {
    return clock_s(CLOCK_MONOTONIC);
}

/* CPU time of this thread: on a busy shared machine the wall clock also
 * counts the time other processes held the core. */
static double cpu_s(void) {
    return clock_s(CLOCK_THREAD_CPUTIME_ID);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Multiply-adds of a Conv or Gemm/MatMul given its inputs and output. */
static double macs_of(const char *op, const ir_tensor *const *in, const ir_tensor *y) {
    if (!strcmp(op, "Conv")) {
        double per_out = 1;
        for (int i = 1; i < in[1]->rank; i++) per_out *= (double)in[1]->dims[i];
        return per_out * (double)ir_tensor_numel(y);
    }
    if (!strcmp(op, "Gemm") || !strcmp(op, "MatMul")) {
        const ir_tensor *a = in[0];
        int ta = !strcmp(op, "Gemm") && a->rank == 2 && y->dims[0] != a->dims[0];
        double k = (double)a->dims[ta ? 0 : a->rank - 1];
        return k * (double)ir_tensor_numel(y);
    }
    return 0;
}

typedef struct op_time {
    const char *op;
    double s, macs;
    int count;
} op_time;

static const ref_op *find_kernel(const char *op) {
    const ref_op *tabs[] = {ref_ops_elementwise, ref_ops_conv,  ref_ops_pool,   ref_ops_linalg,
                            ref_ops_norm,        ref_ops_shape, ref_ops_reduce, ref_ops_resize};
    for (size_t t = 0; t < sizeof tabs / sizeof tabs[0]; t++)
        for (const ref_op *o = tabs[t]; o->op_type; o++)
            if (!strcmp(o->op_type, op)) return o;
    return NULL;
}

/* Runs the graph node by node through the kernel tables, timing each
 * kernel's run. Only for graphs whose values are all float tensors fed in
 * order (the zoo's CNNs); anything else is reported and skipped. */
static int per_op_times(const ir_graph *g, const ir_tensor *input, op_time *tab, int *ntab) {
    calma_error e = {0};
    ir_tensor *vals = calloc((size_t)g->n_values, sizeof *vals);
    if (!vals) return -1;
    int rc = 0;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].init) vals[v] = *g->values[v].init, vals[v].owns = 0;
    vals[g->inputs[0]] = *input;
    vals[g->inputs[0]].owns = 0;
    for (int i = 0; i < g->n_nodes && !rc; i++) {
        const ir_node *n = &g->nodes[i];
        const ref_op *k = find_kernel(n->op_type);
        const ir_tensor *in[16] = {0};
        ir_tensor out[4] = {0};
        if (!k || n->n_in > 16 || n->n_out > 4) {
            fprintf(stderr, "per-op timing: skipping at %s\n", n->op_type);
            rc = -1;
            break;
        }
        for (int j = 0; j < n->n_in; j++) in[j] = n->in[j] >= 0 ? &vals[n->in[j]] : NULL;
        ref_call c = {n, ir_graph_opset(g, ""), in, n->n_in, out, n->n_out, &e};
        if (k->infer(&c)) {
            fprintf(stderr, "per-op timing: %s\n", e.msg);
            rc = -1;
            break;
        }
        for (int j = 0; j < n->n_out; j++)
            if (ir_tensor_alloc(&out[j], out[j].dtype, out[j].rank, out[j].dims, &e)) rc = -1;
        double t0 = cpu_s();
        if (!rc && k->run(&c)) {
            fprintf(stderr, "per-op timing: %s\n", e.msg);
            rc = -1;
        }
        double dt = cpu_s() - t0;
        int slot = 0;
        while (slot < *ntab && strcmp(tab[slot].op, n->op_type)) slot++;
        if (slot == *ntab && slot < 64) {
            tab[slot] = (op_time){n->op_type, 0, 0, 0};
            (*ntab)++;
        }
        if (slot < 64) {
            tab[slot].s += dt;
            tab[slot].macs += macs_of(n->op_type, in, &out[0]);
            tab[slot].count++;
        }
        for (int j = 0; j < n->n_out; j++) {
            if (n->out[j] >= 0)
                vals[n->out[j]] = out[j];
            else
                ir_tensor_free(&out[j]);
        }
    }
    for (int v = 0; v < g->n_values; v++)
        if (vals[v].owns) ir_tensor_free(&vals[v]);
    free(vals);
    return rc;
}

int main(int argc, char **argv) {
    const char *model = argc > 1 ? argv[1] : "resnet18";
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    if (runs < 1 || runs > 1000) runs = 5;
    calma_error e = {0};
    ir_graph *g = NULL;
    if (zoo_build(model, 1, &g, &e)) {
        fprintf(stderr, "bench_oracle: %s\n", e.msg);
        return 2;
    }
    ir_graph_set_batch(g, 1);
    const ir_value *iv = &g->values[g->inputs[0]];
    ir_tensor x = {0};
    if (ir_tensor_alloc(&x, iv->dtype, iv->rank, iv->dims, &e)) {
        fprintf(stderr, "bench_oracle: input: %s\n", e.msg);
        return 2;
    }
    unsigned seed = 12345;
    for (size_t i = 0; i < ir_tensor_numel(&x); i++) {
        seed = seed * 1103515245u + 12345u;
        ir_tensor_set_f64(&x, i, (double)((seed >> 8) & 0xffff) / 32768.0 - 1.0);
    }
    ref_session *s = NULL;
    if (ref_session_create(g, &s, &e)) {
        fprintf(stderr, "bench_oracle: %s\n", e.msg);
        return 2;
    }
    double *t = calloc((size_t)runs, sizeof *t), *tc = calloc((size_t)runs, sizeof *tc);
    ir_tensor *outs = calloc((size_t)g->n_outputs, sizeof *outs);
    if (!t || !tc || !outs) return 2;
    for (int r = 0; r < runs; r++) {
        double t0 = now_s(), c0 = cpu_s();
        if (ref_session_run(s, &x, outs, &e)) {
            fprintf(stderr, "bench_oracle: %s\n", e.msg);
            return 2;
        }
        t[r] = now_s() - t0;
        tc[r] = cpu_s() - c0;
    }
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    qsort(tc, (size_t)runs, sizeof *tc, cmp_double);
    char desc[128];
    printf("oracle %s batch 1, one thread: median %.3f s over %d runs (min %.3f, max %.3f); "
           "CPU time median %.3f s; output %s\n",
           model, t[runs / 2], runs, t[0], t[runs - 1], tc[runs / 2],
           ir_tensor_desc(&outs[0], desc, sizeof desc));
    op_time tab[64];
    int ntab = 0;
    if (per_op_times(g, &x, tab, &ntab) == 0) {
        printf("%-20s %6s %10s %10s\n", "op", "nodes", "CPU s", "GMAC/s");
        for (int i = 0; i < ntab; i++) {
            printf("%-20s %6d %10.4f", tab[i].op, tab[i].count, tab[i].s);
            if (tab[i].macs > 0) printf(" %10.2f", tab[i].macs / tab[i].s * 1e-9);
            printf("\n");
        }
    }
    for (int k = 0; k < g->n_outputs; k++) ir_tensor_free(&outs[k]);
    free(outs);
    free(t);
    free(tc);
    ir_tensor_free(&x);
    ref_session_free(s);
    ir_graph_free(g);
    return 0;
}
