#include "bench/super.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/contain.h"
#include "util/err.h"

#define SUPER_TERM_GRACE 0.5 /* s between SIGTERM and SIGKILL */
#define SUPER_EXIT_GRACE 5.0 /* s a worker may take to exit after its result */
#define SUPER_LINE_MAX (1 << 20)
#define SUPER_TAIL_COLS 400

double super_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int super_read_rss(int pid, uint64_t *rss, uint64_t *hwm) {
    char path[64];
    if (pid > 0)
        snprintf(path, sizeof path, "/proc/%d/status", pid);
    else
        snprintf(path, sizeof path, "/proc/self/status");
    *rss = 0;
    *hwm = 0;
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        unsigned long long kb;
        if (sscanf(line, "VmRSS: %llu kB", &kb) == 1) *rss = (uint64_t)kb * 1024;
        if (sscanf(line, "VmHWM: %llu kB", &kb) == 1) *hwm = (uint64_t)kb * 1024;
    }
    fclose(f);
    return 0;
}

/* Why the supervisor itself ended the worker. */
enum { KILL_NONE, KILL_TIMEOUT, KILL_OOM, KILL_TASKS, KILL_GARBAGE, KILL_INTERRUPT };

/* The exit code of a child that could not join its cgroup: it must not run
 * uncontained. */
#define SUPER_EXIT_NOJOIN 125

typedef struct watch {
    pid_t pid;
    int reaped, wstatus;
    double start, last_msg, kill_at, sigkill_at, reaped_at, result_at;
    int kill_reason;
    char kill_msg[512];
    int loaded; /* past load and convert */
    char *buf;  /* protocol bytes not yet ending in '\n' */
    size_t len, cap;
    char tail[SUPER_TAIL_LINES][SUPER_TAIL_COLS];
    int tail_n, tail_next;
    char errline[SUPER_TAIL_COLS];
    size_t errlen;
    super_outcome *out;
    super_event_fn on_event;
    void *ctx;
    contain *ct;
} watch;

/* pipe2 is not POSIX; the supervisor is single-threaded, so no exec can
 * slip in between pipe and fcntl. */
static int cloexec_pipe(int p[2]) {
    if (pipe(p) != 0) return -1;
    fcntl(p[0], F_SETFD, FD_CLOEXEC);
    fcntl(p[1], F_SETFD, FD_CLOEXEC);
    return 0;
}

static void child_exec(const char *exe, char *const argv[], int proto_w, int err_w, pid_t parent,
                       const contain *ct) {
    setpgid(0, 0);
    /* A supervisor killed with SIGKILL cannot kill its worker: the kernel does. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    if (contain_child(ct) != 0) {
        dprintf(err_w, "calma: the worker cannot join its cgroup: %s\n", strerror(errno));
        _exit(SUPER_EXIT_NOJOIN);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    int nul = open("/dev/null", O_RDONLY);
    if (nul >= 0) dup2(nul, 0);
    dup2(err_w, 1);
    dup2(err_w, 2);
    if (proto_w == SUPER_PROTOCOL_FD)
        fcntl(proto_w, F_SETFD, 0);
    else
        dup2(proto_w, SUPER_PROTOCOL_FD);
    /* OpenMP engines (oneDNN) spin at every barrier by default: on a shared
     * machine a spinning thread holds the core its partner needs, and a
     * 2-thread trial ran 2-30x slower under load. Passive, as ONNX Runtime
     * runs by default, unless the user's environment says otherwise. */
    setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
    execv(exe, argv);
    dprintf(2, "calma: cannot exec %s: %s\n", exe, strerror(errno));
    _exit(127);
}

static void kill_group(watch *w, int sig) {
    if (w->reaped) return;
    if (kill(-w->pid, sig) != 0) kill(w->pid, sig);
    contain_signal(w->ct, sig); /* the rest of the tree, and SIGCONT for a stopped one */
}

/* Starts ending the worker; the first reason given is the one reported. */
static void start_kill(watch *w, int reason, int hard, const char *msg) {
    if (w->kill_reason == KILL_NONE) {
        w->kill_reason = reason;
        snprintf(w->kill_msg, sizeof w->kill_msg, "%s", msg);
    }
    double now = super_now();
    if (hard) {
        kill_group(w, SIGKILL);
        w->sigkill_at = now;
    } else if (w->kill_at == 0) {
        kill_group(w, SIGTERM);
        w->kill_at = now;
    }
}

/* Replaces control characters and bytes that are not valid UTF-8 with '?',
 * in place: worker output ends up in JSON that other tools must parse. */
