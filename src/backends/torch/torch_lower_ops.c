/* One function per ONNX op for TORCH_EAGER: the node's attributes (and
 * the constant inputs PyTorch would take as Python values: Reshape's
 * shape, Slice's starts, Clip's bounds) become a step's parameters. Shapes
 * come from calma's shape inference, which has already checked every
 * attribute the oracle reads; what ATen cannot express is unsupported. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/torch/torch_internal.h"
#include "util/err.h"

/* The type (and, when known, value) of input k, or NULL when omitted:
 * an initializer's own tensor, else what shape inference gave the value. */
static const ir_tensor *ty(const torchbe_ctx *c, int k) {
    if (k >= c->n->n_in || c->in[k] < 0) return NULL;
    const ir_tensor *init = c->g->values[c->in[k]].init;
    return init ? init : &c->vals[c->in[k]];
}

/* Input k when its value is known before run time, else NULL. */
static const ir_tensor *cst(const torchbe_ctx *c, int k) {
    const ir_tensor *t = ty(c, k);
    return t && (t->data || !ir_tensor_numel(t)) ? t : NULL;
}

static const ir_tensor *oty(const torchbe_ctx *c, int k) {
    return k < c->n->n_out && c->out[k] >= 0 ? &c->vals[c->out[k]] : NULL;
}

static int unsup(const torchbe_ctx *c, const char *fmt, ...) ERR_PRINTF(2, 3);
static int unsup(const torchbe_ctx *c, const char *fmt, ...) {
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return err_set(c->e, CALMA_E_UNSUPPORTED, "%s: %s", c->label, what);
}

static int set_p(torchbe_ctx *c, const int64_t *v, int n) {
    int64_t *p = malloc(sizeof *p * ((size_t)n + 1));
    if (!p) return err_set(c->e, CALMA_E_NOMEM, "out of memory");
    if (n) memcpy(p, v, sizeof *p * (size_t)n);
    free((void *)c->st->p);
    c->st->p = p;
    c->st->n_p = n;
    return CALMA_OK;
}

/* Only the first output is computed; the others must be unused. */
static int only_first_output(torchbe_ctx *c, const char *what) {
    for (int k = 1; k < c->n->n_out; k++) {
        if (c->out[k] >= 0 && c->used[c->out[k]])
            return unsup(c, "the graph uses %s, which TORCH_EAGER does not compute", what);
        c->out[k] = -1;
    }
    return CALMA_OK;
}

static void keep_inputs(torchbe_ctx *c, int n) {
    if (c->st->n_in > n) c->st->n_in = n;
}

static int axis_of(const torchbe_ctx *c, int64_t a, int rank, int64_t *out) {
    if (a < -rank || a >= (rank ? rank : 1))
        return err_set(c->e, CALMA_E_INVALID, "%s: axis %lld is outside a rank-%d tensor", c->label,
                       (long long)a, rank);
    *out = a < 0 ? a + rank : a;
    return CALMA_OK;
}

/* The ints attribute name, of exactly want entries, or dflt in each. */
static int attr_ints(const torchbe_ctx *c, const char *name, int want, int64_t dflt, int64_t *dst) {
    size_t n;
    const int64_t *v = ir_node_ints(c->n, name, &n);
    for (int i = 0; i < want; i++) dst[i] = v && (size_t)i < n ? v[i] : dflt;
    if (v && n != (size_t)want)
        return err_set(c->e, CALMA_E_INVALID, "%s: attribute %s has %zu values, expected %d",
                       c->label, name, n, want);
    return CALMA_OK;
}

/* ---- windows: Conv and the pools ---- */

/* Pads as ONNX's auto_pad asks, from the input's static size. */
static int resolve_pads(const torchbe_ctx *c, const ir_tensor *x, torchbe_window *w) {
    int nsp = w->nsp;
    int64_t pads[2 * TORCHBE_MAX_SPATIAL];
    int rc = attr_ints(c, "pads", 2 * nsp, 0, pads);
    if (rc) return rc;
    const char *ap = ir_node_string(c->n, "auto_pad", "NOTSET");
    int upper = !strcmp(ap, "SAME_UPPER"), lower = !strcmp(ap, "SAME_LOWER");
    if (!upper && !lower && strcmp(ap, "VALID") && strcmp(ap, "NOTSET") && ap[0])
        return err_set(c->e, CALMA_E_INVALID, "%s: auto_pad '%s' is not an ONNX value", c->label,
                       ap);
    for (int i = 0; i < nsp; i++) {
        w->pad_begin[i] = pads[i];
        w->pad_end[i] = pads[nsp + i];
        if (!strcmp(ap, "VALID")) w->pad_begin[i] = w->pad_end[i] = 0;
        if (!upper && !lower) continue;
        int64_t in = x->dims[2 + i], s = w->stride[i];
        int64_t out = (in + s - 1) / s;
        int64_t total = (out - 1) * s + (w->kernel[i] - 1) * w->dilation[i] + 1 - in;
        if (total < 0) total = 0;
        w->pad_begin[i] = upper ? total / 2 : total - total / 2;
        w->pad_end[i] = total - w->pad_begin[i];
    }
    return CALMA_OK;
}

