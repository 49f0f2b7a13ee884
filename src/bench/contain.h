/* contain_: holds a worker's whole process tree (every child, grandchild
 * and orphan it leaves, also one that called setsid()) to the trial's
 * memory cap and process count, and ends all of it with the trial.
 *
 * Mechanisms, best first:
 *   "cgroup v2"        a leaf cgroup per trial under calma's own cgroup,
 *                      with memory.max, memory.swap.max 0 and pids.max; the
 *                      verdict from memory.events (oom_kill) and pids.events;
 *                      the end by cgroup.kill (or killing every pid in it)
 *   "cgroup v1"        the same in the v1 memory and pids hierarchies
 *                      (memory.limit_in_bytes, memory.oom_control)
 *   "rlimit+sampling"  RLIMIT_DATA (a per-process backstop at twice the cap),
 *                      RLIMIT_NPROC (not for root, which the kernel exempts),
 *                      and the tree found in /proc (process group, parent
 *                      links, orphans re-parented to calma, which makes itself
 *                      a child subreaper) with its resident memory summed
 *                      every 5 ms
 * A cgroup is used when the machine offers the memory and pids controllers
 * to calma's own cgroup and calma may write there (as root, typically);
 * CALMA_CONTAINMENT=rlimit forces the last. Every worker gets RLIMIT_CORE 0:
 * a crashing engine leaves no core file behind. */
#ifndef CALMA_BENCH_CONTAIN_H
#define CALMA_BENCH_CONTAIN_H

#include <stdint.h>

#include "calma/calma.h"

#define CONTAIN_DEFAULT_TASKS 4096 /* processes and threads of one worker's tree */
#define CONTAIN_NAME_MAX 24

typedef enum contain_kind { CONTAIN_RLIMIT, CONTAIN_CGROUP1, CONTAIN_CGROUP2 } contain_kind;

/* What contain_poll found. */
typedef enum contain_event {
    CONTAIN_FINE,
    CONTAIN_OVER_MEMORY, /* sampling saw the tree over the cap */
    CONTAIN_OOM_KILLED,  /* the kernel ended a process of the tree at the cgroup's cap */
    CONTAIN_OVER_TASKS   /* the tree reached the process limit (a fork was refused or seen) */
} contain_event;

typedef struct contain contain;

/* Chooses the mechanism and prepares it for one worker (a cgroup leaf, the
 * limits the child will set). mem_limit in bytes (0: none), max_tasks
 * (0: CONTAIN_DEFAULT_TASKS). Also removes leaves that supervisors killed
 * with SIGKILL left behind. Fails only when out of memory. */
int contain_open(contain **out, uint64_t mem_limit, int max_tasks, calma_error *e);

/* In the forked child, before exec: joins the leaf and sets the limits.
 * Only async-signal-safe calls. Returns -1 when the child could not join
 * (it must not run uncontained: exit). */
int contain_child(const contain *c);

/* In the parent, right after fork: the worker's pid. */
void contain_started(contain *c, int pid);

/* Samples the tree (call every contain_tick_ms): memory, process count,
 * the kernel's OOM kills. */
contain_event contain_poll(contain *c);
int contain_tick_ms(const contain *c);

/* Sends sig to every process of the tree (SIGKILL by cgroup.kill where
 * there is one); SIGCONT follows any other signal, so a stopped process
 * acts on it. */
void contain_signal(contain *c, int sig);

/* Ends whatever is left of the tree (SIGKILL, until it is empty or 2 s
 * passed), reaps what became calma's children, removes the leaf. Returns how
 * many processes other than the worker were still there: strays the worker
 * left behind. Call after the worker itself was reaped. */
int contain_end(contain *c);
void contain_close(contain *c);

/* "cgroup v2", "cgroup v1" or "rlimit+sampling". */
const char *contain_name(const contain *c);
/* Why no cgroup is used ("" when one is): for the record. */
const char *contain_why(const contain *c);
/* The tree's highest memory seen, in bytes (the cgroup's peak charge, or
 * the highest sum of resident memory sampled), and its most processes and
 * threads at once. */
uint64_t contain_peak(const contain *c);
/* The tree's memory at the last poll (cgroup charge, or resident memory
 * with shared pages counted once when it was over the cap). */
uint64_t contain_usage(const contain *c);
int contain_tasks_peak(const contain *c);
uint64_t contain_mem_limit(const contain *c);
int contain_max_tasks(const contain *c);

#endif