static void make_printable(char *s) {
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        int len = *p < 0x80             ? 1
                  : (*p & 0xE0) == 0xC0 ? 2
                  : (*p & 0xF0) == 0xE0 ? 3
                  : (*p & 0xF8) == 0xF0 ? 4
                                        : 0;
        int ok = len > 0 && !(len == 2 && *p < 0xC2);
        for (int i = 1; ok && i < len; i++) ok = (p[i] & 0xC0) == 0x80;
        if (!ok) {
            *p++ = '?';
            continue;
        }
        if (len == 1 && (*p < 32 || *p == 127) && *p != '\t') *p = '?';
        p += len;
    }
}

static void tail_push(watch *w, const char *s, size_t n) {
    if (n >= SUPER_TAIL_COLS) n = SUPER_TAIL_COLS - 1;
    memcpy(w->tail[w->tail_next], s, n);
    w->tail[w->tail_next][n] = '\0';
    make_printable(w->tail[w->tail_next]);
    w->tail_next = (w->tail_next + 1) % SUPER_TAIL_LINES;
    if (w->tail_n < SUPER_TAIL_LINES) w->tail_n++;
}

/* Keeps the last lines, each cut at SUPER_TAIL_COLS; a flood of stderr
 * costs a memchr per line, not a test per byte. */
static void on_stderr(watch *w, const char *p, size_t n) {
    while (n) {
        const char *nl = memchr(p, '\n', n);
        size_t len = nl ? (size_t)(nl - p) : n, room = SUPER_TAIL_COLS - 1 - w->errlen;
        size_t take = len < room ? len : room;
        memcpy(w->errline + w->errlen, p, take);
        w->errlen += take;
        if (!nl) return;
        tail_push(w, w->errline, w->errlen);
        w->errlen = 0;
        p = nl + 1;
        n -= len + 1;
    }
}

static void on_line(watch *w, char *line) {
    size_t n = strlen(line);
    if (n == 0) return;
    cJSON *j = cJSON_Parse(line);
    const cJSON *ev = j ? cJSON_GetObjectItemCaseSensitive(j, "event") : NULL;
    if (!cJSON_IsString(ev)) {
        char msg[256];
        snprintf(msg, sizeof msg, "worker wrote garbage on the protocol pipe: '%.80s'", line);
        make_printable(msg);
        cJSON_Delete(j);
        start_kill(w, KILL_GARBAGE, 1, msg);
        return;
    }
    w->last_msg = super_now();
    if (!strcmp(ev->valuestring, "result")) {
        cJSON_Delete(w->out->result);
        w->out->result = j;
        w->result_at = w->last_msg;
        w->loaded = 1;
        return;
    }
    if (!strcmp(ev->valuestring, "phase")) {
        const cJSON *ph = cJSON_GetObjectItemCaseSensitive(j, "phase");
        if (cJSON_IsString(ph)) {
            snprintf(w->out->phase, sizeof w->out->phase, "%s", ph->valuestring);
            if (strcmp(ph->valuestring, "start") && strcmp(ph->valuestring, "probe") &&
                strcmp(ph->valuestring, "load") && strcmp(ph->valuestring, "transform") &&
                strcmp(ph->valuestring, "convert"))
                w->loaded = 1;
        }
    }
    if (w->on_event) w->on_event(w->ctx, j);
    cJSON_Delete(j);
}

static void on_proto(watch *w, const char *p, size_t n) {
    if (w->kill_reason == KILL_GARBAGE) return;
    if (w->len + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->len + n + 1) cap *= 2;
        char *b = realloc(w->buf, cap);
        if (!b) {
            start_kill(w, KILL_GARBAGE, 1, "supervisor out of memory reading the protocol pipe");
            return;
        }
        w->buf = b;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
    w->buf[w->len] = '\0';
    char *start = w->buf, *nl;
    while (w->kill_reason != KILL_GARBAGE &&
           (nl = memchr(start, '\n', w->len - (size_t)(start - w->buf)))) {
        *nl = '\0';
        on_line(w, start);
        start = nl + 1;
    }
    size_t rest = w->len - (size_t)(start - w->buf);
    memmove(w->buf, start, rest);
    w->len = rest;
    w->buf[w->len] = '\0';
    if (w->len > SUPER_LINE_MAX)
        start_kill(w, KILL_GARBAGE, 1, "worker wrote a protocol line over 1 MiB");
}

/* Reads what is there, up to a bound so that a worker flooding its stderr
 * cannot keep the loop from its timeouts; returns 1 at end of file. */
