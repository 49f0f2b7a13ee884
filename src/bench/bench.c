#include "bench/bench.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench/combine.h"
#include "bench/facts.h"
#include "bench/journal.h"
#include "bench/plan.h"
#include "bench/registry.h"
#include "bench/scenario.h"
#include "bench/super.h"
#include "bench/warnings.h"
#include "bench/worker.h"
#include "cli/cli.h"
#include "onnx/onnx.h"
#include "ref/ref.h"
#include "transform/xform.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/text.h"
#include "zoo/zoo.h"

/* Everything one run holds; lives on bench_main's stack. */
typedef struct run {
    plan p;
    registry *reg;
    cJSON *plan_json;
    cJSON *records; /* journal order */
    int sig_fd;
    int tty;
    int interrupted;
    int index, total; /* for progress lines */
    char exe[4096];   /* this calma, exec'd as every worker */
    const char *label;
    char label_buf[320];
    int all_expected; /* --expected covers every output: the oracle need not run */
} run;

static int usage_fail(const calma_error *e) {
    fprintf(stderr, "calma bench: %s\n", e->msg);
    return CLI_EXIT_USAGE;
}

static uint64_t default_mem_limit(void) {
    FILE *f = fopen("/proc/meminfo", "re");
    unsigned long long kb = 0;
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) break;
        fclose(f);
    }
    if (!kb) return 4ull << 30;
    return (uint64_t)kb * 1024 / 4 * 3;
}

/* ---- running ---- */

typedef struct argv_buf {
    char *v[52 + 6 * PLAN_MAX_LIST];
    char store[32][64];
    char inbuf[PLAN_MAX_LIST][1024];
    char exbuf[PLAN_MAX_LIST][1024];
    char oracle_dir[4300];
    char xform_dir[4300];
    int n, ns;
} argv_buf;

static void arg(argv_buf *a, const char *s) {
    a->v[a->n++] = (char *)s;
    a->v[a->n] = NULL;
}

static void argf(argv_buf *a, const char *flag, const char *fmt, double v) {
    arg(a, flag);
    snprintf(a->store[a->ns], sizeof a->store[0], fmt, v);
    arg(a, a->store[a->ns++]);
}

/* Where the oracle's outputs for a model and batch size live. */
static void oracle_dir(const run *r, int model, int64_t batch, char *buf, size_t n) {
    if (r->p.n_models > 1) {
        char sub[4200];
        snprintf(sub, sizeof sub, "%s/oracle/%s", r->p.run_dir, r->p.models[model].name);
        snprintf(buf, n, "%s/b%lld", sub, (long long)batch);
    } else {
        worker_oracle_dir(r->p.run_dir, batch, buf, (unsigned)n);
    }
}

/* --scenario, --streams, --rate and --latency-bound of a scenario trial. */
static void scenario_argv(const plan *p, argv_buf *a, int streams) {
    if (p->scenario == PLAN_SINGLE) return;
    arg(a, "--scenario");
    arg(a, plan_scenario_name(p->scenario));
    argf(a, "--streams", "%.0f", streams);
    if (p->scenario != PLAN_SERVER) return;
    if (p->rate_auto) {
        arg(a, "--rate");
        arg(a, "auto");
    } else {
        argf(a, "--rate", "%.17g", p->rate);
    }
    if (p->latency_bound > 0) argf(a, "--latency-bound", "%.17g", p->latency_bound);
}

