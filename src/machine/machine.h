/* machine_: what this machine is (CPU, cores, memory, kernel, governor,
 * load) and how fast it can multiply-add at best. */
#ifndef CALMA_MACHINE_H
#define CALMA_MACHINE_H

#include <stddef.h>

typedef struct machine_info {
    char cpu[128];    /* model name from /proc/cpuinfo */
    int cores;        /* online logical CPUs */
    double mem_total; /* bytes */
    double mem_available;
    char kernel[160];  /* uname -sr */
    char governor[32]; /* cpufreq scaling governor, "" when unreadable */
    double load1;      /* 1-minute load average */
    char vector[16];   /* widest vector unit used for the peak: avx512, avx2, sse2, scalar */
} machine_info;

void machine_read(machine_info *m);

/* Peak fp32 multiply-add rate (GFLOP/s, counting a multiply-add as two
 * operations) of a register-only loop on the widest vector unit this CPU
 * has, chosen at run time, on `threads` threads for about `seconds`. */
double machine_peak_gflops(int threads, double seconds);

/* Attainable rate of a large OpenBLAS sgemm on `threads` threads, in
 * GFLOP/s; negative when calma was built without OpenBLAS. */
double machine_sgemm_gflops(int threads, int n);

/* Current resident set size and its peak (VmRSS, VmHWM) of a process
 * (pid 0 = this one), in bytes; -1 when unreadable. */
long machine_rss(int pid, long *peak);

#endif
