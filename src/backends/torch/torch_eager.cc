// TORCH_EAGER: runs a torchbe_program (torch_abi.h) one ATen call per step,
// NCHW, in inference mode, the way PyTorch eager runs the same network:
// no graph, no fusion, PyTorch's own kernels and threads. Intermediate
// tensors are released after their last reader.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <cmath>
#include <limits>
#include <vector>

#include "backends/torch/torch_common.hh"

namespace {

using at::Tensor;
using Dims = std::vector<int64_t>;

struct Step {
    torchbe_step s; // scalars (pointers below are copies)
    std::string node;
    std::vector<int> in, out, drop;
    Dims p;
    Tensor aux; // Gather: constant indices, wrapped and flattened at convert
};

struct Eager {
    std::vector<Step> steps;
    std::vector<Tensor> slots;
    std::vector<int> const_slot, input_slot, output_slot;
    std::vector<char> is_const;
};

Dims dims_of(const int64_t *v, int n) {
    return Dims(v, v + n);
}

// ---- windows ----

bool symmetric(const torchbe_window &w) {
    for (int i = 0; i < w.nsp; i++)
        if (w.pad_begin[i] != w.pad_end[i]) return false;
    return true;
}

// constant_pad_nd's order: the last dim's (begin, end) first.
Dims pad_list(const torchbe_window &w) {
    Dims p;
    for (int i = w.nsp - 1; i >= 0; i--) {
        p.push_back(w.pad_begin[i]);
        p.push_back(w.pad_end[i]);
    }
    return p;
}

// ATen's pools take symmetric pads of at most half the (dilated) kernel;
// other pads are applied explicitly first.
bool pool_pads_fit(const torchbe_window &w) {
    if (!symmetric(w)) return false;
    for (int i = 0; i < w.nsp; i++)
        if (2 * w.pad_begin[i] > (w.kernel[i] - 1) * w.dilation[i] + 1) return false;
    return true;
}

Tensor conv(const Step &st, const Tensor &x, const Tensor &w, const c10::optional<Tensor> &b) {
    const torchbe_window &win = st.s.win;
    int n = win.nsp;
    Dims stride = dims_of(win.stride, n), dil = dims_of(win.dilation, n);
    if (symmetric(win))
        return at::convolution(x, w, b, stride, dims_of(win.pad_begin, n), dil, false, Dims(n, 0),
                               win.groups);
    Tensor xp = at::constant_pad_nd(x, pad_list(win), 0);
    return at::convolution(xp, w, b, stride, Dims(n, 0), dil, false, Dims(n, 0), win.groups);
}

Tensor max_pool(const Step &st, Tensor x) {
    const torchbe_window &w = st.s.win;
    int n = w.nsp;
    Dims k = dims_of(w.kernel, n), s = dims_of(w.stride, n), d = dims_of(w.dilation, n);
    Dims pad = dims_of(w.pad_begin, n);
    if (!pool_pads_fit(w)) {
        x = at::constant_pad_nd(x, pad_list(w), -std::numeric_limits<double>::infinity());
        pad.assign(n, 0);
    }
    bool c = w.ceil_mode;
    if (n == 1) return at::max_pool1d(x, k, s, pad, d, c);
    if (n == 2) return at::max_pool2d(x, k, s, pad, d, c);
    return at::max_pool3d(x, k, s, pad, d, c);
}

Tensor avg_pool_plain(const Tensor &x, int n, const Dims &k, const Dims &s, const Dims &pad,
                      bool ceil, bool include) {
    if (n == 1) return at::avg_pool1d(x, k, s, pad, ceil, include);
    if (n == 2) return at::avg_pool2d(x, k, s, pad, ceil, include);
    return at::avg_pool3d(x, k, s, pad, ceil, include);
}

// Pads ATen cannot take are applied first; without count_include_pad the
// sum is then divided by the pooled count of real elements.
Tensor avg_pool(const Step &st, const Tensor &x) {
    const torchbe_window &w = st.s.win;
    int n = w.nsp;
    Dims k = dims_of(w.kernel, n), s = dims_of(w.stride, n);
    bool c = w.ceil_mode, include = w.count_include_pad;
    if (pool_pads_fit(w)) return avg_pool_plain(x, n, k, s, dims_of(w.pad_begin, n), c, include);
    Dims zero(n, 0), pads = pad_list(w);
    Tensor r = avg_pool_plain(at::constant_pad_nd(x, pads, 0), n, k, s, zero, c, true);
    if (include) return r;
    Tensor ones = at::constant_pad_nd(at::ones_like(x), pads, 0);
    return r / avg_pool_plain(ones, n, k, s, zero, c, true);
}

Tensor global_pool(const Tensor &x, bool avg) {
    if (avg && x.dim() == 4) return at::adaptive_avg_pool2d(x, {1, 1});
    Dims spatial;
    for (int64_t d = 2; d < x.dim(); d++) spatial.push_back(d);
    return avg ? at::mean(x, spatial, true) : at::amax(x, spatial, true);
}

// ---- elementwise ----

at::Scalar scalar_for(const Tensor &x, double v) {
    if (at::isIntegralType(x.scalar_type(), true)) return at::Scalar((int64_t)v);
    return at::Scalar(v);
}

Tensor clip(const Step &st, const Tensor &x, const Tensor *lo_t, const Tensor *hi_t) {
    bool integral = at::isIntegralType(x.scalar_type(), true);
    c10::optional<at::Scalar> lo, hi;
    if ((st.s.i0 & 1) && (!integral || std::isfinite(st.s.f0))) lo = scalar_for(x, st.s.f0);
    if ((st.s.i0 & 2) && (!integral || std::isfinite(st.s.f1))) hi = scalar_for(x, st.s.f1);
    Tensor r = x;
    if (lo_t || hi_t)
        r = at::clamp(r, lo_t ? c10::optional<Tensor>(*lo_t) : c10::nullopt,
                      hi_t ? c10::optional<Tensor>(*hi_t) : c10::nullopt);
    if (lo || hi) r = at::clamp(r, lo, hi);
    return r;
}

Tensor onnx_div(const Tensor &a, const Tensor &b) {
    if (at::isIntegralType(a.scalar_type(), true) && at::isIntegralType(b.scalar_type(), true))
        return at::div(a, b, "trunc");
    return at::div(a, b);
}

Tensor power(const Step &st, const Tensor &x, const Tensor *y) {
    Tensor r = st.s.i0 ? at::pow(x, at::Scalar(st.s.f0)) : at::pow(x, *y);
    return r.scalar_type() == x.scalar_type() ? r : r.to(x.scalar_type());
}

// ---- normalisation ----

Tensor softmax(const Step &st, const Tensor &x, bool log) {
    int64_t axis = st.s.i0;
    if (st.s.i1 && axis != x.dim() - 1) { // opset < 13: over dims axis.. flattened
        int64_t outer = 1, inner = 1;
        for (int64_t d = 0; d < x.dim(); d++) (d < axis ? outer : inner) *= x.size(d);
        Tensor x2 = x.reshape({outer, inner});
        Tensor r = log ? at::log_softmax(x2, 1) : at::softmax(x2, 1);
        return r.reshape(x.sizes());
    }
    return log ? at::log_softmax(x, axis) : at::softmax(x, axis);
}

Tensor layer_norm(const Step &st, const Tensor &x, Tensor w, c10::optional<Tensor> b) {
    at::IntArrayRef norm = x.sizes().slice(st.s.i0);
    if (w.sizes() != norm) w = w.expand(norm).contiguous();
    if (b && b->sizes() != norm) b = b->expand(norm).contiguous();
    return at::layer_norm(x, norm, w, b, st.s.f0, true);
}

// ---- shapes ----

Tensor slice(const Step &st, Tensor x) {
    for (size_t i = 0; i + 4 < st.p.size(); i += 5) {
        int64_t axis = st.p[i];
        if (st.p[i + 4]) x = x.flip({axis});
        x = x.slice(axis, st.p[i + 1], st.p[i + 2], st.p[i + 3]);
    }
    return x;
}

Tensor wrap_indices(const Tensor &idx, int64_t dim) {
    Tensor flat = idx.reshape({-1}).to(at::kLong);
    return at::where(flat < 0, flat + dim, flat);
}

Tensor gather(const Step &st, const Tensor &x, const Tensor *idx) {
    int64_t axis = st.s.i0;
    if (st.s.f0) return x.select(axis, st.p[0]);
    Tensor flat = st.aux.defined() ? st.aux : wrap_indices(*idx, st.s.i1);
    return at::index_select(x, axis, flat).reshape(st.p);
}

Tensor reduce(const Step &st, const Tensor &x) {
    bool keep = st.s.i0;
    Tensor r;
    switch (st.s.kind) {
    case TORCHBE_REDUCE_MEAN:
        return at::mean(x, st.p, keep);
    case TORCHBE_REDUCE_MAX:
        return at::amax(x, st.p, keep);
    case TORCHBE_REDUCE_MIN:
        return at::amin(x, st.p, keep);
    default:
        r = at::sum(x, st.p, keep); // ATen widens integer sums; ONNX keeps the type
    }
    return r.scalar_type() == x.scalar_type() ? r : r.to(x.scalar_type());
}

// ---- one step ----

class Runner {
  public:
    Runner(Eager &g, const Step &st) : g_(g), st_(st) {}

