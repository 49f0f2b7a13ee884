/* `calma bench`: the supervisor; all of it lives in src/bench/bench.c. */
#include "bench/bench.h"
#include "cli/cli.h"

int cli_bench(int argc, char **argv) {
    return bench_main(argc, argv);
}
