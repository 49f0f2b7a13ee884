/* Calibration: the oracle runs a copy of the graph in which every value to
 * observe is also a graph output, batch by batch; min and max (and, for the
 * percentile method, a histogram) are kept per value. */
#include "transform/xform_calib.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/gen.h"
#include "ref/ref.h"
#include "transform/xform_graph.h"
#include "util/err.h"
#include "util/mem.h"

#define HIST_BINS 2048 /* a multiple of 4: doubling the range merges bin pairs */

void xform_calib_defaults(xform_calib_opts *o) {
    memset(o, 0, sizeof *o);
    o->batches = XFORM_CALIB_DEFAULT_BATCHES;
    o->seed = 42;
    o->method = XFORM_CALIB_MINMAX;
    o->percentile = XFORM_CALIB_DEFAULT_PERCENTILE;
}

/* A histogram over [-a, a) whose range doubles when a value falls outside. */
typedef struct hist {
    double a;
    uint64_t total;
    uint64_t *bins;
} hist;

static void hist_double(hist *h) {
    uint64_t merged[HIST_BINS] = {0};
    for (int b = 0; b < HIST_BINS; b++) merged[(HIST_BINS / 2 + b) / 2] += h->bins[b];
    memcpy(h->bins, merged, sizeof merged);
    h->a *= 2;
}

static void hist_add(hist *h, double x) {
    if (!(h->a > 0)) h->a = fabs(x) > 0 ? 2 * fabs(x) : 1;
    while (fabs(x) >= h->a) hist_double(h);
    int b = (int)((x + h->a) / (2 * h->a) * HIST_BINS);
    if (b < 0) b = 0;
    if (b >= HIST_BINS) b = HIST_BINS - 1;
    h->bins[b]++;
    h->total++;
}

/* The value below which a share q of the elements lie (a bin edge). */
static double hist_quantile(const hist *h, double q, int upper) {
    double want = q * (double)h->total, seen = 0, w = 2 * h->a / HIST_BINS;
    for (int b = 0; b < HIST_BINS; b++) {
        seen += (double)h->bins[b];
        if (seen >= want && h->bins[b]) return -h->a + (b + (upper ? 1 : 0)) * w;
    }
    return h->a;
}

typedef struct observed {
    int value;     /* in the source graph */
    int input;     /* runtime input index, or -1 */
    int output;    /* output index in the copy, or -1 */
    double lo, hi; /* exact min and max */
    hist h;
} observed;

static int is_float(calma_dtype dt) {
    return dt == CALMA_DT_FLOAT;
}

static int input_index(const ir_graph *g, int v) {
    for (int i = 0; i < g->n_inputs; i++)
        if (g->inputs[i] == v) return i;
    return -1;
}

/* The values to observe, by source index. */
static int pick_values(const ir_graph *g, const calma_dtype *dt, const char *const *names, int n,
                       observed **out, int *count, calma_error *e) {
    int cap = names ? n : g->n_values;
    observed *obs = calloc((size_t)cap + 1, sizeof *obs);
    if (!obs) return err_set(e, CALMA_E_NOMEM, "out of memory");
    int k = 0;
    for (int i = 0; i < (names ? n : g->n_values); i++) {
        int v = names ? ir_graph_find(g, names[i]) : i;
        if (names && (v < 0 || g->values[v].init || !is_float(dt[v]))) {
            free(obs);
            return err_set(e, CALMA_E_INVALID,
                           "calibration: '%s' is no float32 activation of the model", names[i]);
        }
        if (!names && (g->values[v].init || !is_float(dt[v]) ||
                       (g->values[v].producer < 0 && input_index(g, v) < 0)))
            continue;
        obs[k].value = v;
        obs[k].input = input_index(g, v);
        obs[k].output = -1;
        obs[k].lo = INFINITY;
        obs[k].hi = -INFINITY;
        k++;
    }
    *out = obs;
    *count = k;
    return CALMA_OK;
}

