/* The streams of a scenario (their states, buffers and threads), their
 * warm-up, and the offline scenario. The server lives in scenario_server.c. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/plan.h"
#include "bench/scenario_internal.h"
#include "bench/stats.h"
#include "bench/super.h"
#include "bench/warnings.h"

int scen_threads_per_stream(int threads, int streams) {
    int t = streams > 0 ? threads / streams : threads;
    return t < 1 ? 1 : t;
}

double scen_now(void) {
    return super_now();
}

int scen_call(scen_stream *s, double *took) {
    const scen_engine *g = s->x->eng;
    double t0 = scen_now();
    int rc = g->c->backend->run(s->state, s->in, g->n_in, s->out, g->n_out, &s->err);
    *took = scen_now() - t0;
    if (rc) {
        if (!s->err.msg[0]) snprintf(s->err.msg, sizeof s->err.msg, "%s", calma_status_name(rc));
        s->rc = rc;
        atomic_store(&s->x->stop, 1);
    }
    return rc;
}

int scen_stream_failure(const scen_ctx *x, calma_error *e) {
    for (int i = 0; i < x->S; i++)
        if (x->st[i].rc)
            return err_set(e, x->st[i].rc, "stream %d of %d: %s", i + 1, x->S, x->st[i].err.msg);
    return CALMA_OK;
}

/* ---- stream set-up ---- */

/* Stream i > 0: buffers shaped as stream 0's (inputs copied from it: every
 * stream computes the validated inputs), then its own load and convert. */
static int load_stream(scen_ctx *x, scen_stream *s, calma_error *e) {
    const scen_engine *g = x->eng;
    int nb = g->n_in + g->n_out;
    s->in = calloc((size_t)nb + 1, sizeof *s->in);
    s->bufs = calloc((size_t)nb + 1, sizeof *s->bufs);
    if (!s->in || !s->bufs)
        return err_set(e, CALMA_E_NOMEM, "out of memory for stream %d", s->index);
    s->out = s->in + g->n_in;
    for (int k = 0; k < nb; k++) {
        const calma_tensor *src = k < g->n_in ? &g->in[k] : &g->out[k - g->n_in];
        s->in[k] = *src;
        s->bufs[k] = malloc(src->nbytes ? src->nbytes : 1);
        if (!s->bufs[k])
            return err_set(e, CALMA_E_NOMEM, "out of memory for stream %d's tensors", s->index);
        if (k < g->n_in && src->nbytes) memcpy(s->bufs[k], src->data, src->nbytes);
        s->in[k].data = NULL; /* backends see shapes at load, not data */
    }
    int rc = g->c->backend->load(g->c, g->m, g->cfg, &s->state, e);
    for (int k = 0; k < nb; k++) s->in[k].data = s->bufs[k];
    if (rc) {
        s->state = NULL;
        return err_prefix(e, "stream %d", s->index + 1);
    }
    if (g->c->backend->convert && (rc = g->c->backend->convert(s->state, e)))
        return err_prefix(e, "stream %d", s->index + 1);
    return CALMA_OK;
}

static void *stream_main(void *p);

static void stream_free(scen_ctx *x, scen_stream *s) {
    if (!s->x) return; /* set-up stopped before this stream */
    if (s->index > 0 && s->state) x->eng->c->backend->release(s->state);
    if (s->bufs)
        for (int k = 0; k < x->eng->n_in + x->eng->n_out; k++) free(s->bufs[k]);
    free(s->bufs);
    if (s->index > 0) free(s->in);
    free(s->done_at);
    free(s->took);
    pthread_mutex_destroy(&s->lock);
}