static void worker_argv(const run *r, argv_buf *a, int model, const char *conv, int64_t batch,
                        int threads, int streams, const char *id, int oracle) {
    const plan *p = &r->p;
    memset(a, 0, sizeof *a);
    arg(a, "calma");
    arg(a, "worker");
    if (oracle) arg(a, "--oracle");
    arg(a, "--model");
    arg(a, p->models[model].path);
    oracle_dir(r, model, batch, a->oracle_dir, sizeof a->oracle_dir);
    arg(a, "--oracle-dir");
    arg(a, a->oracle_dir);
    if (conv && strchr(conv, '+')) {
        /* transformed models and calibrations, cached per model */
        if (p->n_models > 1)
            snprintf(a->xform_dir, sizeof a->xform_dir, "%s/transforms/%s", p->run_dir,
                     p->models[model].name);
        else
            snprintf(a->xform_dir, sizeof a->xform_dir, "%s/transforms", p->run_dir);
        arg(a, "--transform-dir");
        arg(a, a->xform_dir);
    }
    arg(a, "--run-dir");
    arg(a, p->run_dir);
    arg(a, "--id");
    arg(a, id);
    if (conv) {
        arg(a, "--conversion");
        arg(a, conv);
    }
    argf(a, "--batch", "%.0f", (double)batch);
    argf(a, "--threads", "%.0f", threads);
    arg(a, "--seed");
    snprintf(a->store[a->ns], sizeof a->store[0], "%llu", (unsigned long long)p->seed);
    arg(a, a->store[a->ns++]);
    if (p->samples > 0) {
        argf(a, "--samples", "%.0f", (double)p->samples);
        if (p->scenario == PLAN_SERVER && !oracle) /* each rate step's budget */
            argf(a, "--max-time", "%.17g", p->max_time / p->repeats);
    } else {
        argf(a, "--precision", "%.17g", p->precision);
        /* The trial's budget is shared by its processes. */
        argf(a, "--max-time", "%.17g", p->max_time / p->repeats);
        argf(a, "--min-time", "%.17g", p->min_time / p->repeats);
    }
    if (p->atol >= 0) argf(a, "--atol", "%.17g", p->atol);
    if (p->rtol >= 0) argf(a, "--rtol", "%.17g", p->rtol);
    if (!oracle) scenario_argv(p, a, streams);
    argf(a, "--validation-batches", "%.0f", p->validation_batches);
    int prec = plan_precision_index(conv ? registry_precision_of(r->reg, conv) : "fp32");
    if (conv && strchr(conv, '+')) argf(a, "--calibration", "%.0f", p->calibration);
    if (prec >= 0 && p->min_cosine[prec] >= 0)
        argf(a, "--min-cosine", "%.17g", p->min_cosine[prec]);
    if (prec >= 0 && p->min_top1[prec] >= 0) argf(a, "--min-top1", "%.17g", p->min_top1[prec]);
    if (prec >= 0 && p->min_top5[prec] >= 0) argf(a, "--min-top5", "%.17g", p->min_top5[prec]);
    for (int i = 0; i < p->n_plugins; i++) {
        arg(a, "--plugin");
        arg(a, p->plugins[i]);
    }
    if (p->options) {
        arg(a, "--options");
        arg(a, p->options);
    }
    if (p->profile && conv) arg(a, "--profile");
    if (p->models[model].torchscript) {
        arg(a, "--torchscript");
        arg(a, p->models[model].torchscript);
    }
    for (int i = 0; i < p->n_inputs; i++) {
        arg(a, "--input");
        snprintf(a->inbuf[i], sizeof a->inbuf[i], "%s=%s", p->input_name[i], p->input_path[i]);
        arg(a, a->inbuf[i]);
    }
    for (int i = 0; i < p->n_expected; i++) {
        arg(a, "--expected");
        snprintf(a->exbuf[i], sizeof a->exbuf[i], "%s=%s", p->expected_name[i],
                 p->expected_path[i]);
        arg(a, a->exbuf[i]);
    }
}

static super_limits limits_of(const plan *p) {
    super_limits l = {.max_tasks = p->max_procs,
                      .load_timeout = p->load_timeout,
                      .timeout = p->timeout,
                      .silence = p->load_timeout,
                      .mem_limit = p->memory_limit};
    return l;
}

static void on_event(void *ctx, const cJSON *ev) {
    run *r = ctx;
    if (!r->tty || r->p.quiet) return;
    const cJSON *ph = cJSON_GetObjectItemCaseSensitive(ev, "phase");
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(ev, "n");
    fprintf(stderr, "\r\033[K[%d/%d] %s: %s", r->index, r->total, r->label,
            cJSON_IsString(ph) ? ph->valuestring : "");
    if (cJSON_IsNumber(n)) fprintf(stderr, " %.0f runs", n->valuedouble);
    fflush(stderr);
}

