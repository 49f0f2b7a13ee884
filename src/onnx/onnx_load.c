/* ModelProto -> ir_graph, and single TensorProto files. */
#include "onnx/onnx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/onnx_priv.h"
#include "util/err.h"
#include "util/mem.h"

typedef struct loader {
    char *dir; /* the model's folder, for external data */
    ir_graph *g;
    calma_error *e;
} loader;

/* ---- value types ---- */

typedef struct vtype {
    calma_dtype dtype;
    int rank;
    int64_t dims[IR_MAX_RANK];
    const char *params[IR_MAX_RANK];
} vtype;

/* Reads a declared type. For graph inputs and outputs (strict) anything
 * calma cannot hold is an error; for value_info it is simply not recorded
 * (returns 1). */
static int read_type(const Onnx__TypeProto *tp, const char *what, int strict, vtype *vt,
                     calma_error *e) {
    memset(vt, 0, sizeof *vt);
    vt->rank = -1;
    if (!tp) return CALMA_OK; /* declared without a type: unknown */
    if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type) {
        if (!strict) return 1;
        const char *kind = tp->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE   ? "a sequence"
                           : tp->value_case == ONNX__TYPE_PROTO__VALUE_MAP_TYPE      ? "a map"
                           : tp->value_case == ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE ? "an optional"
                           : tp->value_case == ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE
                               ? "a sparse tensor"
                               : "of no known type";
        return err_set(e, CALMA_E_UNSUPPORTED, "%s is %s; calma handles dense tensors only", what,
                       kind);
    }
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    if (tt->has_elem_type && tt->elem_type != 0) {
        vt->dtype = onnx_dtype(tt->elem_type);
        if (vt->dtype == CALMA_DT_UNDEFINED || !ir_dtype_size(vt->dtype)) {
            if (!strict) return 1;
            return err_set(e, CALMA_E_UNSUPPORTED,
                           "%s has element type %d (%s), which calma cannot hold", what,
                           (int)tt->elem_type, onnx_elem_type_name(tt->elem_type));
        }
    }
    if (!tt->shape) return CALMA_OK; /* unknown rank */
    if (tt->shape->n_dim > IR_MAX_RANK) {
        if (!strict) return 1;
        return err_set(e, CALMA_E_UNSUPPORTED, "%s has rank %zu; calma holds at most %d dimensions",
                       what, tt->shape->n_dim, IR_MAX_RANK);
    }
    vt->rank = (int)tt->shape->n_dim;
    int64_t concrete[IR_MAX_RANK];
    for (int d = 0; d < vt->rank; d++) {
        const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[d];
        vt->dims[d] = -1;
        concrete[d] = 1;
        if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            if (dim->dim_value < 0) {
                if (!strict) return 1;
                return err_set(e, CALMA_E_INVALID, "%s has a negative dimension %d (%lld)", what, d,
                               (long long)dim->dim_value);
            }
            vt->dims[d] = concrete[d] = dim->dim_value;
        } else if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
                   dim->dim_param && dim->dim_param[0]) {
            vt->params[d] = dim->dim_param;
        }
    }
    /* A declared shape must be allocatable once its symbols are fixed
     * small; otherwise input generation would overflow later. */
    size_t n, bytes;
    if (ir_shape_numel(vt->rank, concrete, &n, e) ||
        mem_mul_size(n, vt->dtype ? ir_dtype_size(vt->dtype) : 1, &bytes)) {
        if (!strict) return 1;
        return err_set(e, CALMA_E_INVALID, "%s has a shape whose size overflows", what);
    }
    return CALMA_OK;
}

static int is_listed(const int *ids, int n, int v) {
    for (int i = 0; i < n; i++)
        if (ids[i] == v) return 1;
    return 0;
}

