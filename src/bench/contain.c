#include "bench/contain.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/err.h"

#define CONTAIN_SCAN_S 0.05    /* rlimit+sampling: a full /proc scan this often */
#define CONTAIN_TRACK_MAX 8192 /* processes of one tree followed between scans */
#define CONTAIN_END_S 2.0      /* how long contain_end keeps killing */
#define CONTAIN_PATH 1024

/* One process as /proc/PID/stat describes it. */
typedef struct pinfo {
    int pid, ppid, pgrp, threads;
    char state;
    unsigned long long start; /* clock ticks after boot: tells a reused pid apart */
    long rss;                 /* pages */
} pinfo;

struct contain {
    contain_kind kind;
    char why[320];
    char mem_dir[CONTAIN_PATH], pids_dir[CONTAIN_PATH]; /* the leaf (v2: one folder) */
    int join_fd[2];
    uint64_t mem_limit;
    int max_tasks;
    struct rlimit data, nproc; /* rlim_cur RLIM_INFINITY: not set */
    int leader, self;
    unsigned long long leader_start;
    double next_scan;
    pinfo *tree;
    int n_tree;
    uint64_t usage, peak;
    int tasks, tasks_peak;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- small file helpers ---- */

static int read_text(const char *path, char *buf, size_t n) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t r = read(fd, buf, n - 1);
    close(fd);
    if (r < 0) return -1;
    buf[r] = '\0';
    return 0;
}