static int window(const torchbe_ctx *c, const int64_t *kernel, torchbe_window *w) {
    const ir_tensor *x = ty(c, 0);
    int nsp = x->rank - 2;
    if (nsp < 1 || nsp > TORCHBE_MAX_SPATIAL)
        return unsup(c, "%d spatial dimensions (ATen's convolutions and pools take 1 to 3)", nsp);
    w->nsp = nsp;
    for (int i = 0; i < nsp; i++) w->kernel[i] = kernel[i];
    int rc = attr_ints(c, "strides", nsp, 1, w->stride);
    if (!rc) rc = attr_ints(c, "dilations", nsp, 1, w->dilation);
    if (!rc) rc = resolve_pads(c, x, w);
    return rc;
}

static int lower_conv(torchbe_ctx *c) {
    const ir_tensor *w = ty(c, 1);
    if (!w || w->rank != ty(c, 0)->rank)
        return err_set(c->e, CALMA_E_INVALID, "%s: the weight's rank differs from the input's",
                       c->label);
    c->st->win.groups = ir_node_int(c->n, "group", 1);
    return window(c, w->dims + 2, &c->st->win);
}

static int pool_window(torchbe_ctx *c) {
    int64_t k[TORCHBE_MAX_SPATIAL];
    int nsp = ty(c, 0)->rank - 2;
    if (nsp < 1 || nsp > TORCHBE_MAX_SPATIAL)
        return unsup(c, "%d spatial dimensions (ATen's pools take 1 to 3)", nsp);
    int rc = attr_ints(c, "kernel_shape", nsp, 1, k);
    if (!rc && !ir_node_attr(c->n, "kernel_shape"))
        rc = err_set(c->e, CALMA_E_INVALID, "%s: no kernel_shape", c->label);
    if (!rc) rc = window(c, k, &c->st->win);
    c->st->win.ceil_mode = (int)ir_node_int(c->n, "ceil_mode", 0);
    return rc;
}

static int lower_maxpool(torchbe_ctx *c) {
    int rc = pool_window(c);
    return rc ? rc : only_first_output(c, "its Indices output");
}

static int lower_avgpool(torchbe_ctx *c) {
    int rc = pool_window(c);
    if (rc) return rc;
    for (int i = 0; i < c->st->win.nsp; i++)
        if (c->st->win.dilation[i] != 1) return unsup(c, "dilated AveragePool");
    c->st->win.count_include_pad = (int)ir_node_int(c->n, "count_include_pad", 0);
    return CALMA_OK;
}

/* ---- linear algebra and normalisation ---- */

static int lower_gemm(torchbe_ctx *c) {
    c->st->i0 = ir_node_int(c->n, "transA", 0);
    c->st->i1 = ir_node_int(c->n, "transB", 0);
    c->st->f0 = ir_node_float(c->n, "alpha", 1.0f);
    c->st->f1 = ir_node_float(c->n, "beta", 1.0f);
    return CALMA_OK;
}

static int lower_batchnorm(torchbe_ctx *c) {
    if (ir_node_int(c->n, "training_mode", 0)) return unsup(c, "training mode");
    if (!ir_node_int(c->n, "spatial", 1)) return unsup(c, "spatial=0 (per-element statistics)");
    c->st->f0 = ir_node_float(c->n, "epsilon", 1e-5f);
    return only_first_output(c, "its running statistics outputs (training)");
}

static int lower_layernorm(torchbe_ctx *c) {
    int rc = axis_of(c, ir_node_int(c->n, "axis", -1), ty(c, 0)->rank, &c->st->i0);
    c->st->f0 = ir_node_float(c->n, "epsilon", 1e-5f);
    return rc ? rc : only_first_output(c, "its Mean and InvStdDev outputs");
}

