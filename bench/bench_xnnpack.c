/* bench_xnnpack [--models resnet18,mobilenet_v2] [--threads 2] [--batch 1]
 *               [--blocks 8] [--runs 10]
 *
 * The XNNPACK conversion against ONNX Runtime (ORT_CPU) on the zoo's CNNs,
 * in one process: both are loaded through include/calma/backend.h, then
 * timed in alternating blocks (A B B A A B ...) of R runs each, the clock
 * around run() only as calma's worker takes it, so drift and neighbours'
 * noise fall on both alike. Prints each median, their ratio (XNNPACK / ORT;
 * the aim is 1.0 or below) and the GFLOP/s each reaches, counting 2 FLOPs
 * per multiply-add of every Conv, Gemm and MatMul. Without ONNX Runtime it
 * times XNNPACK alone and says so. Figures are printed, not asserted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/backends.h"
#include "bench/stats.h"
#include "io/gen.h"
#include "ir/ir.h"
#include "ref/ref.h"
#include "util/err.h"
#include "zoo/zoo.h"

#define MAX_IO 8

typedef struct side {
    const calma_conversion *conv;
    void *state;
    int n_in, n_out;
    ir_tensor in[MAX_IO], out[MAX_IO];
    calma_tensor tin[MAX_IO], tout[MAX_IO];
    double load_s, convert_s, first_s;
    double *samples;
    size_t n;
} side;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const calma_conversion *find_conv(const calma_conversion *table, const char *name) {
    for (const calma_conversion *c = table; c->name; c++)
        if (!strcmp(c->name, name)) return c;
    return NULL;
}

static calma_tensor view(const ir_tensor *t, const char *name) {
    calma_tensor v = {
        .name = name, .dtype = t->dtype, .rank = t->rank, .data = t->data, .nbytes = t->nbytes};
    memcpy(v.dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
    return v;
}

static void side_close(side *a) {
    if (a->conv && a->state) a->conv->backend->release(a->state);
    for (int i = 0; i < MAX_IO; i++) {
        ir_tensor_free(&a->in[i]);
        ir_tensor_free(&a->out[i]);
    }
    free(a->samples);
    memset(a, 0, sizeof *a);
}

static int side_open(side *a, const calma_conversion *c, const ir_graph *g, int threads,
                     int64_t batch, size_t cap, calma_error *e) {
    memset(a, 0, sizeof *a);
    a->conv = c;
    if (g->n_inputs > MAX_IO || g->n_outputs > MAX_IO)
        return err_set(e, CALMA_E_UNSUPPORTED, "too many inputs or outputs"), -1;
    a->samples = calloc(cap, sizeof(double));
    if (!a->samples) return err_set(e, CALMA_E_NOMEM, "out of memory"), -1;
    a->n_in = g->n_inputs;
    a->n_out = g->n_outputs;
    for (int i = 0; i < a->n_in; i++) {
        const ir_value *v = &g->values[g->inputs[i]];
        if (ir_tensor_alloc(&a->in[i], v->dtype, v->rank, v->dims, e)) return -1;
        gen_fill(&a->in[i], 1, i, 0);
        a->tin[i] = view(&a->in[i], v->name);
    }
    if (ref_infer_outputs(g, a->in, a->out, e)) return -1;
    for (int k = 0; k < a->n_out; k++) {
        ir_tensor t = a->out[k];
        memset(&a->out[k], 0, sizeof a->out[k]);
        if (ir_tensor_alloc(&a->out[k], t.dtype, t.rank, t.dims, e)) return -1;
        a->tout[k] = view(&a->out[k], g->values[g->outputs[k]].name);
    }
    calma_model m = {.path = NULL,
                     .graph = g,
                     .n_inputs = a->n_in,
                     .inputs = a->tin,
                     .n_outputs = a->n_out,
                     .outputs = a->tout};
    calma_trial_config cfg = {.batch = batch, .threads = threads, .options = ""};
    const calma_backend *be = c->backend;
    if (be->probe(c, e)) return -1;
    double t0 = now();
    if (be->load(c, &m, &cfg, &a->state, e)) return -1;
    double t1 = now();
    if (be->convert && be->convert(a->state, e)) return -1;
    double t2 = now();
    if (be->run(a->state, a->tin, a->n_in, a->tout, a->n_out, e)) return -1;
    a->load_s = t1 - t0;
    a->convert_s = t2 - t1;
    a->first_s = now() - t2;
    return 0;
}

static int side_runs(side *a, int runs, int keep, calma_error *e) {
    for (int r = 0; r < runs; r++) {
        double t0 = now();
        if (a->conv->backend->run(a->state, a->tin, a->n_in, a->tout, a->n_out, e)) return -1;
        double dt = now() - t0;
        if (keep) a->samples[a->n++] = dt;
    }
    return 0;
}

/* Multiply-adds of every Conv, Gemm and MatMul, from the shapes the oracle
 * infers for every value (the graph's outputs are widened for the call). */