static int import_io(loader *L, Onnx__ValueInfoProto **vis, size_t n, int output) {
    const char *kind = output ? "output" : "input";
    char what[320];
    for (size_t i = 0; i < n; i++) {
        const Onnx__ValueInfoProto *vi = vis[i];
        if (!vi->name || !vi->name[0])
            return err_set(L->e, CALMA_E_INVALID, "graph %s #%zu has no name", kind, i);
        snprintf(what, sizeof what, "graph %s '%s'", kind, vi->name);
        int existing = ir_graph_find(L->g, vi->name);
        if (existing >= 0 && (output ? is_listed(L->g->outputs, L->g->n_outputs, existing)
                                     : is_listed(L->g->inputs, L->g->n_inputs, existing)))
            return err_set(L->e, CALMA_E_INVALID, "%s is listed twice", what);
        vtype vt;
        int rc = read_type(vi->type, what, 1, &vt, L->e);
        if (rc) return rc;
        rc = output ? ir_graph_add_output(L->g, vi->name, vt.dtype, vt.rank, vt.dims, vt.params)
                    : ir_graph_add_input(L->g, vi->name, vt.dtype, vt.rank, vt.dims, vt.params);
        if (rc) return err_set(L->e, CALMA_E_NOMEM, "out of memory adding %s", what);
    }
    return CALMA_OK;
}

static int import_initializers(loader *L, Onnx__GraphProto *gp) {
    char what[320];
    if (gp->n_sparse_initializer)
        return err_set(L->e, CALMA_E_UNSUPPORTED,
                       "the graph has %zu sparse initializers; calma reads dense tensors only",
                       gp->n_sparse_initializer);
    for (size_t i = 0; i < gp->n_initializer; i++) {
        Onnx__TensorProto *tp = gp->initializer[i];
        if (!tp->name || !tp->name[0])
            return err_set(L->e, CALMA_E_INVALID, "initializer #%zu has no name", i);
        snprintf(what, sizeof what, "initializer '%s'", tp->name);
        int v = ir_graph_find(L->g, tp->name);
        if (v >= 0 && L->g->values[v].init)
            return err_set(L->e, CALMA_E_INVALID, "%s is defined twice", what);
        ir_tensor t;
        int rc = onnx_tensor_from_proto(tp, L->dir, what, &t, L->e);
        if (rc) return rc;
        if (ir_graph_add_initializer(L->g, tp->name, &t)) {
            ir_tensor_free(&t);
            return err_set(L->e, CALMA_E_NOMEM, "out of memory adding %s", what);
        }
        /* A graph input overridden by an initializer is a constant now: its
         * value's type is the initializer's, whatever the input declared. */
        ir_value *val = &L->g->values[ir_graph_find(L->g, tp->name)];
        if (ir_value_set_type(val, val->init->dtype, val->init->rank, val->init->dims, NULL))
            return err_set(L->e, CALMA_E_NOMEM, "out of memory typing %s", what);
    }
    return CALMA_OK;
}

/* ---- attributes ---- */

/* Old exporters (before IR version 2) left the type out; the set field
 * tells it. */
static ir_attr_type attr_type(const Onnx__AttributeProto *ap) {
    if (ap->has_type) return (ir_attr_type)ap->type;
    if (ap->has_f) return IR_ATTR_FLOAT;
    if (ap->has_i) return IR_ATTR_INT;
    if (ap->has_s) return IR_ATTR_STRING;
    if (ap->t) return IR_ATTR_TENSOR;
    if (ap->g) return IR_ATTR_GRAPH;
    if (ap->n_floats) return IR_ATTR_FLOATS;
    if (ap->n_ints) return IR_ATTR_INTS;
    if (ap->n_strings) return IR_ATTR_STRINGS;
    if (ap->n_tensors) return IR_ATTR_TENSORS;
    if (ap->n_graphs) return IR_ATTR_GRAPHS;
    return IR_ATTR_UNDEFINED;
}

