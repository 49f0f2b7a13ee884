/* What a report says about the model and the machine, gathered when a run
 * starts and kept in plan.json. */
#include "bench/facts.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "machine/machine.h"
#include "ref/ref.h"
#include "util/sha256.h"

/* "float32", [1, 3, 224, 224] with symbolic dimensions by name. */
static cJSON *tensor_type(const ir_value *v) {
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "name", v->name);
    cJSON_AddStringToObject(t, "dtype", ir_dtype_name(v->dtype));
    cJSON *shape = cJSON_AddArrayToObject(t, "shape");
    for (int d = 0; d < v->rank; d++)
        cJSON_AddItemToArray(shape, v->dim_param[d]  ? cJSON_CreateString(v->dim_param[d])
                                    : v->dims[d] < 0 ? cJSON_CreateString("?")
                                                     : cJSON_CreateNumber((double)v->dims[d]));
    return t;
}

/* What the report says about the model: file size and SHA-256, opset,
 * inputs and outputs, and the arithmetic of one sample (batch 1). */
cJSON *facts_model(const ir_graph *g, const char *path) {
    cJSON *m = cJSON_CreateObject();
    struct stat st;
    if (stat(path, &st) == 0) cJSON_AddNumberToObject(m, "size", (double)st.st_size);
    char hex[65];
    if (sha256_file(path, hex) == 0) cJSON_AddStringToObject(m, "sha256", hex);
    cJSON_AddNumberToObject(m, "opset", (double)ir_graph_opset(g, ""));
    cJSON *ins = cJSON_AddArrayToObject(m, "inputs");
    for (int i = 0; i < g->n_inputs; i++)
        cJSON_AddItemToArray(ins, tensor_type(&g->values[g->inputs[i]]));
    cJSON *outs = cJSON_AddArrayToObject(m, "outputs");
    for (int k = 0; k < g->n_outputs; k++)
        cJSON_AddItemToArray(outs, tensor_type(&g->values[g->outputs[k]]));
    /* FLOPs at batch 1, by static shape inference on a copy of the types */
    ir_tensor *in = calloc((size_t)g->n_inputs + 1, sizeof *in);
    ir_tensor *out = calloc((size_t)g->n_outputs + 1, sizeof *out);
    int known = in && out;
    for (int i = 0; known && i < g->n_inputs; i++) {
        const ir_value *v = &g->values[g->inputs[i]];
        in[i].dtype = v->dtype;
        in[i].rank = v->rank;
        for (int d = 0; d < v->rank; d++) {
            in[i].dims[d] = v->dims[d] < 0 && d == 0 ? 1 : v->dims[d];
            known &= in[i].dims[d] >= 0;
        }
        known &= v->rank >= 0;
    }
    double flops = 0;
    calma_error e;
    if (known && ref_infer_outputs_flops(g, in, out, &flops, &e) == CALMA_OK && flops > 0)
        cJSON_AddNumberToObject(m, "flops", flops);
    else
        cJSON_AddNullToObject(m, "flops");
    free(in);
    free(out);
    return m;
}

/* The machine the run happens on, recorded when it starts. */
cJSON *facts_machine(void) {
    machine_info mi;
    machine_read(&mi);
    cJSON *m = cJSON_CreateObject();
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    cJSON_AddStringToObject(m, "hostname", host);
    cJSON_AddStringToObject(m, "cpu", mi.cpu);
    cJSON_AddNumberToObject(m, "cpus", mi.cores);
    cJSON_AddNumberToObject(m, "memory", mi.mem_total);
    cJSON_AddStringToObject(m, "kernel", mi.kernel);
    cJSON_AddStringToObject(m, "governor", mi.governor);
    cJSON_AddStringToObject(m, "vector", mi.vector);
    cJSON_AddNumberToObject(m, "load_avg", mi.load1);
    cJSON_AddArrayToObject(m, "peak");
    return m;
}
