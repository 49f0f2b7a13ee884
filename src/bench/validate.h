/* validate_: comparing a conversion's outputs with the oracle's, judged by
 * the trial's precision.
 *
 * A float32 trial must match element by element (atol + rtol * |ref|). A
 * reduced-precision trial (fp16, bf16, int8) cannot, and is judged instead on
 * the cosine similarity of each output with the oracle's and, for
 * classifier-shaped outputs ([N, classes], classes >= 2), on how often its
 * top-1 class (and, with more than 5 classes, the oracle's top-1 among its
 * top 5) agrees with the oracle's, over every validation batch. */
#ifndef CALMA_BENCH_VALIDATE_H
#define CALMA_BENCH_VALIDATE_H

#include "ir/ir.h"

typedef struct validate_tol {
    double atol, rtol; /* |got - ref| <= atol + rtol * |ref| element-wise */
} validate_tol;

/* Default tolerance for a dtype: float32 atol 1e-4 rtol 1e-3; float16 and
 * bfloat16 looser; integers and bool exact. */
validate_tol validate_default_tol(calma_dtype dt);

/* How one output of a trial is judged. */
typedef struct validate_rule {
    validate_tol tol;  /* element-wise bound (reported always) */
    int elementwise;   /* 1: pass only when every element is within tol */
    double min_cosine; /* pass only at or above; < 0: not judged */
    double min_top1;   /* share of rows, 0..1; < 0: not judged */
    double min_top5;   /* the same for top-5; < 0: not judged */
} validate_rule;

/* The default rule for a precision ("fp32", "fp16", "bf16", "int8") and an
 * output dtype: fp32 element-wise with validate_default_tol; fp16 cosine >=
 * 0.999 and top-1 >= 99%; bf16 cosine >= 0.99 and top-1 >= 99%; int8 cosine
 * >= 0.99 and top-1 >= 98%. Non-float outputs are exact in every precision. */
validate_rule validate_default_rule(const char *precision, calma_dtype dt);

typedef struct validate_result {
    int pass;
    double max_abs;     /* largest |got - ref| */
    double max_rel;     /* largest |got - ref| / |ref| over elements with ref != 0 */
    double cosine;      /* cosine similarity of got and ref as vectors (1 if both zero) */
    size_t nonfinite;   /* NaN or Inf values in got */
    size_t worst_index; /* flat index of the element furthest beyond tolerance */
    double worst_ref, worst_got;
    size_t bad;    /* elements beyond tolerance */
    size_t rows;   /* classifier-shaped outputs: rows compared, else 0 */
    double top1;   /* share of rows whose top-1 class agrees; -1 when not classifier-shaped */
    double top5;   /* share of rows where the oracle's top-1 is in the top 5; -1 when n/a */
    int batches;   /* validation batches compared */
    char why[256]; /* one line when !pass: shape, dtype, worst element */
} validate_result;

/* Running comparison of one output over several batches. */
typedef struct validate_acc {
    calma_dtype dtype;
    size_t n, bad, nonfinite, nf_bad, worst_index, rows, top1, top5;
    double max_abs, max_rel, dot, nr, ng, worst_excess, worst_ref, worst_got;
    int classes, batches, shape_bad;
    char shape_why[200];
} validate_acc;

void validate_acc_init(validate_acc *a);
/* Adds one batch (same dtype and shape required; a difference is recorded
 * as a failure). Returns CALMA_OK unless the tensors are unusable. */
int validate_acc_add(validate_acc *a, const ir_tensor *ref, const ir_tensor *got, validate_tol tol,
                     calma_error *e);
/* The figures and the verdict under rule. */
void validate_acc_finish(const validate_acc *a, const validate_rule *rule, validate_result *r);

/* One batch judged element-wise: got against ref under tol. Returns
 * CALMA_OK unless the inputs are unusable; the verdict is r->pass. */
int validate_compare(const ir_tensor *ref, const ir_tensor *got, validate_tol tol,
                     validate_result *r, calma_error *e);

#endif