/* A copy of g whose outputs also list every observed node output. */
static int observing_copy(const ir_graph *g, observed *obs, int n, ir_graph **out, calma_error *e) {
    int rc = xform_clone(g, out, e);
    if (rc) return rc;
    ir_graph *c = *out;
    for (int k = 0; k < n; k++) {
        if (obs[k].input >= 0) continue;
        for (int j = 0; j < c->n_outputs; j++)
            if (c->outputs[j] == obs[k].value) obs[k].output = j;
        if (obs[k].output >= 0) continue;
        obs[k].output = c->n_outputs;
        const ir_value *v = &g->values[obs[k].value];
        if (ir_graph_add_output(c, v->name, CALMA_DT_UNDEFINED, -1, NULL, NULL))
            return err_set(e, CALMA_E_NOMEM, "out of memory");
    }
    return CALMA_OK;
}

static void observe(observed *o, const ir_tensor *t, int percentile) {
    size_t n = ir_tensor_numel(t);
    const float *p = t->data;
    if (t->dtype != CALMA_DT_FLOAT || !p) return;
    for (size_t i = 0; i < n; i++) {
        double x = p[i];
        if (!isfinite(x)) continue;
        if (x < o->lo) o->lo = x;
        if (x > o->hi) o->hi = x;
        if (percentile) hist_add(&o->h, x);
    }
}

/* Calibration batch k's inputs: the user's, or generated at batch 1. */
static int make_inputs(const ir_graph *g, const xform_calib_opts *o, int k, ir_tensor *in,
                       calma_error *e) {
    for (int i = 0; i < g->n_inputs; i++) {
        ir_tensor_free(&in[i]);
        if (o->n_inputs > 0) {
            in[i] = o->inputs[(size_t)k * (size_t)g->n_inputs + (size_t)i];
            in[i].owns = 0;
            continue;
        }
        const ir_value *v = &g->values[g->inputs[i]];
        int64_t dims[IR_MAX_RANK];
        for (int d = 0; d < v->rank; d++) dims[d] = v->dims[d] < 0 ? 1 : v->dims[d];
        int rc = ir_tensor_alloc(&in[i], v->dtype, v->rank < 0 ? 0 : v->rank, dims, e);
        if (rc) return err_prefix(e, "calibration input '%s'", v->name);
        gen_fill(&in[i], o->seed, i, XFORM_CALIB_SAMPLE_BASE + (uint64_t)k);
    }
    return CALMA_OK;
}

static int run_batches(const ir_graph *c, const ir_graph *g, observed *obs, int n_obs,
                       const xform_calib_opts *o, int batches, calma_error *e) {
    ref_session *s = NULL;
    int rc = ref_session_create(c, &s, e);
    ir_tensor *in = calloc((size_t)g->n_inputs + 1, sizeof *in);
    ir_tensor *res = calloc((size_t)c->n_outputs + 1, sizeof *res);
    if (!rc && (!in || !res)) rc = err_set(e, CALMA_E_NOMEM, "out of memory");
    int pct = o->method == XFORM_CALIB_PERCENTILE;
    for (int k = 0; !rc && k < batches; k++) {
        rc = make_inputs(g, o, k, in, e);
        if (!rc) rc = ref_session_run(s, in, res, e);
        if (rc) {
            err_prefix(e, "calibration batch %d", k + 1);
            break;
        }
        for (int j = 0; j < n_obs; j++)
            observe(&obs[j], obs[j].input >= 0 ? &in[obs[j].input] : &res[obs[j].output], pct);
        for (int j = 0; j < c->n_outputs; j++) ir_tensor_free(&res[j]);
        if (o->progress) o->progress(o->progress_ctx, k + 1, batches);
    }
    for (int i = 0; in && i < g->n_inputs; i++) ir_tensor_free(&in[i]);
    for (int j = 0; res && j < c->n_outputs; j++) ir_tensor_free(&res[j]);
    free(in);
    free(res);
    ref_session_free(s);
    return rc;
}