static int write_in(const char *dir, const char *name, const char *text) {
    char path[CONTAIN_PATH + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t w = write(fd, text, strlen(text));
    int err = errno;
    close(fd);
    errno = err;
    return w == (ssize_t)strlen(text) ? 0 : -1;
}

static int read_u64_in(const char *dir, const char *name, uint64_t *v) {
    char path[CONTAIN_PATH + 64], buf[64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (read_text(path, buf, sizeof buf)) return -1;
    if (!strncmp(buf, "max", 3)) return -1;
    *v = strtoull(buf, NULL, 10);
    return 0;
}

/* The number after "key " in a flat-keyed file (memory.events, ...). */
static uint64_t read_key_in(const char *dir, const char *name, const char *key) {
    char path[CONTAIN_PATH + 64], buf[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (read_text(path, buf, sizeof buf)) return 0;
    size_t k = strlen(key);
    for (char *line = buf; line && *line;) {
        if (!strncmp(line, key, k) && line[k] == ' ') return strtoull(line + k + 1, NULL, 10);
        line = strchr(line, '\n');
        if (line) line++;
    }
    return 0;
}

/* ---- /proc ---- */

static int read_stat(int pid, pinfo *p) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    if (read_text(path, buf, sizeof buf)) return -1;
    /* The command name may hold spaces and parentheses: parse after the
     * last ')'. */
    char *rp = strrchr(buf, ')');
    if (!rp) return -1;
    p->pid = pid;
    int n = sscanf(rp + 1,
                   " %c %d %d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %d %*d "
                   "%llu %*u %ld",
                   &p->state, &p->ppid, &p->pgrp, &p->threads, &p->start, &p->rss);
    return n == 6 ? 0 : -1;
}

/* Every process on the machine; *n of them (a new array, NULL when none). */
static pinfo *scan_all(int *n) {
    *n = 0;
    DIR *d = opendir("/proc");
    if (!d) return NULL;
    pinfo *all = NULL;
    int cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9') continue;
        if (*n == cap) {
            int c = cap ? cap * 2 : 512;
            pinfo *g = realloc(all, sizeof *g * (size_t)c);
            if (!g) break;
            all = g;
            cap = c;
        }
        if (read_stat(atoi(de->d_name), &all[*n]) == 0) (*n)++;
    }
    closedir(d);
    return all;
}

static int tracked(const contain *c, int pid, unsigned long long start) {
    for (int i = 0; i < c->n_tree; i++)
        if (c->tree[i].pid == pid && c->tree[i].start == start) return 1;
    return 0;
}

/* The worker's tree among all processes: the worker, its process group,
 * processes seen in the tree before, orphans re-parented to calma after
 * the worker started (calma is a child subreaper), and every descendant of
 * those (which finds one that called setsid()). */
static void find_tree(contain *c) {
    int n;
    pinfo *all = scan_all(&n);
    char *in = calloc((size_t)n + 1, 1);
    if (!all || !in) {
        free(all);
        free(in);
        return;
    }
    for (int i = 0; i < n; i++) {
        const pinfo *p = &all[i];
        in[i] = p->pid != c->self && (p->pid == c->leader || p->pgrp == c->leader ||
                                      (p->ppid == c->self && p->start >= c->leader_start) ||
                                      tracked(c, p->pid, p->start));
    }
    for (int changed = 1; changed;) {
        changed = 0;
        for (int i = 0; i < n; i++) {
            if (in[i]) continue;
            for (int k = 0; k < n; k++)
                if (in[k] && all[k].pid == all[i].ppid) {
                    in[i] = changed = 1;
                    break;
                }
        }
    }
    c->n_tree = 0;
    for (int i = 0; i < n && c->n_tree < CONTAIN_TRACK_MAX; i++)
        if (in[i]) c->tree[c->n_tree++] = all[i];
    free(all);
    free(in);
}

/* Resident memory and task count of the tree as last found; drops the
 * processes that are gone. */
static void sample_tree(contain *c) {
    long page = sysconf(_SC_PAGESIZE);
    uint64_t usage = 0;
    int tasks = 0, k = 0;
    for (int i = 0; i < c->n_tree; i++) {
        pinfo p;
        if (read_stat(c->tree[i].pid, &p) || p.start != c->tree[i].start) continue;
        c->tree[k++] = p;
        if (p.state == 'Z' || p.state == 'X') continue;
        usage += (uint64_t)(p.rss > 0 ? p.rss : 0) * (uint64_t)page;
        tasks += p.threads > 0 ? p.threads : 1;
    }
    c->n_tree = k;
    c->usage = usage;
    c->tasks = tasks;
    if (usage > c->peak) c->peak = usage;
    if (tasks > c->tasks_peak) c->tasks_peak = tasks;
}

/* The tree's proportional set size: resident memory with each page shared
 * between processes (a fork's copy-on-write pages) counted once in all.
 * Summed RSS counts them once per process, so a tree of forks over the cap
 * by RSS is held to it by PSS. Costlier to read than RSS: only when RSS says
 * the tree is over. A process without smaps_rollup counts its RSS. */
static uint64_t tree_pss(contain *c) {
    long page = sysconf(_SC_PAGESIZE);
    uint64_t total = 0;
    for (int i = 0; i < c->n_tree; i++) {
        const pinfo *p = &c->tree[i];
        if (p->state == 'Z' || p->state == 'X') continue;
        char path[64], buf[4096];
        snprintf(path, sizeof path, "/proc/%d/smaps_rollup", p->pid);
        const char *pss = read_text(path, buf, sizeof buf) == 0 ? strstr(buf, "\nPss:") : NULL;
        if (pss)
            total += strtoull(pss + 5, NULL, 10) * 1024;
        else
            total += (uint64_t)(p->rss > 0 ? p->rss : 0) * (uint64_t)page;
    }
    c->usage = total;
    return total;
}

/* Processes and threads of this real user, for RLIMIT_NPROC (which counts
 * them all, not just the worker's). */
static int user_tasks(void) {
    int n, total = 0;
    pinfo *all = scan_all(&n);
    uid_t me = getuid();
    for (int i = 0; i < n; i++) {
        char path[64];
        struct stat st;
        snprintf(path, sizeof path, "/proc/%d", all[i].pid);
        if (stat(path, &st) == 0 && st.st_uid == me) total += all[i].threads;
    }
    free(all);
    return total;
}

/* ---- cgroups ---- */

/* Where the hierarchy holding controller (v1) or the cgroup2 one
 * (controller NULL) is mounted, and its root inside that hierarchy. */
static int find_mount(const char *controller, char *mnt, size_t mn, char *root, size_t rn) {
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f) return -1;
    char line[2048];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        char r[1024], m[1024];
        if (sscanf(line, "%*d %*d %*s %1023s %1023s", r, m) != 2) continue;
        char *dash = strstr(line, " - ");
        if (!dash) continue;
        char fstype[64], source[256], opts[1024] = "";
        if (sscanf(dash + 3, "%63s %255s %1023s", fstype, source, opts) < 2) continue;
        if (!controller) {
            found = !strcmp(fstype, "cgroup2");
        } else if (!strcmp(fstype, "cgroup")) {
            for (char *tok = strtok(opts, ","); tok && !found; tok = strtok(NULL, ","))
                found = !strcmp(tok, controller);
        }
        if (found) {
            snprintf(mnt, mn, "%s", m);
            snprintf(root, rn, "%s", r);
        }
    }
    fclose(f);
    return found ? 0 : -1;
}

