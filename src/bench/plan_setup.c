/* Setting up a run before anything runs: the plan of a new run checked
 * against the registry and every model (names, files, shapes, folders) and
 * written as plan.json, or the plan of a run to resume read back and checked.
 * Any fault is CALMA_E_USAGE (exit 2) naming it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench/facts.h"
#include "bench/journal.h"
#include "bench/plan.h"
#include "bench/registry.h"
#include "onnx/onnx.h"
#include "transform/xform.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/sha256.h"
#include "zoo/zoo.h"

/* Makes the failure in e a plan error (exit 2), keeping its message. */
static int as_usage(calma_error *e) {
    e->status = CALMA_E_USAGE;
    return CALMA_E_USAGE;
}

int plan_is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Every runtime input must have known dimensions once the batch is fixed,
 * and a fixed leading dimension must equal every batch asked for. */
static int check_inputs(const ir_graph *g, const plan *p, const char *arg, calma_error *e) {
    for (int i = 0; i < g->n_inputs; i++) {
        const ir_value *v = &g->values[g->inputs[i]];
        if (v->rank < 0 || v->dtype == CALMA_DT_UNDEFINED)
            return err_set(e, CALMA_E_USAGE, "%s: input '%s' has no declared type and shape", arg,
                           v->name);
        for (int d = 1; d < v->rank; d++)
            if (v->dims[d] < 0)
                return err_set(e, CALMA_E_USAGE,
                               "%s: input '%s' dimension %d ('%s') is symbolic; calma fixes only "
                               "the leading batch dimension",
                               arg, v->name, d, v->dim_param[d] ? v->dim_param[d] : "?");
        if (v->rank >= 1 && v->dims[0] >= 0)
            for (int b = 0; b < p->n_batch; b++)
                if (p->batch[b] != v->dims[0])
                    return err_set(e, CALMA_E_USAGE,
                                   "%s: input '%s' has a fixed batch of %lld; --batch %lld cannot "
                                   "run",
                                   arg, v->name, (long long)v->dims[0], (long long)p->batch[b]);
    }
    return CALMA_OK;
}

/* "net" for ".../net.onnx": letters, digits, '.', '-' and '_' only, as it
 * names folders and trial ids. */
static char *dup_basename(const char *path) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    if (n > 5 && !strcmp(b + n - 5, ".onnx")) n -= 5;
    char *s = mem_strndup(b, n);
    for (char *c = s; c && *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '-' || *c == '_'))
            *c = '_';
    return s;
}

/* Finds model m (a file or a zoo name), loads it to prove it is usable and
 * returns the graph. */
static int resolve_model(plan_model *m, uint64_t seed, ir_graph **g, calma_error *e) {
    struct stat st;
    if (stat(m->arg, &st) == 0 && S_ISDIR(st.st_mode))
        return err_set(e, CALMA_E_USAGE, "model '%s' is a directory, not an .onnx file", m->arg);
    if (plan_is_file(m->arg)) {
        m->path = realpath(m->arg, NULL);
        m->name = dup_basename(m->arg);
        if (!m->path || !m->name) return err_set(e, CALMA_E_NOMEM, "out of memory");
        int rc = onnx_load(m->path, g, e);
        if (rc) {
            err_prefix(e, "model %s cannot be loaded", m->arg);
            return as_usage(e);
        }
        return CALMA_OK;
    }
    if (zoo_find(m->arg) >= 0) {
        m->zoo = 1;
        m->name = mem_strdup(m->arg);
        if (!m->name) return err_set(e, CALMA_E_NOMEM, "out of memory");
        int rc = zoo_build(m->arg, seed, g, e);
        if (rc) {
            err_prefix(e, "built-in model %s", m->arg);
            return as_usage(e);
        }
        return CALMA_OK;
    }
    char names[512] = "";
    size_t len = 0;
    for (int i = 0; i < zoo_count() && len < sizeof names - 64; i++)
        len +=
            (size_t)snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "", zoo_name(i));
    return err_set(e, CALMA_E_USAGE,
                   "model '%s': no such file, and not a built-in model (built-in: %s)", m->arg,
                   names);
}

/* Two models with one base name get "-2", "-3": names key trial ids. */
static int unique_name(plan *p, int i, calma_error *e) {
    for (int n = 2;; n++) {
        int clash = 0;
        for (int j = 0; j < i; j++) clash |= !strcmp(p->models[j].name, p->models[i].name);
        if (!clash) return CALMA_OK;
        char buf[600];
        const char *dash = n > 2 ? strrchr(p->models[i].name, '-') : NULL;
        size_t base = dash ? (size_t)(dash - p->models[i].name) : strlen(p->models[i].name);
        snprintf(buf, sizeof buf, "%.*s-%d", (int)base, p->models[i].name, n);
        free(p->models[i].name);
        if (!(p->models[i].name = mem_strdup(buf)))
            return err_set(e, CALMA_E_NOMEM, "out of memory");
    }
}

