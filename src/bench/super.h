/* super_: runs one worker process under watch. The worker is exec'd in its
 * own process group, talks JSON lines on a dedicated pipe (its fd number in
 * CALMA_PROTOCOL_FD), and is killed (SIGTERM, then SIGKILL of its whole
 * process tree) when it overruns a timeout, its tree goes over the memory
 * cap or the process limit, or it writes garbage on the pipe. The tree is
 * held by src/bench/contain.h (a cgroup per worker where the machine allows
 * it) and ends with the worker: nothing it started outlives its trial.
 * Single-threaded: one poll loop per worker. The calling process becomes a
 * child subreaper, and must start no other children while super_run runs
 * (a child that appears then is taken for an orphan of the worker). */
#ifndef CALMA_BENCH_SUPER_H
#define CALMA_BENCH_SUPER_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "calma/calma.h"

/* The fd number the worker finds the protocol pipe on. */
#define SUPER_PROTOCOL_FD 3
#define SUPER_PROTOCOL_ENV "CALMA_PROTOCOL_FD"
#define SUPER_TAIL_LINES 20

typedef struct super_limits {
    double load_timeout; /* s from start until the worker leaves load/convert; 0 = none */
    double timeout;      /* s for the whole trial; 0 = none */
    double silence;      /* s without any protocol line; 0 = none */
    uint64_t mem_limit;  /* bytes of memory of the whole process tree; 0 = none */
    int max_tasks;       /* processes and threads of the tree; 0 = CONTAIN_DEFAULT_TASKS */
} super_limits;

typedef struct super_outcome {
    char status[16];           /* ok, mismatch, unsupported, unavailable, timeout, crashed, oom,
                                  error, or "interrupted" (not a trial status: Ctrl-C) */
    char message[1024];        /* why, one line */
    cJSON *result;             /* the worker's result line, or NULL; owned */
    int exit_code;             /* -1 when killed by a signal */
    int signal;                /* 0 when it exited */
    uint64_t peak_rss;         /* bytes, the highest VmHWM seen */
    double wall_s;             /* fork to reap */
    char phase[32];            /* the last phase the worker reported */
    char *stderr_tail;         /* last lines of its stdout+stderr, '\n'-joined; owned */
    char containment[24];      /* "cgroup v2", "cgroup v1" or "rlimit+sampling" */
    char containment_why[320]; /* why no cgroup ("" with one) */
    uint64_t tree_peak;        /* bytes: the tree's highest memory (cgroup charge or summed RSS) */
    int tasks_peak;            /* the tree's most processes and threads at once */
    int strays;                /* processes still running when the worker ended: killed */
} super_outcome;

/* Called for each phase and progress line the worker sends. */
typedef void (*super_event_fn)(void *ctx, const cJSON *event);

/* Runs exe with argv (argv[0] included, NULL-terminated) and fills out.
 * sig_fd is a signalfd for SIGINT/SIGTERM (or -1): a signal there kills the
 * worker and gives status "interrupted". Fails only when the worker cannot
 * be started at all (pipe/fork); everything the worker does is an outcome. */
int super_run(const char *exe, char *const argv[], const super_limits *lim, int sig_fd,
              super_event_fn on_event, void *ctx, super_outcome *out, calma_error *e);
void super_outcome_free(super_outcome *o);

/* Resident set size (VmRSS) and its peak (VmHWM) of pid, in bytes; 0 if
 * unreadable (the process is gone). Use pid 0 for the calling process. */
int super_read_rss(int pid, uint64_t *rss, uint64_t *hwm);

/* Monotonic seconds. */
double super_now(void);

#endif
