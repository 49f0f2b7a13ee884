/* ort_plain_: the baseline calma's ORT backend is measured against. What a
 * person would write to time an ONNX Runtime session by hand: the C API
 * linked directly, one session, inputs wrapped once, Run in a plain loop with
 * ORT allocating the outputs. Same session settings as calma's ORT_CPU
 * (all optimizations, sequential, inter-op 1, spinning off). */
#ifndef CALMA_BENCH_ORT_PLAIN_H
#define CALMA_BENCH_ORT_PLAIN_H

#include <stddef.h>

typedef struct ort_plain ort_plain;

/* Creates the session for model (float inputs; symbolic dims become 1) with
 * intra-op threads; *create_s is the session creation time. 0 or -1 with
 * err filled. */
int ort_plain_open(const char *model, int threads, ort_plain **out, double *create_s, char *err,
                   size_t n);
/* One Run; 0 or -1. */
int ort_plain_run(ort_plain *p, char *err, size_t n);
void ort_plain_close(ort_plain *p);
/* Seconds from CLOCK_MONOTONIC. */
double ort_plain_now(void);

#endif
