#include <stdio.h>
#include <string.h>

#include "bench/registry.h"
#include "calma/calma.h"
#include "cli/cli.h"
#include "util/text.h"

/* calma's version, then each backend's engine version where the engine is
 * present (one line per backend, not per conversion). */
void cli_print_versions(void) {
    printf("calma %s\n", CALMA_VERSION);
    registry *r;
    calma_error e;
    if (registry_open(&r, NULL, 0, &e)) return;
    const calma_backend *seen[32];
    int n_seen = 0;
    for (int i = 0; i < registry_count(r); i++) {
        const calma_conversion *c = registry_at(r, i);
        int dup = 0;
        for (int k = 0; k < n_seen; k++) dup |= seen[k] == c->backend;
        if (dup || n_seen == 32) continue;
        seen[n_seen++] = c->backend;
        if (registry_probe(c, &e) == CALMA_OK) {
            const char *v = c->backend->version ? c->backend->version() : NULL;
            printf("  %-10s ", c->backend->name);
            text_fputs_printable(stdout, v ? v : "(version unknown)", 256);
            putchar('\n');
        } else {
            printf("  %-10s unavailable: %s\n", c->backend->name, e.msg);
        }
    }
    registry_close(r);
}
