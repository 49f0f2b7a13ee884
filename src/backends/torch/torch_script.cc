// TORCHSCRIPT and TORCHSCRIPT_FROZEN: the model's own TorchScript file,
// loaded with torch::jit::load and run with forward() in inference mode.
// Inputs follow the ONNX graph's order; outputs (a tensor, or a tuple or
// list of them, flattened) are matched by position and checked for count,
// dtype and shape against the ONNX model's, so a file of another model is
// a clear error rather than a wrong answer.
#include <torch/script.h>

#include <memory>
#include <string>
#include <vector>

#include "backends/torch/torch_common.hh"

namespace {

struct Script {
    torch::jit::Module mod;
    std::string path;
    int n_in = 0, n_out = 0;
};

std::string names_of(const calma_tensor *t, int n) {
    std::string s;
    for (int i = 0; i < n; i++) s += std::string(i ? ", " : "") + (t[i].name ? t[i].name : "?");
    return s;
}

std::string plural(int n, const char *what) {
    return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

// forward's tensor arguments (after self) against the ONNX inputs.
int check_arguments(const Script &s, const c10::FunctionSchema &schema, const calma_model *m,
                    calma_error *e) {
    const auto &args = schema.arguments();
    int n = (int)args.size() - 1, required = 0;
    std::string names;
    for (int i = 1; i <= n; i++) {
        const c10::Argument &a = args[(size_t)i];
        names += (i > 1 ? ", " : "") + a.name();
        if (!a.default_value()) required++;
        if (!a.type()->isSubtypeOf(*c10::TensorType::get()) && i <= m->n_inputs)
            return err_set(e, CALMA_E_INVALID,
                           "%s: forward's argument '%s' is %s, not a tensor; calma passes "
                           "the ONNX model's inputs (%s) as tensors",
                           s.path.c_str(), a.name().c_str(), a.type()->str().c_str(),
                           names_of(m->inputs, m->n_inputs).c_str());
    }
    if (m->n_inputs < required || m->n_inputs > n || schema.is_vararg())
        return err_set(e, CALMA_E_INVALID, "%s: forward takes %s (%s); the ONNX model has %s (%s)",
                       s.path.c_str(), plural(n, "input").c_str(), names.c_str(),
                       plural(m->n_inputs, "input").c_str(),
                       names_of(m->inputs, m->n_inputs).c_str());
    return CALMA_OK;
}

// The number of tensors forward's declared return type holds, or -1 when
// only running it tells (a list, or an untyped value).
int declared_outputs(const c10::TypePtr &t) {
    if (t->isSubtypeOf(*c10::TensorType::get())) return 1;
    if (auto tup = t->cast<c10::TupleType>()) {
        int n = 0;
        for (const auto &el : tup->elements()) {
            int k = declared_outputs(el);
            if (k < 0) return -1;
            n += k;
        }
        return n;
    }
    return -1;
}

int check_returns(const Script &s, const c10::FunctionSchema &schema, const calma_model *m,
                  calma_error *e) {
    if (schema.returns().size() != 1) return CALMA_OK;
    int n = declared_outputs(schema.returns()[0].type());
    if (n < 0 || n == m->n_outputs) return CALMA_OK;
    return err_set(
        e, CALMA_E_INVALID, "%s: forward returns %s (%s); the ONNX model has %s (%s)",
        s.path.c_str(), plural(n, "tensor").c_str(), schema.returns()[0].type()->str().c_str(),
        plural(m->n_outputs, "output").c_str(), names_of(m->outputs, m->n_outputs).c_str());
}

// Tensors in a result, in order: a tensor, or tuples and lists of them.
bool flatten(const c10::IValue &v, std::vector<at::Tensor> &out) {
    if (v.isTensor()) {
        out.push_back(v.toTensor());
        return true;
    }
    if (v.isTuple()) {
        for (const c10::IValue &x : v.toTupleRef().elements())
            if (!flatten(x, out)) return false;
        return true;
    }
    if (v.isList()) {
        for (const c10::IValue &x : v.toListRef())
            if (!flatten(x, out)) return false;
        return true;
    }
    return false;
}

} // namespace

extern "C" int torchbe_script_load(const char *path, const calma_model *m, int threads, void **h,
                                   calma_error *e) {
    *h = nullptr;
    Script *s = nullptr;
    torchbe::set_threads(threads);
    std::string bad = std::string(path) + " is not a TorchScript file torch::jit::load can read";
    int rc = torchbe::guarded(e, bad, [&]() -> int {
        auto made = std::make_unique<Script>();
        made->path = path;
        made->n_in = m->n_inputs;
        made->n_out = m->n_outputs;
        made->mod = torch::jit::load(path);
        s = made.release();
        return CALMA_OK;
    });
    if (rc) return e->status = rc == CALMA_E_NOMEM ? rc : CALMA_E_PARSE;
    rc = torchbe::guarded(e, path, [&]() -> int {
        s->mod.eval();
        auto fwd = s->mod.find_method("forward");
        if (!fwd) return err_set(e, CALMA_E_INVALID, "%s: the module has no forward method", path);
        const c10::FunctionSchema &schema = fwd->function().getSchema();
        int r = check_arguments(*s, schema, m, e);
        return r ? r : check_returns(*s, schema, m, e);
    });
    if (rc) {
        delete s;
        return rc;
    }
    *h = s;
    return CALMA_OK;
}

// freeze inlines the parameters as constants (and folds conv-bn);
// optimize_for_inference then applies libtorch's inference passes
// (oneDNN layouts for convolutions, where libtorch is built with oneDNN).
extern "C" int torchbe_script_freeze(void *h, calma_error *e) {
    Script *s = static_cast<Script *>(h);
    return torchbe::guarded(e, s->path + ": freezing", [&]() -> int {
        torch::jit::Module frozen = torch::jit::freeze(s->mod);
        s->mod = torch::jit::optimize_for_inference(frozen);
        return CALMA_OK;
    });
}

extern "C" int torchbe_script_run(void *h, const calma_tensor *in, int n_in, calma_tensor *out,
                                  int n_out, calma_error *e) {
    Script *s = static_cast<Script *>(h);
    torch::NoGradGuard no_grad;
    c10::InferenceMode guard;
    return torchbe::guarded(e, s->path, [&]() -> int {
        std::vector<c10::IValue> args;
        args.reserve((size_t)n_in);
        for (int i = 0; i < n_in; i++) args.emplace_back(torchbe::view(in[i]));
        c10::IValue r = s->mod.forward(std::move(args));
        std::vector<at::Tensor> outs;
        if (!flatten(r, outs))
            return err_set(e, CALMA_E_INVALID,
                           "%s: forward returned %s, not a tensor or a tuple of tensors",
                           s->path.c_str(), r.tagKind().c_str());
        if ((int)outs.size() != n_out)
            return err_set(e, CALMA_E_INVALID,
                           "%s: forward returned %s; the ONNX model has %s (%s)", s->path.c_str(),
                           plural((int)outs.size(), "tensor").c_str(),
                           plural(n_out, "output").c_str(), names_of(out, n_out).c_str());
        for (int k = 0; k < n_out; k++) {
            std::string what = s->path + ": forward's result " + std::to_string(k) + " (for '" +
                               (out[k].name ? out[k].name : "?") + "')";
            int rc = torchbe::copy_out(outs[(size_t)k], out[k], what, e);
            if (rc) return rc;
        }
        return CALMA_OK;
    });
}

extern "C" void torchbe_script_free(void *h) {
    delete static_cast<Script *>(h);
}
