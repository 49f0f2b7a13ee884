/* facts_: the model and machine facts recorded in plan.json. */
#ifndef CALMA_BENCH_FACTS_H
#define CALMA_BENCH_FACTS_H

#include <cjson/cJSON.h>

#include "ir/ir.h"

/* size, sha256, opset, inputs, outputs and flops (per sample, batch 1; null
 * when shape inference cannot tell) of the model in path, parsed as g. */
cJSON *facts_model(const ir_graph *g, const char *path);

/* hostname, cpu, cpus, memory, kernel, governor, vector, load_avg, and an
 * empty peak list that ensure_peak fills per thread count. */
cJSON *facts_machine(void);

#endif
