/* INT8+: static quantization in QDQ form, laid out the way ONNX Runtime's
 * CPU provider fuses it into its integer kernels:
 *
 *   x -> QuantizeLinear -> DequantizeLinear -> Conv -> y -> QuantizeLinear -> ...
 *        (per tensor,       (one per reader)     ^
 *         uint8 asym.)             W_int8 -> DequantizeLinear (per channel, axis 0)
 *                                  B_int32 -> DequantizeLinear (scale sx * sw[c])
 *
 * Quantized: Conv, Gemm and MatMul with constant weights; Add of two
 * activations; and, when their input is quantized already, the pools and
 * the ops that only move data (their output shares the input's scale, so
 * the engine can drop the pair around them). A Relu (or Clip from 0) right
 * after a quantized op is absorbed: with uint8 activations and zero point 0
 * the quantization itself clamps at 0, exactly as the Relu did.
 * Every quantized tensor has one QuantizeLinear; each reader gets its own
 * DequantizeLinear, since an engine fuses a DequantizeLinear into the one
 * node it feeds. Ops it does not quantize stay float32 and read the
 * dequantized values. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "transform/xform_internal.h"
#include "util/err.h"
#include "util/mem.h"

typedef enum role {
    R_NONE,
    R_CONV,
    R_GEMM,
    R_MATMUL,
    R_ADD,
    R_POOL,    /* GlobalAveragePool, AveragePool: own output range */
    R_MOVE,    /* MaxPool and data movement: output shares the input's range */
    R_ABSORBED /* a Relu/Clip made redundant by the range before it */
} role;

typedef struct plan8 {
    const ir_graph *g;
    calma_dtype act;
    calma_dtype *dt;
    int *uses;
    char *is_out;
    role *role;  /* per node */
    char *quant; /* per value: quantized (one QuantizeLinear) */
    int *qp;     /* per quantized value: the value whose range gives its scale */
    int *feed;   /* per quantized value: the float32 value its QuantizeLinear reads */
    int *alias;  /* per node output absorbed by a Relu: that Relu's output, else -1 */
    int n_weighted;
} plan8;

static int is_f32(const plan8 *p, int v) {
    return v >= 0 && p->dt[v] == CALMA_DT_FLOAT;
}

static const ir_tensor *f32_init(const plan8 *p, const ir_node *n, int k) {
    if (k >= n->n_in || n->in[k] < 0) return NULL;
    const ir_tensor *t = p->g->values[n->in[k]].init;
    return t && t->dtype == CALMA_DT_FLOAT && t->data ? t : NULL;
}

static int activation(const plan8 *p, const ir_node *n, int k) {
    return k < n->n_in && is_f32(p, n->in[k]) && !p->g->values[n->in[k]].init;
}

static int std_domain(const ir_node *n) {
    return !n->domain || !n->domain[0];
}

static int opt_bias(const plan8 *p, const ir_node *n, int k, int64_t m) {
    if (k >= n->n_in || n->in[k] < 0) return 1;
    const ir_tensor *b = f32_init(p, n, k);
    return b && (int64_t)ir_tensor_numel(b) == m;
}

/* The compute role node n can take, or R_NONE. */
static role compute_role(const plan8 *p, const ir_node *n) {
    if (!std_domain(n) || n->n_out < 1 || !is_f32(p, n->out[0])) return R_NONE;
    const char *op = n->op_type;
    if (!strcmp(op, "Conv")) {
        const ir_tensor *w = f32_init(p, n, 1);
        if (activation(p, n, 0) && w && w->rank >= 3 && opt_bias(p, n, 2, w->dims[0]))
            return R_CONV;
    } else if (!strcmp(op, "Gemm")) {
        const ir_tensor *b = f32_init(p, n, 1);
        int tb = ir_node_int(n, "transB", 0) != 0;
        if (activation(p, n, 0) && b && b->rank == 2 && !ir_node_int(n, "transA", 0) &&
            ir_node_float(n, "alpha", 1) == 1.0f && ir_node_float(n, "beta", 1) == 1.0f &&
            opt_bias(p, n, 2, b->dims[tb ? 0 : 1]))
            return R_GEMM;
    } else if (!strcmp(op, "MatMul")) {
        const ir_tensor *b = f32_init(p, n, 1);
        if (activation(p, n, 0) && b && b->rank == 2) return R_MATMUL;
    } else if (!strcmp(op, "Add")) {
        if (activation(p, n, 0) && activation(p, n, 1)) return R_ADD;
    }
    return R_NONE;
}

