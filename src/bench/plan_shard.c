/* A plan's identity (its hash) and its deterministic shares (--shard K/N),
 * balanced by the trials' expected cost. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench/plan.h"
#include "util/err.h"
#include "util/sha256.h"

static const cJSON *get(const cJSON *j, const char *k) {
    return j ? cJSON_GetObjectItemCaseSensitive(j, k) : NULL;
}

/* What makes two runs the same plan: the models (by content), the trials
 * and how they are measured and judged; not where, when or on which share. */
static int plan_hash(const cJSON *j, char hex[65]) {
    static const char *const keys[] = {"conversions", "batch",   "threads",  "seed",     "rule",
                                       "tolerance",   "repeats", "options",  "baseline", "inputs",
                                       "expected",    "trials",  "scenario", NULL};
    cJSON *h = cJSON_CreateObject();
    if (!h) return -1;
    for (int k = 0; keys[k]; k++) {
        const cJSON *v = get(j, keys[k]);
        if (v) cJSON_AddItemToObject(h, keys[k], cJSON_Duplicate(v, 1));
    }
    cJSON *ms = cJSON_AddArrayToObject(h, "models");
    const cJSON *m;
    cJSON_ArrayForEach(m, get(j, "models")) {
        cJSON *o = cJSON_CreateObject();
        const cJSON *name = get(m, "name"), *sha = get(m, "sha256");
        if (name) cJSON_AddItemToObject(o, "name", cJSON_Duplicate(name, 1));
        if (sha) cJSON_AddItemToObject(o, "sha256", cJSON_Duplicate(sha, 1));
        cJSON_AddItemToArray(ms, o);
    }
    char *text = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    if (!text) return -1;
    sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, text, strlen(text));
    sha256_final_hex(&c, hex);
    free(text);
    return 0;
}

/* Expected seconds of trial i: each process starts (about 0.3 s), then
 * samples for between --min-time and its share of --max-time, about ten
 * calls at least; a call's time from the model's FLOP count at a rough rate
 * (the oracle's double loops: 2 GFLOP/s; an engine: 50 GFLOP/s a thread).
 * Unknown FLOPs: a millisecond a call. */
static double trial_cost(const plan *p, const cJSON *j, int i) {
    const char *conv;
    int64_t batch;
    int threads;
    plan_trial(p, i, &conv, &batch, &threads);
    const cJSON *flops = get(cJSON_GetArrayItem(get(j, "models"), plan_trial_model(p, i)), "flops");
    double rate = !strcmp(conv, "REFERENCE") ? 2e9 : 50e9 * threads;
    double call = cJSON_IsNumber(flops) ? flops->valuedouble * (double)batch / rate : 1e-3;
    double k = p->repeats > 0 ? p->repeats : 1;
    double lo = p->min_time / k, hi = p->max_time / k, sampling = 10 * call;
    if (p->samples > 0)
        sampling = (double)p->samples * call;
    else
        sampling = sampling < lo ? lo : sampling > hi ? fmax(hi, 3 * call) : sampling;
    /* A server trial serves its requests for about its budget, once per rate
     * step of a search (src/bench/scenario_server.c). */
    if (p->scenario == PLAN_SERVER) sampling = hi * (p->rate_auto ? 8 : 1);
    return k * (0.3 + 3 * call + sampling);
}

typedef struct costed {
    int i;
    double cost;
} costed;

static int by_cost(const void *a, const void *b) {
    const costed *x = a, *y = b;
    if (x->cost != y->cost) return x->cost < y->cost ? 1 : -1;
    return (x->i > y->i) - (x->i < y->i); /* ties in plan order: deterministic */
}

static int by_index(const void *a, const void *b) {
    return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

/* Longest expected trial first, each to the share with the least expected
 * time so far (ties to the lowest share): the shares finish close together.
 * p->share gets share K's trials in plan order. */
static int assign(plan *p, const cJSON *j, calma_error *e) {
    int n = plan_n_trials(p);
    costed *c = calloc((size_t)n + 1, sizeof *c);
    double *load = calloc((size_t)p->shard_n, sizeof *load);
    p->share = calloc((size_t)n + 1, sizeof *p->share);
    if (!c || !load || !p->share) {
        free(c);
        free(load);
        return err_set(e, CALMA_E_NOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) c[i] = (costed){i, trial_cost(p, j, i)};
    qsort(c, (size_t)n, sizeof *c, by_cost);
    p->n_share = 0;
    for (int t = 0; t < n; t++) {
        int best = 0;
        for (int s = 1; s < p->shard_n; s++)
            if (load[s] < load[best]) best = s;
        load[best] += c[t].cost;
        if (best == p->shard_k - 1) p->share[p->n_share++] = c[t].i;
    }
    qsort(p->share, (size_t)p->n_share, sizeof *p->share, by_index);
    free(c);
    free(load);
    return CALMA_OK;
}

int plan_seal(plan *p, cJSON *j, calma_error *e) {
    char hex[65];
    if (plan_hash(j, hex)) return err_set(e, CALMA_E_NOMEM, "out of memory");
    cJSON_DeleteItemFromObjectCaseSensitive(j, "plan_hash");
    cJSON_AddStringToObject(j, "plan_hash", hex);
    if (!p->shard_n) return CALMA_OK;
    int rc = assign(p, j, e);
    if (rc) return rc;
    cJSON_DeleteItemFromObjectCaseSensitive(j, "shard");
    cJSON *sh = cJSON_AddObjectToObject(j, "shard");
    cJSON_AddNumberToObject(sh, "index", p->shard_k);
    cJSON_AddNumberToObject(sh, "count", p->shard_n);
    cJSON *ids = cJSON_AddArrayToObject(sh, "trials");
    for (int s = 0; s < p->n_share; s++) {
        char id[256];
        plan_trial_id(p, p->share[s], id, sizeof id);
        cJSON_AddItemToArray(ids, cJSON_CreateString(id));
    }
    return CALMA_OK;
}

int plan_share_from_json(plan *p, const cJSON *j, calma_error *e) {
    const cJSON *ids = get(get(j, "shard"), "trials");
    if (!ids) return CALMA_OK;
    int n = plan_n_trials(p);
    free(p->share);
    p->share = calloc((size_t)cJSON_GetArraySize(ids) + 1, sizeof *p->share);
    if (!p->share) return err_set(e, CALMA_E_NOMEM, "out of memory");
    p->n_share = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, ids) {
        int found = -1;
        for (int i = 0; i < n && found < 0 && cJSON_IsString(x); i++) {
            char id[256];
            plan_trial_id(p, i, id, sizeof id);
            if (!strcmp(id, x->valuestring)) found = i;
        }
        if (found < 0)
            return err_set(e, CALMA_E_PARSE, "plan.json: the shard lists a trial the plan has not");
        p->share[p->n_share++] = found;
    }
    return CALMA_OK;
}