static int lower_softmax(torchbe_ctx *c) {
    int old = c->opset < 13;
    c->st->i1 = old;
    return axis_of(c, ir_node_int(c->n, "axis", old ? 1 : -1), ty(c, 0)->rank, &c->st->i0);
}

/* ---- elementwise ---- */

static int lower_leakyrelu(torchbe_ctx *c) {
    c->st->f0 = ir_node_float(c->n, "alpha", 0.01f);
    return CALMA_OK;
}

static int lower_dropout(torchbe_ctx *c) {
    const ir_tensor *train = ty(c, 2);
    if (train && (!cst(c, 2) || ir_tensor_get_i64(train, 0)))
        return unsup(c, "training_mode that is not a constant false");
    keep_inputs(c, 1);
    return only_first_output(c, "its mask output");
}

/* Constant bounds become scalars, as clamp(x, 0, 6) is written in
 * PyTorch; bounds computed at run time stay tensors. */
static int lower_clip(torchbe_ctx *c) {
    torchbe_step *st = c->st;
    if (c->opset < 11) {
        const ir_attr *lo = ir_node_attr(c->n, "min"), *hi = ir_node_attr(c->n, "max");
        st->i0 = (lo ? 1 : 0) | (hi ? 2 : 0);
        st->f0 = lo ? lo->f : 0;
        st->f1 = hi ? hi->f : 0;
        keep_inputs(c, 1);
        return CALMA_OK;
    }
    for (int k = 1; k <= 2; k++) {
        const ir_tensor *b = cst(c, k);
        if (!b) continue;
        if (ir_tensor_numel(b) != 1)
            return err_set(c->e, CALMA_E_INVALID, "%s: bound %d has %zu elements, not 1", c->label,
                           k, ir_tensor_numel(b));
        st->i0 |= k;
        *(k == 1 ? &st->f0 : &st->f1) = ir_tensor_get_f64(b, 0);
        c->in[k] = -1;
    }
    return CALMA_OK;
}

static int is_float(calma_dtype dt) {
    return dt == CALMA_DT_FLOAT || dt == CALMA_DT_DOUBLE || dt == CALMA_DT_FLOAT16 ||
           dt == CALMA_DT_BFLOAT16;
}

/* Opset < 7 broadcast with an axis has no ATen spelling. */
static int lower_binary(torchbe_ctx *c) {
    if (c->opset < 7 && ir_node_attr(c->n, "axis"))
        return unsup(c, "legacy broadcast with an axis attribute (opset %lld)",
                     (long long)c->opset);
    return CALMA_OK;
}

/* x ** 2 with a constant exponent is a scalar pow in PyTorch. */
static int lower_pow(torchbe_ctx *c) {
    int rc = lower_binary(c);
    const ir_tensor *y = cst(c, 1);
    if (rc || !y || ir_tensor_numel(y) != 1 || !is_float(ty(c, 0)->dtype)) return rc;
    c->st->i0 = 1;
    c->st->f0 = ir_tensor_get_f64(y, 0);
    c->in[1] = -1;
    return CALMA_OK;
}

static int lower_cast(torchbe_ctx *c) {
    int like = !strcmp(c->n->op_type, "CastLike");
    /* CastLike's target: the declared type first (shape inference widens
     * float16 values to the float32 the oracle computes in) */
    int64_t to = ir_node_int(c->n, "to", 0);
    if (like) to = c->g->values[c->in[1]].dtype ? c->g->values[c->in[1]].dtype : ty(c, 1)->dtype;
    keep_inputs(c, 1);
    if (!torchbe_dtype_ok((calma_dtype)to))
        return unsup(c, "Cast to %s, which libtorch 1.13 has no tensor type for",
                     ir_dtype_name((calma_dtype)to));
    c->st->i0 = to;
    return CALMA_OK;
}

static int lower_gelu(torchbe_ctx *c) {
    const char *a = ir_node_string(c->n, "approximate", "none");
    if (strcmp(a, "none") && strcmp(a, "tanh"))
        return err_set(c->e, CALMA_E_INVALID, "%s: approximate '%s'", c->label, a);
    c->st->i0 = !strcmp(a, "tanh");
    return CALMA_OK;
}

/* The parameters of HardSigmoid, Elu, Selu, Celu, ThresholdedRelu, with
 * ONNX's defaults. */