static int is_move(const ir_node *n) {
    static const char *const ops[] = {"MaxPool", "Flatten",   "Reshape", "Transpose",
                                      "Squeeze", "Unsqueeze", NULL};
    for (int i = 0; ops[i]; i++)
        if (!strcmp(n->op_type, ops[i])) return 1;
    return 0;
}

/* A Relu, or a Clip whose constant lower bound is 0, reading v. */
static int clamps_at_zero(const plan8 *p, const ir_node *n) {
    if (!std_domain(n)) return 0;
    if (!strcmp(n->op_type, "Relu")) return 1;
    if (strcmp(n->op_type, "Clip")) return 0;
    if (n->n_in >= 2 && n->in[1] >= 0) {
        const ir_tensor *lo = p->g->values[n->in[1]].init;
        return lo && lo->data && ir_tensor_numel(lo) == 1 && ir_tensor_get_f64(lo, 0) == 0.0;
    }
    return n->n_in < 2 && ir_node_float(n, "min", -INFINITY) == 0.0f;
}

/* Output y of a quantized op becomes quantized; a Relu right after it is
 * absorbed (uint8 only: with int8 zero point 0 the clamp would be lost). */
static void quantize_output(plan8 *p, int node, int y) {
    if (y < 0 || p->is_out[y]) return;
    int r = xform_sole_consumer(p->g, y);
    const ir_node *rn = r >= 0 ? &p->g->nodes[r] : NULL;
    if (p->act == CALMA_DT_UINT8 && rn && clamps_at_zero(p, rn) && rn->n_out == 1 &&
        rn->out[0] >= 0 && !p->is_out[rn->out[0]] && p->role[r] == R_NONE) {
        int z = rn->out[0];
        p->role[r] = R_ABSORBED;
        p->alias[y] = z;
        p->quant[z] = 1;
        p->qp[z] = z;
        p->feed[z] = y;
        return;
    }
    (void)node;
    p->quant[y] = 1;
    p->qp[y] = y;
    p->feed[y] = y;
}

static void mark_input(plan8 *p, int v) {
    if (p->quant[v]) return;
    p->quant[v] = 1;
    p->qp[v] = v;
    p->feed[v] = v;
}

/* Gemm and MatMul outputs are quantized only for quantized readers (the
 * engine gives them float outputs otherwise); a Relu between counts as
 * absorbed. */
static int readers_quantized(const plan8 *p, int v) {
    if (p->is_out[v] || !p->uses[v]) return 0;
    int r = xform_sole_consumer(p->g, v);
    if (r >= 0 && p->act == CALMA_DT_UINT8 && clamps_at_zero(p, &p->g->nodes[r]) &&
        p->g->nodes[r].n_out == 1 && p->g->nodes[r].out[0] >= 0)
        return readers_quantized(p, p->g->nodes[r].out[0]);
    for (int i = 0; i < p->g->n_nodes; i++) {
        const ir_node *n = &p->g->nodes[i];
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] == v && compute_role(p, n) == R_NONE) return 0;
    }
    return 1;
}