/* Loads streams 1..S-1 and starts every stream's thread. */
static int setup(scen_ctx *x, cJSON *obj, calma_error *e) {
    x->st = calloc((size_t)x->S, sizeof *x->st);
    if (!x->st) return err_set(e, CALMA_E_NOMEM, "out of memory for %d streams", x->S);
    pthread_mutex_init(&x->mu, NULL);
    pthread_cond_init(&x->cv, NULL);
    double t0 = scen_now();
    for (int i = 0; i < x->S; i++) {
        scen_stream *s = &x->st[i];
        s->x = x;
        s->index = i;
        pthread_mutex_init(&s->lock, NULL);
        if (i == 0) {
            s->state = x->eng->state;
            s->in = x->eng->in;
            s->out = x->eng->out;
            continue;
        }
        int rc = load_stream(x, s, e);
        if (rc) return rc;
        double first;
        if (scen_call(s, &first)) return scen_stream_failure(x, e);
    }
    cJSON_AddNumberToObject(obj, "streams_load_s", scen_now() - t0);
    for (int i = 0; i < x->S; i++) {
        if (pthread_create(&x->st[i].thread, NULL, stream_main, &x->st[i]) != 0)
            return err_set(e, CALMA_E_INTERNAL, "cannot start the thread of stream %d", i + 1);
        x->st[i].started = 1;
        x->n_threads++;
    }
    return CALMA_OK;
}

static void teardown(scen_ctx *x) {
    if (!x->st) return;
    pthread_mutex_lock(&x->mu);
    x->job = SCEN_JOB_EXIT;
    x->gen++;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
    for (int i = 0; i < x->S; i++)
        if (x->st[i].started) pthread_join(x->st[i].thread, NULL);
    for (int i = 0; i < x->S; i++) stream_free(x, &x->st[i]);
    free(x->st);
    pthread_cond_destroy(&x->cv);
    pthread_mutex_destroy(&x->mu);
}

/* ---- jobs ---- */

static void stream_warm(scen_stream *s) {
    scen_ctx *x = s->x;
    double start = scen_now();
    s->n_warm = 0;
    while (s->n_warm < SCEN_WARM_MAX && !atomic_load(&x->stop)) {
        double dt;
        if (scen_call(s, &dt)) break;
        s->warm[s->n_warm++] = dt;
        if (s->n_warm >= 2 * SCEN_WARM_WINDOW &&
            stats_warm(s->warm, s->n_warm, SCEN_WARM_WINDOW, SCEN_WARM_TOL))
            break;
        if (scen_now() - start > x->warm_bound) break;
    }
    s->warm_s = scen_now() - start;
}

