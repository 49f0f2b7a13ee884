/* registry_: every conversion this calma knows (built-in backends and
 * plugins), name checking with suggestions, tiers. */
#ifndef CALMA_BENCH_REGISTRY_H
#define CALMA_BENCH_REGISTRY_H

#include <stdio.h>

#include "calma/backend.h"

typedef struct registry registry;
struct xform_info;

/* A conversion as a trial names it: an optional model transform before a
 * '+' (src/transform) and the conversion it feeds. */
typedef struct registry_entry {
    const struct xform_info *xform; /* NULL: no transform */
    const calma_conversion *conv;
    char name[160]; /* canonical: "ORT_CPU", "INT8+ORT_CPU" */
} registry_entry;

/* Joins the built-in tables and the conversions of each plugin (a shared
 * object exporting calma_plugin_entry). A plugin that cannot be opened, has
 * no entry point, speaks another ABI, or names a conversion that already
 * exists fails with CALMA_E_USAGE naming the file. */
int registry_open(registry **out, const char *const *plugin_paths, int n_plugins, calma_error *e);
void registry_close(registry *r);

int registry_count(const registry *r);
const calma_conversion *registry_at(const registry *r, int i);

/* By canonical name or alias; case does not matter and '-' equals '_'. */
const calma_conversion *registry_find(const registry *r, const char *name);

/* NAME or TRANSFORM+NAME. CALMA_E_USAGE with the reason: an unknown
 * transform or conversion (with the closest known names), a conversion that
 * does not read ONNX (transforms need one), more than one transform. */
int registry_resolve(const registry *r, const char *name, registry_entry *out, calma_error *e);

/* Does the conversion's backend run any ONNX model (CALMA_BACKEND_READS_ONNX)? */
int registry_reads_onnx(const calma_conversion *c);

/* The precision a trial of this entry computes in: the transform's ("fp16",
 * "bf16", "int8"), else the conversion's own from its name's suffix
 * (ONEDNN_BF16 is "bf16", *_INT8 "int8", *_FP16 "fp16"), else "fp32". */
const char *registry_precision(const registry_entry *en);
/* The same from a full name (unknown names are "fp32"). */
const char *registry_precision_of(const registry *r, const char *name);

/* Names other tools use that calma recognises but cannot offer: the reason
 * and what to use instead, or NULL when name is not one of them. */
const char *registry_foreign(const char *name);

/* Up to max suggestions for an unknown name (closest by edit distance, and
 * names containing it or contained in it), written as "A, B or C" into buf.
 * Returns the number found. */
int registry_suggest(const registry *r, const char *name, char *buf, size_t n, int max);

typedef struct registry_selection {
    int n;
    const calma_conversion **conv; /* in the order given, duplicates removed */
    registry_entry *entry;         /* the same n, with transforms and full names */
    char warnings[1024];           /* e.g. "ORT_CPU is listed twice (as ONNX_CPU); kept once" */
} registry_selection;

/* Resolves the user's choice: names_csv (comma-separated names or aliases,
 * each optionally TRANSFORM+NAME) when not NULL, else every conversion with
 * tier <= tier (1..3; tier 3 also holds FP16+, BF16+ and INT8+ORT_CPU). Fails with
 * CALMA_E_USAGE when a name is unknown (with suggestions), foreign (with the
 * reason and what to use instead), or the list is empty. */
int registry_select(const registry *r, const char *names_csv, int tier, registry_selection *out,
                    calma_error *e);
void registry_selection_free(registry_selection *s);

/* The backend's probe: CALMA_OK or CALMA_E_UNAVAILABLE with the reason. */
int registry_probe(const calma_conversion *c, calma_error *e);

/* `calma list`: the table with availability here and the reason for each
 * unavailable conversion, what each tier holds, and the foreign names. */
void registry_print(const registry *r, FILE *f);

#endif