static void plan_nodes(plan8 *p) {
    const ir_graph *g = p->g;
    for (int i = 0; i < g->n_nodes; i++) {
        p->role[i] = compute_role(p, &g->nodes[i]);
        if (p->role[i] == R_CONV || p->role[i] == R_GEMM || p->role[i] == R_MATMUL) p->n_weighted++;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        role r = p->role[i];
        if (r == R_NONE || r == R_ABSORBED) continue;
        mark_input(p, n->in[0]);
        if (r == R_ADD) mark_input(p, n->in[1]);
        if (r == R_CONV || r == R_ADD || readers_quantized(p, n->out[0]))
            quantize_output(p, i, n->out[0]);
    }
    /* Pools and data movement on quantized inputs, in topological order. */
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        if (p->role[i] != R_NONE || !std_domain(n) || n->n_in < 1 || n->in[0] < 0 ||
            !p->quant[n->in[0]] || n->out[0] < 0 || p->is_out[n->out[0]] || !is_f32(p, n->out[0]))
            continue;
        int extra_out = 0;
        for (int o = 1; o < n->n_out; o++) extra_out |= n->out[o] >= 0;
        if (extra_out) continue;
        int y = n->out[0];
        if (!strcmp(n->op_type, "GlobalAveragePool") || !strcmp(n->op_type, "AveragePool")) {
            p->role[i] = R_POOL;
            if (!p->quant[y]) quantize_output(p, i, y);
        } else if (is_move(n)) {
            p->role[i] = R_MOVE;
            p->quant[y] = 1;
            p->qp[y] = p->qp[n->in[0]];
            p->feed[y] = y;
        }
    }
}

static void plan_free(plan8 *p) {
    free(p->dt);
    free(p->uses);
    free(p->is_out);
    free(p->role);
    free(p->quant);
    free(p->qp);
    free(p->feed);
    free(p->alias);
}

static int plan_make(const ir_graph *src, const xform_opts *o, plan8 *p, calma_error *e) {
    memset(p, 0, sizeof *p);
    p->g = src;
    p->act = o->act == CALMA_DT_INT8 ? CALMA_DT_INT8 : CALMA_DT_UINT8;
    if (xform_has_half(src))
        return err_set(e, CALMA_E_UNSUPPORTED,
                       "INT8: the model holds float16 or bfloat16 values; calma's transforms start "
                       "from float32 models");
    int64_t opset = ir_graph_opset(src, "");
    if (opset < 13)
        return err_set(e, CALMA_E_UNSUPPORTED,
                       "INT8: the model's opset %lld is older than 13, the first with per-channel "
                       "DequantizeLinear",
                       (long long)opset);
    int rc = xform_value_dtypes(src, &p->dt, e);
    if (!rc) rc = xform_consumers(src, &p->uses, &p->is_out, e);
    if (rc) return rc;
    size_t nv = (size_t)src->n_values + 1, nn = (size_t)src->n_nodes + 1;
    p->role = calloc(nn, sizeof *p->role);
    p->quant = calloc(nv, 1);
    p->qp = malloc(nv * sizeof *p->qp);
    p->feed = malloc(nv * sizeof *p->feed);
    p->alias = malloc(nv * sizeof *p->alias);
    if (!p->role || !p->quant || !p->qp || !p->feed || !p->alias)
        return err_set(e, CALMA_E_NOMEM, "out of memory");
    for (size_t v = 0; v < nv; v++) p->qp[v] = p->feed[v] = p->alias[v] = -1;
    plan_nodes(p);
    int any = 0;
    for (int i = 0; i < src->n_nodes; i++) any |= p->role[i] >= R_CONV && p->role[i] <= R_ADD;
    if (!any)
        return err_set(e, CALMA_E_UNSUPPORTED,
                       "INT8: the model has no Conv, Gemm or MatMul with constant float32 weights, "
                       "nor an Add of two activations, to quantize");
    return CALMA_OK;
}

void xform_names_free(char **names, int n) {
    for (int k = 0; names && k < n; k++) free(names[k]);
    free(names);
}