/* calma's own cgroup in the hierarchy of controller (v1), or in the v2
 * hierarchy (controller NULL), as a path inside it. */
static int own_cgroup(const char *controller, char *path, size_t n) {
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f) return -1;
    char line[2048];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
        if (!b) continue;
        *b = '\0';
        const char *ctrls = a + 1, *p = b + 1;
        if (!controller) {
            found = !strncmp(line, "0", 1) && a == line + 1 && !*ctrls;
        } else {
            char list[256];
            snprintf(list, sizeof list, "%s", ctrls);
            for (char *tok = strtok(list, ","); tok && !found; tok = strtok(NULL, ","))
                found = !strcmp(tok, controller);
        }
        if (found) snprintf(path, n, "%s", p);
    }
    fclose(f);
    return found ? 0 : -1;
}

/* The folder of calma's own cgroup for controller (NULL: v2). */
static int own_dir(const char *controller, char *dir, size_t n) {
    char mnt[1024], root[1024], path[1024];
    if (find_mount(controller, mnt, sizeof mnt, root, sizeof root) ||
        own_cgroup(controller, path, sizeof path))
        return -1;
    /* A mount of a sub-tree (a container) shows it as its root. */
    size_t rl = strlen(root);
    const char *rest = path;
    if (strcmp(root, "/") && !strncmp(path, root, rl) && (path[rl] == '/' || !path[rl]))
        rest = path + rl;
    size_t ml = strlen(mnt), xl = strcmp(rest, "/") ? strlen(rest) : 0;
    if (ml + xl + 1 > n) return -1;
    memcpy(dir, mnt, ml);
    memcpy(dir + ml, rest, xl);
    dir[ml + xl] = '\0';
    return 0;
}

static int has_word(const char *list, const char *word) {
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)); p += n)
        if ((p == list || p[-1] == ' ' || p[-1] == '+') && (!p[n] || p[n] == ' ' || p[n] == '\n'))
            return 1;
    return 0;
}

/* Kills what a supervisor that died without cleaning up (SIGKILL) left in
 * its leaves, and removes them: leaves are named calma-<pid>-<n>. */
static void sweep_stale(const char *parent) {
    DIR *d = opendir(parent);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        int pid;
        if (sscanf(de->d_name, "calma-%d-", &pid) != 1 || pid <= 0) continue;
        if (kill(pid, 0) == 0 || errno != ESRCH) continue;
        char leaf[CONTAIN_PATH + 300], path[CONTAIN_PATH + 400], buf[4096];
        snprintf(leaf, sizeof leaf, "%s/%s", parent, de->d_name);
        snprintf(path, sizeof path, "%s/cgroup.procs", leaf);
        for (int round = 0; round < 50 && read_text(path, buf, sizeof buf) == 0 && buf[0];
             round++) {
            for (char *p = buf; *p;) {
                int victim = (int)strtol(p, &p, 10);
                if (victim > 0) kill(victim, SIGKILL);
                while (*p == '\n') p++;
            }
            usleep(2000);
        }
        rmdir(leaf);
    }
    closedir(d);
}

