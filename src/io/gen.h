/* gen_: deterministic input data, made from a seed.
 *
 * Element i of input input_index in sample sample_index is a pure function
 * of (seed, input_index, sample_index, i): a counter-based generator (the
 * splitmix64 finaliser over a per-tensor key plus i), so any element can be
 * made without the ones before it, every machine makes the same bytes, and
 * filling between timed samples costs a few nanoseconds per element.
 *
 * Values by dtype:
 *   float32/float64/float16/bfloat16: uniform in [-1, 1) on a grid of 2^-23
 *     (24 random bits), rounded to the dtype;
 *   int8..int64, uint8..uint64: uniform integers in [0, 10), small enough
 *     to be valid Gather indices and category ids in small models;
 *   bool: 0 or 1 with equal odds.
 * Other dtypes (string, undefined) are left as they are. */
#ifndef CALMA_IO_GEN_H
#define CALMA_IO_GEN_H

#include <stdint.h>

#include "ir/ir.h"

/* Fills t->data (already allocated for t's dtype and shape). */
void gen_fill(ir_tensor *t, uint64_t seed, int input_index, uint64_t sample_index);

/* The upper bound (exclusive) of generated integers. */
#define GEN_INT_RANGE 10

#endif
