/* The terminal table and the best-conversion line. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"
#include "util/fmt.h"

static const cJSON *get(const cJSON *j, const char *k) {
    return j ? cJSON_GetObjectItemCaseSensitive(j, k) : NULL;
}

static double num(const cJSON *j, const char *obj, const char *k) {
    const cJSON *o = obj ? get(j, obj) : j;
    const cJSON *v = get(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *str(const cJSON *j, const char *k) {
    const cJSON *v = get(j, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static int is_ok(const cJSON *r) {
    return !strcmp(str(r, "status"), "ok");
}

/* Median of the slowest ok trial at the same batch and threads. */
static double slowest_ok(const cJSON *records, const cJSON *like) {
    double worst = NAN;
    const cJSON *r;
    cJSON_ArrayForEach(r, records) {
        if (!is_ok(r) || num(r, NULL, "batch") != num(like, NULL, "batch") ||
            num(r, NULL, "threads") != num(like, NULL, "threads"))
            continue;
        double m = num(r, "stats", "median");
        if (isfinite(m) && (!isfinite(worst) || m > worst)) worst = m;
    }
    return worst;
}

const cJSON *bench_best(const cJSON *records) {
    const cJSON *best = NULL, *r;
    double best_tp = 0;
    cJSON_ArrayForEach(r, records) {
        if (!is_ok(r)) continue;
        double tp = num(r, "throughput", "per_s_median");
        if (isfinite(tp) && tp > best_tp) best_tp = tp, best = r;
    }
    return best;
}

static const char *verdict(const cJSON *r) {
    const char *v = str(get(r, "validation"), "verdict");
    if (!*v) return "-";
    return v;
}

static const char *status_color(const char *st) {
    if (!strcmp(st, "ok")) return "\033[32m";
    if (!strcmp(st, "unavailable") || !strcmp(st, "unsupported")) return "\033[33m";
    return "\033[31m";
}

void bench_table_print(FILE *f, const cJSON *records, int color) {
    fprintf(f, "%-22s %5s %3s  %-11s %-26s %12s %8s %14s %10s %10s %10s  %s\n", "conversion",
            "batch", "thr", "status", "median [95% CI]", "per second", "speed-up", "GFLOP/s (peak)",
            "first run", "load", "peak mem", "validation");
    const cJSON *r;
    cJSON_ArrayForEach(r, records) {
        char med[112] = "-", lo[32], hi[32], first[32], load[32], mem[32], tp[32] = "-",
             sp[32] = "-", gf[48] = "-";
        double gflops = num(r, "efficiency", "gflops"),
               share = num(r, "efficiency", "share_of_fma_peak");
        if (isfinite(gflops) && isfinite(share))
            snprintf(gf, sizeof gf, "%.3g (%.0f%%)", gflops, 100 * share);
        else if (isfinite(gflops))
            snprintf(gf, sizeof gf, "%.3g", gflops);
        double m = num(r, "stats", "median");
        if (isfinite(m)) {
            char ms[32];
            fmt_time(m, ms, sizeof ms);
            fmt_time(num(r, "stats", "ci_lo"), lo, sizeof lo);
            fmt_time(num(r, "stats", "ci_hi"), hi, sizeof hi);
            snprintf(med, sizeof med, "%s [%s, %s]", ms, lo, hi);
            double t = num(r, "throughput", "per_s_median");
            if (isfinite(t)) snprintf(tp, sizeof tp, "%.4g", t);
            double slow = slowest_ok(records, r);
            if (is_ok(r) && isfinite(slow) && m > 0) snprintf(sp, sizeof sp, "%.2fx", slow / m);
        }
        fmt_time(num(r, "phases", "first_s"), first, sizeof first);
        fmt_time(num(r, "phases", "load_s"), load, sizeof load);
        fmt_bytes(num(r, "memory", "peak"), mem, sizeof mem);
        const char *st = str(r, "status");
        fprintf(f, "%-22s %5.0f %3.0f  %s%-11s%s %-26s %12s %8s %14s %10s %10s %10s  %s\n",
                str(r, "conversion"), num(r, NULL, "batch"), num(r, NULL, "threads"),
                color ? status_color(st) : "", st, color ? "\033[0m" : "", med, tp, sp, gf, first,
                load, mem, verdict(r));
        const char *msg = str(r, "message");
        if (!is_ok(r) && *msg) fprintf(f, "    %s: %.300s\n", str(r, "status"), msg);
        const cJSON *w;
        cJSON_ArrayForEach(w, get(r, "warnings")) {
            if (cJSON_IsString(w)) fprintf(f, "    warning: %.300s\n", w->valuestring);
        }
    }
    const cJSON *best = bench_best(records);
    if (!best) {
        fprintf(f, "best: none (no trial is ok)\n");
        return;
    }
    char med[32];
    double m = num(best, "stats", "median");
    fmt_time(m, med, sizeof med);
    fprintf(f, "best: %s at batch %.0f, threads %.0f: median %s, %.4g per second",
            str(best, "conversion"), num(best, NULL, "batch"), num(best, NULL, "threads"), med,
            num(best, "throughput", "per_s_median"));
    /* Compared with the oracle at the same batch and threads when it ran ok. */
    const cJSON *ref = NULL;
    cJSON_ArrayForEach(r, records) {
        if (is_ok(r) && !strcmp(str(r, "conversion"), "REFERENCE") &&
            num(r, NULL, "batch") == num(best, NULL, "batch") &&
            num(r, NULL, "threads") == num(best, NULL, "threads"))
            ref = r;
    }
    if (ref && ref != best && m > 0)
        fprintf(f, " (%.1fx faster than REFERENCE)", num(ref, "stats", "median") / m);
    else if (!ref || ref != best) {
        double slow = slowest_ok(records, best);
        if (isfinite(slow) && slow > m) fprintf(f, " (%.1fx faster than the slowest ok)", slow / m);
    }
    fprintf(f, "\n");
}

int bench_exit_code(const cJSON *records, int strict) {
    const cJSON *r;
    cJSON_ArrayForEach(r, records) {
        const char *s = str(r, "status");
        if (!strcmp(s, "ok")) continue;
        if (!strcmp(s, "unavailable") || !strcmp(s, "unsupported")) {
            if (strict) return 1;
            continue;
        }
        return 1;
    }
    return 0;
}