static int check_opts(const xform_calib_opts *o, calma_error *e) {
    if (o->n_inputs <= 0 && (o->batches < 1 || o->batches > XFORM_CALIB_MAX_BATCHES))
        return err_set(e, CALMA_E_USAGE, "calibration: %d batches (give 1 to %d)", o->batches,
                       XFORM_CALIB_MAX_BATCHES);
    if (o->method == XFORM_CALIB_PERCENTILE && !(o->percentile > 50 && o->percentile <= 100))
        return err_set(e, CALMA_E_USAGE, "calibration: percentile %g is outside (50, 100]",
                       o->percentile);
    return CALMA_OK;
}

static int fill_ranges(const ir_graph *g, observed *obs, int n, const xform_calib_opts *o,
                       int batches, xform_ranges *out, calma_error *e) {
    out->v = calloc((size_t)n + 1, sizeof *out->v);
    if (!out->v) return err_set(e, CALMA_E_NOMEM, "out of memory");
    out->batches = batches;
    double tail = (100.0 - o->percentile) / 200.0;
    for (int k = 0; k < n; k++) {
        xform_range *r = &out->v[out->n++];
        r->name = mem_strdup(g->values[obs[k].value].name);
        if (!r->name) return err_set(e, CALMA_E_NOMEM, "out of memory");
        r->min = isfinite(obs[k].lo) ? obs[k].lo : 0;
        r->max = isfinite(obs[k].hi) ? obs[k].hi : 0;
        if (o->method == XFORM_CALIB_PERCENTILE && obs[k].h.total) {
            double lo = hist_quantile(&obs[k].h, tail, 0),
                   hi = hist_quantile(&obs[k].h, 1 - tail, 1);
            if (lo > r->min) r->min = lo;
            if (hi < r->max) r->max = hi;
        }
    }
    return CALMA_OK;
}

int xform_calibrate(const ir_graph *g, const char *const *names, int n, const xform_calib_opts *o,
                    xform_ranges *out, calma_error *e) {
    memset(out, 0, sizeof *out);
    int rc = check_opts(o, e);
    if (rc) return rc;
    calma_dtype *dt = NULL;
    observed *obs = NULL;
    ir_graph *c = NULL;
    int n_obs = 0;
    rc = xform_value_dtypes(g, &dt, e);
    if (!rc) rc = pick_values(g, dt, names, n, &obs, &n_obs, e);
    int pct = o->method == XFORM_CALIB_PERCENTILE;
    for (int k = 0; !rc && pct && k < n_obs; k++)
        if (!(obs[k].h.bins = calloc(HIST_BINS, sizeof(uint64_t))))
            rc = err_set(e, CALMA_E_NOMEM, "out of memory for calibration histograms");
    if (!rc) rc = observing_copy(g, obs, n_obs, &c, e);
    int batches = o->n_inputs > 0 ? o->n_inputs : o->batches;
    if (!rc) rc = run_batches(c, g, obs, n_obs, o, batches, e);
    if (!rc) rc = fill_ranges(g, obs, n_obs, o, batches, out, e);
    for (int k = 0; obs && k < n_obs; k++) free(obs[k].h.bins);
    free(obs);
    free(dt);
    ir_graph_free(c);
    if (rc) xform_ranges_free(out);
    return rc;
}

const xform_range *xform_ranges_find(const xform_ranges *r, const char *name) {
    for (int k = 0; r && k < r->n; k++)
        if (!strcmp(r->v[k].name, name)) return &r->v[k];
    return NULL;
}

void xform_ranges_free(xform_ranges *r) {
    if (!r) return;
    for (int k = 0; k < r->n; k++) free(r->v[k].name);
    free(r->v);
    memset(r, 0, sizeof *r);
}

#define RANGES_MAGIC "calma-calibration 1"

