// The ATen call behind each TORCH_EAGER step kind (torch_abi.h), written
// as PyTorch's own modules call them (at::convolution, at::batch_norm,
// at::layer_norm, at::addmm, ...). Where ONNX asks for more than the ATen
// call takes (asymmetric pads, integer division, legacy softmax), the
// difference is made up with further ATen calls, never a loop in C++.
#include <ATen/ATen.h>

#include <cmath>
#include <limits>
#include <vector>

#include "backends/torch/torch_common.hh"
#include "backends/torch/torch_eager.hh"

namespace torchbe {

namespace {

using at::Tensor;
using Dims = std::vector<int64_t>;

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
    Dims stride = dims_of(win.stride, n), dil = dims_of(win.dilation, n), zero(n, 0);
    if (symmetric(win))
        return at::convolution(x, w, b, stride, dims_of(win.pad_begin, n), dil, false, zero,
                               win.groups);
    Tensor xp = at::constant_pad_nd(x, pad_list(win), 0);
    return at::convolution(xp, w, b, stride, zero, dil, false, zero, win.groups);
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

Tensor same_type(const Tensor &r, const Tensor &like) {
    return r.scalar_type() == like.scalar_type() ? r : r.to(like.scalar_type());
}

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

bool integral(const Tensor &t) {
    return at::isIntegralType(t.scalar_type(), true);
}

Tensor onnx_div(const Tensor &a, const Tensor &b) {
    return integral(a) && integral(b) ? at::div(a, b, "trunc") : at::div(a, b);
}

Tensor power(const Step &st, const Tensor &x, const Tensor *y) {
    return same_type(st.s.i0 ? at::pow(x, at::Scalar(st.s.f0)) : at::pow(x, *y), x);
}

Tensor hardsigmoid(const Step &st, const Tensor &x) {
    if (std::fabs(st.s.f0 - 1.0 / 6) < 1e-7 && st.s.f1 == 0.5) return at::hardsigmoid(x);
    return at::clamp(x * st.s.f0 + st.s.f1, 0, 1);
}

// nn.PReLU's slope is per channel (dim 1) or one value: at::prelu; any
// other broadcast of the slope is written out.
Tensor onnx_prelu(const Tensor &x, const Tensor &slope) {
    int64_t n = slope.numel();
    bool per_channel = n == 1 || (x.dim() >= 2 && n == x.size(1) && slope.dim() <= x.dim() - 1 &&
                                  slope.size(0) == n);
    if (per_channel) return at::prelu(x, slope.reshape({n}));
    return at::where(x < 0, x * slope, x);
}

// Max, Min, Sum, Mean over any number of inputs, broadcasting.
Tensor variadic(int kind, const std::vector<Tensor> &xs) {
    Tensor r = xs[0];
    for (size_t i = 1; i < xs.size(); i++) {
        if (kind == TORCHBE_MAX) r = at::maximum(r, xs[i]);
        if (kind == TORCHBE_MIN) r = at::minimum(r, xs[i]);
        if (kind == TORCHBE_SUM || kind == TORCHBE_MEAN) r = at::add(r, xs[i]);
    }
    if (kind == TORCHBE_MEAN && xs.size() > 1) r = r / (double)xs.size();
    return kind == TORCHBE_MEAN ? r : same_type(r, xs[0]);
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

Tensor gather(const Step &st, const Tensor &x, const Tensor *idx) {
    int64_t axis = st.s.i0;
    if (st.s.f0) return x.select(axis, st.p[0]);
    Tensor flat = st.aux.defined() ? st.aux : wrap_indices(*idx, st.s.i1);
    return at::index_select(x, axis, flat).reshape(st.p);
}

Tensor gather_elements(const Step &st, const Tensor &x, const Tensor &idx) {
    Tensor i = idx.to(at::kLong);
    return at::gather(x, st.s.i0, at::where(i < 0, i + st.s.i1, i));
}

Tensor cumsum(const Step &st, const Tensor &x) {
    int64_t axis = st.s.i0;
    bool exclusive = st.s.i1 & 1, reverse = st.s.i1 & 2;
    Tensor in = reverse ? x.flip({axis}) : x;
    Tensor r = at::cumsum(in, axis);
    if (exclusive) r = r - in;
    if (reverse) r = r.flip({axis});
    return same_type(r, x);
}

// reflect and edge pad the trailing dims under one leading dim, as ATen's
// reflection and replication pads want.
Tensor pad(const Step &st, const Tensor &x) {
    if (st.p.empty()) return x;
    if (st.s.i0 == 0) return at::constant_pad_nd(x, st.p, st.s.f0);
    int64_t n = (int64_t)st.p.size() / 2, lead = x.dim() - n;
    Dims shape{1};
    for (int64_t d = 0; d < lead; d++) shape[0] *= x.size(d);
    for (int64_t d = lead; d < x.dim(); d++) shape.push_back(x.size(d));
    Tensor x2 = x.reshape(shape), r;
    bool reflect = st.s.i0 == 1;
    if (n == 1) r = reflect ? at::reflection_pad1d(x2, st.p) : at::replication_pad1d(x2, st.p);
    if (n == 2) r = reflect ? at::reflection_pad2d(x2, st.p) : at::replication_pad2d(x2, st.p);
    if (n == 3) r = reflect ? at::reflection_pad3d(x2, st.p) : at::replication_pad3d(x2, st.p);
    Dims out(x.sizes().begin(), x.sizes().begin() + lead);
    for (int64_t d = 1; d < r.dim(); d++) out.push_back(r.size(d));
    return r.reshape(out);
}

Tensor reduce(const Step &st, const Tensor &x) {
    bool keep = st.s.i0;
    const Dims &ax = st.p;
    switch (st.s.kind) {
    case TORCHBE_REDUCE_MEAN:
        return at::mean(x, ax, keep);
    case TORCHBE_REDUCE_MAX:
        return at::amax(x, ax, keep);
    case TORCHBE_REDUCE_MIN:
        return at::amin(x, ax, keep);
    case TORCHBE_REDUCE_LOG_SUM_EXP:
        return at::logsumexp(x, ax, keep);
    case TORCHBE_REDUCE_LOG_SUM:
        return at::log(at::sum(x, ax, keep));
    case TORCHBE_REDUCE_L2:
        return same_type(at::sqrt(at::sum(x * x, ax, keep)), x);
    case TORCHBE_REDUCE_L1:
        return same_type(at::sum(at::abs(x), ax, keep), x);
    case TORCHBE_REDUCE_SUM_SQUARE:
        return same_type(at::sum(x * x, ax, keep), x);
    case TORCHBE_REDUCE_PROD: {
        Tensor r = x; // at::prod takes one dim: the highest first, so the others stay put
        for (auto it = ax.rbegin(); it != ax.rend(); ++it) r = at::prod(r, *it, keep);
        return same_type(r, x);
    }
    default:
        return same_type(at::sum(x, ax, keep), x); // ONNX keeps an integer sum's type
    }
}

// ---- dispatch ----

class Runner {
  public:
    Runner(std::vector<Tensor> &slots, const Step &st) : slots_(slots), st_(st) {}

    bool has(size_t k) const {
        return k < st_.in.size() && st_.in[k] >= 0;
    }
    const Tensor &in(size_t k) const {
        TORCH_CHECK(has(k), "input ", k, " is missing");
        const Tensor &t = slots_[(size_t)st_.in[k]];
        TORCH_CHECK(t.defined(), "input ", k, " was never computed");
        return t;
    }
    const Tensor *opt(size_t k) const {
        return has(k) ? &in(k) : nullptr;
    }
    c10::optional<Tensor> optional(size_t k) const {
        return has(k) ? c10::optional<Tensor>(in(k)) : c10::nullopt;
    }
    std::vector<Tensor> all() const {
        std::vector<Tensor> v;
        for (size_t k = 0; k < st_.in.size(); k++)
            if (has(k)) v.push_back(in(k));
        return v;
    }
    void set(size_t k, Tensor t) {
        if (k < st_.out.size() && st_.out[k] >= 0) slots_[(size_t)st_.out[k]] = std::move(t);
    }
    void run();

  private:
    Tensor unary(const Tensor &x);
    Tensor binary();
    Tensor other(const Tensor &x);
    std::vector<Tensor> &slots_;
    const Step &st_;
};

Tensor Runner::unary(const Tensor &x) {
    const torchbe_step &s = st_.s;
    switch (s.kind) {
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
    case TORCHBE_FLOOR:
        return at::floor(x);
    case TORCHBE_CEIL:
        return at::ceil(x);
    case TORCHBE_ROUND:
        return at::round(x);
    case TORCHBE_SIGN:
        return at::sign(x);
    case TORCHBE_SIN:
        return at::sin(x);
    case TORCHBE_COS:
        return at::cos(x);
    case TORCHBE_TAN:
        return at::tan(x);
    case TORCHBE_ASIN:
        return at::asin(x);
    case TORCHBE_ACOS:
        return at::acos(x);
    case TORCHBE_ATAN:
        return at::atan(x);
    case TORCHBE_SINH:
        return at::sinh(x);
    case TORCHBE_COSH:
        return at::cosh(x);
    case TORCHBE_ASINH:
        return at::asinh(x);
    case TORCHBE_ACOSH:
        return at::acosh(x);
    case TORCHBE_ATANH:
        return at::atanh(x);
    case TORCHBE_SOFTPLUS:
        return at::softplus(x);
    case TORCHBE_SOFTSIGN:
        return x / (at::abs(x) + 1);
    case TORCHBE_ISNAN:
        return at::isnan(x);
    case TORCHBE_MISH:
        return at::mish(x);
    case TORCHBE_GELU:
        return at::gelu(x, s.i0 ? "tanh" : "none");
    case TORCHBE_HARDSIGMOID:
        return hardsigmoid(st_, x);
    case TORCHBE_ELU:
        return at::elu(x, s.f0);
    case TORCHBE_SELU:
        return at::elu(x, s.f0, s.f1);
    case TORCHBE_CELU:
        return at::celu(x, s.f0);
    case TORCHBE_THRESHOLDEDRELU:
        return at::threshold(x, s.f0, 0);
    case TORCHBE_LEAKYRELU:
        return at::leaky_relu(x, s.f0);
    case TORCHBE_CLIP:
        return clip(st_, x, opt(1), opt(2));
    case TORCHBE_POW:
        return power(st_, x, opt(1));
    default:
        return binary();
    }
}

Tensor Runner::binary() {
    switch (st_.s.kind) {
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
    case TORCHBE_LESS_EQUAL:
        return at::le(in(0), in(1));
    case TORCHBE_GREATER_EQUAL:
        return at::ge(in(0), in(1));
    case TORCHBE_AND:
        return at::logical_and(in(0), in(1));
    case TORCHBE_OR:
        return at::logical_or(in(0), in(1));
    case TORCHBE_XOR:
        return at::logical_xor(in(0), in(1));
    case TORCHBE_MOD:
        return st_.s.i0 ? at::fmod(in(0), in(1)) : at::remainder(in(0), in(1));
    case TORCHBE_PRELU:
        return onnx_prelu(in(0), in(1));
    case TORCHBE_WHERE:
        return at::where(in(0), in(1), in(2));
    case TORCHBE_MAX:
    case TORCHBE_MIN:
    case TORCHBE_SUM:
    case TORCHBE_MEAN:
        return variadic(st_.s.kind, all());
    default:
        return other(in(0));
    }
}

Tensor Runner::other(const Tensor &x) {
    const torchbe_step &s = st_.s;
    switch (s.kind) {
    case TORCHBE_CONV:
        return conv(st_, x, in(1), optional(2));
    case TORCHBE_GEMM: {
        Tensor a = s.i0 ? x.t() : x, b = s.i1 ? in(1).t() : in(1);
        if (has(2) && s.f1 != 0) return at::addmm(in(2), a, b, s.f1, s.f0);
        Tensor r = at::mm(a, b);
        return s.f0 == 1.0 ? r : r * s.f0;
    }
    case TORCHBE_MATMUL:
        return at::matmul(x, in(1));
    case TORCHBE_BATCHNORM:
        return at::batch_norm(x, in(1), in(2), in(3), in(4), false, 0.0, s.f0, true);
    case TORCHBE_INSTANCENORM:
        return at::instance_norm(x, in(1), in(2), {}, {}, true, 0.0, s.f0, true);
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
        at::ScalarType to;
        TORCH_CHECK(to_torch((int)s.i0, &to), "Cast to dtype ", s.i0);
        return x.to(to);
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
    case TORCHBE_GATHER_ELEMENTS:
        return gather_elements(st_, x, in(1));
    case TORCHBE_TILE:
        return x.repeat(st_.p);
    case TORCHBE_TRILU:
        return s.i0 ? at::triu(x, s.i1) : at::tril(x, s.i1);
    case TORCHBE_CUMSUM:
        return cumsum(st_, x);
    case TORCHBE_PAD:
        return pad(st_, x);
    case TORCHBE_ARGMAX:
        return at::argmax(x, s.i0, s.i1);
    case TORCHBE_ARGMIN:
        return at::argmin(x, s.i0, s.i1);
    default:
        if (s.kind >= TORCHBE_REDUCE_MEAN && s.kind <= TORCHBE_REDUCE_LOG_SUM_EXP)
            return reduce(st_, x);
        TORCH_CHECK(false, "step kind ", s.kind, " is not known to calma_torch.so");
    }
}

void Runner::run() {
    if (st_.s.kind == TORCHBE_CONCAT) {
        set(0, at::cat(all(), st_.s.i0));
    } else if (st_.s.kind == TORCHBE_SPLIT) {
        std::vector<Tensor> parts = at::split_with_sizes(in(0), st_.p, st_.s.i0);
        for (size_t k = 0; k < parts.size(); k++) set(k, parts[k]);
    } else if (st_.s.kind == TORCHBE_MAX || st_.s.kind == TORCHBE_MIN ||
               st_.s.kind == TORCHBE_SUM || st_.s.kind == TORCHBE_MEAN) {
        set(0, variadic(st_.s.kind, all()));
    } else {
        set(0, unary(in(0)));
    }
    for (int v : st_.drop) slots_[(size_t)v].reset();
}

} // namespace

Tensor wrap_indices(const Tensor &idx, int64_t dim) {
    Tensor flat = idx.reshape({-1}).to(at::kLong);
    return at::where(flat < 0, flat + dim, flat);
}

void run_step(const Step &st, std::vector<Tensor> &slots) {
    Runner(slots, st).run();
}

} // namespace torchbe