/* status.json: did the oracle run, how many validation batches it wrote and
 * how long its worker took (the oracle's cost, for people to see). */
static void oracle_status(const char *dir, int ok, const char *reason, int batches,
                          double seconds) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "ok", ok);
    if (ok) cJSON_AddNumberToObject(j, "batches", batches);
    cJSON_AddNumberToObject(j, "seconds", seconds);
    if (!ok) cJSON_AddStringToObject(j, "reason", reason);
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    calma_error e = {0};
    if (!text || journal_make_dir(dir, &e) || journal_write_file(dir, "status.json", text, &e))
        fprintf(stderr, "calma bench: cannot record the oracle's status in %s: %s\n", dir, e.msg);
    free(text);
}

/* Runs the oracle for one model and batch size unless it already ran (its
 * status.json says how that went). */
static int ensure_oracle(run *r, int model, int64_t batch, calma_error *e) {
    char dir[4300], path[4400];
    oracle_dir(r, model, batch, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/status.json", dir);
    if (plan_is_file(path)) return CALMA_OK;
    char id[320];
    if (r->p.n_models > 1)
        snprintf(id, sizeof id, "oracle-%s-b%lld", r->p.models[model].name, (long long)batch);
    else
        snprintf(id, sizeof id, "oracle-b%lld", (long long)batch);
    argv_buf a;
    worker_argv(r, &a, model, NULL, batch, 1, 1, id, 1);
    super_limits lim = limits_of(&r->p);
    super_outcome o;
    r->label = id;
    int rc = super_run(r->exe, a.v, &lim, r->sig_fd, on_event, r, &o, e);
    if (rc) return rc;
    if (!strcmp(o.status, "interrupted")) {
        r->interrupted = 1;
    } else if (!strcmp(o.status, "ok")) {
        const cJSON *nb = cJSON_GetObjectItemCaseSensitive(o.result, "oracle_batches");
        oracle_status(dir, 1, NULL, cJSON_IsNumber(nb) ? (int)nb->valuedouble : 1, o.wall_s);
    } else {
        char reason[1200];
        snprintf(reason, sizeof reason, "%s: %s", o.status, o.message);
        oracle_status(dir, 0, reason, 0, o.wall_s);
        if (!r->p.quiet)
            fprintf(stderr,
                    "%scalma bench: the oracle cannot run batch %lld (%s); trials are "
                    "measured without validation\n",
                    r->tty ? "\r\033[K" : "", (long long)batch, reason);
    }
    super_outcome_free(&o);
    return CALMA_OK;
}

/* Measures the machine's limit for a thread count once per run (in a
 * worker: BLAS threads never start in the supervisor) and records it in
 * plan.json and machine/peak-t<T>.json, where trial workers read it. */
static int ensure_peak(run *r, int threads, calma_error *e) {
    char dir[4200], name[64];
    snprintf(dir, sizeof dir, "%s/machine", r->p.run_dir);
    snprintf(name, sizeof name, "peak-t%d.json", threads);
    char path[4300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (plan_is_file(path)) return CALMA_OK;
    argv_buf a;
    memset(&a, 0, sizeof a);
    arg(&a, "calma");
    arg(&a, "worker");
    arg(&a, "--peak");
    argf(&a, "--threads", "%.0f", threads);
    super_limits lim = limits_of(&r->p);
    super_outcome o;
    char label[64];
    snprintf(label, sizeof label, "machine peak, %d thread%s", threads, threads > 1 ? "s" : "");
    r->label = label;
    int rc = super_run(r->exe, a.v, &lim, r->sig_fd, on_event, r, &o, e);
    if (rc) return rc;
    if (!strcmp(o.status, "interrupted")) r->interrupted = 1;
    if (strcmp(o.status, "ok") || !o.result) {
        if (!r->p.quiet && !r->interrupted)
            fprintf(stderr, "calma bench: could not measure the machine's peak (%s: %s)\n",
                    o.status, o.message);
        super_outcome_free(&o);
        return CALMA_OK;
    }
    cJSON *peak = cJSON_CreateObject();
    static const char *const keys[] = {"threads", "vector", "fma_gflops", "sgemm_gflops"};
    for (int k = 0; k < 4; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o.result, keys[k]);
        if (v) cJSON_AddItemToObject(peak, keys[k], cJSON_Duplicate(v, 1));
    }
    super_outcome_free(&o);
    char *text = cJSON_Print(peak);
    rc = journal_make_dir(dir, e);
    if (!rc && text) rc = journal_write_file(dir, name, text, e);
    free(text);
    cJSON *list = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(r->plan_json, "machine"), "peak");
    if (list)
        cJSON_AddItemToArray(list, peak);
    else
        cJSON_Delete(peak);
    if (!rc) {
        char *plan_text = cJSON_Print(r->plan_json);
        if (plan_text) rc = journal_write_file(r->p.run_dir, JOURNAL_PLAN, plan_text, e);
        free(plan_text);
    }
    return rc;
}