static int lower_alpha_beta(torchbe_ctx *c) {
    const char *op = c->n->op_type;
    int selu = !strcmp(op, "Selu"), hs = !strcmp(op, "HardSigmoid");
    c->st->f0 = ir_node_float(c->n, "alpha", selu ? 1.67326319217681884765625f : hs ? 0.2f : 1.0f);
    c->st->f1 = selu ? ir_node_float(c->n, "gamma", 1.05070102214813232421875f)
                     : ir_node_float(c->n, "beta", 0.5f);
    return CALMA_OK;
}

static int lower_mod(torchbe_ctx *c) {
    c->st->i0 = ir_node_int(c->n, "fmod", 0);
    return CALMA_OK;
}

static int lower_instancenorm(torchbe_ctx *c) {
    c->st->f0 = ir_node_float(c->n, "epsilon", 1e-5f);
    return CALMA_OK;
}

static int lower_argmax(torchbe_ctx *c) {
    if (ir_node_int(c->n, "select_last_index", 0)) return unsup(c, "select_last_index=1");
    c->st->i1 = ir_node_int(c->n, "keepdims", 1);
    return axis_of(c, ir_node_int(c->n, "axis", 0), ty(c, 0)->rank, &c->st->i0);
}

/* A constant input's integers into dst (at most max). */
static int const_ints(torchbe_ctx *c, int k, const char *what, int64_t *dst, int max, int *n) {
    const ir_tensor *t = cst(c, k);
    if (!t) return unsup(c, "%s computed at run time", what);
    size_t cnt = ir_tensor_numel(t);
    if (cnt > (size_t)max)
        return err_set(c->e, CALMA_E_INVALID, "%s: %s has %zu values", c->label, what, cnt);
    for (size_t i = 0; i < cnt; i++) dst[i] = ir_tensor_get_i64(t, i);
    *n = (int)cnt;
    return CALMA_OK;
}

static int lower_tile(torchbe_ctx *c) {
    int64_t rep[IR_MAX_RANK];
    int n;
    int rc = const_ints(c, 1, "repeats", rep, IR_MAX_RANK, &n);
    keep_inputs(c, 1);
    return rc ? rc : set_p(c, rep, n);
}

static int lower_trilu(torchbe_ctx *c) {
    c->st->i0 = ir_node_int(c->n, "upper", 1);
    int n = 0;
    if (ty(c, 1)) {
        int rc = const_ints(c, 1, "k", &c->st->i1, 1, &n);
        if (rc) return rc;
    }
    keep_inputs(c, 1);
    return CALMA_OK;
}

static int lower_gather_elements(torchbe_ctx *c) {
    const ir_tensor *x = ty(c, 0);
    int rc = axis_of(c, ir_node_int(c->n, "axis", 0), x->rank, &c->st->i0);
    if (!rc) c->st->i1 = x->dims[c->st->i0];
    return rc;
}

static int lower_cumsum(torchbe_ctx *c) {
    int64_t axis;
    int n;
    int rc = const_ints(c, 1, "axis", &axis, 1, &n);
    if (!rc && n != 1) rc = err_set(c->e, CALMA_E_INVALID, "%s: no axis", c->label);
    if (!rc) rc = axis_of(c, axis, ty(c, 0)->rank, &c->st->i0);
    c->st->i1 =
        (ir_node_int(c->n, "exclusive", 0) ? 1 : 0) | (ir_node_int(c->n, "reverse", 0) ? 2 : 0);
    keep_inputs(c, 1);
    return rc;
}

/* ONNX's pads (every begin, then every end; from opset 11 an input, from
 * 18 over the given axes) as constant_pad_nd's list over the trailing dims
 * that are padded. reflect and edge go to ATen's reflection and
 * replication pads, which take at most the last three dims. */
