/* `calma worker`: one trial, started by `calma bench` (src/bench/worker.c). */
#include "bench/worker.h"
#include "cli/cli.h"

int cli_worker(int argc, char **argv) {
    return worker_main(argc, argv);
}