/* The journal record of a finished trial. */
static cJSON *make_record(const run *r, int i, int k, super_outcome *o) {
    const char *conv;
    int64_t batch;
    int threads;
    plan_trial(&r->p, i, &conv, &batch, &threads);
    char id[256];
    plan_trial_id(&r->p, i, id, sizeof id);
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "id", id);
    cJSON_AddStringToObject(rec, "model", r->p.models[plan_trial_model(&r->p, i)].name);
    cJSON_AddStringToObject(rec, "conversion", conv);
    cJSON_AddStringToObject(rec, "precision", registry_precision_of(r->reg, conv));
    cJSON_AddNumberToObject(rec, "batch", (double)batch);
    cJSON_AddNumberToObject(rec, "threads", threads);
    if (r->p.scenario != PLAN_SINGLE)
        cJSON_AddNumberToObject(rec, "streams", plan_trial_streams(&r->p, i));
    cJSON_AddNumberToObject(rec, "repeat", k);
    cJSON_AddStringToObject(rec, "status", o->status);
    cJSON_AddStringToObject(rec, "message", o->message);
    if (o->result) {
        static const char *const keep[] = {
            "phases",         "stats",        "throughput",  "validation", "memory",
            "engine_version", "samples_file", "load_avg",    "warnings",   "efficiency",
            "scenario",       "transform",    "engine_info", NULL};
        for (int k = 0; keep[k]; k++) {
            cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(o->result, keep[k]);
            if (v) cJSON_AddItemToObject(rec, keep[k], v);
        }
    }
    cJSON *mem = cJSON_GetObjectItemCaseSensitive(rec, "memory");
    if (!mem) mem = cJSON_AddObjectToObject(rec, "memory");
    const cJSON *peak = cJSON_GetObjectItemCaseSensitive(mem, "peak");
    double pk = (double)o->peak_rss;
    if (cJSON_IsNumber(peak) && peak->valuedouble > pk) pk = peak->valuedouble;
    cJSON_DeleteItemFromObjectCaseSensitive(mem, "peak");
    cJSON_AddNumberToObject(mem, "peak", pk);
    if (o->tree_peak) cJSON_AddNumberToObject(mem, "tree_peak", (double)o->tree_peak);
    cJSON_AddStringToObject(rec, "containment", o->containment);
    if (o->containment_why[0]) cJSON_AddStringToObject(rec, "containment_why", o->containment_why);
    cJSON_AddNumberToObject(rec, "tasks_peak", o->tasks_peak);
    if (o->strays > 0) {
        cJSON_AddNumberToObject(rec, "strays_killed", o->strays);
        cJSON *w = cJSON_GetObjectItemCaseSensitive(rec, "warnings");
        if (!cJSON_IsArray(w)) {
            cJSON_DeleteItemFromObjectCaseSensitive(rec, "warnings");
            w = cJSON_AddArrayToObject(rec, "warnings");
        }
        warn_add_strays(w, o->strays);
    }
    cJSON *ex = cJSON_AddObjectToObject(rec, "exit");
    cJSON_AddNumberToObject(ex, "code", o->exit_code);
    cJSON_AddNumberToObject(ex, "signal", o->signal);
    cJSON_AddStringToObject(rec, "last_phase", o->phase);
    cJSON_AddNumberToObject(rec, "wall_s", o->wall_s);
    cJSON *tail = cJSON_AddArrayToObject(rec, "stderr_tail");
    if (o->stderr_tail && *o->stderr_tail) {
        char *s = o->stderr_tail, *nl;
        for (;;) {
            nl = strchr(s, '\n');
            if (nl) *nl = '\0';
            cJSON_AddItemToArray(tail, cJSON_CreateString(s));
            if (!nl) break;
            s = nl + 1;
        }
    }
    return rec;
}

