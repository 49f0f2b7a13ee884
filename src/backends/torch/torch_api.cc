// calma_torch.so's entry table and the helpers its files share.
#include <ATen/Parallel.h>
#include <torch/version.h>

#include <dlfcn.h>

#include <cstdio>
#include <cstring>

#include "backends/torch/torch_common.hh"

namespace torchbe {

static std::string trimmed(const std::string &s) {
    size_t b = s.find_first_not_of(" \t\r");
    size_t end = s.find_last_not_of(" \t\r");
    return b == std::string::npos ? std::string() : s.substr(b, end - b + 1);
}

std::string useful_line(const char *what) {
    std::string s = what ? what : "";
    static const char preamble[] = "The following operation failed in the TorchScript interpreter";
    size_t nl = s.find('\n');
    std::string first = trimmed(s.substr(0, nl));
    if (first.compare(0, sizeof preamble - 1, preamble) != 0 || nl == std::string::npos)
        return first.empty() ? "(no message)" : first;
    // The interpreter's error is the last non-empty line of its traceback.
    std::string last;
    size_t pos = nl + 1;
    while (pos < s.size()) {
        size_t next = s.find('\n', pos);
        std::string line = trimmed(s.substr(pos, next == std::string::npos ? next : next - pos));
        if (!line.empty()) last = line;
        if (next == std::string::npos) break;
        pos = next + 1;
    }
    return last.empty() ? first : last;
}

bool to_torch(int dtype, at::ScalarType *out) {
    switch (dtype) {
    case CALMA_DT_FLOAT:
        *out = at::kFloat;
        return true;
    case CALMA_DT_DOUBLE:
        *out = at::kDouble;
        return true;
    case CALMA_DT_FLOAT16:
        *out = at::kHalf;
        return true;
    case CALMA_DT_BFLOAT16:
        *out = at::kBFloat16;
        return true;
    case CALMA_DT_INT8:
        *out = at::kChar;
        return true;
    case CALMA_DT_UINT8:
        *out = at::kByte;
        return true;
    case CALMA_DT_INT16:
        *out = at::kShort;
        return true;
    case CALMA_DT_INT32:
        *out = at::kInt;
        return true;
    case CALMA_DT_INT64:
        *out = at::kLong;
        return true;
    case CALMA_DT_BOOL:
        *out = at::kBool;
        return true;
    default:
        return false;
    }
}

std::string describe(at::ScalarType st, at::IntArrayRef sizes) {
    std::string s = c10::toString(st);
    s += "[";
    for (size_t i = 0; i < sizes.size(); i++) s += (i ? "," : "") + std::to_string(sizes[i]);
    return s + "]";
}

std::string describe(const calma_tensor &t) {
    at::ScalarType st;
    std::string s = to_torch(t.dtype, &st) ? c10::toString(st) : "dtype" + std::to_string(t.dtype);
    s += "[";
    for (int i = 0; i < t.rank; i++) s += (i ? "," : "") + std::to_string(t.dims[i]);
    return s + "]";
}

at::Tensor view(const calma_tensor &t) {
    at::ScalarType st = at::kFloat;
    if (!to_torch(t.dtype, &st)) TORCH_CHECK(false, "dtype ", t.dtype, " has no libtorch type");
    at::IntArrayRef dims(t.dims, (size_t)t.rank);
    auto opts = at::TensorOptions().dtype(st);
    if (!t.data || !t.nbytes) return at::empty(dims, opts);
    return at::from_blob(t.data, dims, opts);
}

int copy_out(const at::Tensor &r, calma_tensor &o, const std::string &what, calma_error *e) {
    at::ScalarType st;
    at::IntArrayRef dims(o.dims, (size_t)o.rank);
    if (!to_torch(o.dtype, &st) || r.scalar_type() != st || r.sizes() != dims)
        return err_set(e, CALMA_E_INVALID, "%s is %s; the ONNX model's output is %s", what.c_str(),
                       describe(r.scalar_type(), r.sizes()).c_str(), describe(o).c_str());
    if (r.numel()) view(o).copy_(r);
    return CALMA_OK;
}

// libtorch hands matrix products (1x1 convolutions on the slow path, Gemm
// without oneDNN) to the system BLAS, here OpenBLAS with its own pthreads,
// which at::set_num_threads does not reach: without this a one-thread trial
// ran on two BLAS threads.
static void set_blas_threads(int threads) {
    void *h = dlopen("libopenblas.so.0", RTLD_LAZY | RTLD_NOLOAD);
    if (!h) return;
    void *sym = dlsym(h, "openblas_set_num_threads");
    void (*set)(int) = nullptr;
    std::memcpy(&set, &sym, sizeof set);
    if (set) set(threads);
    dlclose(h);
}

void set_threads(int threads) {
    threads = threads > 0 ? threads : 1;
    at::set_num_threads(threads);
    set_blas_threads(threads);
    try {
        // One inter-op thread: calma measures one inference at a time.
        at::set_num_interop_threads(1);
    } catch (const c10::Error &) {
        // Already set in this process (or parallel work began): keep it.
    }
}

} // namespace torchbe

static const char *torchbe_version(void) {
    return TORCH_VERSION;
}

extern "C" __attribute__((visibility("default"))) const torchbe_api *calma_torch_api(int abi);

extern "C" const torchbe_api *calma_torch_api(int abi) {
    static const torchbe_api api = {
        TORCHBE_ABI,        torchbe_version,     torchbe_eager_create, torchbe_eager_convert,
        torchbe_eager_run,  torchbe_eager_free,  torchbe_script_load,  torchbe_script_freeze,
        torchbe_script_run, torchbe_script_free,
    };
    return abi == TORCHBE_ABI ? &api : nullptr;
}