/* --models-from FILE: one model (a path or a zoo name) per line; blank
 * lines and lines starting with '#' are skipped; a relative path is taken
 * from the file's folder. */
static int read_models_from(plan *p, calma_error *e) {
    if (!p->models_from) return CALMA_OK;
    FILE *f = fopen(p->models_from, "re");
    if (!f) return err_set(e, CALMA_E_USAGE, "--models-from %s: cannot be read", p->models_from);
    char line[4096], dir[4096];
    snprintf(dir, sizeof dir, "%s", p->models_from);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    int rc = CALMA_OK, lineno = 0, added = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ')) n--;
        line[n] = '\0';
        char *s = line;
        while (*s == ' ' || *s == '\t') s++;
        if (!*s || *s == '#') continue;
        char path[8200];
        if (*s != '/' && zoo_find(s) < 0)
            snprintf(path, sizeof path, "%s/%s", dir, s);
        else
            snprintf(path, sizeof path, "%s", s);
        rc = plan_add_model(p, path, e);
        added++;
    }
    fclose(f);
    if (!rc && !added)
        rc = err_set(e, CALMA_E_USAGE, "--models-from %s: no model in it (one per line)",
                     p->models_from);
    return rc;
}

/* --baseline names a conversion of this plan, by any of its names. */
static int check_baseline(plan *p, const registry *reg, calma_error *e) {
    if (!p->baseline) return CALMA_OK;
    registry_entry en;
    calma_error why;
    if (registry_resolve(reg, p->baseline, &en, &why))
        return err_set(e, CALMA_E_USAGE, "--baseline '%s': %s", p->baseline, why.msg);
    char names[512] = "";
    size_t len = 0;
    for (int i = 0; i < p->n_conv; i++) {
        if (!strcmp(p->conv[i], en.name)) {
            free(p->baseline);
            p->baseline = mem_strdup(en.name);
            return p->baseline ? CALMA_OK : err_set(e, CALMA_E_NOMEM, "out of memory");
        }
        if (len + 40 < sizeof names)
            len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "",
                                    p->conv[i]);
    }
    return err_set(e, CALMA_E_USAGE,
                   "--baseline %s is not among this run's conversions (%s); add it to "
                   "--conversions",
                   en.name, names);
}

/* More threads than CPUs measures time-sharing, not the conversion. */
static void warn_threads(const plan *p) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    for (int i = 0; i < p->n_threads; i++)
        if (cpus > 0 && p->threads[i] > cpus)
            fprintf(stderr,
                    "calma bench: warning: --threads %d is more than the %ld CPUs here: the "
                    "threads share cores, and those trials measure that, not the conversion\n",
                    p->threads[i], cpus);
}

/* --output is written last: check now that its folder takes files, so a
 * long run does not end without its artifact. */
static int check_output(const char *out, calma_error *e) {
    if (!out) return CALMA_OK;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", out);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(dir, W_OK) != 0)
        return err_set(e, CALMA_E_USAGE, "--output %s: folder %s does not exist or is not writable",
                       out, dir);
    return CALMA_OK;
}

/* The conversions of the selection, checked names, in order. */
static int select_conversions(plan *p, const registry *reg, calma_error *e) {
    registry_selection sel;
    memset(&sel, 0, sizeof sel);
    int rc = registry_select(reg, p->conversions_csv, p->tier, &sel, e);
    if (rc) return rc;
    if (sel.warnings[0]) fprintf(stderr, "calma bench: %s\n", sel.warnings);
    p->n_conv = sel.n;
    p->conv = calloc((size_t)sel.n + 1, sizeof *p->conv);
    /* full names: TRANSFORM+CONVERSION stays in trial ids and the plan */
    for (int i = 0; p->conv && i < sel.n; i++) p->conv[i] = mem_strdup(sel.entry[i].name);
    int any_xform = 0;
    for (int i = 0; i < sel.n; i++) any_xform |= sel.entry[i].xform != NULL;
    registry_selection_free(&sel);
    if (!p->conv) return err_set(e, CALMA_E_NOMEM, "out of memory");
    /* the transforms' own --options keys are checked before anything runs */
    xform_opts xo;
    if (any_xform && xform_parse_options(p->options, &xo, e)) return err_prefix(e, "--options");
    return CALMA_OK;
}

/* The run folder of a new run: the default name, or --run-dir when it holds
 * no run yet; made and made absolute. */