static void print_done(const run *r, const cJSON *rec, int earlier) {
    if (r->p.quiet) return;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(rec, "status");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(rec, "message");
    const cJSON *med =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(rec, "stats"), "median");
    /* A record read back from the journal is a file's text: printed as
     * one printable line, like everything a worker says. */
    fprintf(stderr, "%s[%d/%d] ", r->tty ? "\r\033[K" : "", r->index, r->total);
    text_fputs_printable(stderr, r->label, 300);
    fputs(": ", stderr);
    text_fputs_printable(stderr, cJSON_IsString(st) ? st->valuestring : "?", 16);
    char fig[160];
    if (scen_describe(rec, fig, sizeof fig))
        fprintf(stderr, ", %s", fig);
    else if (cJSON_IsNumber(med))
        fprintf(stderr, ", median %.4g ms", med->valuedouble * 1e3);
    if (cJSON_IsString(msg) && *msg->valuestring) {
        fputs(" (", stderr);
        text_fputs_printable(stderr, msg->valuestring, 160);
        fputc(')', stderr);
    }
    if (earlier) fprintf(stderr, " [journal]");
    fprintf(stderr, "\n");
}

static int pending_signal(int fd) {
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    if (fd < 0 || poll(&pf, 1, 0) <= 0) return 0;
    struct signalfd_siginfo si;
    return read(fd, &si, sizeof si) == (ssize_t)sizeof si;
}

/* Runs process k of trial i unless the journal has it or an earlier
 * process of the trial failed. */
static int run_process(run *r, int s, int k, calma_error *e) {
    char id[256], wid[300];
    int i = plan_run_index(&r->p, s);
    plan_trial_id(&r->p, i, id, sizeof id);
    r->index = k * plan_n_run(&r->p) + s + 1;
    if (r->p.repeats > 1)
        snprintf(r->label_buf, sizeof r->label_buf, "%s (%d/%d)", id, k + 1, r->p.repeats);
    else
        snprintf(r->label_buf, sizeof r->label_buf, "%s", id);
    r->label = r->label_buf;
    const cJSON *old = combine_find(r->records, id, k);
    if (old) {
        print_done(r, old, 1);
        return CALMA_OK;
    }
    if (combine_stopped(r->records, id)) return CALMA_OK;
    if (pending_signal(r->sig_fd)) {
        r->interrupted = 1;
        return CALMA_OK;
    }
    const char *conv;
    int64_t batch;
    int threads;
    plan_trial(&r->p, i, &conv, &batch, &threads);
    int rc = ensure_peak(r, threads, e);
    if (rc || r->interrupted) return rc;
    int model = plan_trial_model(&r->p, i);
    if (!r->all_expected) {
        rc = ensure_oracle(r, model, batch, e);
        if (rc || r->interrupted) return rc;
    }
    r->label = r->label_buf;
    if (r->p.repeats > 1)
        snprintf(wid, sizeof wid, "%s.r%d", id, k);
    else
        snprintf(wid, sizeof wid, "%s", id);
    argv_buf a;
    worker_argv(r, &a, model, conv, batch, threads, plan_trial_streams(&r->p, i), wid, 0);
    super_limits lim = limits_of(&r->p);
    super_outcome o;
    rc = super_run(r->exe, a.v, &lim, r->sig_fd, on_event, r, &o, e);
    if (rc) return rc;
    cJSON *rec = make_record(r, i, k, &o);
    if (!strcmp(o.status, "interrupted")) {
        /* In the report, not in the journal: --resume runs it again. */
        r->interrupted = 1;
        super_outcome_free(&o);
        cJSON_AddItemToArray(r->records, rec);
        print_done(r, rec, 0);
        return CALMA_OK;
    }
    super_outcome_free(&o);
    rc = journal_append(r->p.run_dir, rec, e);
    cJSON_AddItemToArray(r->records, rec);
    if (rc) return rc;
    print_done(r, rec, 0);
    return CALMA_OK;
}