static int import_attr(loader *L, ir_node *n, Onnx__AttributeProto *ap, const char *label) {
    char what[512];
    if (!ap->name || !ap->name[0])
        return err_set(L->e, CALMA_E_INVALID, "%s has an attribute with no name", label);
    snprintf(what, sizeof what, "%s attribute '%s'", label, ap->name);
    if (ir_node_attr(n, ap->name)) return err_set(L->e, CALMA_E_INVALID, "%s is given twice", what);
    ir_attr_type type = attr_type(ap);
    ir_attr *a = ir_node_new_attr(n, ap->name);
    if (!a) return err_set(L->e, CALMA_E_NOMEM, "out of memory reading %s", what);
    a->type = type;
    switch (type) {
    case IR_ATTR_FLOAT:
        a->f = ap->f;
        break;
    case IR_ATTR_INT:
        a->i = ap->i;
        break;
    case IR_ATTR_STRING:
        a->s = mem_strndup(ap->s.data ? (const char *)ap->s.data : "", ap->s.len);
        a->s_len = ap->s.len;
        if (!a->s) return err_set(L->e, CALMA_E_NOMEM, "out of memory reading %s", what);
        break;
    case IR_ATTR_TENSOR:
        if (!ap->t) return err_set(L->e, CALMA_E_INVALID, "%s has no tensor", what);
        return onnx_tensor_from_proto(ap->t, L->dir, what, &a->t, L->e);
    case IR_ATTR_FLOATS:
        a->floats = malloc(sizeof(float) * (ap->n_floats ? ap->n_floats : 1));
        if (!a->floats) return err_set(L->e, CALMA_E_NOMEM, "out of memory reading %s", what);
        if (ap->n_floats) memcpy(a->floats, ap->floats, sizeof(float) * ap->n_floats);
        a->n = ap->n_floats;
        break;
    case IR_ATTR_INTS:
        a->ints = malloc(sizeof(int64_t) * (ap->n_ints ? ap->n_ints : 1));
        if (!a->ints) return err_set(L->e, CALMA_E_NOMEM, "out of memory reading %s", what);
        if (ap->n_ints) memcpy(a->ints, ap->ints, sizeof(int64_t) * ap->n_ints);
        a->n = ap->n_ints;
        break;
    case IR_ATTR_STRINGS:
        a->strings = calloc(ap->n_strings ? ap->n_strings : 1, sizeof(char *));
        if (!a->strings) return err_set(L->e, CALMA_E_NOMEM, "out of memory reading %s", what);
        a->n = ap->n_strings;
        for (size_t k = 0; k < ap->n_strings; k++) {
            const ProtobufCBinaryData *s = &ap->strings[k];
            a->strings[k] = mem_strndup(s->data ? (const char *)s->data : "", s->len);
            if (!a->strings[k])
                return err_set(L->e, CALMA_E_NOMEM, "out of memory reading %s", what);
        }
        break;
    case IR_ATTR_TENSORS: {
        a->tensors = calloc(ap->n_tensors ? ap->n_tensors : 1, sizeof(ir_tensor));
        if (!a->tensors) return err_set(L->e, CALMA_E_NOMEM, "out of memory reading %s", what);
        a->n = ap->n_tensors;
        for (size_t k = 0; k < ap->n_tensors; k++) {
            char tw[560];
            snprintf(tw, sizeof tw, "%s tensor #%zu", what, k);
            int rc = onnx_tensor_from_proto(ap->tensors[k], L->dir, tw, &a->tensors[k], L->e);
            if (rc) return rc;
        }
        break;
    }
    case IR_ATTR_GRAPH:
    case IR_ATTR_GRAPHS:
    case IR_ATTR_SPARSE_TENSOR:
    case IR_ATTR_SPARSE_TENSORS:
    case IR_ATTR_TYPE_PROTO:
    case IR_ATTR_TYPE_PROTOS:
        break; /* kept as its type only: calma runs no control flow */
    default:
        return err_set(L->e, CALMA_E_INVALID, "%s has no type or an unknown type (%d)", what,
                       (int)type);
    }
    return CALMA_OK;
}

/* ---- nodes ---- */

