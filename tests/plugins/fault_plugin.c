/* A test-only calma plugin whose conversions misbehave on purpose, so the
 * tests can prove the supervisor contains every kind of failure. It links
 * nothing of calma: only the types of include/calma/backend.h. */
#include <math.h>
#include <signal.h>
#include <sys/types.h>
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
    FAULT_SLEEP, /* healthy, and sleeps fault.sleep_us (default 1000) in every run */
    /* Containment: each misbehaves once, in its first run. */
    FAULT_CHILD_OOM,     /* a grandchild allocates without bound; the worker stays small */
    FAULT_ORPHAN,        /* a grandchild that outlives the worker, holding its pipes */
    FAULT_ORPHAN_SETSID, /* the same, re-parented and in a session of its own */
    FAULT_STDERR_FLOOD,  /* 100 MB on stderr, then healthy */
    FAULT_HOSTILE,       /* hostile text: version, error message and stderr */
    FAULT_SIGSTOP,       /* stops itself */
    FAULT_STACK,         /* overflows its stack */
    FAULT_FORK_BOMB      /* forks until refused (bounded here: at most 584 processes) */
};

/* How long FAULT_SLOW's every inference takes. A trial makes at least three
 * (first, warm-up, one sample), so 4.5 s: past the tests' 4 s --timeout,
 * while each gap between protocol lines stays under their 3 s silence
 * limit (--load-timeout). */
#define FAULT_SLOW_S 1.5

typedef struct fault_state {
    enum fault kind;
    int n_out;
    int runs;
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

/* About 1.2 MB of text that must not reach a terminal, a JSON document or
 * a report raw: quotes, markup, line breaks, an ESC sequence, bytes that are
 * not UTF-8 (a stray continuation, an overlong NUL), a formula. Built by the
 * compiler from 4^8 copies of one piece, so it is constant. */
#define HOSTILE_PIECE "\"q'<x>\n\r\x1b[31m\xff\xfe\xc0\x80,="
#define R4(s) s s s s
#define HOSTILE_TEXT R4(R4(R4(R4(R4(R4(R4(R4(HOSTILE_PIECE))))))))
static const char hostile_text[] = HOSTILE_TEXT;

static const char *hostile_version(void) {
    return hostile_text;
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

/* A child of the worker that runs fn and never returns into calma. */
static pid_t spawn(void (*fn)(void)) {
    pid_t pid = fork();
    if (pid == 0) {
        fn();
        _exit(0);
    }
    return pid;
}

static void sleep_forever(void) {
    for (;;) pause();
}

/* Leaves the worker's process group and session, and is re-parented (its
 * parent exits at once): only calma's subreaper and the cgroup find it. */
static void detach_forever(void) {
    if (fork() == 0) {
        setsid();
        sleep_forever();
    }
    _exit(0);
}

/* Each process forks 8 children, 3 levels deep: 584 processes at most,
 * fewer where a limit refuses a fork. A hard bound, so that the machine
 * survives even where nothing else holds it. */
static void bomb(int depth) {
    for (int i = 0; i < 8 && depth < 3; i++) {
        pid_t pid = fork();
        if (pid < 0) break;
        if (pid == 0) {
            bomb(depth + 1);
            sleep_forever();
        }
    }
}

/* Not a tail call, with a frame the compiler must keep. */
static int overflow(volatile char *prev) {
    volatile char frame[1024];
    frame[0] = prev ? prev[0] : 1;
    if (frame[0] == 42) return 0; /* never: frame[0] is 1, but the compiler cannot know */
    return overflow(frame) + frame[1];
}

static void flood_stderr(void) {
    static const char line[] = "flooding stderr: 100 MB of it, far past any buffer calma keeps.\n";
    char chunk[64 * 1024];
    size_t n = sizeof line - 1, fill = 0, total = 0;
    while (fill + n <= sizeof chunk) memcpy(chunk + fill, line, n), fill += n;
    while (total < (100u << 20)) {
        ssize_t w = write(2, chunk, fill);
        if (w <= 0) break;
        total += (size_t)w;
    }
}

static void grow_forever(void);

/* The containment faults, on the first run only; 0 to go on healthy. */
static int misbehave_once(fault_state *s, calma_error *e) {
    switch (s->kind) {
    case FAULT_CHILD_OOM:
        spawn(grow_forever);
        sleep_s(1.5); /* time for the child to pass any cap; the worker holds little */
        return 0;
    case FAULT_ORPHAN:
        spawn(sleep_forever);
        return 0;
    case FAULT_ORPHAN_SETSID:
        spawn(detach_forever);
        return 0;
    case FAULT_STDERR_FLOOD:
        flood_stderr();
        return 0;
    case FAULT_HOSTILE:
        if (write(2, hostile_text, sizeof hostile_text - 1) < 0) break;
        e->status = CALMA_E_INTERNAL; /* as much as the message holds */
        memcpy(e->msg, hostile_text, sizeof e->msg - 1);
        e->msg[sizeof e->msg - 1] = '\0';
        return CALMA_E_INTERNAL;
    case FAULT_SIGSTOP:
        raise(SIGSTOP);
        return 0;
    case FAULT_STACK:
        return overflow(NULL);
    case FAULT_FORK_BOMB:
        bomb(0);
        return 0;
    default:
        break;
    }
    return 0;
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
    if (s->runs++ == 0) {
        int rc = misbehave_once(s, e);
        if (rc) return rc;
    }
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

/* A second backend: the same faults, with a hostile version string. */
static const calma_backend hostile_backend = {
    .abi = CALMA_BACKEND_ABI,
    .name = "fault_hostile",
    .version = hostile_version,
    .probe = fault_probe,
    .load = fault_load,
    .convert = NULL,
    .run = fault_run,
    .release = fault_release,
};

static const enum fault kinds[] = {
    FAULT_OK,           FAULT_HANG_LOAD, FAULT_HANG_RUN,    FAULT_SEGV,
    FAULT_ABORT,        FAULT_EXIT3,     FAULT_OOM,         FAULT_NAN,
    FAULT_JUNK,         FAULT_SLOW,      FAULT_UNAVAILABLE, FAULT_UNSUPPORTED,
    FAULT_SLEEP,        FAULT_CHILD_OOM, FAULT_ORPHAN,      FAULT_ORPHAN_SETSID,
    FAULT_STDERR_FLOOD, FAULT_HOSTILE,   FAULT_SIGSTOP,     FAULT_STACK,
    FAULT_FORK_BOMB};

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
    CONV("FAULT_CHILD_OOM", 13,
         "forks a grandchild that allocates without bound; the worker itself stays small"),
    CONV("FAULT_ORPHAN", 14, "forks a grandchild that outlives the worker, holding its pipes"),
    CONV("FAULT_ORPHAN_SETSID", 15,
         "leaves a grandchild in a session of its own, re-parented, that outlives the worker"),
    CONV("FAULT_STDERR_FLOOD", 16, "writes 100 MB to stderr, then runs healthy"),
    {"FAULT_HOSTILE", NULL, 3, "cpu\x1b[2J",
     "hostile text everywhere: \x1b[31mred\x1b[0m, \r, <script>, \xff \xfe", &hostile_backend,
     &kinds[17]},
    CONV("FAULT_SIGSTOP", 18, "stops itself with SIGSTOP in run"),
    CONV("FAULT_STACK", 19, "overflows its stack in run"),
    CONV("FAULT_FORK_BOMB", 20, "forks until refused, at most 584 processes"),
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