/* Round k runs process k of every trial (A B C A B C ...): drift in the
 * machine over the run then touches every conversion alike. */
static int run_trials(run *r, calma_error *e) {
    int n = plan_n_run(&r->p);
    r->total = n * r->p.repeats;
    for (int k = 0; k < r->p.repeats && !r->interrupted; k++)
        for (int s = 0; s < n && !r->interrupted; s++) {
            int rc = run_process(r, s, k, e);
            if (rc) return rc;
        }
    return CALMA_OK;
}

static int finish(run *r, calma_error *e) {
    cJSON *rep = bench_report_build(r->plan_json, r->records, r->interrupted, r->p.keep_samples);
    if (!rep) {
        fprintf(stderr, "calma bench: out of memory building the report\n");
        return CLI_EXIT_FAIL;
    }
    /* The supervisor's own footprint: it must stay small beside workers. */
    uint64_t rss, hwm;
    super_read_rss(0, &rss, &hwm);
    cJSON *sup = cJSON_AddObjectToObject(rep, "supervisor");
    cJSON_AddNumberToObject(sup, "peak_rss", (double)hwm);
    const cJSON *trials = cJSON_GetObjectItemCaseSensitive(rep, "trials");
    if (r->p.n_models > 1)
        printf("\n%d models, run folder %s\n", r->p.n_models, r->p.run_dir);
    else
        printf("\nmodel %s, run folder %s\n", r->p.models[0].name, r->p.run_dir);
    if (r->p.shard_n)
        printf("shard %d of %d: %d of the plan's %d trials\n", r->p.shard_k, r->p.shard_n,
               plan_n_run(&r->p), plan_n_trials(&r->p));
    table_opts to = {.color = isatty(1) && !getenv("NO_COLOR"), .wide = r->p.wide};
    bench_table_print(stdout, rep, &to);
    if (r->p.verbose) bench_engine_info_print(stdout, trials);
    fflush(stdout);
    char path[4200];
    snprintf(path, sizeof path, "%s/report.json", r->p.run_dir);
    int rc = bench_report_write(rep, path, e);
    if (!rc && r->p.output) rc = bench_report_write(rep, r->p.output, e);
    if (!rc)
        printf("report: %s%s%s\n", path, r->p.output ? " and " : "",
               r->p.output ? r->p.output : "");
    if (r->interrupted) {
        int done = 0;
        const cJSON *t;
        cJSON_ArrayForEach(t, trials) {
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(t, "status");
            done += cJSON_IsString(st) && strcmp(st->valuestring, "interrupted");
        }
        printf("interrupted: %d of %d trials done; continue with calma bench --resume %s\n", done,
               plan_n_run(&r->p), r->p.run_dir);
    }
    int code = bench_exit_code(trials, r->p.strict);
    cJSON_Delete(rep);
    if (rc) {
        fprintf(stderr, "calma bench: %s\n", e->msg);
        return CLI_EXIT_FAIL;
    }
    if (r->interrupted) return CLI_EXIT_INTERRUPTED;
    return code ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

/* With --resume the plan comes from the run folder; flags that would
 * change it are refused rather than silently ignored. */
static int check_resume_flags(int argc, char **argv, calma_error *e) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strncmp(a, "--resume", 8) || !strncmp(a, "--output", 8) || !strcmp(a, "--quiet") ||
            !strcmp(a, "--verbose")) {
            if (!strchr(a, '=') && strcmp(a, "--quiet") && strcmp(a, "--verbose")) i++;
            continue;
        }
        return err_set(e, CALMA_E_USAGE,
                       "--resume takes the plan from the run folder; '%s' cannot change it "
                       "(only --output, --quiet and --verbose go with --resume)",
                       a);
    }
    return CALMA_OK;
}