static int make_leaf(const char *parent, char *leaf, size_t n) {
    sweep_stale(parent);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(leaf, n, "%s/calma-%d-%lld%09ld", parent, (int)getpid(), (long long)ts.tv_sec,
             ts.tv_nsec);
    return mkdir(leaf, 0755);
}

static int open_join(const char *leaf) {
    char path[CONTAIN_PATH + 64];
    snprintf(path, sizeof path, "%s/cgroup.procs", leaf);
    return open(path, O_WRONLY | O_CLOEXEC);
}

static void fmt_u64(char *buf, size_t n, uint64_t v) {
    snprintf(buf, n, "%llu", (unsigned long long)v);
}

static int setup_v2(contain *c) {
    char dir[CONTAIN_PATH], ctrl[512] = "", sub[512] = "";
    if (own_dir(NULL, dir, sizeof dir))
        return snprintf(c->why, sizeof c->why, "no cgroup v2 hierarchy is mounted"), -1;
    char path[CONTAIN_PATH + 64];
    snprintf(path, sizeof path, "%s/cgroup.controllers", dir);
    if (read_text(path, ctrl, sizeof ctrl) || !has_word(ctrl, "memory") || !has_word(ctrl, "pids"))
        return snprintf(c->why, sizeof c->why,
                        "cgroup v2 at %.200s offers no memory and pids controllers", dir),
               -1;
    snprintf(path, sizeof path, "%s/cgroup.subtree_control", dir);
    if (read_text(path, sub, sizeof sub)) sub[0] = '\0';
    if ((!has_word(sub, "memory") || !has_word(sub, "pids")) &&
        write_in(dir, "cgroup.subtree_control", "+memory +pids"))
        return snprintf(c->why, sizeof c->why,
                        "cannot give child cgroups of %.200s the memory and pids controllers: %s",
                        dir, strerror(errno)),
               -1;
    if (make_leaf(dir, c->mem_dir, sizeof c->mem_dir))
        return snprintf(c->why, sizeof c->why, "cannot create a cgroup under %.200s: %s", dir,
                        strerror(errno)),
               -1;
    snprintf(c->pids_dir, sizeof c->pids_dir, "%s", c->mem_dir);
    char v[32];
    int bad = 0;
    if (c->mem_limit) {
        fmt_u64(v, sizeof v, c->mem_limit);
        bad |= write_in(c->mem_dir, "memory.max", v);
        write_in(c->mem_dir, "memory.swap.max", "0");  /* absent without swap accounting */
        write_in(c->mem_dir, "memory.oom.group", "1"); /* an OOM kill ends the whole tree */
    }
    fmt_u64(v, sizeof v, (uint64_t)c->max_tasks);
    bad |= write_in(c->pids_dir, "pids.max", v);
    c->join_fd[0] = bad ? -1 : open_join(c->mem_dir);
    if (bad || c->join_fd[0] < 0) {
        snprintf(c->why, sizeof c->why, "cannot set the limits of cgroup %.200s: %s", c->mem_dir,
                 strerror(errno));
        rmdir(c->mem_dir);
        return -1;
    }
    c->kind = CONTAIN_CGROUP2;
    return 0;
}