static int import_node(loader *L, Onnx__NodeProto *np, size_t index) {
    char label[320];
    if (!np->op_type || !np->op_type[0])
        return err_set(L->e, CALMA_E_INVALID, "node #%zu%s%s%s has no op_type", index,
                       np->name ? " '" : "", np->name ? np->name : "", np->name ? "'" : "");
    if (np->name && np->name[0])
        snprintf(label, sizeof label, "node '%s' (%s)", np->name, np->op_type);
    else
        snprintf(label, sizeof label, "node #%zu (%s)", index, np->op_type);
    if (np->n_input > INT32_MAX || np->n_output > INT32_MAX)
        return err_set(L->e, CALMA_E_INVALID, "%s has too many inputs or outputs", label);
    ir_node *n = ir_graph_add_node(L->g, np->op_type, np->name, (int)np->n_input,
                                   (const char *const *)np->input, (int)np->n_output,
                                   (const char *const *)np->output);
    if (!n) return err_set(L->e, CALMA_E_NOMEM, "out of memory adding %s", label);
    if (np->domain && np->domain[0] && strcmp(np->domain, "ai.onnx")) {
        char *d = mem_strdup(np->domain);
        if (!d) return err_set(L->e, CALMA_E_NOMEM, "out of memory adding %s", label);
        free(n->domain);
        n->domain = d;
    }
    for (size_t k = 0; k < np->n_attribute; k++) {
        int rc = import_attr(L, n, np->attribute[k], label);
        if (rc) return rc;
    }
    return CALMA_OK;
}

/* Types of intermediate values, where the model declares them; only for
 * values the graph uses, and never overriding an input, output or
 * initializer. */
static int import_value_info(loader *L, Onnx__GraphProto *gp) {
    for (size_t i = 0; i < gp->n_value_info; i++) {
        const Onnx__ValueInfoProto *vi = gp->value_info[i];
        if (!vi->name) continue;
        int v = ir_graph_find(L->g, vi->name);
        if (v < 0) continue;
        ir_value *val = &L->g->values[v];
        if (val->init || is_listed(L->g->inputs, L->g->n_inputs, v) ||
            is_listed(L->g->outputs, L->g->n_outputs, v))
            continue;
        vtype vt;
        if (read_type(vi->type, "value_info", 0, &vt, NULL)) continue;
        if (ir_value_set_type(val, vt.dtype, vt.rank, vt.dims, vt.params))
            return err_set(L->e, CALMA_E_NOMEM, "out of memory reading value_info '%s'", vi->name);
    }
    return CALMA_OK;
}

static int import_opsets(loader *L, const Onnx__ModelProto *m) {
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *op = m->opset_import[i];
        const char *d = op->domain ? op->domain : "";
        if (!op->has_version)
            return err_set(L->e, CALMA_E_INVALID, "opset import of domain '%s' has no version",
                           d[0] ? d : "ai.onnx");
        if (ir_graph_set_opset(L->g, d, op->version))
            return err_set(L->e, CALMA_E_NOMEM, "out of memory reading opset imports");
    }
    int64_t v = ir_graph_opset(L->g, "");
    int has_default = 0;
    for (int i = 0; i < L->g->n_opsets; i++) has_default |= L->g->opsets[i].domain[0] == '\0';
    if (!has_default)
        return err_set(L->e, CALMA_E_UNSUPPORTED,
                       "the model imports no opset of the default ONNX domain (ai.onnx)%s%s%s; "
                       "calma runs models built on the default domain",
                       L->g->n_opsets ? ", only '" : "",
                       L->g->n_opsets ? L->g->opsets[0].domain : "", L->g->n_opsets ? "'" : "");
    if (v < ONNX_MIN_OPSET || v > ONNX_MAX_OPSET)
        return err_set(L->e, CALMA_E_UNSUPPORTED,
                       "opset %lld of the default ONNX domain is not supported (calma reads "
                       "opsets %d to %d)",
                       (long long)v, ONNX_MIN_OPSET, ONNX_MAX_OPSET);
    return CALMA_OK;
}

static int import_model(loader *L, Onnx__ModelProto *m) {
    Onnx__GraphProto *gp = m->graph;
    if (!gp) return err_set(L->e, CALMA_E_PARSE, "not an ONNX model: it has no graph");
    int rc = import_opsets(L, m);
    if (rc) return rc;
    ir_graph *g = L->g;
    g->ir_version = m->has_ir_version ? m->ir_version : 0;
    g->producer_name = mem_strdup(m->producer_name);
    g->producer_version = mem_strdup(m->producer_version);
    g->name = mem_strdup(gp->name);
    if ((m->producer_name && !g->producer_name) || (m->producer_version && !g->producer_version) ||
        (gp->name && !g->name))
        return err_set(L->e, CALMA_E_NOMEM, "out of memory");
    /* Inputs before initializers: an initializer then removes the input it
     * overrides from the runtime inputs. */
    if ((rc = import_io(L, gp->input, gp->n_input, 0))) return rc;
    if ((rc = import_initializers(L, gp))) return rc;
    for (size_t i = 0; i < gp->n_node; i++)
        if ((rc = import_node(L, gp->node[i], i))) return rc;
    if ((rc = import_io(L, gp->output, gp->n_output, 1))) return rc;
    return import_value_info(L, gp);
}