static int open_signals(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) return -1;
    return signalfd(-1, &set, SFD_CLOEXEC);
}

static void close_signals(int fd) {
    if (fd >= 0) close(fd);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
}

int bench_main(int argc, char **argv) {
    run r;
    memset(&r, 0, sizeof r);
    r.sig_fd = -1;
    plan_init(&r.p);
    calma_error e = {0};
    int help = 0, code;
    if (plan_parse_args(&r.p, argc, argv, &help, &e)) {
        code = usage_fail(&e);
        goto out;
    }
    if (help) {
        plan_usage(stdout);
        code = CLI_EXIT_OK;
        goto out;
    }
    if (r.p.resume) {
        if (check_resume_flags(argc, argv, &e)) {
            code = usage_fail(&e);
            goto out;
        }
        if (journal_open_run(r.p.resume, &r.plan_json, &e)) {
            err_prefix(&e, "--resume");
            code = usage_fail(&e);
            goto out;
        }
        plan resumed;
        plan_init(&resumed);
        resumed.resume = r.p.resume;
        resumed.output = r.p.output;
        resumed.quiet = r.p.quiet;
        resumed.verbose = r.p.verbose;
        r.p.resume = r.p.output = NULL;
        plan_free(&r.p);
        r.p = resumed;
    }
    if (r.p.resume) {
        plan tmp;
        plan_init(&tmp);
        if (plan_from_json(&tmp, r.plan_json, &e)) {
            plan_free(&tmp);
            code = usage_fail(&e);
            goto out;
        }
        int rc = registry_open(&r.reg, (const char *const *)tmp.plugins, tmp.n_plugins, &e);
        plan_free(&tmp);
        if (rc || plan_setup_resume(&r.p, r.reg, r.plan_json, &r.all_expected, &e)) {
            code = usage_fail(&e);
            goto out;
        }
    } else {
        if (registry_open(&r.reg, (const char *const *)r.p.plugins, r.p.n_plugins, &e) ||
            plan_setup_new(&r.p, r.reg, &r.plan_json, &r.all_expected, &e)) {
            code = usage_fail(&e);
            goto out;
        }
    }
    if (!r.p.memory_limit) r.p.memory_limit = default_mem_limit();
    if (journal_load(r.p.run_dir, &r.records, &e)) {
        code = usage_fail(&e);
        goto out;
    }
    ssize_t n = readlink("/proc/self/exe", r.exe, sizeof r.exe - 1);
    if (n <= 0 || (size_t)n >= sizeof r.exe - 1) {
        fprintf(stderr, "calma bench: cannot find the calma executable (/proc/self/exe)\n");
        code = CLI_EXIT_FAIL;
        goto out;
    }
    r.exe[n] = '\0';
    setenv(SUPER_PROTOCOL_ENV, "3", 1);
    r.tty = isatty(2);
    r.sig_fd = open_signals();
    if (run_trials(&r, &e)) {
        fprintf(stderr, "%scalma bench: %s\n", r.tty ? "\r\033[K" : "", e.msg);
        finish(&r, &e);
        code = CLI_EXIT_FAIL;
        goto out;
    }
    code = finish(&r, &e);
out:
    close_signals(r.sig_fd);
    cJSON_Delete(r.records);
    cJSON_Delete(r.plan_json);
    registry_close(r.reg);
    plan_free(&r.p);
    return code;
}
