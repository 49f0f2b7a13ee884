/* FP16+ and BF16+: float32 values become float16 (bfloat16) wherever the op
 * that makes or reads them has a valid, safe 16-bit form; everywhere else
 * they stay float32 and a Cast is put between the two.
 *
 * Each float value may exist in the new graph in two versions, the low one
 * (16-bit) and the high one (float32). A node that runs low reads low
 * versions, a node kept in float32 reads high ones; a missing version is
 * made once, by a Cast (or, for an initializer, a converted copy), and shared
 * by every later reader. The model's inputs and outputs keep their float32
 * type: the first casts run on the inputs, the last ones write the outputs. */
#include <stdlib.h>
#include <string.h>

#include "transform/xform_internal.h"
#include "util/err.h"

typedef struct half_pass {
    xb b;
    calma_dtype to;
    int64_t opset;
    const calma_dtype *dt; /* source value types */
    const char **lo, **hi; /* per source value: name of each version, or NULL */
} half_pass;

static int is_f32(const half_pass *h, int v) {
    return v >= 0 && h->dt[v] == CALMA_DT_FLOAT;
}

/* float32 -> float16/bfloat16; float16 saturates at +-65504 rather than
 * becoming infinite (a weight that large is a model's own choice). */
static int to_half_tensor(const ir_tensor *src, calma_dtype to, ir_tensor *out, calma_error *e) {
    memset(out, 0, sizeof *out);
    int rc = ir_tensor_alloc(out, to, src->rank, src->dims, e);
    if (rc) return rc;
    size_t n = ir_tensor_numel(src);
    const float *s = src->data;
    uint16_t *d = out->data;
    for (size_t i = 0; i < n && s; i++) {
        float f = s[i];
        if (to == CALMA_DT_FLOAT16) {
            if (f > 65504.0f) f = 65504.0f;
            if (f < -65504.0f) f = -65504.0f;
            d[i] = ir_float_to_half(f);
        } else {
            d[i] = ir_float_to_bf16(f);
        }
    }
    return CALMA_OK;
}

static const char *tag_of(calma_dtype to) {
    return to == CALMA_DT_BFLOAT16 ? "bf16" : "fp16";
}

static void emit_cast(half_pass *h, const char *from, const char *to_name, calma_dtype to) {
    char nm[600];
    ir_node *n = xb_node(&h->b, "Cast", xb_node_name(&h->b, "cast", to_name, nm, sizeof nm), 1,
                         &from, 1, &to_name);
    if (n && ir_node_set_int(n, "to", to)) xb_nomem(&h->b, "a Cast");
}

/* The name of source value v in the wanted version, made if missing. */
static const char *version(half_pass *h, int v, int low) {
    const char **have = low ? h->lo : h->hi;
    if (have[v]) return have[v];
    const ir_value *sv = &h->b.src->values[v];
    if (sv->init) {
        if (!low) return have[v] = xb_use(&h->b, v);
        ir_tensor t;
        if (to_half_tensor(sv->init, h->to, &t, h->b.e)) {
            if (!h->b.rc) h->b.rc = h->b.e->status;
            return "";
        }
        return have[v] = xb_init(&h->b, sv->name, tag_of(h->to), &t);
    }
    const char *other = low ? h->hi[v] : h->lo[v];
    if (!other) { /* cannot happen in topological order */
        if (!h->b.rc)
            h->b.rc =
                err_set(h->b.e, CALMA_E_INTERNAL, "value '%s' is read before it is made", sv->name);
        return "";
    }
    const char *name = xb_fresh(&h->b, sv->name, low ? tag_of(h->to) : "fp32");
    emit_cast(h, other, name, low ? h->to : CALMA_DT_FLOAT);
    return have[v] = name;
}