static int drain(watch *w, int fd, int is_proto) {
    char chunk[8192];
    for (int round = 0; round < 64; round++) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r > 0) {
            if (is_proto)
                on_proto(w, chunk, (size_t)r);
            else
                on_stderr(w, chunk, (size_t)r);
            continue;
        }
        if (r == 0) return 1;
        if (errno == EINTR) continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : 1;
    }
    return 0;
}

static void fmt_bytes(uint64_t b, char *buf, size_t n) {
    if (b >= (1ull << 30))
        snprintf(buf, n, "%.2f GiB", (double)b / (double)(1ull << 30));
    else
        snprintf(buf, n, "%.1f MiB", (double)b / (double)(1ull << 20));
}

/* Acts on what the containment saw: the tree over its memory cap or its
 * process limit ends the trial at once. */
static void watch_tree(watch *w, contain_event ev) {
    char msg[512], a[32], b[32];
    const contain *c = w->ct;
    fmt_bytes(contain_mem_limit(c), b, sizeof b);
    switch (ev) {
    case CONTAIN_OVER_MEMORY:
        fmt_bytes(contain_usage(c), a, sizeof a);
        snprintf(msg, sizeof msg,
                 "the worker's process tree held %s of resident memory, over the limit %s, in "
                 "phase %s (%s)",
                 a, b, w->out->phase, contain_name(c));
        start_kill(w, KILL_OOM, 1, msg);
        break;
    case CONTAIN_OOM_KILLED:
        snprintf(msg, sizeof msg,
                 "the kernel's OOM killer ended a process of the worker's tree at the memory "
                 "limit %s (%s), in phase %s",
                 b, contain_name(c), w->out->phase);
        start_kill(w, KILL_OOM, 1, msg);
        break;
    case CONTAIN_OVER_TASKS:
        snprintf(msg, sizeof msg,
                 "the worker's process tree reached the limit of %d processes and threads (%s) "
                 "in phase %s: a fork bomb, or an engine that starts far too many",
                 contain_max_tasks(c),
                 c && strcmp(contain_name(c), "rlimit+sampling") ? "pids.max"
                                                                 : "counted by sampling",
                 w->out->phase);
        start_kill(w, KILL_TASKS, 1, msg);
        break;
    default:
        break;
    }
}

static void check_limits(watch *w, const super_limits *lim) {
    double now = super_now(), el = now - w->start;
    char msg[512];
    if (w->reaped) return;
    uint64_t rss, hwm;
    if (super_read_rss(w->pid, &rss, &hwm) == 0) {
        uint64_t peak = hwm > rss ? hwm : rss;
        if (peak > w->out->peak_rss) w->out->peak_rss = peak;
    }
    watch_tree(w, contain_poll(w->ct));
    if (w->result_at > 0 && now - w->result_at > SUPER_EXIT_GRACE) {
        snprintf(msg, sizeof msg,
                 "the worker hung for %gs after sending its result (in release or exit)",
                 SUPER_EXIT_GRACE);
        start_kill(w, KILL_TIMEOUT, 0, msg);
    } else if (lim->timeout > 0 && el > lim->timeout) {
        snprintf(msg, sizeof msg, "the trial ran past its %gs timeout (in phase %s)", lim->timeout,
                 w->out->phase);
        start_kill(w, KILL_TIMEOUT, 0, msg);
    } else if (lim->load_timeout > 0 && !w->loaded && el > lim->load_timeout) {
        snprintf(msg, sizeof msg, "load and convert ran past the %gs load timeout (in phase %s)",
                 lim->load_timeout, w->out->phase);
        start_kill(w, KILL_TIMEOUT, 0, msg);
    } else if (lim->silence > 0 && now - w->last_msg > lim->silence) {
        snprintf(msg, sizeof msg, "the worker went silent for %gs (in phase %s)", lim->silence,
                 w->out->phase);
        start_kill(w, KILL_TIMEOUT, 0, msg);
    }
    if (w->kill_at > 0 && w->sigkill_at == 0 && now - w->kill_at > SUPER_TERM_GRACE) {
        kill_group(w, SIGKILL);
        w->sigkill_at = now;
    }
}

static const char *sig_name(int sig) {
    switch (sig) {
    case SIGSEGV:
        return "SIGSEGV";
    case SIGABRT:
        return "SIGABRT";
    case SIGBUS:
        return "SIGBUS";
    case SIGFPE:
        return "SIGFPE";
    case SIGILL:
        return "SIGILL";
    case SIGKILL:
        return "SIGKILL";
    case SIGTERM:
        return "SIGTERM";
    case SIGINT:
        return "SIGINT";
    case SIGPIPE:
        return "SIGPIPE";
    default:
        return "a signal";
    }
}

