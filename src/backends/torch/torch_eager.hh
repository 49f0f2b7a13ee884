// TORCH_EAGER's steps on the C++ side: torch_eager.cc builds and runs the
// program, torch_eager_ops.cc holds the ATen call of each step kind.
#ifndef CALMA_BACKENDS_TORCH_EAGER_HH
#define CALMA_BACKENDS_TORCH_EAGER_HH

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "backends/torch/torch_abi.h"

namespace torchbe {

// A torchbe_step with its lists copied (the pointers in s are cleared).
struct Step {
    torchbe_step s;
    std::string node;
    std::vector<int> in, out, drop;
    std::vector<int64_t> p;
    at::Tensor aux; // Gather: constant indices, wrapped and flattened at convert
};

// Runs one step on the slots: reads its inputs, writes its outputs,
// releases its drop list. Throws c10::Error on failure.
void run_step(const Step &st, std::vector<at::Tensor> &slots);

// Indices for index_select along an axis of size dim: flattened, int64,
// negative ones wrapped, as ONNX's Gather allows.
at::Tensor wrap_indices(const at::Tensor &idx, int64_t dim);

} // namespace torchbe

#endif