/* Why node n stays float32 (0: it runs low). */
static unsigned keep_why(const half_pass *h, const ir_node *n) {
    unsigned why = xform_float_keep(n->op_type, n->domain, h->opset, h->to);
    if (why) return why;
    if (!strcmp(n->op_type, "Constant")) {
        const ir_attr *a = ir_node_attr(n, "value");
        if (!a || a->type != IR_ATTR_TENSOR || a->t.dtype != CALMA_DT_FLOAT)
            return XFORM_KEEP_ATTR_TYPE;
    }
    if (!strcmp(n->op_type, "ConstantOfShape")) {
        const ir_attr *a = ir_node_attr(n, "value");
        if (a && (a->type != IR_ATTR_TENSOR || a->t.dtype != CALMA_DT_FLOAT))
            return XFORM_KEEP_ATTR_TYPE;
    }
    return 0;
}

static int float_node(const half_pass *h, const ir_node *n) {
    for (int k = 0; k < n->n_in; k++)
        if (is_f32(h, n->in[k])) return 1;
    for (int k = 0; k < n->n_out; k++)
        if (is_f32(h, n->out[k])) return 1;
    return 0;
}

/* Attributes that name float32 itself: Cast's target, constants' values. */
static void lower_attrs(half_pass *h, ir_node *d, const ir_node *n) {
    if (!strcmp(n->op_type, "Cast")) {
        xb_copy_attrs(&h->b, d, n, "to");
        int64_t to = ir_node_int(n, "to", CALMA_DT_FLOAT);
        if (ir_node_set_int(d, "to", to == CALMA_DT_FLOAT ? h->to : to)) xb_nomem(&h->b, n->name);
        return;
    }
    int is_const = !strcmp(n->op_type, "Constant") || !strcmp(n->op_type, "ConstantOfShape");
    const ir_attr *val = is_const ? ir_node_attr(n, "value") : NULL;
    xb_copy_attrs(&h->b, d, n, is_const ? "value" : NULL);
    if (!is_const) return;
    ir_tensor t;
    float zero = 0;
    ir_tensor dflt = {.dtype = CALMA_DT_FLOAT, .rank = 1, .dims = {1}, .data = &zero, .nbytes = 4};
    if (to_half_tensor(val ? &val->t : &dflt, h->to, &t, h->b.e)) {
        if (!h->b.rc) h->b.rc = h->b.e->status;
        return;
    }
    if (ir_node_set_tensor(d, "value", &t)) {
        ir_tensor_free(&t);
        xb_nomem(&h->b, n->name);
    }
}

static void emit_node(half_pass *h, const ir_node *n, int low, const char *const *outputs) {
    const char *in[64], *out[64];
    int type_only = !strcmp(n->op_type, "Shape") || !strcmp(n->op_type, "Size");
    for (int k = 0; k < n->n_in && k < 64; k++) {
        int v = n->in[k];
        if (v < 0)
            in[k] = "";
        else if (!is_f32(h, v))
            in[k] = xb_use(&h->b, v);
        else if (type_only && (h->hi[v] || h->lo[v]))
            in[k] = h->hi[v] ? h->hi[v] : h->lo[v]; /* reads only the shape */
        else
            in[k] = version(h, v, low);
    }
    for (int k = 0; k < n->n_out && k < 64; k++) out[k] = outputs[k];
    if (!low) {
        xb_copy_node(&h->b, n, in, out);
        return;
    }
    ir_node *d = xb_node(&h->b, n->op_type, n->name, n->n_in, in, n->n_out, out);
    if (d) lower_attrs(h, d, n);
}

/* Output names: a low float output that is also a graph output is written
 * under a new name and cast back to float32 under its own at the end. */
static void name_outputs(half_pass *h, const ir_node *n, int low, const char *is_output,
                         const char **out) {
    for (int k = 0; k < n->n_out && k < 64; k++) {
        int v = n->out[k];
        if (v < 0) {
            out[k] = "";
        } else if (!is_f32(h, v)) {
            out[k] = xb_use(&h->b, v);
        } else if (!low) {
            out[k] = h->hi[v] = xb_use(&h->b, v);
        } else if (is_output[v]) {
            out[k] = h->lo[v] = xb_fresh(&h->b, h->b.src->values[v].name, tag_of(h->to));
        } else {
            out[k] = h->lo[v] = xb_use(&h->b, v);
        }
    }
}