static void set_status(super_outcome *o, const char *st, const char *fmt, ...) ERR_PRINTF(3, 4);
static void set_status(super_outcome *o, const char *st, const char *fmt, ...) {
    snprintf(o->status, sizeof o->status, "%s", st);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->message, sizeof o->message, fmt, ap);
    va_end(ap);
}

/* The statuses a worker may report itself; the rest are the supervisor's. */
static int worker_status(const char *s) {
    static const char *const ok[] = {"ok",          "mismatch", "unsupported",
                                     "unavailable", "oom",      "error"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (!strcmp(s, ok[i])) return 1;
    return 0;
}

static void classify(watch *w) {
    super_outcome *o = w->out;
    int st = w->wstatus;
    o->exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    o->signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    const cJSON *res = o->result;
    const cJSON *rs = res ? cJSON_GetObjectItemCaseSensitive(res, "status") : NULL;
    const cJSON *rm = res ? cJSON_GetObjectItemCaseSensitive(res, "message") : NULL;
    switch (w->kill_reason) {
    case KILL_INTERRUPT:
        set_status(o, "interrupted", "%s", w->kill_msg);
        return;
    case KILL_TIMEOUT:
        set_status(o, "timeout", "%s", w->kill_msg);
        return;
    case KILL_OOM:
        set_status(o, "oom", "%s", w->kill_msg);
        return;
    case KILL_TASKS:
        set_status(o, "error", "%s", w->kill_msg);
        return;
    case KILL_GARBAGE:
        set_status(o, "error", "%s", w->kill_msg);
        return;
    default:
        break;
    }
    uint64_t cap = contain_mem_limit(w->ct);
    if (cap && o->peak_rss > cap) {
        /* Over the cap between two samples; the kernel's count at exit
         * says so. */
        char a[32], b[32];
        fmt_bytes(o->peak_rss, a, sizeof a);
        fmt_bytes(cap, b, sizeof b);
        set_status(o, "oom",
                   "the worker's resident memory peaked at %s, over the limit %s, in phase %s", a,
                   b, o->phase);
    } else if (o->exit_code == SUPER_EXIT_NOJOIN && !res) {
        set_status(o, "error", "the worker could not join its cgroup (see its stderr)");
    } else if (o->signal == SIGKILL) {
        set_status(o, "oom",
                   "killed by SIGKILL in phase %s, not by calma: most likely the kernel's "
                   "out-of-memory killer",
                   o->phase);
    } else if (o->signal) {
        set_status(o, "crashed", "killed by signal %d (%s) in phase %s", o->signal,
                   sig_name(o->signal), o->phase);
    } else if (o->exit_code == 127 && !res) {
        set_status(o, "error", "the worker could not be started (exit code 127; see its stderr)");
    } else if (o->exit_code != 0) {
        set_status(o, "crashed", "exited with code %d in phase %s%s", o->exit_code, o->phase,
                   res ? " after sending its result" : "");
    } else if (!cJSON_IsString(rs)) {
        set_status(o, "error",
                   "the worker exited without sending a result (protocol pipe closed early, "
                   "last phase %s)",
                   o->phase);
    } else if (!worker_status(rs->valuestring)) {
        set_status(o, "error", "the worker sent an unknown status '%.40s'", rs->valuestring);
    } else {
        set_status(o, rs->valuestring, "%s", cJSON_IsString(rm) ? rm->valuestring : "");
    }
}

static char *join_tail(watch *w) {
    if (w->errlen) {
        tail_push(w, w->errline, w->errlen);
        w->errlen = 0;
    }
    size_t total = 1;
    for (int i = 0; i < w->tail_n; i++) total += SUPER_TAIL_COLS + 1;
    char *s = malloc(total);
    if (!s) return NULL;
    s[0] = '\0';
    size_t len = 0;
    int first = (w->tail_next - w->tail_n + SUPER_TAIL_LINES) % SUPER_TAIL_LINES;
    for (int i = 0; i < w->tail_n; i++) {
        const char *l = w->tail[(first + i) % SUPER_TAIL_LINES];
        len += (size_t)snprintf(s + len, total - len, "%s%s", i ? "\n" : "", l);
    }
    return s;
}

int super_run(const char *exe, char *const argv[], const super_limits *lim, int sig_fd,
              super_event_fn on_event, void *ctx, super_outcome *out, calma_error *e) {
    memset(out, 0, sizeof *out);
    snprintf(out->phase, sizeof out->phase, "start");
    int pp[2], ep[2];
    if (cloexec_pipe(pp) != 0)
        return err_set(e, CALMA_E_INTERNAL, "cannot create the protocol pipe: %s", strerror(errno));
    if (cloexec_pipe(ep) != 0) {
        close(pp[0]);
        close(pp[1]);
        return err_set(e, CALMA_E_INTERNAL, "cannot create the stderr pipe: %s", strerror(errno));
    }
    watch *w = calloc(1, sizeof *w);
    if (!w || contain_open(&w->ct, lim->mem_limit, lim->max_tasks, e)) {
        close(pp[0]), close(pp[1]), close(ep[0]), close(ep[1]);
        free(w);
        return err_set(e, CALMA_E_NOMEM, "out of memory starting a worker");
    }
    w->out = out;
    w->on_event = on_event;
    w->ctx = ctx;
    fflush(NULL);
    w->start = w->last_msg = super_now();
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(pp[0]), close(pp[1]), close(ep[0]), close(ep[1]);
        contain_close(w->ct);
        free(w);
        return err_set(e, CALMA_E_INTERNAL, "cannot fork a worker: %s", strerror(err));
    }
    if (pid == 0) child_exec(exe, argv, pp[1], ep[1], parent, w->ct);
    w->pid = pid;
    setpgid(pid, pid); /* also in the child: whichever runs first wins the race */
    contain_started(w->ct, pid);
    close(pp[1]);
    close(ep[1]);
    fcntl(pp[0], F_SETFL, fcntl(pp[0], F_GETFL) | O_NONBLOCK);
    fcntl(ep[0], F_SETFL, fcntl(ep[0], F_GETFL) | O_NONBLOCK);
    int proto_eof = 0, err_eof = 0;
    while (!(w->reaped && proto_eof && err_eof)) {
        struct pollfd fds[3];
        int nf = 0, ip = -1, ie = -1, is = -1;
        if (!proto_eof) ip = nf, fds[nf++] = (struct pollfd){.fd = pp[0], .events = POLLIN};
        if (!err_eof) ie = nf, fds[nf++] = (struct pollfd){.fd = ep[0], .events = POLLIN};
        if (sig_fd >= 0) is = nf, fds[nf++] = (struct pollfd){.fd = sig_fd, .events = POLLIN};
        int r = poll(fds, (nfds_t)nf, contain_tick_ms(w->ct));
        if (r < 0 && errno != EINTR) break;
        if (r > 0) {
            if (ip >= 0 && fds[ip].revents) proto_eof = drain(w, pp[0], 1);
            if (ie >= 0 && fds[ie].revents) err_eof = drain(w, ep[0], 0);
            if (is >= 0 && (fds[is].revents & POLLIN)) {
                struct signalfd_siginfo si;
                if (read(sig_fd, &si, sizeof si) == (ssize_t)sizeof si)
                    start_kill(w, KILL_INTERRUPT, 0, "interrupted");
            }
        }
        if (!w->reaped) {
            struct rusage ru;
            pid_t got = wait4(pid, &w->wstatus, WNOHANG, &ru);
            if (got == pid) {
                w->reaped = 1;
                w->reaped_at = super_now();
                /* The kernel's own count of the worker's peak. */
                uint64_t maxrss = (uint64_t)ru.ru_maxrss * 1024;
                if (maxrss > out->peak_rss) out->peak_rss = maxrss;
                /* A grandchild over the cap, or an OOM kill just now, still
                 * counts; then whatever the worker left is ended with it (it
                 * would hold the pipes open, and must not outlive the trial). */
                watch_tree(w, contain_poll(w->ct));
                out->strays = contain_end(w->ct);
            }
        }
        if (w->reaped && super_now() - w->reaped_at > 1.0) break; /* pipes held by strays */
        check_limits(w, lim);
    }
    close(pp[0]);
    close(ep[0]);
    if (!w->reaped) { /* poll failed: end it all the same */
        kill_group(w, SIGKILL);
        waitpid(pid, &w->wstatus, 0);
        w->reaped = 1;
        out->strays = contain_end(w->ct);
    }
    out->wall_s = super_now() - w->start;
    classify(w);
    out->stderr_tail = join_tail(w);
    snprintf(out->containment, sizeof out->containment, "%s", contain_name(w->ct));
    snprintf(out->containment_why, sizeof out->containment_why, "%s", contain_why(w->ct));
    out->tree_peak = contain_peak(w->ct);
    out->tasks_peak = contain_tasks_peak(w->ct);
    contain_close(w->ct);
    free(w->buf);
    free(w);
    return CALMA_OK;
}

void super_outcome_free(super_outcome *o) {
    if (!o) return;
    cJSON_Delete(o->result);
    free(o->stderr_tail);
    o->result = NULL;
    o->stderr_tail = NULL;
}
