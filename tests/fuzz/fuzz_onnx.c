/* The ONNX loader and shape inference: bytes -> a graph or a clear error,
 * then what calma bench computes from an untrusted model in the supervisor
 * before any worker runs (the model's facts: types, SHA-256, FLOPs by
 * static shape inference, which folds constants with the oracle's
 * kernels). The model's folder holds one small external data file, so
 * inputs that point at it reach that path too. */
#include "fuzz_util.h"

#include <cjson/cJSON.h>

#include "bench/facts.h"
#include "onnx/onnx.h"
#include "ref/ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const uint8_t blob[64] = {0};
    static int have_blob;
    if (!have_blob) have_blob = fuzz_file("data.bin", blob, sizeof blob) != NULL;
    const char *path = fuzz_file("model.onnx", data, size);
    ir_graph *g = NULL;
    calma_error e = {0};
    if (onnx_load(path, &g, &e) != CALMA_OK) {
        if (!e.msg[0]) abort(); /* a failure always says why */
        return 0;
    }
    cJSON_Delete(facts_model(g, path));
    ir_graph_free(g);
    return 0;
}