int xform_int8_plan(const ir_graph *src, const xform_opts *o, char ***names, int *n,
                    calma_error *e) {
    *names = NULL;
    *n = 0;
    plan8 p;
    int rc = plan_make(src, o, &p, e);
    int count = 0;
    for (int v = 0; !rc && v < src->n_values; v++) count += p.quant[v] && p.qp[v] == v;
    char **list = rc ? NULL : calloc((size_t)count + 1, sizeof *list);
    if (!rc && !list) rc = err_set(e, CALMA_E_NOMEM, "out of memory");
    for (int v = 0; !rc && v < src->n_values; v++) {
        if (!p.quant[v] || p.qp[v] != v) continue;
        if (!(list[*n] = mem_strdup(src->values[v].name))) {
            rc = err_set(e, CALMA_E_NOMEM, "out of memory");
            break;
        }
        (*n)++;
    }
    plan_free(&p);
    if (rc) {
        xform_names_free(list, *n);
        *n = 0;
        return rc;
    }
    *names = list;
    return CALMA_OK;
}

/* ---- emission ---- */

typedef struct emit8 {
    xb b;
    plan8 *p;
    const xform_ranges *r;
    int test_break;
    const char **qname; /* per quantized value: its QuantizeLinear's output */
    const char **sname; /* per qp value: scale initializer */
    const char **zname; /* per qp value: zero point initializer */
    float *scale;       /* per qp value */
    int weighted_seen;
} emit8;

static int qparams(emit8 *m, int v) {
    int q = m->p->qp[v];
    if (m->sname[q]) return q;
    const char *name = m->b.src->values[q].name;
    const xform_range *r = xform_ranges_find(m->r, name);
    if (!r) {
        if (!m->b.rc)
            m->b.rc = err_set(m->b.e, CALMA_E_INVALID, "INT8: no calibration range for '%s'", name);
        return q;
    }
    double s, z;
    if (m->p->act == CALMA_DT_UINT8) {
        float fs;
        uint8_t zp;
        xform_qparams_u8(r, &fs, &zp);
        s = fs;
        z = zp;
    } else {
        s = xform_qparams_s8(r);
        z = 0;
    }
    m->scale[q] = (float)s;
    m->sname[q] = xb_const(&m->b, name, "scale", CALMA_DT_FLOAT, 0, 1, &s);
    m->zname[q] = xb_const(&m->b, name, "zero_point", m->p->act, 0, 1, &z);
    return q;
}

static void emit_quantize(emit8 *m, int v) {
    int q = qparams(m, v);
    const ir_graph *g = m->b.src;
    const char *in[3] = {xb_use(&m->b, m->p->feed[v]), m->sname[q], m->zname[q]};
    const char *out = xb_fresh(&m->b, g->values[v].name, "quantized");
    char nm[600];
    xb_node(&m->b, "QuantizeLinear", xb_node_name(&m->b, "quantize", out, nm, sizeof nm), 3, in, 1,
            &out);
    m->qname[v] = out;
}

/* A DequantizeLinear of quantized value v for one reader. */
static const char *dequantized(emit8 *m, int v) {
    int q = qparams(m, v);
    const char *in[3] = {m->qname[v] ? m->qname[v] : "", m->sname[q], m->zname[q]};
    const char *out = xb_fresh(&m->b, m->b.src->values[v].name, "dequantized");
    char nm[600];
    xb_node(&m->b, "DequantizeLinear", xb_node_name(&m->b, "dequantize", out, nm, sizeof nm), 3, in,
            1, &out);
    return out;
}