    bool has(size_t k) const {
        return k < st_.in.size() && st_.in[k] >= 0;
    }
    const Tensor &in(size_t k) const {
        const Tensor &t = g_.slots[st_.in[k]];
        TORCH_CHECK(t.defined(), "input ", k, " was never computed");
        return t;
    }
    const Tensor *opt(size_t k) const {
        return has(k) ? &in(k) : nullptr;
    }
    c10::optional<Tensor> optional(size_t k) const {
        return has(k) ? c10::optional<Tensor>(in(k)) : c10::nullopt;
    }
    void set(size_t k, Tensor t) {
        if (k < st_.out.size() && st_.out[k] >= 0) g_.slots[st_.out[k]] = std::move(t);
    }

    void run();

  private:
    Tensor unary();
    Tensor binary();
    Tensor other();
    Eager &g_;
    const Step &st_;
};

Tensor Runner::unary() {
    const Tensor &x = in(0);
    switch (st_.s.kind) {
    case TORCHBE_IDENTITY:
        return x;
    case TORCHBE_RELU:
        return at::relu(x);
    case TORCHBE_SIGMOID:
        return at::sigmoid(x);
    case TORCHBE_TANH:
        return at::tanh(x);
    case TORCHBE_SQRT:
        return at::sqrt(x);
    case TORCHBE_ERF:
        return at::erf(x);
    case TORCHBE_EXP:
        return at::exp(x);
    case TORCHBE_LOG:
        return at::log(x);
    case TORCHBE_NEG:
        return at::neg(x);
    case TORCHBE_ABS:
        return at::abs(x);
    case TORCHBE_RECIPROCAL:
        return at::reciprocal(x);
    case TORCHBE_HARDSWISH:
        return at::hardswish(x);
    case TORCHBE_NOT:
        return at::logical_not(x);
    case TORCHBE_LEAKYRELU:
        return at::leaky_relu(x, st_.s.f0);
    case TORCHBE_CLIP:
        return clip(st_, x, opt(1), opt(2));
    default:
        return binary();
    }
}

Tensor Runner::binary() {
    switch (st_.s.kind) {
    case TORCHBE_POW:
        return power(st_, in(0), opt(1));
    case TORCHBE_ADD:
        return at::add(in(0), in(1));
    case TORCHBE_SUB:
        return at::sub(in(0), in(1));
    case TORCHBE_MUL:
        return at::mul(in(0), in(1));
    case TORCHBE_DIV:
        return onnx_div(in(0), in(1));
    case TORCHBE_EQUAL:
        return at::eq(in(0), in(1));
    case TORCHBE_LESS:
        return at::lt(in(0), in(1));
    case TORCHBE_GREATER:
        return at::gt(in(0), in(1));
    case TORCHBE_AND:
        return at::logical_and(in(0), in(1));
    case TORCHBE_OR:
        return at::logical_or(in(0), in(1));
    case TORCHBE_WHERE:
        return at::where(in(0), in(1), in(2));
    default:
        return other();
    }
}

Tensor Runner::other() {
    const Tensor &x = in(0);
    switch (st_.s.kind) {
    case TORCHBE_CONV:
        return conv(st_, x, in(1), optional(2));
    case TORCHBE_GEMM: {
        Tensor a = st_.s.i0 ? x.t() : x, b = st_.s.i1 ? in(1).t() : in(1);
        if (has(2) && st_.s.f1 != 0) return at::addmm(in(2), a, b, st_.s.f1, st_.s.f0);
        Tensor r = at::mm(a, b);
        return st_.s.f0 == 1.0 ? r : r * st_.s.f0;
    }
    case TORCHBE_MATMUL:
        return at::matmul(x, in(1));
    case TORCHBE_BATCHNORM:
        return at::batch_norm(x, in(1), in(2), in(3), in(4), false, 0.0, st_.s.f0, true);
    case TORCHBE_LAYERNORM:
        return layer_norm(st_, x, in(1), optional(2));
    case TORCHBE_SOFTMAX:
        return softmax(st_, x, false);
    case TORCHBE_LOGSOFTMAX:
        return softmax(st_, x, true);
    case TORCHBE_MAXPOOL:
        return max_pool(st_, x);
    case TORCHBE_AVGPOOL:
        return avg_pool(st_, x);
    case TORCHBE_GLOBAL_AVGPOOL:
        return global_pool(x, true);
    case TORCHBE_GLOBAL_MAXPOOL:
        return global_pool(x, false);
    case TORCHBE_CAST: {
        at::ScalarType st;
        TORCH_CHECK(torchbe::to_torch((int)st_.s.i0, &st), "Cast to dtype ", st_.s.i0);
        return x.to(st);
    }
    case TORCHBE_RESHAPE:
        return x.reshape(st_.p);
    case TORCHBE_EXPAND:
        return x.expand(st_.p);
    case TORCHBE_TRANSPOSE:
        return x.permute(st_.p);
    case TORCHBE_SLICE:
        return slice(st_, x);
    case TORCHBE_GATHER:
        return gather(st_, x, opt(1));
    case TORCHBE_REDUCE_MEAN:
    case TORCHBE_REDUCE_SUM:
    case TORCHBE_REDUCE_MAX:
    case TORCHBE_REDUCE_MIN:
        return reduce(st_, x);
    default:
        TORCH_CHECK(false, "step kind ", st_.s.kind, " is not known to calma_torch.so");
    }
}

void Runner::run() {
    if (st_.s.kind == TORCHBE_CONCAT) {
        std::vector<Tensor> parts;
        for (size_t k = 0; k < st_.in.size(); k++)
            if (has(k)) parts.push_back(in(k));
        set(0, at::cat(parts, st_.s.i0));
    } else if (st_.s.kind == TORCHBE_SPLIT) {
        std::vector<Tensor> parts = at::split_with_sizes(in(0), st_.p, st_.s.i0);
        for (size_t k = 0; k < parts.size(); k++) set(k, parts[k]);
    } else {
        set(0, unary());
    }
    for (int v : st_.drop) g_.slots[v].reset();
}

// ---- building ----

Step copy_step(const torchbe_step &s) {
    Step st;
    st.s = s;
    st.s.in = st.s.out = st.s.drop = nullptr;
    st.s.p = nullptr;
    st.s.node = nullptr;
    st.node = s.node ? s.node : "?";
    st.in.assign(s.in, s.in + s.n_in);
    st.out.assign(s.out, s.out + s.n_out);
    st.drop.assign(s.drop, s.drop + s.n_drop);
    st.p.assign(s.p, s.p + s.n_p);
    return st;
}

bool bad_slot(const Eager &g, int v) {
    return v < -1 || v >= (int)g.slots.size();
}

int check_slots(const Eager &g, calma_error *e) {
    for (const Step &st : g.steps)
        for (const std::vector<int> *list : {&st.in, &st.out, &st.drop})
            for (int v : *list)
                if (bad_slot(g, v) || (list == &st.drop && v < 0))
                    return torchbe::fail(e, CALMA_E_INTERNAL, "%s: slot %d is outside 0..%zu",
                                         st.node.c_str(), v, g.slots.size());
    for (const std::vector<int> *list : {&g.input_slot, &g.output_slot, &g.const_slot})
        for (int v : *list)
            if (v < 0 || v >= (int)g.slots.size())
                return torchbe::fail(e, CALMA_E_INTERNAL, "graph slot %d is outside 0..%zu", v,
                                     g.slots.size());
    return CALMA_OK;
}

} // namespace