static int setup_v1(contain *c) {
    char mem[CONTAIN_PATH], pids[CONTAIN_PATH];
    if (own_dir("memory", mem, sizeof mem) || own_dir("pids", pids, sizeof pids))
        return snprintf(c->why + strlen(c->why), sizeof c->why - strlen(c->why),
                        "; no cgroup v1 memory and pids hierarchies either"),
               -1;
    if (make_leaf(mem, c->mem_dir, sizeof c->mem_dir))
        return snprintf(c->why + strlen(c->why), sizeof c->why - strlen(c->why),
                        "; cannot create a cgroup v1 under %.160s: %s", mem, strerror(errno)),
               -1;
    if (make_leaf(pids, c->pids_dir, sizeof c->pids_dir)) {
        snprintf(c->why + strlen(c->why), sizeof c->why - strlen(c->why),
                 "; cannot create a cgroup v1 under %.160s: %s", pids, strerror(errno));
        rmdir(c->mem_dir);
        return -1;
    }
    char v[32];
    int bad = 0;
    if (c->mem_limit) {
        fmt_u64(v, sizeof v, c->mem_limit);
        bad |= write_in(c->mem_dir, "memory.limit_in_bytes", v);
        write_in(c->mem_dir, "memory.memsw.limit_in_bytes", v); /* no swap: absent without it */
    }
    fmt_u64(v, sizeof v, (uint64_t)c->max_tasks);
    bad |= write_in(c->pids_dir, "pids.max", v);
    if (!bad) {
        c->join_fd[0] = open_join(c->mem_dir);
        c->join_fd[1] = open_join(c->pids_dir);
    }
    if (bad || c->join_fd[0] < 0 || c->join_fd[1] < 0) {
        snprintf(c->why + strlen(c->why), sizeof c->why - strlen(c->why),
                 "; cannot set the limits of cgroup v1 %.160s: %s", c->mem_dir, strerror(errno));
        for (int k = 0; k < 2; k++)
            if (c->join_fd[k] >= 0) close(c->join_fd[k]), c->join_fd[k] = -1;
        rmdir(c->mem_dir);
        rmdir(c->pids_dir);
        return -1;
    }
    c->kind = CONTAIN_CGROUP1;
    return 0;
}

static void setup_rlimit(contain *c) {
    c->kind = CONTAIN_RLIMIT;
    c->mem_dir[0] = c->pids_dir[0] = '\0';
#ifndef CALMA_SANITIZE
    /* A backstop per process against an allocation faster than sampling;
     * the tree's total is held to the cap by sampling. Not under the
     * sanitizers, whose shadow memory is terabytes of address space. */
    if (c->mem_limit) {
        uint64_t twice = c->mem_limit * 2, more = c->mem_limit + (512ull << 20);
        c->data.rlim_cur = c->data.rlim_max = (rlim_t)(twice > more ? twice : more);
    }
#endif
    /* The kernel exempts root from RLIMIT_NPROC; for others it counts every
     * process of the user. */
    if (getuid() != 0) {
        rlim_t n = (rlim_t)user_tasks() + (rlim_t)c->max_tasks;
        struct rlimit cur;
        if (getrlimit(RLIMIT_NPROC, &cur) == 0 && cur.rlim_max != RLIM_INFINITY && n > cur.rlim_max)
            n = cur.rlim_max;
        c->nproc.rlim_cur = c->nproc.rlim_max = n;
    }
}