/* Reads and unpacks a file as desc; the file's bytes are freed before
 * returning so only the unpacked message stays in memory. */
static int unpack_file(const char *path, const ProtobufCMessageDescriptor *desc, const char *kind,
                       ProtobufCMessage **out, calma_error *e) {
    uint8_t *buf;
    size_t len;
    *out = NULL;
    int rc = onnx_read_file(path, &buf, &len, e);
    if (rc) return rc;
    rc = onnx_check_nesting(buf, len, desc, ONNX_MAX_NESTING, e);
    if (rc) {
        free(buf);
        err_prefix(e, "%s: not %s", path, kind);
        return rc;
    }
    ProtobufCAllocator alloc = onnx_pb_allocator();
    *out = protobuf_c_message_unpack(desc, &alloc, len, buf);
    free(buf);
    if (!*out)
        return err_set(e, CALMA_E_PARSE,
                       "%s: not %s (protobuf parsing failed: the file is truncated, corrupt or "
                       "of another format)",
                       path, kind);
    return CALMA_OK;
}

int onnx_load(const char *path, ir_graph **out, calma_error *e) {
    *out = NULL;
    ProtobufCAllocator alloc = onnx_pb_allocator();
    ProtobufCMessage *msg;
    int rc = unpack_file(path, &onnx__model_proto__descriptor, "an ONNX model", &msg, e);
    if (rc) return rc;
    Onnx__ModelProto *m = (Onnx__ModelProto *)msg;
    loader L = {onnx_dirname(path), ir_graph_new(), e};
    if (!L.dir || !L.g) {
        rc = err_set(e, CALMA_E_NOMEM, "%s: out of memory", path);
    } else {
        rc = import_model(&L, m);
        /* The IR owns every tensor now; drop the protobuf tree before
         * sorting so the two never coexist longer than needed. */
        protobuf_c_message_free_unpacked(&m->base, &alloc);
        m = NULL;
        if (!rc) rc = ir_graph_sort(L.g, e);
        if (rc) err_prefix(e, "%s", path);
    }
    if (m) protobuf_c_message_free_unpacked(&m->base, &alloc);
    free(L.dir);
    if (rc) {
        ir_graph_free(L.g);
        return rc;
    }
    *out = L.g;
    return CALMA_OK;
}

int onnx_load_tensor(const char *path, ir_tensor *out, char **name, calma_error *e) {
    memset(out, 0, sizeof *out);
    if (name) *name = NULL;
    ProtobufCAllocator alloc = onnx_pb_allocator();
    ProtobufCMessage *msg;
    int rc = unpack_file(path, &onnx__tensor_proto__descriptor, "an ONNX TensorProto", &msg, e);
    if (rc) return rc;
    Onnx__TensorProto *tp = (Onnx__TensorProto *)msg;
    char *dir = onnx_dirname(path);
    char what[320];
    snprintf(what, sizeof what, "tensor '%s'", tp->name ? tp->name : "");
    rc = dir ? onnx_tensor_from_proto(tp, dir, tp->name ? what : "the tensor", out, e)
             : err_set(e, CALMA_E_NOMEM, "out of memory");
    if (rc) {
        err_prefix(e, "%s", path);
    } else if (name && tp->name) {
        *name = mem_strdup(tp->name);
        if (!*name) {
            ir_tensor_free(out);
            rc = err_set(e, CALMA_E_NOMEM, "%s: out of memory", path);
        }
    }
    free(dir);
    protobuf_c_message_free_unpacked(&tp->base, &alloc);
    return rc;
}