extern "C" int torchbe_eager_create(const torchbe_program *p, int threads, void **h,
                                    calma_error *e) {
    *h = nullptr;
    return torchbe::guarded(e, "TORCH_EAGER load", [&]() -> int {
        auto g = std::make_unique<Eager>();
        g->slots.resize((size_t)p->n_slots);
        g->is_const.assign((size_t)p->n_slots, 0);
        for (int i = 0; i < p->n_steps; i++) g->steps.push_back(copy_step(p->steps[i]));
        g->input_slot.assign(p->input_slot, p->input_slot + p->n_inputs);
        g->output_slot.assign(p->output_slot, p->output_slot + p->n_outputs);
        g->const_slot.assign(p->const_slot, p->const_slot + p->n_consts);
        int rc = check_slots(*g, e);
        if (rc) return rc;
        for (int c = 0; c < p->n_consts; c++) {
            int v = p->const_slot[c];
            g->slots[v] = torchbe::view(p->consts[c]); // zero-copy until convert
            g->is_const[v] = 1;
        }
        torchbe::set_threads(threads);
        *h = g.release();
        return CALMA_OK;
    });
}

// The constants become libtorch's own contiguous tensors, as a module's
// parameters are; Gather's constant indices are wrapped and flattened once.
extern "C" int torchbe_eager_convert(void *h, calma_error *e) {
    Eager *g = static_cast<Eager *>(h);
    return torchbe::guarded(e, "TORCH_EAGER convert", [&]() -> int {
        for (int v : g->const_slot) g->slots[v] = g->slots[v].clone(at::MemoryFormat::Contiguous);
        for (Step &st : g->steps)
            if (st.s.kind == TORCHBE_GATHER && !st.s.f0 && st.in.size() > 1 && st.in[1] >= 0 &&
                g->is_const[st.in[1]])
                st.aux = wrap_indices(g->slots[st.in[1]], st.s.i1);
        return CALMA_OK;
    });
}