static double count_macs(ir_graph *g, calma_error *e) {
    int *all = calloc((size_t)g->n_values + 1, sizeof(int));
    ir_tensor *types = calloc((size_t)g->n_values + 1, sizeof(ir_tensor));
    ir_tensor *in = calloc((size_t)g->n_inputs + 1, sizeof(ir_tensor));
    int *vix = calloc((size_t)g->n_values + 1, sizeof(int));
    double macs = -1;
    if (!all || !types || !in || !vix) goto out;
    int n = 0;
    for (int v = 0; v < g->n_values; v++) vix[v] = -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i].n_out; j++) {
            int v = g->nodes[i].out[j];
            if (v >= 0 && vix[v] < 0) {
                vix[v] = n;
                all[n++] = v;
            }
        }
    for (int i = 0; i < g->n_inputs; i++) {
        const ir_value *v = &g->values[g->inputs[i]];
        in[i].dtype = v->dtype;
        in[i].rank = v->rank;
        memcpy(in[i].dims, v->dims, sizeof(int64_t) * (size_t)v->rank);
    }
    int *saved = g->outputs, saved_n = g->n_outputs;
    g->outputs = all;
    g->n_outputs = n;
    int rc = ref_infer_outputs(g, in, types, e);
    g->outputs = saved;
    g->n_outputs = saved_n;
    if (rc) goto out;
    macs = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *nd = &g->nodes[i];
        if (nd->n_out < 1 || nd->out[0] < 0) continue;
        const ir_tensor *o = &types[vix[nd->out[0]]];
        double numel = (double)ir_tensor_numel(o);
        const ir_tensor *w = nd->n_in > 1 && nd->in[1] >= 0 ? g->values[nd->in[1]].init : NULL;
        if (!strcmp(nd->op_type, "Conv") && w && w->rank >= 3) {
            double per = 1;
            for (int d = 1; d < w->rank; d++) per *= (double)w->dims[d];
            macs += numel * per;
        } else if (!strcmp(nd->op_type, "Gemm") && w && w->rank == 2) {
            int64_t k = ir_node_int(nd, "transB", 0) ? w->dims[1] : w->dims[0];
            macs += numel * (double)k;
        } else if (!strcmp(nd->op_type, "MatMul") && w && w->rank == 2) {
            macs += numel * (double)w->dims[0];
        }
    }
out:
    if (types)
        for (int i = 0; i < g->n_values; i++) ir_tensor_free(&types[i]);
    free(types);
    free(all);
    free(in);
    free(vix);
    return macs;
}

static double median_of(const side *a, double *min) {
    stats_summary s;
    stats_summarize(a->samples, a->n, &s);
    *min = s.min;
    return s.median;
}

