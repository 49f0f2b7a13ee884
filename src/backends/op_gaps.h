/* opgap_: the ops of a graph a backend has no way to run, gathered into
 * one message before anything is built, so that a user learns every op
 * to replace rather than the first one met. */
#ifndef CALMA_BACKENDS_OP_GAPS_H
#define CALMA_BACKENDS_OP_GAPS_H

#include <stddef.h>

#include "ir/ir.h"

/* lacks(g, i, arg): nonzero when node i cannot run. Returns the first such
 * node's index (-1 when there is none) and writes the op types of the
 * others into others ("Slice, Erf"), each once and not the first node's
 * own, as many as fit in size. */
int opgap_find(const ir_graph *g, int (*lacks)(const ir_graph *g, int i, void *arg), void *arg,
               char *others, size_t size);

#endif