extern "C" int torchbe_eager_run(void *h, const calma_tensor *in, int n_in, calma_tensor *out,
                                 int n_out, calma_error *e) {
    Eager *g = static_cast<Eager *>(h);
    if (n_in != (int)g->input_slot.size() || n_out != (int)g->output_slot.size())
        return torchbe::fail(e, CALMA_E_INTERNAL,
                             "TORCH_EAGER run: %d inputs and %d outputs for "
                             "a program of %zu and %zu",
                             n_in, n_out, g->input_slot.size(), g->output_slot.size());
    c10::InferenceMode guard;
    const Step *cur = nullptr;
    int rc = torchbe::guarded(e, "TORCH_EAGER", [&]() -> int {
        for (int i = 0; i < n_in; i++) g->slots[g->input_slot[i]] = torchbe::view(in[i]);
        for (const Step &st : g->steps) {
            cur = &st;
            Runner(*g, st).run();
        }
        cur = nullptr;
        for (int k = 0; k < n_out; k++) {
            const Tensor &r = g->slots[g->output_slot[k]];
            TORCH_CHECK(r.defined(), "graph output ", k, " was never computed");
            std::string what =
                "output " + std::to_string(k) + " ('" + (out[k].name ? out[k].name : "?") + "')";
            int orc = torchbe::copy_out(r, out[k], what, e);
            if (orc) return orc;
        }
        return CALMA_OK;
    });
    if (rc && cur) { // name the node whose ATen call failed
        std::string msg = e->msg;
        std::string prefix = "TORCH_EAGER: ";
        if (msg.compare(0, prefix.size(), prefix) == 0) msg = msg.substr(prefix.size());
        torchbe::fail(e, rc, "%s: %s", cur->node.c_str(), msg.c_str());
    }
    for (size_t v = 0; v < g->slots.size(); v++)
        if (!g->is_const[v]) g->slots[v].reset();
    return rc;
}

extern "C" void torchbe_eager_free(void *h) {
    delete static_cast<Eager *>(h);
}
