/* conform_: runs the ONNX backend test suite (model.onnx plus
 * test_data_set_N/{input,output}_K.pb per case) through an engine and
 * compares with the expected outputs, using the ONNX backend test runner's
 * default tolerances.
 *
 * The engine is a conform_runner, so any conversion can be checked:
 * conform_reference_runner() is the oracle, conform_backend_runner() wraps a
 * calma_conversion (ORT_CPU, XNNPACK, ...) through its backend interface. */
#ifndef CALMA_CONFORM_H
#define CALMA_CONFORM_H

#include <stdio.h>

#include "calma/backend.h"
#include "ir/ir.h"

#define CONFORM_RTOL 1e-3
#define CONFORM_ATOL 1e-7

/* The suite's four folders as Debian's libonnx-testdata installs them. */
#define CONFORM_DATA_ROOT "/usr/share/libonnx-testdata/data"
extern const char *const conform_default_dirs[4];

/* An engine under test. One case: open (once), run (once per data set),
 * close. open may return CALMA_E_UNSUPPORTED with a message containing
 * "unsupported op 'X'" (or naming the dtype/attribute) to mark the case
 * unsupported rather than failed; the same holds for run. Any other error
 * status from open or run fails the case with its message. */
typedef struct conform_runner {
    const char *name; /* shown in the summary: "REFERENCE", "ORT_CPU" */
    const void *ctx;  /* given back to open */
    /* g is the loaded model (sorted), path its file; g outlives *state. */
    int (*open)(const void *ctx, const char *path, const ir_graph *g, void **state, calma_error *e);
    /* inputs[i] feeds g->inputs[i]; outputs[k] (zeroed by the caller)
     * receives g->outputs[k] as a new owned tensor. */
    int (*run)(void *state, const ir_tensor *inputs, ir_tensor *outputs, calma_error *e);
    void (*close)(void *state); /* state may be NULL */
} conform_runner;

/* The oracle (calma's reference interpreter). */
const conform_runner *conform_reference_runner(void);

/* Wraps a conversion: probe, load (deferred to the first run, when the
 * input shapes are known; output shapes come from the oracle's shape
 * inference), convert, run, release. *out points at conv, which must
 * outlive it. */
void conform_backend_runner(const calma_conversion *conv, conform_runner *out);

typedef enum conform_status {
    CONFORM_PASS = 0,
    CONFORM_FAIL = 1,        /* ran, wrong outputs, or the engine failed on valid input */
    CONFORM_UNSUPPORTED = 2, /* an op, dtype or attribute the engine does not run */
    CONFORM_ERROR = 3        /* the case could not be read (model or test data) */
} conform_status;

/* "pass", "fail", "unsupported", "error". */
const char *conform_status_name(conform_status s);

typedef struct conform_result {
    conform_status status;
    /* fail: "output 0 'y' element 17: got 1.5 expected 1.25 (3 of 24 differ)";
     * unsupported: "op 'Loop'" or the engine's message; error: the message. */
    char detail[CALMA_ERROR_MAX];
    int data_sets; /* how many test_data_set_N folders were run */
    double seconds;
} conform_result;

/* Runs one case folder. Never crashes on a bad case: every problem ends in
 * the result. Returns res->status. */
conform_status conform_run_case(const conform_runner *r, const char *case_dir, conform_result *res);

/* Compares one output against its expected value: dtype and shape must
 * match, floating types within |got-exp| <= atol + rtol*|exp| (NaN equals
 * NaN), integers and bool exactly. Returns 1 when equal, else 0 with the
 * worst element described in msg. */
int conform_compare(const ir_tensor *got, const ir_tensor *exp, double rtol, double atol, char *msg,
                    size_t n);

typedef struct conform_totals {
    int pass, fail, unsupported, error;
} conform_totals;

typedef struct conform_options {
    const char *const *dirs; /* folders of cases or single cases; NULL: the default four */
    int n_dirs;
    const char *filter; /* only cases whose label contains this, or NULL */
    int verbose;        /* print each case's time and full messages */
    FILE *out;          /* where the lines go, or NULL for none */
    /* Called for each case after it ran (label "node/test_abs"); may be NULL. */
    void (*on_case)(void *ctx, const char *label, const conform_result *res);
    void *on_case_ctx;
} conform_options;

/* Runs every case under the given folders (sorted by name), printing one
 * line per case, then totals per folder and overall. A folder that does not
 * exist fails with CALMA_E_IO before anything runs. */
int conform_run(const conform_runner *r, const conform_options *o, conform_totals *total,
                calma_error *e);

/* Label of a case folder: "<parent folder name>/<case folder name>". */
void conform_case_label(const char *case_dir, char *buf, size_t n);

/* ---- exclusions: tests/conformance/exclusions.txt ---- */

typedef struct conform_exclusion {
    char *label;  /* "node/test_x" */
    char *reason; /* never empty */
} conform_exclusion;

/* One case per line: the label, then a reason after '#' or a tab. Blank
 * lines and lines starting with '#' are skipped. A line without a reason is
 * an error (CALMA_E_PARSE naming the file and line). */
int conform_exclusions_load(const char *path, conform_exclusion **out, int *n, calma_error *e);
void conform_exclusions_free(conform_exclusion *x, int n);
/* The entry for label, or NULL. */
const conform_exclusion *conform_exclusion_find(const conform_exclusion *x, int n,
                                                const char *label);

#endif