/* DequantizeLinear of an integer initializer t along axis, with scales. */
static const char *dq_const(emit8 *m, const char *base, const char *tag, ir_tensor *t,
                            const float *scales, int64_t count, int with_zero, int axis) {
    const char *q = xb_init(&m->b, base, tag, t);
    ir_tensor st = {0}, zt = {0};
    if (m->b.rc) return "";
    if (ir_tensor_alloc(&st, CALMA_DT_FLOAT, 1, &count, m->b.e) ||
        (with_zero && ir_tensor_alloc(&zt, CALMA_DT_INT8, 1, &count, m->b.e))) {
        ir_tensor_free(&st);
        m->b.rc = m->b.e->status;
        return "";
    }
    memcpy(st.data, scales, sizeof(float) * (size_t)count);
    char stag[64], ztag[64];
    snprintf(stag, sizeof stag, "%s_scale", tag);
    snprintf(ztag, sizeof ztag, "%s_zero_point", tag);
    const char *in[3] = {q, xb_init(&m->b, base, stag, &st),
                         with_zero ? xb_init(&m->b, base, ztag, &zt) : ""};
    char otag[64], nm[600];
    snprintf(otag, sizeof otag, "%s_dequantized", tag);
    const char *out = xb_fresh(&m->b, base, otag);
    ir_node *n =
        xb_node(&m->b, "DequantizeLinear", xb_node_name(&m->b, "dequantize", out, nm, sizeof nm),
                with_zero ? 3 : 2, in, 1, &out);
    if (n && ir_node_set_int(n, "axis", axis)) xb_nomem(&m->b, out);
    return out;
}

/* Weights per output channel, in their own layout (DequantizeLinear takes
 * the axis): Conv [M, ...] axis 0; Gemm B [N, K] (transB) axis 0 or [K, N]
 * axis 1; MatMul B [K, N] axis 1. Symmetric: zero point 0, [-127, 127]. */
static const char *quant_weight(emit8 *m, const ir_tensor *w, int axis, const char *base,
                                float *sw) {
    ir_tensor q = {0};
    if (xform_weight_scales(w, axis, sw, m->b.e) ||
        ir_tensor_alloc(&q, CALMA_DT_INT8, w->rank, w->dims, m->b.e)) {
        m->b.rc = m->b.e->status;
        return "";
    }
    size_t n = ir_tensor_numel(w), inner = 1, ch = (size_t)w->dims[axis];
    for (int d = axis + 1; d < w->rank; d++) inner *= (size_t)w->dims[d];
    const float *src = w->data;
    int8_t *dst = q.data;
    int flip = m->test_break && m->weighted_seen == 0; /* the test hook: a wrong sign */
    for (size_t i = 0; i < n; i++) {
        double v = nearbyint((double)src[i] / sw[(i / inner) % ch]);
        v = v < -127 ? -127 : v > 127 ? 127 : v;
        dst[i] = (int8_t)(flip ? -v : v);
    }
    m->weighted_seen++;
    int64_t count = (int64_t)ch;
    return dq_const(m, base, "quantized", &q, sw, count, 1, axis);
}

/* int32 bias with scale sx * sw[c] (in float, as engines compare it). */
static const char *quant_bias(emit8 *m, const ir_tensor *b, float sx, const float *sw,
                              const char *base) {
    int64_t count = (int64_t)ir_tensor_numel(b);
    ir_tensor q = {0};
    float *sb = malloc(sizeof(float) * (size_t)(count ? count : 1));
    if (!sb || ir_tensor_alloc(&q, CALMA_DT_INT32, 1, &count, m->b.e)) {
        free(sb);
        if (!m->b.rc) m->b.rc = err_set(m->b.e, CALMA_E_NOMEM, "out of memory");
        return "";
    }
    const float *src = b->data;
    int32_t *dst = q.data;
    for (int64_t c = 0; c < count; c++) {
        sb[c] = sx * sw[c];
        double v = sb[c] > 0 ? nearbyint((double)src[c] / sb[c]) : 0;
        dst[c] = (int32_t)(v < -2147483647.0 ? -2147483647.0 : v > 2147483647.0 ? 2147483647.0 : v);
    }
    const char *out = dq_const(m, base, "quantized", &q, sb, count, 0, 0);
    free(sb);
    return out;
}