static int check_model(const ir_graph *src, calma_dtype to, int64_t opset, calma_error *e) {
    const char *tn = to == CALMA_DT_BFLOAT16 ? "BF16" : "FP16";
    if (xform_has_half(src))
        return err_set(e, CALMA_E_UNSUPPORTED,
                       "%s: the model holds float16 or bfloat16 values already; calma's "
                       "transforms start from float32 models",
                       tn);
    int64_t need = to == CALMA_DT_BFLOAT16 ? 13 : 6;
    if (opset < need)
        return err_set(e, CALMA_E_UNSUPPORTED,
                       "%s: the model's opset %lld is older than %lld, the first whose Cast "
                       "takes %s",
                       tn, (long long)opset, (long long)need,
                       to == CALMA_DT_BFLOAT16 ? "bfloat16" : "an integer type code");
    return CALMA_OK;
}

int xform_to_half(const ir_graph *src, calma_dtype to, ir_graph **out, xform_report *rep,
                  calma_error *e) {
    *out = NULL;
    int64_t opset = ir_graph_opset(src, "");
    int rc = check_model(src, to, opset, e);
    if (rc) return rc;
    half_pass h = {.to = to, .opset = opset};
    calma_dtype *dt = NULL;
    int *uses = NULL;
    char *is_output = NULL;
    rc = xform_value_dtypes(src, &dt, e);
    if (!rc) rc = xform_consumers(src, &uses, &is_output, e);
    h.dt = dt;
    h.lo = calloc((size_t)src->n_values + 1, sizeof *h.lo);
    h.hi = calloc((size_t)src->n_values + 1, sizeof *h.hi);
    if (!rc && (!h.lo || !h.hi)) rc = err_set(e, CALMA_E_NOMEM, "out of memory");
    if (!rc) rc = xb_begin(&h.b, src, e);
    for (int k = 0; !rc && k < src->n_inputs; k++)
        h.hi[src->inputs[k]] = src->values[src->inputs[k]].name;
    char why[200];
    for (int i = 0; !rc && i < src->n_nodes && !h.b.rc; i++) {
        const ir_node *n = &src->nodes[i];
        const char *outs[64];
        int low = 0;
        if (float_node(&h, n)) {
            unsigned keep = keep_why(&h, n);
            low = !keep;
            if (low)
                rep->converted++;
            else
                xform_report_keep(rep, n->op_type,
                                  xform_keep_reason(keep, to, opset, why, sizeof why));
        }
        name_outputs(&h, n, low, is_output, outs);
        emit_node(&h, n, low, outs);
    }
    for (int k = 0; !rc && k < src->n_outputs && !h.b.rc; k++) {
        int v = src->outputs[k];
        if (is_f32(&h, v) && !h.hi[v] && h.lo[v]) {
            emit_cast(&h, h.lo[v], src->values[v].name, CALMA_DT_FLOAT);
            h.hi[v] = src->values[v].name;
        }
    }
    if (!rc && !h.b.rc && rep->converted == 0) {
        const char *tn = to == CALMA_DT_BFLOAT16 ? "BF16" : "FP16";
        h.b.rc =
            rep->n_kept_ops
                ? err_set(e, CALMA_E_UNSUPPORTED, "%s: no op of this model can run in %s (%s: %s)",
                          tn, to == CALMA_DT_BFLOAT16 ? "bfloat16" : "float16", rep->kept_ops[0].op,
                          rep->kept_ops[0].why)
                : err_set(e, CALMA_E_UNSUPPORTED, "%s: the model computes nothing in float32", tn);
    }
    if (h.b.g) {
        int end = xb_end(&h.b, out);
        if (!rc) rc = end;
    }
    free(dt);
    free(uses);
    free(is_output);
    free(h.lo);
    free(h.hi);
    return rc;
}
