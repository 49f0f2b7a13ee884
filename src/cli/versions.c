#include <stdio.h>

#include "calma/calma.h"
#include "cli/cli.h"

void cli_print_versions(void) {
    printf("calma %s\n", CALMA_VERSION);
}
