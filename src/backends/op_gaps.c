#include "backends/op_gaps.h"

#include <stdio.h>
#include <string.h>

int opgap_find(const ir_graph *g, int (*lacks)(const ir_graph *g, int i, void *arg), void *arg,
               char *others, size_t size) {
    int first = -1;
    size_t used = 0;
    if (size) others[0] = '\0';
    for (int i = 0; i < g->n_nodes; i++) {
        if (!lacks(g, i, arg)) continue;
        const char *op = g->nodes[i].op_type;
        if (first < 0) {
            first = i;
            continue;
        }
        int dup = strcmp(op, g->nodes[first].op_type) == 0;
        for (int j = first + 1; j < i && !dup; j++)
            if (lacks(g, j, arg) && strcmp(g->nodes[j].op_type, op) == 0) dup = 1;
        if (dup || used + strlen(op) + 3 >= size) continue;
        used += (size_t)snprintf(others + used, size - used, "%s%s", used ? ", " : "", op);
    }
    return first;
}
