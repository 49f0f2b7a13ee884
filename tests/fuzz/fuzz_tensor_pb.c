/* The ONNX TensorProto reader (input_0.pb of the ONNX test layout, and
 * calma bench --input NAME=FILE.pb): bytes -> a tensor or a clear error. */
#include "fuzz_util.h"

#include "onnx/onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file("input_0.pb", data, size);
    ir_tensor t;
    char *name = NULL;
    calma_error e = {0};
    if (onnx_load_tensor(path, &t, &name, &e) != CALMA_OK) {
        if (!e.msg[0]) abort();
        return 0;
    }
    if (t.data && t.nbytes != ir_tensor_numel(&t) * ir_dtype_size(t.dtype)) abort();
    ir_tensor_free(&t);
    free(name);
    return 0;
}
