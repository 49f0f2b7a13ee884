/* The serving-scenario flags of a plan: --scenario, --streams, --rate and
 * --latency-bound, their checks, and their place in plan.json. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench/plan.h"
#include "util/err.h"

/* Bits of plan.scenario_given. */
enum { GIVEN_SCENARIO = 1, GIVEN_STREAMS = 2, GIVEN_RATE = 4, GIVEN_BOUND = 8 };

/* More streams than this is a typo, not a deployment. */
#define PLAN_MAX_STREAMS 256

const char *plan_scenario_name(int scenario) {
    switch (scenario) {
    case PLAN_OFFLINE:
        return "offline";
    case PLAN_SERVER:
        return "server";
    default:
        return "single";
    }
}

static int parse_kind(const char *v, int *out) {
    for (int k = PLAN_SINGLE; k <= PLAN_SERVER; k++)
        if (!strcmp(v, plan_scenario_name(k))) {
            *out = k;
            return 0;
        }
    return -1;
}

/* "250", "250/s", "1e3" -> requests per second > 0; "auto" sets rate_auto. */
static int parse_rate(plan *p, const char *v, calma_error *e) {
    if (!strcmp(v, "auto")) {
        p->rate_auto = 1;
        p->rate = 0;
        return CALMA_OK;
    }
    errno = 0;
    char *end;
    double r = strtod(v, &end);
    if (end != v && !strcmp(end, "/s")) end += 2;
    if (errno || end == v || *end || !isfinite(r) || !(r > 0) || r > 1e9)
        return err_set(e, CALMA_E_USAGE,
                       "--rate '%s': give requests per second > 0 (e.g. --rate 200) or --rate auto",
                       v);
    p->rate = r;
    p->rate_auto = 0;
    return CALMA_OK;
}

int plan_scenario_flag(plan *p, const char *flag, const char *val, int *rc, calma_error *e) {
    *rc = CALMA_OK;
    if (!strcmp(flag, "--scenario")) {
        if (parse_kind(val, &p->scenario))
            *rc = err_set(e, CALMA_E_USAGE, "--scenario '%s': give single, offline or server", val);
        p->scenario_given |= GIVEN_SCENARIO;
    } else if (!strcmp(flag, "--streams")) {
        int64_t s[PLAN_MAX_LIST];
        *rc = plan_parse_int_list("--streams", val, s, &p->n_streams, e);
        for (int k = 0; !*rc && k < p->n_streams; k++) {
            if (s[k] > PLAN_MAX_STREAMS)
                *rc = err_set(e, CALMA_E_USAGE, "--streams: %lld is more than %d streams",
                              (long long)s[k], PLAN_MAX_STREAMS);
            p->streams[k] = (int)s[k];
        }
        if (*rc) { /* keep the plan whole: one stream */
            p->n_streams = 1;
            p->streams[0] = 1;
        }
        p->scenario_given |= GIVEN_STREAMS;
    } else if (!strcmp(flag, "--rate")) {
        *rc = parse_rate(p, val, e);
        p->scenario_given |= GIVEN_RATE;
    } else if (!strcmp(flag, "--latency-bound")) {
        double b;
        if (plan_parse_duration(val, &b) || !(b > 0))
            *rc = err_set(e, CALMA_E_USAGE,
                          "--latency-bound '%s': give the p99 bound as a duration > 0, like 10ms",
                          val);
        else
            p->latency_bound = b;
        p->scenario_given |= GIVEN_BOUND;
    } else {
        return 0;
    }
    return 1;
}

int plan_scenario_check(const plan *p, calma_error *e) {
    unsigned g = p->scenario_given;
    if (p->scenario == PLAN_SINGLE && (g & GIVEN_STREAMS))
        return err_set(e, CALMA_E_USAGE,
                       "--streams runs parallel streams, which needs --scenario offline or "
                       "--scenario server (the single scenario has one stream)");
    if (p->scenario != PLAN_SERVER && (g & GIVEN_RATE))
        return err_set(e, CALMA_E_USAGE,
                       "--rate sets the arrival rate of --scenario server; this plan's scenario "
                       "is %s",
                       plan_scenario_name(p->scenario));
    if (p->scenario != PLAN_SERVER && (g & GIVEN_BOUND))
        return err_set(e, CALMA_E_USAGE,
                       "--latency-bound judges the p99 of --scenario server; this plan's scenario "
                       "is %s",
                       plan_scenario_name(p->scenario));
    if (p->scenario == PLAN_SERVER && !(g & GIVEN_RATE))
        return err_set(e, CALMA_E_USAGE,
                       "--scenario server needs --rate R (requests per second) or --rate auto");
    if (p->rate_auto && !(p->latency_bound > 0))
        return err_set(e, CALMA_E_USAGE,
                       "--rate auto searches for the highest rate whose p99 meets a bound: give "
                       "--latency-bound (e.g. --latency-bound 10ms)");
    return CALMA_OK;
}

void plan_scenario_to_json(const plan *p, cJSON *j) {
    if (p->scenario == PLAN_SINGLE) return;
    cJSON *s = cJSON_AddObjectToObject(j, "scenario");
    cJSON_AddStringToObject(s, "kind", plan_scenario_name(p->scenario));
    cJSON *st = cJSON_AddArrayToObject(s, "streams");
    for (int i = 0; i < p->n_streams; i++)
        cJSON_AddItemToArray(st, cJSON_CreateNumber(p->streams[i]));
    if (p->scenario != PLAN_SERVER) return;
    if (p->rate_auto)
        cJSON_AddStringToObject(s, "rate", "auto");
    else
        cJSON_AddNumberToObject(s, "rate", p->rate);
    if (p->latency_bound > 0) cJSON_AddNumberToObject(s, "latency_bound", p->latency_bound);
}

int plan_scenario_from_json(plan *p, const cJSON *j, calma_error *e) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "scenario");
    p->scenario = PLAN_SINGLE;
    p->n_streams = 1;
    p->streams[0] = 1;
    if (!s) return CALMA_OK; /* plans from before scenarios, and single ones */
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(s, "kind");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(s, "streams");
    const cJSON *rate = cJSON_GetObjectItemCaseSensitive(s, "rate");
    const cJSON *bound = cJSON_GetObjectItemCaseSensitive(s, "latency_bound"), *v;
    if (!cJSON_IsString(kind) || parse_kind(kind->valuestring, &p->scenario) ||
        cJSON_GetArraySize(st) < 1 || cJSON_GetArraySize(st) > PLAN_MAX_LIST)
        return err_set(e, CALMA_E_PARSE, "plan.json: bad scenario");
    p->n_streams = 0;
    cJSON_ArrayForEach(v, st) {
        if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > PLAN_MAX_STREAMS)
            return err_set(e, CALMA_E_PARSE, "plan.json: bad scenario streams");
        p->streams[p->n_streams++] = (int)v->valuedouble;
    }
    if (p->scenario != PLAN_SERVER) return CALMA_OK;
    if (cJSON_IsString(rate) && !strcmp(rate->valuestring, "auto"))
        p->rate_auto = 1;
    else if (cJSON_IsNumber(rate) && rate->valuedouble > 0)
        p->rate = rate->valuedouble;
    else
        return err_set(e, CALMA_E_PARSE, "plan.json: a server scenario without a rate");
    if (cJSON_IsNumber(bound) && bound->valuedouble > 0) p->latency_bound = bound->valuedouble;
    if (p->rate_auto && !(p->latency_bound > 0))
        return err_set(e, CALMA_E_PARSE, "plan.json: --rate auto without a latency bound");
    return CALMA_OK;
}
