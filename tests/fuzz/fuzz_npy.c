/* The .npy reader: bytes -> a tensor or a clear error. */
#include "fuzz_util.h"

#include "io/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file("input.npy", data, size);
    ir_tensor t;
    calma_error e = {0};
    if (npy_read(path, &t, &e) != CALMA_OK) {
        if (!e.msg[0]) abort();
        return 0;
    }
    /* The tensor holds what its shape says. */
    if (t.nbytes != ir_tensor_numel(&t) * ir_dtype_size(t.dtype)) abort();
    ir_tensor_free(&t);
    return 0;
}
