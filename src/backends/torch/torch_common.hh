// torchbe_: what the C++ files of calma_torch.so share: dtypes, views on
// calma's buffers, copying results out, and the exception boundary. No C++
// exception leaves an extern "C" entry point: each is caught here and
// becomes a calma status with the first useful line of its message.
#ifndef CALMA_BACKENDS_TORCH_COMMON_HH
#define CALMA_BACKENDS_TORCH_COMMON_HH

#include <ATen/ATen.h>

#include <new>
#include <string>

#include "backends/torch/torch_abi.h"

extern "C" {
#include "util/err.h"
}

namespace torchbe {

// Failures are reported with calma's err_set (util/err.c is compiled into
// calma_torch.so too).
using ::err_set;

// The line of an exception's message a person needs: the first, except for
// TorchScript's "The following operation failed in the TorchScript
// interpreter" preamble, where it is the error at the end of its traceback.
std::string useful_line(const char *what);

// calma's dtype as libtorch's; false for the ones libtorch 1.13 lacks.
bool to_torch(int dtype, at::ScalarType *out);

// "Float[1, 1000]" for messages.
std::string describe(at::ScalarType st, at::IntArrayRef sizes);
std::string describe(const calma_tensor &t);

// A tensor over a buffer calma owns (no copy). Zero-element tensors get
// their own empty storage.
at::Tensor view(const calma_tensor &t);

// Copies r into calma's output buffer o after checking r has o's dtype
// and shape; what names the result ("output 0 ('y') of ...").
int copy_out(const at::Tensor &r, calma_tensor &o, const std::string &what, calma_error *e);

// at::set_num_threads(threads) and one inter-op thread (settable once per
// process; later calls keep the first setting).
void set_threads(int threads);

// Runs f, turning every exception into a calma status; context prefixes
// the message. c10's NotImplementedError (no kernel for a dtype) is
// "unsupported".
template <class F> int guarded(calma_error *e, const std::string &context, F &&f) {
    try {
        return f();
    } catch (const c10::NotImplementedError &ex) {
        return err_set(e, CALMA_E_UNSUPPORTED, "%s: %s", context.c_str(),
                       useful_line(ex.what_without_backtrace()).c_str());
    } catch (const c10::Error &ex) {
        std::string line = useful_line(ex.what_without_backtrace());
        // ATen's dispatch says "\"max_pool2d\" not implemented for 'Byte'"
        bool no_kernel = line.find("not implemented for '") != std::string::npos;
        return err_set(e, no_kernel ? CALMA_E_UNSUPPORTED : CALMA_E_INVALID, "%s: %s",
                       context.c_str(), line.c_str());
    } catch (const std::bad_alloc &) {
        return err_set(e, CALMA_E_NOMEM, "%s: out of memory", context.c_str());
    } catch (const std::exception &ex) {
        return err_set(e, CALMA_E_INTERNAL, "%s: %s", context.c_str(),
                       useful_line(ex.what()).c_str());
    } catch (...) {
        return err_set(e, CALMA_E_INTERNAL, "%s: an exception of unknown type", context.c_str());
    }
}

} // namespace torchbe

// The entry points of each file, collected into the API table (torch_api.cc).
extern "C" {
int torchbe_eager_create(const torchbe_program *p, int threads, void **h, calma_error *e);
int torchbe_eager_convert(void *h, calma_error *e);
int torchbe_eager_run(void *h, const calma_tensor *in, int n_in, calma_tensor *out, int n_out,
                      calma_error *e);
void torchbe_eager_free(void *h);
int torchbe_script_load(const char *path, const calma_model *m, int threads, void **h,
                        calma_error *e);
int torchbe_script_freeze(void *h, calma_error *e);
int torchbe_script_run(void *h, const calma_tensor *in, int n_in, calma_tensor *out, int n_out,
                       calma_error *e);
void torchbe_script_free(void *h);
}

#endif