static int make_run_dir(plan *p, calma_error *e) {
    if (!p->run_dir) {
        char stamp[32], dir[512];
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
        if (p->n_models > 1)
            snprintf(dir, sizeof dir, "calma-runs/%s-%d-models", stamp, p->n_models);
        else
            snprintf(dir, sizeof dir, "calma-runs/%s-%s", stamp, p->models[0].name);
        if (p->shard_n) {
            size_t len = strlen(dir);
            snprintf(dir + len, sizeof dir - len, "-shard%dof%d", p->shard_k, p->shard_n);
        }
        p->run_dir = mem_strdup(dir);
    } else {
        char pj[4200];
        snprintf(pj, sizeof pj, "%s/%s", p->run_dir, JOURNAL_PLAN);
        if (plan_is_file(pj))
            return err_set(e, CALMA_E_USAGE,
                           "--run-dir %s already holds a run; continue it with --resume %s or "
                           "pick another folder",
                           p->run_dir, p->run_dir);
    }
    if (journal_make_dir(p->run_dir, e)) return as_usage(e);
    /* Absolute, so paths in the report hold from any folder. */
    char *abs = realpath(p->run_dir, NULL);
    if (abs) {
        free(p->run_dir);
        p->run_dir = abs;
    }
    return CALMA_OK;
}

/* A built-in model is written into the run folder, where workers read it. */
static int write_zoo_model(plan *p, int i, const ir_graph *g, calma_error *e) {
    char rel[512], path[4700];
    plan_zoo_path(p, i, rel, sizeof rel);
    snprintf(path, sizeof path, "%s/%s", p->run_dir, rel);
    int rc = CALMA_OK;
    if (strchr(rel, '/')) {
        char dir[4700];
        snprintf(dir, sizeof dir, "%s/models", p->run_dir);
        rc = journal_make_dir(dir, e);
    }
    if (!rc) rc = onnx_save(g, path, e);
    free(p->models[i].path);
    p->models[i].path = rc ? NULL : realpath(path, NULL);
    if (!rc && !p->models[i].path) rc = err_set(e, CALMA_E_IO, "cannot find %s", path);
    if (rc) {
        err_prefix(e, "cannot write the model into the run folder");
        return as_usage(e);
    }
    return CALMA_OK;
}

/* Model i's TorchScript file for TORCHSCRIPT and TORCHSCRIPT_FROZEN: the
 * one given, which must be a readable file, else MODEL.pt beside
 * MODEL.onnx when there is one. Recorded in plan.json; workers get it. */
static int resolve_torchscript(plan *p, int i, calma_error *e) {
    plan_model *m = &p->models[i];
    if (p->torchscript) {
        struct stat st;
        if (p->n_models > 1)
            return err_set(e, CALMA_E_USAGE,
                           "--torchscript names the TorchScript file of one model; this plan "
                           "has %d (put MODEL.pt beside each MODEL.onnx instead)",
                           p->n_models);
        if (stat(p->torchscript, &st) != 0)
            return err_set(e, CALMA_E_USAGE, "--torchscript %s: no such file", p->torchscript);
        if (!S_ISREG(st.st_mode))
            return err_set(e, CALMA_E_USAGE, "--torchscript %s: not a regular file",
                           p->torchscript);
        if (access(p->torchscript, R_OK) != 0)
            return err_set(e, CALMA_E_USAGE, "--torchscript %s: not readable", p->torchscript);
        m->torchscript = mem_strdup(p->torchscript);
        return m->torchscript ? CALMA_OK : err_set(e, CALMA_E_NOMEM, "out of memory");
    }
    if (m->zoo) return CALMA_OK;
    size_t n = strlen(m->arg);
    if (n > 5 && !strcmp(m->arg + n - 5, ".onnx")) n -= 5;
    char path[4200];
    snprintf(path, sizeof path, "%.*s.pt", (int)n, m->arg);
    if (plan_is_file(path) && access(path, R_OK) == 0) m->torchscript = realpath(path, NULL);
    return CALMA_OK;
}

/* Each model, checked; the facts of a model file are read now (a built-in
 * model's once it is written into the run folder). */
static int check_models(plan *p, cJSON **facts, int *all_expected, calma_error *e) {
    if (p->n_models > 1 && (p->n_inputs || p->n_expected || p->inputs_dir || p->expected_dir))
        return err_set(e, CALMA_E_USAGE,
                       "--input, --inputs-dir, --expected and --expected-dir belong to one "
                       "model; this plan has %d (run them one model at a time)",
                       p->n_models);
    for (int i = 0; i < p->n_models; i++) {
        ir_graph *g = NULL;
        int rc = resolve_model(&p->models[i], p->seed, &g, e);
        if (!rc) rc = unique_name(p, i, e);
        if (!rc) rc = resolve_torchscript(p, i, e);
        if (!rc) rc = check_inputs(g, p, p->models[i].arg, e);
        if (!rc && i == 0) rc = plan_check_files(g, p, e);
        if (!rc && i == 0) *all_expected = p->n_expected >= g->n_outputs;
        if (!rc && !p->models[i].zoo) facts[i] = facts_model(g, p->models[i].path);
        ir_graph_free(g);
        if (rc) return rc;
    }
    return CALMA_OK;
}