static void bench_model(const char *name, int64_t batch, int threads, int blocks, int runs) {
    calma_error e = {0};
    ir_graph *g = NULL;
    side x = {0}, o = {0};
    if (zoo_build(name, 7, &g, &e)) {
        fprintf(stderr, "%s: %s\n", name, e.msg);
        return;
    }
    ir_graph_set_batch(g, batch);
    double flops = 2.0 * count_macs(g, &e);
    size_t cap = (size_t)blocks * (size_t)runs;
    const calma_conversion *cx = find_conv(xnnbe_conversions, "XNNPACK");
    const calma_conversion *co = find_conv(ortbe_conversions, "ORT_CPU");
    if (!cx || side_open(&x, cx, g, threads, batch, cap, &e)) {
        printf("%-13s XNNPACK: %s\n", name, cx ? e.msg : "no XNNPACK conversion");
        goto out;
    }
    int have_ort = co && side_open(&o, co, g, threads, batch, cap, &e) == 0;
    if (!have_ort) {
        printf("%-13s ORT_CPU not measured: %s\n", name, co ? e.msg : "no ORT_CPU conversion");
        side_close(&o);
    }
    /* warm both, then blocks A B B A ... */
    if (side_runs(&x, 5, 0, &e) || (have_ort && side_runs(&o, 5, 0, &e))) goto fail;
    for (int b = 0; b < blocks; b++) {
        side *first = b % 2 == 0 ? &x : &o, *second = b % 2 == 0 ? &o : &x;
        if ((first->conv && side_runs(first, runs, 1, &e)) ||
            (second->conv && side_runs(second, runs, 1, &e)))
            goto fail;
    }
    double xmin, omin = 0;
    double mx = median_of(&x, &xmin);
    printf("%-13s %5lld %7d  %10.2f ms  %10.2f GFLOP/s", name, (long long)batch, threads, mx * 1e3,
           flops / mx * 1e-9);
    if (have_ort) {
        double mo = median_of(&o, &omin);
        printf("  %10.2f ms  %10.2f GFLOP/s  %6.3f", mo * 1e3, flops / mo * 1e-9, mx / mo);
    } else {
        printf("  %10s     %10s          %6s", "-", "-", "-");
    }
    printf(
        "\n%-13s %.2f GFLOP; fastest run XNNPACK %.2f ms, ORT_CPU %.2f ms; XNNPACK load %.0f ms, "
        "convert %.0f ms, first run %.1f ms\n",
        "", flops * 1e-9, xmin * 1e3, omin * 1e3, x.load_s * 1e3, x.convert_s * 1e3,
        x.first_s * 1e3);
    goto out;
fail:
    printf("%-13s failed: %s\n", name, e.msg);
out:
    side_close(&x);
    side_close(&o);
    ir_graph_free(g);
}

int main(int argc, char **argv) {
    const char *models = "resnet18,mobilenet_v2";
    int threads = 2, blocks = 8, runs = 10;
    int64_t batch = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h") || !v) {
            printf("usage: %s [--models A,B] [--threads N] [--batch N] [--blocks N] [--runs N]\n",
                   argv[0]);
            return !strcmp(a, "--help") || !strcmp(a, "-h") ? 0 : 2;
        }
        if (!strcmp(a, "--models"))
            models = v;
        else if (!strcmp(a, "--threads"))
            threads = atoi(v);
        else if (!strcmp(a, "--batch"))
            batch = atoll(v);
        else if (!strcmp(a, "--blocks"))
            blocks = atoi(v);
        else if (!strcmp(a, "--runs"))
            runs = atoi(v);
        else {
            fprintf(stderr, "unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    if (threads < 1 || batch < 1 || blocks < 1 || runs < 1) {
        fprintf(stderr, "threads, batch, blocks and runs must be positive\n");
        return 2;
    }
    printf("XNNPACK vs ORT_CPU, %d blocks x %d runs each, interleaved; ratio = XNNPACK / ORT "
           "median (aim <= 1.0)\n",
           blocks, runs);
    printf("%-13s %5s %7s  %13s  %18s  %13s  %18s  %6s\n", "model", "batch", "threads",
           "XNNPACK med", "XNNPACK", "ORT_CPU med", "ORT_CPU", "ratio");
    char list[256];
    snprintf(list, sizeof list, "%s", models);
    for (char *m = strtok(list, ","); m; m = strtok(NULL, ","))
        bench_model(m, batch, threads, blocks, runs);
    return 0;
}
