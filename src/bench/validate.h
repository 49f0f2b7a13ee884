/* validate_: comparing a conversion's outputs with the oracle's. */
#ifndef CALMA_BENCH_VALIDATE_H
#define CALMA_BENCH_VALIDATE_H

#include "ir/ir.h"

typedef struct validate_tol {
    double atol, rtol; /* |got - ref| <= atol + rtol * |ref| element-wise */
} validate_tol;

/* Default tolerance for a dtype: float32 atol 1e-4 rtol 1e-3; float16 and
 * bfloat16 looser; integers and bool exact. */
validate_tol validate_default_tol(calma_dtype dt);

typedef struct validate_result {
    int pass;
    double max_abs;     /* largest |got - ref| */
    double max_rel;     /* largest |got - ref| / |ref| over elements with ref != 0 */
    double cosine;      /* cosine similarity of got and ref as vectors (1 if both zero) */
    size_t nonfinite;   /* NaN or Inf values in got */
    size_t worst_index; /* flat index of the element furthest beyond tolerance */
    double worst_ref, worst_got;
    size_t bad;    /* elements beyond tolerance */
    char why[256]; /* one line when !pass: shape, dtype, worst element */
} validate_result;

/* Compares got against ref (same dtype and shape required; a difference is a
 * failure with the reason in r->why). Returns CALMA_OK unless the inputs are
 * unusable; the verdict is r->pass. */
int validate_compare(const ir_tensor *ref, const ir_tensor *got, validate_tol tol,
                     validate_result *r, calma_error *e);

#endif
