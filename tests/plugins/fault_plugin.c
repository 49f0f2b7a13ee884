/* A test-only calma plugin whose conversions misbehave on purpose, so the
 * tests can prove the supervisor contains every kind of failure. It links
 * nothing of calma: only the types of include/calma/backend.h. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "calma/backend.h"

enum fault {
    FAULT_OK, /* copies input 0 to output 0: correct for an Identity model */
    FAULT_HANG_LOAD,
    FAULT_HANG_RUN,
    FAULT_SEGV,
    FAULT_ABORT,
    FAULT_EXIT3,
    FAULT_OOM,
    FAULT_NAN,
    FAULT_JUNK,
    FAULT_SLOW,
    FAULT_UNAVAILABLE,
    FAULT_UNSUPPORTED,
    FAULT_SLEEP /* healthy, and sleeps fault.sleep_us (default 1000) in every run */
};

/* How long FAULT_SLOW's every inference takes. A trial makes at least three
 * (first, warm-up, one sample), so 4.5 s: past the tests' 4 s --timeout,
 * while each gap between protocol lines stays under their 3 s silence
 * limit (--load-timeout). */
#define FAULT_SLOW_S 1.5

typedef struct fault_state {
    enum fault kind;
    int n_out;
    double sleep_s; /* FAULT_SLEEP */
} fault_state;

static void set_error(calma_error *e, int status, const char *msg) {
    if (!e) return;
    e->status = status;
    snprintf(e->msg, sizeof e->msg, "%s", msg);
}

static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static const char *fault_version(void) {
    return "fault 1.0";
}

static int fault_probe(const calma_conversion *c, calma_error *e) {
    if (*(const enum fault *)c->data == FAULT_UNAVAILABLE) {
        set_error(e, CALMA_E_UNAVAILABLE, "FAULT_UNAVAILABLE is never available (by design)");
        return CALMA_E_UNAVAILABLE;
    }
    return CALMA_OK;
}

static int fault_load(const calma_conversion *c, const calma_model *m,
                      const calma_trial_config *cfg, void **state, calma_error *e) {
    enum fault kind = *(const enum fault *)c->data;
    if (kind == FAULT_HANG_LOAD)
        for (;;) sleep_s(1);
    if (kind == FAULT_UNSUPPORTED) {
        set_error(e, CALMA_E_UNSUPPORTED, "FAULT_UNSUPPORTED supports no op (op 'Everything')");
        return CALMA_E_UNSUPPORTED;
    }
    fault_state *s = calloc(1, sizeof *s);
    if (!s) {
        set_error(e, CALMA_E_NOMEM, "out of memory");
        return CALMA_E_NOMEM;
    }
    s->kind = kind;
    s->n_out = m->n_outputs;
    const char *opt = cfg && cfg->options ? strstr(cfg->options, "fault.sleep_us=") : NULL;
    s->sleep_s = (opt ? atof(opt + strlen("fault.sleep_us=")) : 1000.0) * 1e-6;
    *state = s;
    return CALMA_OK;
}

static void grow_forever(void) {
    /* Touches every page so the memory is resident, not just reserved. */
    for (;;) {
        size_t n = 16u << 20;
        char *p = malloc(n);
        if (!p) continue;
        memset(p, 1, n);
    }
}

static int fault_run(void *state, const calma_tensor *in, int n_in, calma_tensor *out, int n_out,
                     calma_error *e) {
    fault_state *s = state;
    switch (s->kind) {
    case FAULT_HANG_RUN:
        for (;;) sleep_s(1);
    case FAULT_SEGV:
        raise(SIGSEGV);
        break;
    case FAULT_ABORT:
        abort();
    case FAULT_EXIT3:
        exit(3);
    case FAULT_OOM:
        grow_forever();
        break;
    case FAULT_SLOW:
        sleep_s(FAULT_SLOW_S);
        break;
    case FAULT_SLEEP:
        sleep_s(s->sleep_s);
        break;
    case FAULT_JUNK: {
        const char *fd = getenv("CALMA_PROTOCOL_FD");
        static const char junk[] = "this is not a protocol line {{{\n";
        if (fd && write(atoi(fd), junk, sizeof junk - 1) < 0) {
            set_error(e, CALMA_E_INTERNAL, "cannot write junk");
            return CALMA_E_INTERNAL;
        }
        break;
    }
    default:
        break;
    }
    for (int k = 0; k < n_out; k++) {
        if (s->kind == FAULT_NAN && out[k].dtype == CALMA_DT_FLOAT) {
            float *f = out[k].data;
            for (size_t i = 0; i < out[k].nbytes / sizeof(float); i++) f[i] = (float)NAN;
        } else if (k < n_in && in[k].nbytes == out[k].nbytes) {
            memcpy(out[k].data, in[k].data, out[k].nbytes);
        } else {
            memset(out[k].data, 0, out[k].nbytes);
        }
    }
    return CALMA_OK;
}

static void fault_release(void *state) {
    free(state);
}

static const calma_backend fault_backend = {
    .abi = CALMA_BACKEND_ABI,
    .name = "fault",
    .version = fault_version,
    .probe = fault_probe,
    .load = fault_load,
    .convert = NULL,
    .run = fault_run,
    .release = fault_release,
};

static const enum fault kinds[] = {
    FAULT_OK,          FAULT_HANG_LOAD,   FAULT_HANG_RUN, FAULT_SEGV, FAULT_ABORT,
    FAULT_EXIT3,       FAULT_OOM,         FAULT_NAN,      FAULT_JUNK, FAULT_SLOW,
    FAULT_UNAVAILABLE, FAULT_UNSUPPORTED, FAULT_SLEEP};

#define CONV(name, i, what)                                                                        \
    { name, NULL, 3, "cpu", what, &fault_backend, &kinds[i] }

static const calma_conversion fault_conversions[] = {
    CONV("FAULT_OK", 0, "healthy: copies input to output (correct for an Identity model)"),
    CONV("FAULT_HANG_LOAD", 1, "hangs forever in load"),
    CONV("FAULT_HANG_RUN", 2, "hangs forever in run"),
    CONV("FAULT_SEGV", 3, "raises SIGSEGV in run"),
    CONV("FAULT_ABORT", 4, "aborts in run"),
    CONV("FAULT_EXIT3", 5, "calls exit(3) in run"),
    CONV("FAULT_OOM", 6, "allocates and touches memory without bound in run"),
    CONV("FAULT_NAN", 7, "returns NaN outputs"),
    CONV("FAULT_JUNK", 8, "writes junk on the protocol pipe in run"),
    CONV("FAULT_SLOW", 9, "sleeps 1.5 s in every run, past the trial budget"),
    CONV("FAULT_UNAVAILABLE", 10, "its probe always says unavailable"),
    CONV("FAULT_UNSUPPORTED", 11, "its load always says unsupported"),
    CONV("FAULT_SLEEP", 12,
         "healthy, and sleeps --options fault.sleep_us=N (default 1000) in every run"),
};

static const calma_plugin fault_plugin = {
    .abi = CALMA_BACKEND_ABI,
    .name = "fault",
    .n_conversions = (int)(sizeof fault_conversions / sizeof fault_conversions[0]),
    .conversions = fault_conversions,
};

const calma_plugin *calma_plugin_entry(void);
const calma_plugin *calma_plugin_entry(void) {
    return &fault_plugin;
}
