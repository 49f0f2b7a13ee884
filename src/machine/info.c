#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "machine/machine.h"

/* The first line of path into buf without its newline; 0 when unreadable. */
static int read_line(const char *path, char *buf, size_t n) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int ok = fgets(buf, (int)n, f) != NULL;
    fclose(f);
    if (ok) buf[strcspn(buf, "\n")] = '\0';
    return ok;
}

/* A "Key:   123 kB" line of a /proc file, in kB; -1 when absent. */
static long proc_kb(const char *path, const char *key) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl) && line[kl] == ':') {
            v = strtol(line + kl + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

void machine_read(machine_info *m) {
    memset(m, 0, sizeof *m);
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (!strncmp(line, "model name", 10)) {
                const char *p = strchr(line, ':');
                if (p) {
                    p++;
                    while (*p == ' ' || *p == '\t') p++;
                    snprintf(m->cpu, sizeof m->cpu, "%s", p);
                    m->cpu[strcspn(m->cpu, "\n")] = '\0';
                }
                break;
            }
        }
        fclose(f);
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    m->cores = cores > 0 ? (int)cores : 1;
    long kb = proc_kb("/proc/meminfo", "MemTotal");
    m->mem_total = kb > 0 ? 1024.0 * (double)kb : 0;
    kb = proc_kb("/proc/meminfo", "MemAvailable");
    m->mem_available = kb > 0 ? 1024.0 * (double)kb : 0;
    struct utsname u;
    if (uname(&u) == 0) snprintf(m->kernel, sizeof m->kernel, "%s %s", u.sysname, u.release);
    read_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", m->governor,
              sizeof m->governor);
    char load[128];
    if (read_line("/proc/loadavg", load, sizeof load)) m->load1 = strtod(load, NULL);
#if defined(__x86_64__) || defined(__i386__)
    if (__builtin_cpu_supports("avx512f"))
        snprintf(m->vector, sizeof m->vector, "avx512");
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        snprintf(m->vector, sizeof m->vector, "avx2");
    else
        snprintf(m->vector, sizeof m->vector, "sse2");
#else
    snprintf(m->vector, sizeof m->vector, "scalar");
#endif
}

long machine_rss(int pid, long *peak) {
    char path[64];
    if (pid)
        snprintf(path, sizeof path, "/proc/%d/status", pid);
    else
        snprintf(path, sizeof path, "/proc/self/status");
    long rss = proc_kb(path, "VmRSS");
    if (peak) {
        long hwm = proc_kb(path, "VmHWM");
        *peak = hwm < 0 ? -1 : hwm * 1024;
    }
    return rss < 0 ? -1 : rss * 1024;
}