int contain_open(contain **out, uint64_t mem_limit, int max_tasks, calma_error *e) {
    contain *c = calloc(1, sizeof *c);
    if (c) c->tree = calloc(CONTAIN_TRACK_MAX, sizeof *c->tree);
    if (!c || !c->tree) {
        free(c);
        return err_set(e, CALMA_E_NOMEM, "out of memory");
    }
    c->join_fd[0] = c->join_fd[1] = -1;
    c->mem_limit = mem_limit;
    c->max_tasks = max_tasks > 0 ? max_tasks : CONTAIN_DEFAULT_TASKS;
    c->data.rlim_cur = c->data.rlim_max = RLIM_INFINITY;
    c->nproc.rlim_cur = c->nproc.rlim_max = RLIM_INFINITY;
    c->self = (int)getpid();
    /* Orphans of the worker become calma's children, not init's: they can
     * be found, killed and reaped. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    const char *mode = getenv("CALMA_CONTAINMENT");
    if (mode && !strcmp(mode, "rlimit")) {
        snprintf(c->why, sizeof c->why, "CALMA_CONTAINMENT=rlimit");
        setup_rlimit(c);
    } else if (setup_v2(c) && setup_v1(c)) {
        setup_rlimit(c);
    }
    if (c->kind != CONTAIN_RLIMIT) c->why[0] = '\0';
    *out = c;
    return CALMA_OK;
}

int contain_child(const contain *c) {
    static const char self[] = "0";
    for (int k = 0; k < 2; k++)
        if (c->join_fd[k] >= 0 && write(c->join_fd[k], self, 1) != 1) return -1;
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    if (c->data.rlim_cur != RLIM_INFINITY) setrlimit(RLIMIT_DATA, &c->data);
    if (c->nproc.rlim_cur != RLIM_INFINITY) setrlimit(RLIMIT_NPROC, &c->nproc);
    return 0;
}

void contain_started(contain *c, int pid) {
    c->leader = pid;
    pinfo p;
    c->leader_start = read_stat(pid, &p) == 0 ? p.start : 0;
    if (c->kind == CONTAIN_RLIMIT && c->n_tree < CONTAIN_TRACK_MAX) {
        p.pid = pid;
        p.start = c->leader_start;
        c->tree[c->n_tree++] = p;
    }
    c->next_scan = now_s() + CONTAIN_SCAN_S;
}

int contain_tick_ms(const contain *c) {
    return c->kind == CONTAIN_RLIMIT ? 5 : 20;
}

static contain_event poll_cgroup(contain *c) {
    int v2 = c->kind == CONTAIN_CGROUP2;
    uint64_t usage = 0, peak = 0, tasks = 0;
    read_u64_in(c->mem_dir, v2 ? "memory.current" : "memory.usage_in_bytes", &usage);
    if (read_u64_in(c->mem_dir, v2 ? "memory.peak" : "memory.max_usage_in_bytes", &peak))
        peak = usage; /* memory.peak came with Linux 5.19 */
    read_u64_in(c->pids_dir, "pids.current", &tasks);
    c->usage = usage;
    if (peak > c->peak) c->peak = peak;
    c->tasks = (int)(tasks < 1u << 30 ? tasks : 1u << 30);
    if (c->tasks > c->tasks_peak) c->tasks_peak = c->tasks;
    if (read_key_in(c->mem_dir, v2 ? "memory.events" : "memory.oom_control", "oom_kill") > 0)
        return CONTAIN_OOM_KILLED;
    if (read_key_in(c->pids_dir, "pids.events", "max") > 0) return CONTAIN_OVER_TASKS;
    return CONTAIN_FINE;
}

contain_event contain_poll(contain *c) {
    if (c->kind != CONTAIN_RLIMIT) return poll_cgroup(c);
    double now = now_s();
    if (now >= c->next_scan) {
        find_tree(c);
        c->next_scan = now + CONTAIN_SCAN_S;
    }
    sample_tree(c);
    /* Too many processes says more than the memory they hold. */
    if (c->tasks > c->max_tasks || c->n_tree >= CONTAIN_TRACK_MAX) return CONTAIN_OVER_TASKS;
    if (c->mem_limit && c->usage > c->mem_limit && tree_pss(c) > c->mem_limit)
        return CONTAIN_OVER_MEMORY;
    return CONTAIN_FINE;
}