int xform_ranges_save(const xform_ranges *r, const char *path, calma_error *e) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "we");
    if (!f) return err_set(e, CALMA_E_IO, "%s: cannot create: %s", tmp, strerror(errno));
    fprintf(f, "%s\nbatches %d\n", RANGES_MAGIC, r->batches);
    for (int k = 0; k < r->n; k++) {
        if (strchr(r->v[k].name, '\n')) continue; /* unreadable back; recalibrated then */
        fprintf(f, "%.17g %.17g %s\n", r->v[k].min, r->v[k].max, r->v[k].name);
    }
    int bad = ferror(f);
    if (fclose(f)) bad = 1;
    if (bad || rename(tmp, path)) {
        unlink(tmp);
        return err_set(e, CALMA_E_IO, "%s: cannot write", path);
    }
    return CALMA_OK;
}

int xform_ranges_load(const char *path, xform_ranges *out, calma_error *e) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "re");
    if (!f) return err_set(e, CALMA_E_IO, "%s: cannot open: %s", path, strerror(errno));
    char line[4096];
    int cap = 0, rc = CALMA_OK;
    if (!fgets(line, sizeof line, f) || strncmp(line, RANGES_MAGIC, strlen(RANGES_MAGIC)) ||
        !fgets(line, sizeof line, f) || sscanf(line, "batches %d", &out->batches) != 1)
        rc = err_set(e, CALMA_E_PARSE, "%s: not a calma calibration file", path);
    while (!rc && fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        if (len && line[len - 1] == '\n') line[--len] = '\0';
        char *end;
        double lo = strtod(line, &end), hi = end && *end == ' ' ? strtod(end + 1, &end) : NAN;
        if (!end || *end != ' ' || !isfinite(lo) || !isfinite(hi)) {
            rc = err_set(e, CALMA_E_PARSE, "%s: bad line '%.80s'", path, line);
            break;
        }
        if (mem_grow((void **)&out->v, &cap, out->n + 1, sizeof *out->v) ||
            !(out->v[out->n].name = mem_strdup(end + 1))) {
            rc = err_set(e, CALMA_E_NOMEM, "out of memory");
            break;
        }
        out->v[out->n].min = lo;
        out->v[out->n].max = hi;
        out->n++;
    }
    fclose(f);
    if (rc) xform_ranges_free(out);
    return rc;
}

/* ---- quantization parameters ---- */

void xform_qparams_u8(const xform_range *r, float *scale, uint8_t *zero_point) {
    double lo = r->min < 0 ? r->min : 0, hi = r->max > 0 ? r->max : 0;
    if (!(hi - lo > 0) || !isfinite(hi - lo)) {
        *scale = 1.0f;
        *zero_point = 0;
        return;
    }
    *scale = (float)((hi - lo) / 255.0);
    double z = nearbyint(-lo / (double)*scale);
    *zero_point = (uint8_t)(z < 0 ? 0 : z > 255 ? 255 : z);
}

float xform_qparams_s8(const xform_range *r) {
    double a = fabs(r->min) > fabs(r->max) ? fabs(r->min) : fabs(r->max);
    return a > 0 && isfinite(a) ? (float)(a / 127.0) : 1.0f;
}

int xform_weight_scales(const ir_tensor *w, int axis, float *scales, calma_error *e) {
    if (w->dtype != CALMA_DT_FLOAT || !w->data || axis < 0 || axis >= w->rank)
        return err_set(e, CALMA_E_INVALID,
                       "weight scales need a float32 tensor and an axis in "
                       "range");
    size_t inner = 1, n = ir_tensor_numel(w), ch = (size_t)w->dims[axis];
    for (int d = axis + 1; d < w->rank; d++) inner *= (size_t)w->dims[d];
    for (size_t c = 0; c < ch; c++) scales[c] = 0;
    const float *p = w->data;
    for (size_t i = 0; i < n; i++) {
        size_t c = (i / inner) % ch;
        float a = fabsf(p[i]);
        if (a > scales[c]) scales[c] = a;
    }
    for (size_t c = 0; c < ch; c++) scales[c] = scales[c] > 0 ? scales[c] / 127.0f : 1.0f;
    return CALMA_OK;
}