static int lower_pad(torchbe_ctx *c) {
    const ir_tensor *x = ty(c, 0);
    int r = x->rank, n = 0;
    const char *mode = ir_node_string(c->n, "mode", "constant");
    int m = !strcmp(mode, "constant")  ? 0
            : !strcmp(mode, "reflect") ? 1
            : !strcmp(mode, "edge")    ? 2
                                       : -1;
    if (m < 0) return unsup(c, "mode '%s'", mode);
    int64_t raw[2 * IR_MAX_RANK], axes[IR_MAX_RANK], b[IR_MAX_RANK] = {0}, en[IR_MAX_RANK] = {0};
    int na = r, rc = CALMA_OK;
    for (int i = 0; i < r; i++) axes[i] = i;
    if (c->opset < 11) {
        rc = attr_ints(c, "pads", 2 * r, 0, raw);
        n = 2 * r;
        c->st->f0 = ir_node_float(c->n, "value", 0.0f);
    } else {
        rc = const_ints(c, 1, "pads", raw, 2 * IR_MAX_RANK, &n);
        if (!rc && ty(c, 3)) rc = const_ints(c, 3, "axes", axes, IR_MAX_RANK, &na);
        const ir_tensor *v = ty(c, 2);
        if (!rc && v && !cst(c, 2)) rc = unsup(c, "a constant_value computed at run time");
        if (!rc && v && ir_tensor_numel(v)) c->st->f0 = ir_tensor_get_f64(v, 0);
    }
    if (!rc && n != 2 * na)
        rc = err_set(c->e, CALMA_E_INVALID, "%s: %d pads for %d axes", c->label, n, na);
    for (int i = 0; !rc && i < na; i++) {
        int64_t a = 0;
        rc = axis_of(c, axes[i], r, &a);
        if (!rc) b[a] = raw[i], en[a] = raw[na + i];
    }
    if (rc) return rc;
    int lowest = r;
    for (int d = r - 1; d >= 0; d--)
        if (b[d] || en[d]) lowest = d;
    int64_t list[2 * IR_MAX_RANK];
    int len = 0;
    for (int d = r - 1; d >= lowest; d--) {
        if (m && (b[d] < 0 || en[d] < 0)) return unsup(c, "negative %s pads", mode);
        list[len++] = b[d];
        list[len++] = en[d];
    }
    if (m && (len / 2 > 3 || len / 2 > r - 1))
        return unsup(c,
                     "%s padding of %d dims of a rank-%d tensor (ATen pads the last 1 to 3 "
                     "dims under one leading dim)",
                     mode, len / 2, r);
    c->st->i0 = m;
    keep_inputs(c, 1);
    return set_p(c, list, len);
}

/* ---- shapes ---- */

/* Reshape, Flatten, Squeeze, Unsqueeze, Expand: the target is the output's
 * inferred shape; the shape operands were constants (or folded). */
static int lower_to_shape(torchbe_ctx *c) {
    keep_inputs(c, 1);
    const ir_tensor *o = oty(c, 0);
    return set_p(c, o->dims, o->rank);
}

static int lower_transpose(torchbe_ctx *c) {
    int r = ty(c, 0)->rank;
    int64_t perm[IR_MAX_RANK];
    for (int i = 0; i < r; i++) perm[i] = r - 1 - i;
    if (ir_node_attr(c->n, "perm")) {
        int rc = attr_ints(c, "perm", r, 0, perm);
        if (rc) return rc;
    }
    return set_p(c, perm, r);
}

static int lower_concat(torchbe_ctx *c) {
    return axis_of(c, ir_node_int(c->n, "axis", 0), oty(c, 0)->rank, &c->st->i0);
}

static int lower_split(torchbe_ctx *c) {
    int rc = axis_of(c, ir_node_int(c->n, "axis", 0), ty(c, 0)->rank, &c->st->i0);
    if (rc) return rc;
    int64_t sizes[64];
    if (c->n->n_out > 64) return unsup(c, "more than 64 outputs");
    for (int k = 0; k < c->n->n_out; k++) {
        const ir_tensor *o = oty(c, k);
        if (!o) return unsup(c, "an omitted output");
        sizes[k] = o->dims[c->st->i0];
    }
    keep_inputs(c, 1);
    return set_p(c, sizes, c->n->n_out);
}

