/* mem_: allocation and size arithmetic that cannot overflow silently. */
#ifndef CALMA_UTIL_MEM_H
#define CALMA_UTIL_MEM_H

#include <stddef.h>
#include <stdint.h>

/* *out = a * b; returns 0 on success, -1 on overflow. */
int mem_mul_size(size_t a, size_t b, size_t *out);
/* *out = a + b; returns 0 on success, -1 on overflow. */
int mem_add_size(size_t a, size_t b, size_t *out);
/* *out = a * b for non-negative int64; -1 on overflow or a negative operand. */
int mem_mul_i64(int64_t a, int64_t b, int64_t *out);

/* strdup that returns NULL for NULL. */
char *mem_strdup(const char *s);
/* Copy of n bytes plus a terminating NUL. */
char *mem_strndup(const char *s, size_t n);
/* Grows *arr (of *cap elements of size elem) to hold at least need; 0 or -1. */
int mem_grow(void **arr, int *cap, int need, size_t elem);

#endif