/* Writes the built-in models into the run folder, with their facts. */
static int write_zoo_models(plan *p, cJSON **facts, calma_error *e) {
    for (int i = 0; i < p->n_models; i++) {
        if (!p->models[i].zoo) continue;
        ir_graph *g = NULL;
        int rc = zoo_build(p->models[i].arg, p->seed, &g, e);
        if (!rc) rc = write_zoo_model(p, i, g, e);
        if (!rc) facts[i] = facts_model(g, p->models[i].path);
        ir_graph_free(g);
        if (rc) return as_usage(e);
    }
    return CALMA_OK;
}

static void add_facts(cJSON *m, const cJSON *facts) {
    const cJSON *f;
    if (m && facts) cJSON_ArrayForEach(f, facts) {
            cJSON_DeleteItemFromObjectCaseSensitive(m, f->string);
            cJSON_AddItemToObject(m, f->string, cJSON_Duplicate(f, 1));
        }
}

int plan_setup_new(plan *p, const registry *reg, cJSON **plan_json, int *all_expected,
                   calma_error *e) {
    *plan_json = NULL;
    int rc = check_output(p->output, e);
    if (!rc) rc = select_conversions(p, reg, e);
    if (rc) return rc;
    warn_threads(p);
    rc = read_models_from(p, e);
    if (!rc && p->n_models == 0) rc = plan_add_model(p, "simple", e);
    if (rc) return rc;
    cJSON *facts[PLAN_MAX_MODELS] = {0};
    rc = check_models(p, facts, all_expected, e);
    if (!rc) rc = check_baseline(p, reg, e);
    if (!rc) rc = make_run_dir(p, e);
    if (!rc) rc = write_zoo_models(p, facts, e);
    if (!rc) {
        cJSON *j = plan_to_json(p);
        cJSON *ms = cJSON_GetObjectItemCaseSensitive(j, "models");
        for (int i = 0; i < p->n_models; i++) add_facts(cJSON_GetArrayItem(ms, i), facts[i]);
        add_facts(cJSON_GetObjectItemCaseSensitive(j, "model"), facts[0]);
        cJSON_AddItemToObject(j, "machine", facts_machine());
        rc = plan_seal(p, j, e);
        *plan_json = j;
    }
    for (int i = 0; i < p->n_models; i++) cJSON_Delete(facts[i]);
    if (rc) return rc;
    char *text = cJSON_Print(*plan_json);
    if (!text) return err_set(e, CALMA_E_NOMEM, "out of memory");
    rc = journal_write_file(p->run_dir, JOURNAL_PLAN, text, e);
    free(text);
    return rc ? as_usage(e) : CALMA_OK;
}

int plan_setup_resume(plan *p, const registry *reg, const cJSON *plan_json, int *all_expected,
                      calma_error *e) {
    int rc = plan_from_json(p, plan_json, e);
    if (!rc) rc = plan_share_from_json(p, plan_json, e);
    if (rc) {
        err_prefix(e, "--resume %s", p->resume);
        return as_usage(e);
    }
    rc = check_output(p->output, e);
    if (rc) return rc;
    p->run_dir = realpath(p->resume, NULL);
    if (!p->run_dir) p->run_dir = mem_strdup(p->resume);
    for (int i = 0; i < p->n_models; i++) {
        if (!p->models[i].zoo) continue;
        char rel[512], path[4700];
        plan_zoo_path(p, i, rel, sizeof rel);
        snprintf(path, sizeof path, "%s/%s", p->run_dir, rel);
        free(p->models[i].path);
        p->models[i].path = realpath(path, NULL);
        if (!p->models[i].path)
            return err_set(e, CALMA_E_USAGE, "--resume %s: the run's %s is missing", p->run_dir,
                           rel);
    }
    for (int i = 0; i < p->n_conv; i++) {
        registry_entry en;
        calma_error why;
        if (registry_resolve(reg, p->conv[i], &en, &why))
            return err_set(e, CALMA_E_USAGE,
                           "--resume %s: the plan names conversion %s, which this calma does not "
                           "know (a plugin missing?): %s",
                           p->run_dir, p->conv[i], why.msg);
    }
    for (int i = 0; i < p->n_models; i++) {
        ir_graph *g = NULL;
        rc = onnx_load(p->models[i].path, &g, e);
        if (!rc && i == 0) *all_expected = p->n_expected >= g->n_outputs;
        ir_graph_free(g);
        if (rc) {
            err_prefix(e, "--resume %s", p->run_dir);
            return as_usage(e);
        }
    }
    return journal_make_dir(p->run_dir, e) ? as_usage(e) : CALMA_OK;
}