/* starts/ends/axes/steps: attributes before opset 10, inputs after. */
static int slice_list(torchbe_ctx *c, const char *name, int k, int64_t *dst, int *n) {
    size_t cnt = 0;
    if (c->opset < 10) {
        const int64_t *v = ir_node_ints(c->n, name, &cnt);
        for (size_t i = 0; v && i < cnt && i < IR_MAX_RANK; i++) dst[i] = v[i];
        *n = v ? (int)cnt : -1;
        return CALMA_OK;
    }
    const ir_tensor *t = ty(c, k);
    if (!t) {
        *n = -1;
        return CALMA_OK;
    }
    if (!cst(c, k)) return unsup(c, "%s computed at run time", name);
    cnt = ir_tensor_numel(t);
    for (size_t i = 0; i < cnt && i < IR_MAX_RANK; i++) dst[i] = ir_tensor_get_i64(t, i);
    *n = (int)cnt;
    return CALMA_OK;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

/* One axis of a Slice as ATen's slice(start, end, step > 0), flipping the
 * axis first for a negative step. */
static void slice_axis(int64_t dim, int64_t start, int64_t end, int64_t step, int64_t *q) {
    if (dim == 0) { /* nothing to take, whichever way */
        q[1] = q[2] = q[4] = 0;
        q[3] = 1;
        return;
    }
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    if (step > 0) {
        q[1] = clamp64(start, 0, dim);
        q[2] = clamp64(end, 0, dim);
        q[3] = step;
        q[4] = 0;
        return;
    }
    start = clamp64(start, 0, dim - 1);
    end = clamp64(end, -1, dim - 1);
    /* element i of the axis is element dim-1-i of the flipped axis */
    q[1] = dim - 1 - start;
    q[2] = dim - 1 - end;
    q[3] = -step;
    q[4] = 1;
}

static int lower_slice(torchbe_ctx *c) {
    int64_t starts[IR_MAX_RANK], ends[IR_MAX_RANK], axes[IR_MAX_RANK], steps[IR_MAX_RANK];
    int ns, ne, na, nt = -1;
    int rc = slice_list(c, "starts", 1, starts, &ns);
    if (!rc) rc = slice_list(c, "ends", 2, ends, &ne);
    if (!rc) rc = slice_list(c, "axes", 3, axes, &na);
    if (!rc && c->opset >= 10) rc = slice_list(c, "steps", 4, steps, &nt);
    if (rc) return rc;
    const ir_tensor *x = ty(c, 0);
    if (ns < 0 || ns != ne || ns > x->rank || (na >= 0 && na != ns) || (nt >= 0 && nt != ns))
        return err_set(c->e, CALMA_E_INVALID, "%s: starts, ends, axes and steps differ in length",
                       c->label);
    int64_t q[5 * IR_MAX_RANK];
    for (int i = 0; i < ns; i++) {
        int64_t step = nt >= 0 ? steps[i] : 1;
        rc = axis_of(c, na >= 0 ? axes[i] : i, x->rank, &q[5 * i]);
        if (rc) return rc;
        if (!step) return err_set(c->e, CALMA_E_INVALID, "%s: a step of 0", c->label);
        slice_axis(x->dims[q[5 * i]], starts[i], ends[i], step, &q[5 * i]);
    }
    keep_inputs(c, 1);
    return set_p(c, q, 5 * ns);
}

static int lower_gather(torchbe_ctx *c) {
    const ir_tensor *x = ty(c, 0), *idx = ty(c, 1);
    int rc = axis_of(c, ir_node_int(c->n, "axis", 0), x->rank, &c->st->i0);
    if (rc) return rc;
    int64_t dim = x->dims[c->st->i0];
    c->st->i1 = dim;
    if (cst(c, 1) && idx->rank == 0) {
        int64_t i = ir_tensor_get_i64(idx, 0);
        if (i < -dim || i >= dim)
            return err_set(c->e, CALMA_E_INVALID, "%s: index %lld is outside an axis of %lld",
                           c->label, (long long)i, (long long)dim);
        i = i < 0 ? i + dim : i;
        c->st->f0 = 1;
        c->in[1] = -1;
        return set_p(c, &i, 1);
    }
    const ir_tensor *o = oty(c, 0);
    return set_p(c, o->dims, o->rank);
}

/* axes from the attribute (or, from the opset that moved them, input 1);
 * none means every axis unless noop_with_empty_axes. */
static int lower_reduce(torchbe_ctx *c) {
    int r = ty(c, 0)->rank;
    int64_t axes[IR_MAX_RANK];
    int n = 0;
    size_t cnt = 0;
    const int64_t *attr = ir_node_ints(c->n, "axes", &cnt);
    const ir_tensor *t = ty(c, 1);
    if (t && !cst(c, 1)) return unsup(c, "axes computed at run time");
    if (t) cnt = ir_tensor_numel(t);
    if (cnt > (size_t)r) return err_set(c->e, CALMA_E_INVALID, "%s: more axes than dims", c->label);
    for (size_t i = 0; i < cnt; i++) {
        int64_t a = t ? ir_tensor_get_i64(t, i) : attr[i];
        int rc = axis_of(c, a, r, &axes[n++]);
        if (rc) return rc;
    }
    c->st->i0 = ir_node_int(c->n, "keepdims", 1);
    keep_inputs(c, 1);
    if (!n && ir_node_int(c->n, "noop_with_empty_axes", 0)) {
        c->st->kind = TORCHBE_IDENTITY;
        return CALMA_OK;
    }
    if (!n)
        for (int i = 0; i < r; i++) axes[n++] = i;
    return set_p(c, axes, n);
}

/* ---- the table ---- */

static const torchbe_op torchbe_ops[] = {
    {"Conv", TORCHBE_CONV, lower_conv},
    {"Gemm", TORCHBE_GEMM, lower_gemm},
    {"MatMul", TORCHBE_MATMUL, NULL},
    {"BatchNormalization", TORCHBE_BATCHNORM, lower_batchnorm},
    {"LayerNormalization", TORCHBE_LAYERNORM, lower_layernorm},
    {"Softmax", TORCHBE_SOFTMAX, lower_softmax},
    {"LogSoftmax", TORCHBE_LOGSOFTMAX, lower_softmax},
    {"MaxPool", TORCHBE_MAXPOOL, lower_maxpool},
    {"AveragePool", TORCHBE_AVGPOOL, lower_avgpool},
    {"GlobalAveragePool", TORCHBE_GLOBAL_AVGPOOL, NULL},
    {"GlobalMaxPool", TORCHBE_GLOBAL_MAXPOOL, NULL},
    {"Identity", TORCHBE_IDENTITY, NULL},
    {"Dropout", TORCHBE_IDENTITY, lower_dropout},
    {"Relu", TORCHBE_RELU, NULL},
    {"Sigmoid", TORCHBE_SIGMOID, NULL},
    {"Tanh", TORCHBE_TANH, NULL},
    {"Sqrt", TORCHBE_SQRT, NULL},
    {"Erf", TORCHBE_ERF, NULL},
    {"Exp", TORCHBE_EXP, NULL},
    {"Log", TORCHBE_LOG, NULL},
    {"Neg", TORCHBE_NEG, NULL},
    {"Abs", TORCHBE_ABS, NULL},
    {"Reciprocal", TORCHBE_RECIPROCAL, NULL},
    {"HardSwish", TORCHBE_HARDSWISH, NULL},
    {"Not", TORCHBE_NOT, NULL},
    {"LeakyRelu", TORCHBE_LEAKYRELU, lower_leakyrelu},
    {"Clip", TORCHBE_CLIP, lower_clip},
    {"Add", TORCHBE_ADD, lower_binary},
    {"Sub", TORCHBE_SUB, lower_binary},
    {"Mul", TORCHBE_MUL, lower_binary},
    {"Div", TORCHBE_DIV, lower_binary},
    {"Pow", TORCHBE_POW, lower_pow},
    {"Equal", TORCHBE_EQUAL, lower_binary},
    {"Less", TORCHBE_LESS, lower_binary},
    {"Greater", TORCHBE_GREATER, lower_binary},
    {"And", TORCHBE_AND, lower_binary},
    {"Or", TORCHBE_OR, lower_binary},
    {"Where", TORCHBE_WHERE, NULL},
    {"Cast", TORCHBE_CAST, lower_cast},
    {"CastLike", TORCHBE_CAST, lower_cast},
    {"Reshape", TORCHBE_RESHAPE, lower_to_shape},
    {"Flatten", TORCHBE_RESHAPE, lower_to_shape},
    {"Squeeze", TORCHBE_RESHAPE, lower_to_shape},
    {"Unsqueeze", TORCHBE_RESHAPE, lower_to_shape},
    {"Expand", TORCHBE_EXPAND, lower_to_shape},
    {"Transpose", TORCHBE_TRANSPOSE, lower_transpose},
    {"Concat", TORCHBE_CONCAT, lower_concat},
    {"Split", TORCHBE_SPLIT, lower_split},
    {"Slice", TORCHBE_SLICE, lower_slice},
    {"Gather", TORCHBE_GATHER, lower_gather},
    {"ReduceMean", TORCHBE_REDUCE_MEAN, lower_reduce},
    {"ReduceSum", TORCHBE_REDUCE_SUM, lower_reduce},
    {"ReduceMax", TORCHBE_REDUCE_MAX, lower_reduce},
    {"ReduceMin", TORCHBE_REDUCE_MIN, lower_reduce},
    {"ReduceProd", TORCHBE_REDUCE_PROD, lower_reduce},
    {"ReduceSumSquare", TORCHBE_REDUCE_SUM_SQUARE, lower_reduce},
    {"ReduceL1", TORCHBE_REDUCE_L1, lower_reduce},
    {"ReduceL2", TORCHBE_REDUCE_L2, lower_reduce},
    {"ReduceLogSum", TORCHBE_REDUCE_LOG_SUM, lower_reduce},
    {"ReduceLogSumExp", TORCHBE_REDUCE_LOG_SUM_EXP, lower_reduce},
    {"ArgMax", TORCHBE_ARGMAX, lower_argmax},
    {"ArgMin", TORCHBE_ARGMIN, lower_argmax},
    {"Floor", TORCHBE_FLOOR, NULL},
    {"Ceil", TORCHBE_CEIL, NULL},
    {"Round", TORCHBE_ROUND, NULL},
    {"Sign", TORCHBE_SIGN, NULL},
    {"Sin", TORCHBE_SIN, NULL},
    {"Cos", TORCHBE_COS, NULL},
    {"Tan", TORCHBE_TAN, NULL},
    {"Asin", TORCHBE_ASIN, NULL},
    {"Acos", TORCHBE_ACOS, NULL},
    {"Atan", TORCHBE_ATAN, NULL},
    {"Sinh", TORCHBE_SINH, NULL},
    {"Cosh", TORCHBE_COSH, NULL},
    {"Asinh", TORCHBE_ASINH, NULL},
    {"Acosh", TORCHBE_ACOSH, NULL},
    {"Atanh", TORCHBE_ATANH, NULL},
    {"Softplus", TORCHBE_SOFTPLUS, NULL},
    {"Softsign", TORCHBE_SOFTSIGN, NULL},
    {"IsNaN", TORCHBE_ISNAN, NULL},
    {"Mish", TORCHBE_MISH, NULL},
    {"Gelu", TORCHBE_GELU, lower_gelu},
    {"HardSigmoid", TORCHBE_HARDSIGMOID, lower_alpha_beta},
    {"Elu", TORCHBE_ELU, lower_alpha_beta},
    {"Selu", TORCHBE_SELU, lower_alpha_beta},
    {"Celu", TORCHBE_CELU, lower_alpha_beta},
    {"ThresholdedRelu", TORCHBE_THRESHOLDEDRELU, lower_alpha_beta},
    {"LessOrEqual", TORCHBE_LESS_EQUAL, lower_binary},
    {"GreaterOrEqual", TORCHBE_GREATER_EQUAL, lower_binary},
    {"Xor", TORCHBE_XOR, lower_binary},
    {"Mod", TORCHBE_MOD, lower_mod},
    {"PRelu", TORCHBE_PRELU, NULL},
    {"Max", TORCHBE_MAX, NULL},
    {"Min", TORCHBE_MIN, NULL},
    {"Sum", TORCHBE_SUM, NULL},
    {"Mean", TORCHBE_MEAN, NULL},
    {"InstanceNormalization", TORCHBE_INSTANCENORM, lower_instancenorm},
    {"Tile", TORCHBE_TILE, lower_tile},
    {"Trilu", TORCHBE_TRILU, lower_trilu},
    {"GatherElements", TORCHBE_GATHER_ELEMENTS, lower_gather_elements},
    {"CumSum", TORCHBE_CUMSUM, lower_cumsum},
    {"Pad", TORCHBE_PAD, lower_pad},
};
#define TORCHBE_N_OPS ((int)(sizeof torchbe_ops / sizeof torchbe_ops[0]))

const torchbe_op *torchbe_find_op(const char *op_type) {
    for (int i = 0; op_type && i < TORCHBE_N_OPS; i++)
        if (!strcmp(torchbe_ops[i].op_type, op_type)) return &torchbe_ops[i];
    return NULL;
}

int torchbe_op_count(void) {
    return TORCHBE_N_OPS;
}

const char *torchbe_op_name(int i) {
    return i >= 0 && i < TORCHBE_N_OPS ? torchbe_ops[i].op_type : NULL;
}

int torchbe_dtype_ok(calma_dtype dt) {
    switch (dt) {
    case CALMA_DT_FLOAT:
    case CALMA_DT_DOUBLE:
    case CALMA_DT_FLOAT16:
    case CALMA_DT_BFLOAT16:
    case CALMA_DT_INT8:
    case CALMA_DT_UINT8:
    case CALMA_DT_INT16:
    case CALMA_DT_INT32:
    case CALMA_DT_INT64:
    case CALMA_DT_BOOL:
        return 1;
    default:
        return 0;
    }
}
