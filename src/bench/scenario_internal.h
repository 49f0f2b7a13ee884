/* What scenario.c (streams, warm-up, offline) and scenario_server.c (the
 * Poisson server and the rate search) share. Not for other modules. */
#ifndef CALMA_BENCH_SCENARIO_INTERNAL_H
#define CALMA_BENCH_SCENARIO_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "bench/scenario.h"
#include "util/err.h"

#define SCEN_WARM_WINDOW 5
#define SCEN_WARM_TOL 0.05
#define SCEN_WARM_MAX 1000
#define SCEN_POLL_S 0.01       /* the main thread's watch interval */
#define SCEN_PROGRESS_S 0.25   /* s between progress lines */
#define SCEN_MAX_CALLS 1000000 /* 16 bytes each: a bound on memory, as the single scenario's */

typedef enum scen_job { SCEN_JOB_WARM, SCEN_JOB_OFFLINE, SCEN_JOB_SERVE, SCEN_JOB_EXIT } scen_job;

struct scen_ctx;

typedef struct scen_stream {
    struct scen_ctx *x;
    int index;
    void *state; /* stream 0: the worker's; else loaded here */
    calma_tensor *in, *out;
    void **bufs; /* the buffers of streams > 0 (n_in + n_out), owned */
    pthread_t thread;
    int started;
    double warm[SCEN_WARM_MAX]; /* warm-up call times */
    size_t n_warm;
    double warm_s;
    /* offline: each completed call, in time order (guarded by lock: the
     * main thread reads while the stream appends) */
    pthread_mutex_t lock;
    double *done_at; /* s since the window opened */
    double *took;    /* s inside run() */
    size_t n, cap;
    int rc; /* a failed run: the stream stops, the scenario reports err */
    calma_error err;
} scen_stream;

typedef struct scen_ctx {
    const scen_args *a;
    const scen_engine *eng;
    const scen_report *rep;
    int S;
    scen_stream *st;
    pthread_barrier_t go, end; /* S streams + the main thread */
    scen_job job;
    atomic_int finished; /* streams done with the job */
    atomic_int stop;     /* close the window now (or a stream failed) */
    double t0;           /* the window's start (monotonic s) */
    double warm_bound;   /* s a stream may warm up */
    /* one server step */
    const double *arrival; /* s after t0 */
    double *start, *done;  /* per request, s after t0; NAN when not served */
    unsigned char *waited; /* the stream was idle and waited for the arrival */
    size_t n_req;
    atomic_size_t next;   /* the FIFO's head: the next request to take */
    atomic_size_t served; /* for progress lines */
    double cutoff;        /* no request starts later than t0 + cutoff */
    /* the control of job runs (a generation counter: robust to a thread
     * that failed to start, unlike a barrier) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned gen;
    int n_threads; /* started */
    /* the offline window's stopping rule */
    const char *why; /* why it closed, once it has */
    double t_end;    /* when it closed, s after t0 */
    double checked;  /* when the rule last looked, s after t0 */
} scen_ctx;

/* Runs job on every stream and watches: progress lines, and watch(x) (may be
 * NULL) after each poll until every stream finished; watch may set x->stop. */
void scen_run_job(scen_ctx *x, scen_job job, const char *phase, void (*watch)(scen_ctx *));
/* The first stream failure, copied into e; CALMA_OK when none. */
int scen_stream_failure(const scen_ctx *x, calma_error *e);
/* One call on stream s, timed. */
int scen_call(scen_stream *s, double *took);
double scen_now(void);

/* The server scenario: fixed rate, or the search (scenario_server.c). */
int scen_server(scen_ctx *x, cJSON *obj, scen_outcome *out, calma_error *e);
/* A server stream's work for one step (runs on the stream's thread). */
void scen_serve(scen_stream *s);

/* The median of the streams' last warm-up window: the steady call time. */
double scen_warm_median(const scen_ctx *x);
/* Percentile p (0-100) of sorted data that may end in +inf (requests never
 * served count as infinitely late): +inf when it reaches them. */
double scen_percentile(const double *sorted, size_t n, double p);
/* Adds a percentile of sorted latencies and its 95% order-statistic
 * interval to o as key, key_lo, key_hi (the interval only where it exists). */
void scen_add_quantile(cJSON *o, const char *key, const double *sorted, size_t n, double q);

#endif