/* The pids in the tree now (a new array), *n of them. */
static int *tree_pids(contain *c, int *n) {
    *n = 0;
    if (c->kind == CONTAIN_RLIMIT) {
        find_tree(c);
        int *v = malloc(sizeof *v * ((size_t)c->n_tree + 1));
        for (int i = 0; v && i < c->n_tree; i++)
            if (c->tree[i].state != 'Z' && c->tree[i].state != 'X') v[(*n)++] = c->tree[i].pid;
        return v;
    }
    int cap = 0, *v = NULL;
    for (int k = 0; k < 2; k++) {
        const char *dir = k ? c->pids_dir : c->mem_dir;
        if (k && !strcmp(c->pids_dir, c->mem_dir)) break;
        char path[CONTAIN_PATH + 64];
        snprintf(path, sizeof path, "%s/cgroup.procs", dir);
        FILE *f = fopen(path, "re");
        if (!f) continue;
        int pid;
        while (fscanf(f, "%d", &pid) == 1) {
            int seen = 0; /* v1: both leaves list every process */
            for (int i = 0; i < *n && !seen; i++) seen = v[i] == pid;
            if (seen) continue;
            if (*n == cap) {
                cap = cap ? cap * 2 : 64;
                int *g = realloc(v, sizeof *g * (size_t)cap);
                if (!g) break;
                v = g;
            }
            v[(*n)++] = pid;
        }
        fclose(f);
    }
    return v;
}

void contain_signal(contain *c, int sig) {
    if (sig == SIGKILL && c->kind == CONTAIN_CGROUP2) write_in(c->mem_dir, "cgroup.kill", "1");
    if (c->leader > 0) kill(-c->leader, sig);
    int n;
    int *pids = tree_pids(c, &n);
    for (int i = 0; i < n; i++) {
        kill(pids[i], sig);
        if (sig != SIGKILL) kill(pids[i], SIGCONT);
    }
    if (sig != SIGKILL && c->leader > 0) kill(-c->leader, SIGCONT);
    free(pids);
}

/* Reaps the zombies of ours the tree left: strays re-parented to calma. */
static void reap_strays(const contain *c) {
    int n;
    pinfo *all = scan_all(&n);
    for (int i = 0; i < n; i++)
        if (all[i].ppid == c->self && all[i].pid != c->leader && all[i].start >= c->leader_start &&
            all[i].state == 'Z')
            waitpid(all[i].pid, NULL, WNOHANG);
    free(all);
}

int contain_end(contain *c) {
    int strays = -1;
    double until = now_s() + CONTAIN_END_S;
    for (;;) {
        int n;
        int *pids = tree_pids(c, &n);
        if (strays < 0) strays = n;
        for (int i = 0; i < n; i++) kill(pids[i], SIGKILL);
        if (n && c->kind == CONTAIN_CGROUP2) write_in(c->mem_dir, "cgroup.kill", "1");
        for (int i = 0; i < n; i++) waitpid(pids[i], NULL, WNOHANG);
        free(pids);
        reap_strays(c);
        if (!n || now_s() > until) break;
        usleep(2000);
    }
    return strays;
}

void contain_close(contain *c) {
    if (!c) return;
    for (int k = 0; k < 2; k++)
        if (c->join_fd[k] >= 0) close(c->join_fd[k]);
    /* A leaf goes once its last process is gone: zombies may take a moment. */
    for (int round = 0; round < 50; round++) {
        int busy = 0;
        if (c->mem_dir[0] && rmdir(c->mem_dir) != 0 && errno == EBUSY) busy = 1;
        if (c->pids_dir[0] && strcmp(c->pids_dir, c->mem_dir) && rmdir(c->pids_dir) != 0 &&
            errno == EBUSY)
            busy = 1;
        if (!busy) break;
        usleep(2000);
    }
    free(c->tree);
    free(c);
}

const char *contain_name(const contain *c) {
    switch (c->kind) {
    case CONTAIN_CGROUP2:
        return "cgroup v2";
    case CONTAIN_CGROUP1:
        return "cgroup v1";
    default:
        return "rlimit+sampling";
    }
}

const char *contain_why(const contain *c) {
    return c->why;
}

uint64_t contain_usage(const contain *c) {
    return c->usage;
}

uint64_t contain_peak(const contain *c) {
    return c->peak;
}

int contain_tasks_peak(const contain *c) {
    return c->tasks_peak;
}

uint64_t contain_mem_limit(const contain *c) {
    return c->mem_limit;
}

int contain_max_tasks(const contain *c) {
    return c->max_tasks;
}
