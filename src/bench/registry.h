/* registry_: every conversion this calma knows (built-in backends and
 * plugins), name checking with suggestions, tiers. */
#ifndef CALMA_BENCH_REGISTRY_H
#define CALMA_BENCH_REGISTRY_H

#include <stdio.h>

#include "calma/backend.h"

typedef struct registry registry;

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
    char warnings[1024];           /* e.g. "ORT_CPU is listed twice (as ONNX_CPU); kept once" */
} registry_selection;

/* Resolves the user's choice: names_csv (comma-separated names or aliases)
 * when not NULL, else every conversion with tier <= tier (1..3). Fails with
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