static void emit_weighted(emit8 *m, const ir_node *n, role r, const char **in) {
    const ir_graph *g = m->b.src;
    const ir_tensor *w = g->values[n->in[1]].init;
    int axis = 0;
    if (r == R_GEMM) axis = ir_node_int(n, "transB", 0) ? 0 : 1;
    if (r == R_MATMUL) axis = 1;
    int64_t ch = w->dims[axis];
    float *sw = malloc(sizeof(float) * (size_t)(ch ? ch : 1));
    if (!sw) {
        xb_nomem(&m->b, n->name);
        return;
    }
    in[1] = quant_weight(m, w, axis, ir_value_name(g, n->in[1]), sw);
    if (n->n_in > 2 && n->in[2] >= 0) {
        int q = qparams(m, n->in[0]);
        in[2] =
            quant_bias(m, g->values[n->in[2]].init, m->scale[q], sw, ir_value_name(g, n->in[2]));
    }
    free(sw);
}

static void emit_node8(emit8 *m, int i, xform_report *rep) {
    const plan8 *p = m->p;
    const ir_node *n = &m->b.src->nodes[i];
    role r = p->role[i];
    if (r == R_ABSORBED) {
        rep->absorbed++;
        return;
    }
    const char *in[64], *out[64];
    if (n->n_in > 64 || n->n_out > 64) {
        xb_copy_node(&m->b, n, NULL, NULL); /* reports the limit */
        return;
    }
    for (int k = 0; k < n->n_in; k++) {
        int v = n->in[k];
        int weight = (r == R_CONV || r == R_GEMM || r == R_MATMUL) && k >= 1;
        if (v < 0)
            in[k] = "";
        else if (!weight && p->quant[v])
            in[k] = dequantized(m, v);
        else
            in[k] = xb_use(&m->b, v);
    }
    if (r == R_CONV || r == R_GEMM || r == R_MATMUL) emit_weighted(m, n, r, in);
    for (int k = 0; k < n->n_out; k++) out[k] = n->out[k] >= 0 ? xb_use(&m->b, n->out[k]) : "";
    xb_copy_node(&m->b, n, in, out);
    if (r != R_NONE)
        rep->converted++;
    else if (is_f32(p, n->out[0]) || (n->n_in > 0 && is_f32(p, n->in[0])))
        xform_report_keep(rep, n->op_type, "INT8+ does not quantize it: it runs in float32");
    for (int k = 0; k < n->n_out && !m->b.rc; k++) {
        int y = n->out[k];
        if (y < 0) continue;
        int z = p->alias[y] >= 0 ? p->alias[y] : y;
        if (p->quant[z] && p->feed[z] == y) emit_quantize(m, z);
    }
}

int xform_int8_apply(const ir_graph *src, const xform_opts *o, const xform_ranges *r,
                     ir_graph **out, xform_report *rep, calma_error *e) {
    *out = NULL;
    plan8 p;
    int rc = plan_make(src, o, &p, e);
    emit8 m;
    memset(&m, 0, sizeof m);
    m.p = &p;
    m.r = r;
    m.test_break = o->test_break;
    size_t nv = (size_t)src->n_values + 1;
    if (!rc) {
        m.qname = calloc(nv, sizeof *m.qname);
        m.sname = calloc(nv, sizeof *m.sname);
        m.zname = calloc(nv, sizeof *m.zname);
        m.scale = calloc(nv, sizeof *m.scale);
        if (!m.qname || !m.sname || !m.zname || !m.scale)
            rc = err_set(e, CALMA_E_NOMEM, "out of memory");
    }
    if (!rc) rc = xb_begin(&m.b, src, e);
    for (int k = 0; !rc && k < src->n_inputs && !m.b.rc; k++)
        if (p.quant[src->inputs[k]]) emit_quantize(&m, src->inputs[k]);
    for (int i = 0; !rc && i < src->n_nodes && !m.b.rc; i++) emit_node8(&m, i, rep);
    if (m.b.g) {
        int end = xb_end(&m.b, out);
        if (!rc) rc = end;
    }
    free(m.qname);
    free(m.sname);
    free(m.zname);
    free(m.scale);
    plan_free(&p);
    return rc;
}