static int append_call(scen_stream *s, double done_at, double took) {
    pthread_mutex_lock(&s->lock);
    int rc = 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        double *a = realloc(s->done_at, cap * sizeof *a);
        if (a) s->done_at = a;
        double *b = a ? realloc(s->took, cap * sizeof *b) : NULL;
        if (b) s->took = b;
        if (a && b)
            s->cap = cap;
        else
            rc = -1;
    }
    if (!rc) {
        s->done_at[s->n] = done_at;
        s->took[s->n] = took;
        s->n++;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* Calls back to back until the main thread closes the window. */
static void stream_offline(scen_stream *s) {
    scen_ctx *x = s->x;
    while (!atomic_load(&x->stop)) {
        double took;
        if (scen_call(s, &took)) return;
        if (append_call(s, scen_now() - x->t0, took)) {
            s->rc = CALMA_E_NOMEM;
            snprintf(s->err.msg, sizeof s->err.msg, "out of memory keeping %zu calls", s->n);
            atomic_store(&x->stop, 1);
            return;
        }
    }
}

static void *stream_main(void *p) {
    scen_stream *s = p;
    scen_ctx *x = s->x;
    unsigned seen = 0;
    for (;;) {
        pthread_mutex_lock(&x->mu);
        while (x->gen == seen) pthread_cond_wait(&x->cv, &x->mu);
        seen = x->gen;
        scen_job job = x->job;
        pthread_mutex_unlock(&x->mu);
        if (job == SCEN_JOB_EXIT) return NULL;
        if (job == SCEN_JOB_WARM) stream_warm(s);
        if (job == SCEN_JOB_OFFLINE) stream_offline(s);
        if (job == SCEN_JOB_SERVE) scen_serve(s);
        atomic_fetch_add(&x->finished, 1);
    }
}

static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

void scen_run_job(scen_ctx *x, scen_job job, const char *phase, void (*watch)(scen_ctx *)) {
    if (x->rep && x->rep->phase) x->rep->phase(x->rep->ctx, phase);
    atomic_store(&x->finished, 0);
    x->t0 = scen_now();
    pthread_mutex_lock(&x->mu);
    x->job = job;
    x->gen++;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
    double last = x->t0;
    while (atomic_load(&x->finished) < x->n_threads) {
        sleep_s(SCEN_POLL_S);
        if (watch) watch(x);
        double now = scen_now();
        if (now - last > SCEN_PROGRESS_S && x->rep && x->rep->progress) {
            size_t n = job == SCEN_JOB_SERVE ? atomic_load(&x->served) : 0;
            for (int i = 0; job != SCEN_JOB_SERVE && i < x->S; i++) {
                pthread_mutex_lock(&x->st[i].lock);
                n += job == SCEN_JOB_WARM ? 0 : x->st[i].n;
                pthread_mutex_unlock(&x->st[i].lock);
            }
            x->rep->progress(x->rep->ctx, phase, n, now - x->t0);
            last = now;
        }
    }
}

double scen_warm_median(const scen_ctx *x) {
    double v[SCEN_WARM_WINDOW * 256];
    size_t n = 0;
    for (int i = 0; i < x->S; i++) {
        const scen_stream *s = &x->st[i];
        size_t from = s->n_warm > SCEN_WARM_WINDOW ? s->n_warm - SCEN_WARM_WINDOW : 0;
        for (size_t k = from; k < s->n_warm && n < sizeof v / sizeof v[0]; k++) v[n++] = s->warm[k];
    }
    stats_sort(v, n);
    return n ? stats_percentile(v, n, 50) : NAN;
}

/* ---- statistics shared with the server ---- */

double scen_percentile(const double *sorted, size_t n, double p) {
    if (n == 0) return NAN;
    double pos = p / 100.0 * (double)(n - 1);
    size_t i = pos <= 0 ? 0 : (size_t)pos;
    if (i >= n - 1) return sorted[n - 1];
    double frac = pos - (double)i;
    /* inf - inf would make the interpolation NaN */
    if (isinf(sorted[i]) || (frac > 0 && isinf(sorted[i + 1]))) return INFINITY;
    return stats_percentile(sorted, n, p);
}

void scen_add_quantile(cJSON *o, const char *key, const double *sorted, size_t n, double q) {
    char k[64];
    cJSON_AddNumberToObject(o, key, scen_percentile(sorted, n, q * 100));
    size_t lo, hi;
    if (!stats_quantile_ci_ranks(n, q, 0.95, &lo, &hi)) return;
    snprintf(k, sizeof k, "%s_lo", key);
    cJSON_AddNumberToObject(o, k, sorted[lo]);
    snprintf(k, sizeof k, "%s_hi", key);
    cJSON_AddNumberToObject(o, k, sorted[hi]);
}

/* ---- offline ---- */

/* samples/s over [0, T] from time slices: *B slices (SCEN_SLICES, fewer
 * when a slice would average under five completions), their rates in
 * rates, the mean and its t interval (NAN with fewer than two slices),
 * widened to +- batch x S / T. */
static size_t offline_interval(scen_ctx *x, double T, double *rates, int *B, double *mean,
                               double *lo, double *hi) {
    size_t counts[SCEN_SLICES] = {0}, n = 0;
    for (int i = 0; i < x->S; i++) {
        scen_stream *s = &x->st[i];
        pthread_mutex_lock(&s->lock);
        for (size_t k = 0; k < s->n && s->done_at[k] <= T; k++) n++;
        pthread_mutex_unlock(&s->lock);
    }
    int b = (int)(n / 5 < SCEN_SLICES ? n / 5 : SCEN_SLICES);
    *B = b;
    double batch = (double)x->a->batch;
    *mean = T > 0 ? batch * (double)n / T : NAN;
    *lo = *hi = NAN;
    if (b < 2 || !(T > 0)) return n;
    for (int i = 0; i < x->S; i++) {
        scen_stream *s = &x->st[i];
        pthread_mutex_lock(&s->lock);
        for (size_t k = 0; k < s->n && s->done_at[k] <= T; k++) {
            int j = (int)(s->done_at[k] / T * b);
            counts[j < b ? j : b - 1]++;
        }
        pthread_mutex_unlock(&s->lock);
    }
    for (int j = 0; j < b; j++) rates[j] = batch * (double)counts[j] / (T / b);
    double m;
    stats_process_interval(rates, b, &m, lo, hi);
    /* Never narrower than the calls in flight when the window closed (up to
     * one per stream, not counted): slices of a very even conversion can
     * hold equal counts, and a zero width would be a rounding artefact. */
    double q = batch * (double)x->S / T;
    *lo = fmax(0, fmin(*lo, m - q)); /* and never below zero */
    *hi = fmax(*hi, m + q);
    return n;
}

/* The stopping rule, looked at about twenty times per window length. */
static void offline_watch(scen_ctx *x) {
    if (x->why) return;
    double el = scen_now() - x->t0;
    const scen_args *a = x->a;
    size_t n = 0;
    for (int i = 0; i < x->S; i++) {
        pthread_mutex_lock(&x->st[i].lock);
        n += x->st[i].n;
        pthread_mutex_unlock(&x->st[i].lock);
    }
    if (atomic_load(&x->stop))
        x->why = "a stream failed";
    else if (a->samples > 0 && n >= (size_t)a->samples)
        x->why = stats_stop_name(STATS_STOP_FIXED);
    else if (n >= SCEN_MAX_CALLS)
        x->why = stats_stop_name(STATS_STOP_COUNT);
    else if (a->samples <= 0 && el >= a->max_time)
        x->why = stats_stop_name(STATS_STOP_TIME);
    else if (a->samples <= 0 && el >= a->min_time && el - x->checked >= fmax(0.05, el / 20)) {
        x->checked = el;
        double rates[SCEN_SLICES], mean, lo, hi;
        int B;
        offline_interval(x, el, rates, &B, &mean, &lo, &hi);
        /* ten slices at least (fifty calls): fewer make a rough interval */
        if (B >= SCEN_SLICES / 2 && mean > 0 && (hi - lo) / mean <= a->precision)
            x->why = stats_stop_name(STATS_STOP_PRECISION);
    }
    if (x->why) {
        x->t_end = el;
        atomic_store(&x->stop, 1);
    }
}

static int offline(scen_ctx *x, cJSON *obj, scen_outcome *out, calma_error *e) {
    x->why = NULL;
    x->checked = 0;
    atomic_store(&x->stop, 0);
    scen_run_job(x, SCEN_JOB_OFFLINE, "measure", offline_watch);
    int rc = scen_stream_failure(x, e);
    if (rc) return rc;
    double T = x->t_end, rates[SCEN_SLICES], mean, lo, hi;
    int B;
    size_t n = offline_interval(x, T, rates, &B, &mean, &lo, &hi);
    out->service = malloc((n ? n : 1) * sizeof *out->service);
    if (!out->service) return err_set(e, CALMA_E_NOMEM, "out of memory for %zu calls", n);
    cJSON *per = cJSON_CreateArray();
    size_t lo_n = (size_t)-1, hi_n = 0;
    for (int i = 0; i < x->S; i++) {
        const scen_stream *s = &x->st[i];
        size_t k = 0;
        for (; k < s->n && s->done_at[k] <= T; k++) out->service[out->n_service++] = s->took[k];
        cJSON_AddItemToArray(per, cJSON_CreateNumber((double)k));
        lo_n = k < lo_n ? k : lo_n;
        hi_n = k > hi_n ? k : hi_n;
    }
    out->window_s = T;
    out->per_call_s = n ? T / (double)n : 0;
    out->stop = x->why;
    cJSON_AddNumberToObject(obj, "window_s", T);
    cJSON_AddNumberToObject(obj, "completions", (double)n);
    cJSON_AddItemToObject(obj, "per_stream", per);
    cJSON_AddNumberToObject(obj, "samples_per_s", mean);
    double rel = mean > 0 ? (hi - lo) / mean : NAN;
    if (B >= 2) {
        cJSON_AddNumberToObject(obj, "ci_lo", lo);
        cJSON_AddNumberToObject(obj, "ci_hi", hi);
        cJSON_AddNumberToObject(obj, "ci_rel", rel);
        cJSON_AddItemToObject(obj, "slice_rates", cJSON_CreateDoubleArray(rates, B));
    }
    char method[200];
    snprintf(method, sizeof method,
             "batch means: %d equal time slices, mean +- t(%d) sd / sqrt(%d), at least +- batch "
             "x streams / window",
             B, B - 1, B);
    cJSON_AddStringToObject(obj, "ci_method", method);
    cJSON_AddStringToObject(obj, "stop", x->why);
    if (B < 2)
        warn_add(out->warnings,
                 "only %zu calls completed in the %.3g s window: no interval of "
                 "the throughput (raise --min-time)",
                 n, T);
    else if (B < SCEN_SLICES)
        warn_add(out->warnings,
                 "few calls (%zu): the throughput's interval comes from %d time slices, not %d", n,
                 B, SCEN_SLICES);
    if (x->a->samples <= 0 && rel > x->a->precision)
        warn_add(out->warnings,
                 "precision not reached: the throughput's interval is %.1f%% wide at the %gs "
                 "budget (target %.1f%%)",
                 rel * 100, x->a->max_time, x->a->precision * 100);
    if (x->S > 1 && lo_n > 0 && (double)hi_n > 1.5 * (double)lo_n)
        warn_add(out->warnings,
                 "streams were served unevenly: %zu to %zu calls each (the engine or the OS "
                 "favoured some streams)",
                 lo_n, hi_n);
    return CALMA_OK;
}

/* ---- the whole scenario ---- */

int scen_run(const scen_args *a, const scen_engine *eng, cJSON *res, scen_outcome *out,
             const scen_report *rep, calma_error *e) {
    memset(out, 0, sizeof *out);
    out->warnings = cJSON_CreateArray();
    cJSON *obj = cJSON_AddObjectToObject(res, "scenario");
    if (!out->warnings || !obj) return err_set(e, CALMA_E_NOMEM, "out of memory");
    cJSON_AddStringToObject(obj, "kind", plan_scenario_name(a->kind));
    cJSON_AddNumberToObject(obj, "streams", a->streams);
    int tps = scen_threads_per_stream(a->threads, a->streams);
    cJSON_AddNumberToObject(obj, "threads_per_stream", tps);
    char note[200];
    snprintf(note, sizeof note,
             "%d stream%s, each its own engine state with %d intra-op thread%s (max(1, %d / %d))",
             a->streams, a->streams > 1 ? "s" : "", tps, tps > 1 ? "s" : "", a->threads,
             a->streams);
    cJSON_AddStringToObject(obj, "threads_note", note);
    scen_ctx x;
    memset(&x, 0, sizeof x);
    x.a = a;
    x.eng = eng;
    x.rep = rep;
    x.S = a->streams;
    x.warm_bound = fmin(2.0, fmax(0.1, 0.2 * a->max_time));
    if (rep && rep->phase) rep->phase(rep->ctx, "streams");
    int rc = setup(&x, obj, e);
    if (!rc) {
        scen_run_job(&x, SCEN_JOB_WARM, "warmup", NULL);
        rc = scen_stream_failure(&x, e);
        for (int i = 0; i < x.S; i++) {
            out->warmup_runs += (double)x.st[i].n_warm;
            out->warmup_s = fmax(out->warmup_s, x.st[i].warm_s);
        }
    }
    if (!rc) rc = a->kind == PLAN_OFFLINE ? offline(&x, obj, out, e) : scen_server(&x, obj, out, e);
    teardown(&x);
    cJSON_AddItemToObject(obj, "warnings", cJSON_Duplicate(out->warnings, 1));
    return rc;
}

void scen_outcome_free(scen_outcome *o) {
    free(o->service);
    free(o->latency);
    cJSON_Delete(o->warnings);
    memset(o, 0, sizeof *o);
}
