/* ir_graph -> ModelProto on disk. The protobuf structs point into the
 * graph's own memory (names, tensor data); only the pointer arrays and
 * small structs are allocated, from a pool freed in one go. The message is
 * streamed to the file, so a large model is never serialized in memory. */
#include "onnx/onnx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "onnx/onnx_priv.h"
#include "util/err.h"
#include "util/mem.h"

typedef struct pool {
    void **ptrs;
    int n, cap;
    int failed;
} pool;

static void *pool_alloc(pool *p, size_t count, size_t size) {
    if (p->failed) return NULL;
    if (mem_grow((void **)&p->ptrs, &p->cap, p->n + 1, sizeof(void *))) {
        p->failed = 1;
        return NULL;
    }
    void *q = calloc(count ? count : 1, size);
    if (!q) {
        p->failed = 1;
        return NULL;
    }
    p->ptrs[p->n++] = q;
    return q;
}

static void pool_free(pool *p) {
    for (int i = 0; i < p->n; i++) free(p->ptrs[i]);
    free(p->ptrs);
}

/* protobuf-c's structs take char *, the graph hands out const data that
 * packing only reads. */
static char *str(const char *s) {
    union {
        const char *c;
        char *m;
    } u = {s ? s : ""};
    return u.m;
}

static Onnx__TensorProto *tensor_proto(pool *p, const ir_tensor *t, const char *name) {
    Onnx__TensorProto *tp = pool_alloc(p, 1, sizeof *tp);
    if (!tp) return NULL;
    onnx__tensor_proto__init(tp);
    tp->name = name ? str(name) : NULL;
    tp->has_data_type = 1;
    tp->data_type = (int32_t)t->dtype;
    tp->n_dims = (size_t)t->rank;
    tp->dims = pool_alloc(p, (size_t)t->rank, sizeof(int64_t));
    if (!tp->dims) return NULL;
    for (int d = 0; d < t->rank; d++) tp->dims[d] = t->dims[d];
    tp->has_raw_data = 1;
    tp->raw_data.len = t->data ? t->nbytes : 0;
    tp->raw_data.data = t->data;
    return tp;
}

static Onnx__TypeProto *type_proto(pool *p, const ir_value *v) {
    Onnx__TypeProto *tp = pool_alloc(p, 1, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = pool_alloc(p, 1, sizeof *tt);
    if (!tp || !tt) return NULL;
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    if (v->dtype != CALMA_DT_UNDEFINED) {
        tt->has_elem_type = 1;
        tt->elem_type = (int32_t)v->dtype;
    }
    if (v->rank < 0) return tp;
    Onnx__TensorShapeProto *sh = pool_alloc(p, 1, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **dims =
        pool_alloc(p, (size_t)v->rank, sizeof(Onnx__TensorShapeProto__Dimension *));
    if (!sh || !dims) return NULL;
    onnx__tensor_shape_proto__init(sh);
    sh->n_dim = (size_t)v->rank;
    sh->dim = dims;
    for (int d = 0; d < v->rank; d++) {
        Onnx__TensorShapeProto__Dimension *dim = pool_alloc(p, 1, sizeof *dim);
        if (!dim) return NULL;
        onnx__tensor_shape_proto__dimension__init(dim);
        if (v->dim_param[d]) {
            dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dim->dim_param = v->dim_param[d];
        } else if (v->dims[d] >= 0) {
            dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dim->dim_value = v->dims[d];
        }
        dims[d] = dim;
    }
    tt->shape = sh;
    return tp;
}

static Onnx__ValueInfoProto *value_info(pool *p, const ir_value *v) {
    Onnx__ValueInfoProto *vi = pool_alloc(p, 1, sizeof *vi);
    if (!vi) return NULL;
    onnx__value_info_proto__init(vi);
    vi->name = v->name;
    vi->type = type_proto(p, v);
    return vi->type ? vi : NULL;
}

/* 0, -1 on OOM, or 1 when the attribute kind cannot be written. */
static int attr_proto(pool *p, const ir_attr *a, Onnx__AttributeProto **out) {
    Onnx__AttributeProto *ap = pool_alloc(p, 1, sizeof *ap);
    if (!ap) return -1;
    onnx__attribute_proto__init(ap);
    ap->name = a->name;
    ap->has_type = 1;
    ap->type = (Onnx__AttributeProto__AttributeType)a->type;
    switch (a->type) {
    case IR_ATTR_FLOAT:
        ap->has_f = 1;
        ap->f = a->f;
        break;
    case IR_ATTR_INT:
        ap->has_i = 1;
        ap->i = a->i;
        break;
    case IR_ATTR_STRING:
        ap->has_s = 1;
        ap->s.data = (uint8_t *)a->s;
        ap->s.len = a->s ? a->s_len : 0;
        break;
    case IR_ATTR_TENSOR:
        ap->t = tensor_proto(p, &a->t, NULL);
        if (!ap->t) return -1;
        break;
    case IR_ATTR_FLOATS:
        ap->n_floats = a->n;
        ap->floats = a->floats;
        break;
    case IR_ATTR_INTS:
        ap->n_ints = a->n;
        ap->ints = a->ints;
        break;
    case IR_ATTR_STRINGS:
        ap->n_strings = a->n;
        ap->strings = pool_alloc(p, a->n, sizeof(ProtobufCBinaryData));
        if (!ap->strings) return -1;
        for (size_t k = 0; k < a->n; k++) {
            ap->strings[k].data = (uint8_t *)a->strings[k];
            ap->strings[k].len = a->strings[k] ? strlen(a->strings[k]) : 0;
        }
        break;
    case IR_ATTR_TENSORS:
        ap->n_tensors = a->n;
        ap->tensors = pool_alloc(p, a->n, sizeof(Onnx__TensorProto *));
        if (!ap->tensors) return -1;
        for (size_t k = 0; k < a->n; k++) {
            ap->tensors[k] = tensor_proto(p, &a->tensors[k], NULL);
            if (!ap->tensors[k]) return -1;
        }
        break;
    default:
        return 1;
    }
    *out = ap;
    return 0;
}

static int node_proto(pool *p, const ir_graph *g, const ir_node *n, Onnx__NodeProto **out,
                      calma_error *e) {
    char lab[256];
    Onnx__NodeProto *np = pool_alloc(p, 1, sizeof *np);
    if (!np) return CALMA_E_NOMEM;
    onnx__node_proto__init(np);
    np->name = n->name && n->name[0] ? n->name : NULL;
    np->op_type = n->op_type;
    np->domain = n->domain && n->domain[0] ? n->domain : NULL;
    np->n_input = (size_t)n->n_in;
    np->input = pool_alloc(p, (size_t)n->n_in, sizeof(char *));
    np->n_output = (size_t)n->n_out;
    np->output = pool_alloc(p, (size_t)n->n_out, sizeof(char *));
    np->n_attribute = (size_t)n->n_attr;
    np->attribute = pool_alloc(p, (size_t)n->n_attr, sizeof(Onnx__AttributeProto *));
    if (!np->input || !np->output || !np->attribute) return CALMA_E_NOMEM;
    for (int k = 0; k < n->n_in; k++)
        np->input[k] = n->in[k] >= 0 ? g->values[n->in[k]].name : str("");
    for (int k = 0; k < n->n_out; k++)
        np->output[k] = n->out[k] >= 0 ? g->values[n->out[k]].name : str("");
    for (int k = 0; k < n->n_attr; k++) {
        int rc = attr_proto(p, &n->attr[k], &np->attribute[k]);
        if (rc < 0) return CALMA_E_NOMEM;
        if (rc > 0)
            return err_set(e, CALMA_E_UNSUPPORTED,
                           "%s attribute '%s' is of a kind calma does not keep (type %d) and "
                           "cannot be written",
                           ir_node_label(n, lab, sizeof lab), n->attr[k].name,
                           (int)n->attr[k].type);
    }
    *out = np;
    return CALMA_OK;
}

static int is_io(const ir_graph *g, int v) {
    for (int i = 0; i < g->n_inputs; i++)
        if (g->inputs[i] == v) return 1;
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == v) return 1;
    return 0;
}

static int graph_proto(pool *p, const ir_graph *g, Onnx__GraphProto *gp, calma_error *e) {
    onnx__graph_proto__init(gp);
    gp->name = str(g->name && g->name[0] ? g->name : "calma");
    gp->n_node = (size_t)g->n_nodes;
    gp->node = pool_alloc(p, (size_t)g->n_nodes, sizeof(Onnx__NodeProto *));
    gp->n_input = (size_t)g->n_inputs;
    gp->input = pool_alloc(p, (size_t)g->n_inputs, sizeof(Onnx__ValueInfoProto *));
    gp->n_output = (size_t)g->n_outputs;
    gp->output = pool_alloc(p, (size_t)g->n_outputs, sizeof(Onnx__ValueInfoProto *));
    size_t n_init = 0, n_vi = 0;
    for (int v = 0; v < g->n_values; v++) {
        if (g->values[v].init)
            n_init++;
        else if (g->values[v].dtype != CALMA_DT_UNDEFINED && !is_io(g, v))
            n_vi++;
    }
    gp->initializer = pool_alloc(p, n_init, sizeof(Onnx__TensorProto *));
    gp->value_info = pool_alloc(p, n_vi, sizeof(Onnx__ValueInfoProto *));
    if (!gp->node || !gp->input || !gp->output || !gp->initializer || !gp->value_info)
        return CALMA_E_NOMEM;
    for (int i = 0; i < g->n_nodes; i++) {
        int rc = node_proto(p, g, &g->nodes[i], &gp->node[i], e);
        if (rc) return rc;
    }
    for (int i = 0; i < g->n_inputs; i++)
        if (!(gp->input[i] = value_info(p, &g->values[g->inputs[i]]))) return CALMA_E_NOMEM;
    for (int i = 0; i < g->n_outputs; i++)
        if (!(gp->output[i] = value_info(p, &g->values[g->outputs[i]]))) return CALMA_E_NOMEM;
    for (int v = 0; v < g->n_values; v++) {
        const ir_value *val = &g->values[v];
        if (val->init) {
            Onnx__TensorProto *tp = tensor_proto(p, val->init, val->name);
            if (!tp) return CALMA_E_NOMEM;
            gp->initializer[gp->n_initializer++] = tp;
        } else if (val->dtype != CALMA_DT_UNDEFINED && !is_io(g, v)) {
            Onnx__ValueInfoProto *vi = value_info(p, val);
            if (!vi) return CALMA_E_NOMEM;
            gp->value_info[gp->n_value_info++] = vi;
        }
    }
    return CALMA_OK;
}

/* ---- streaming to a file ---- */

typedef struct file_sink {
    ProtobufCBuffer base;
    FILE *f;
    int failed;
} file_sink;

static void sink_append(ProtobufCBuffer *b, size_t len, const uint8_t *data) {
    file_sink *s = (file_sink *)b;
    if (!s->failed && len && fwrite(data, 1, len, s->f) != len) s->failed = 1;
}

static int write_message(const ProtobufCMessage *m, const char *path, calma_error *e) {
    FILE *f = fopen(path, "wb");
    if (!f) return err_set(e, CALMA_E_IO, "%s: cannot create: %s", path, strerror(errno));
    errno = 0;
    file_sink s = {{sink_append}, f, 0};
    protobuf_c_message_pack_to_buffer(m, &s.base);
    int bad = s.failed | ferror(f);
    if (fclose(f)) bad = 1;
    if (bad) {
        int err = errno;
        unlink(path);
        return err_set(e, CALMA_E_IO, "%s: cannot write: %s", path,
                       err ? strerror(err) : "write failed");
    }
    return CALMA_OK;
}

int onnx_save(const ir_graph *g, const char *path, calma_error *e) {
    pool p = {0};
    Onnx__ModelProto m;
    Onnx__GraphProto gp;
    onnx__model_proto__init(&m);
    m.has_ir_version = 1;
    m.ir_version = g->ir_version > 0 ? g->ir_version : 8;
    m.producer_name = str("calma");
    m.producer_version = str(CALMA_VERSION);
    m.n_opset_import = (size_t)g->n_opsets;
    m.opset_import = pool_alloc(&p, (size_t)g->n_opsets, sizeof(Onnx__OperatorSetIdProto *));
    int rc = m.opset_import ? CALMA_OK : CALMA_E_NOMEM;
    for (int i = 0; !rc && i < g->n_opsets; i++) {
        Onnx__OperatorSetIdProto *op = pool_alloc(&p, 1, sizeof *op);
        if (!op) {
            rc = CALMA_E_NOMEM;
            break;
        }
        onnx__operator_set_id_proto__init(op);
        op->domain = g->opsets[i].domain;
        op->has_version = 1;
        op->version = g->opsets[i].version;
        m.opset_import[i] = op;
    }
    if (!rc) rc = graph_proto(&p, g, &gp, e);
    if (rc == CALMA_E_NOMEM || p.failed)
        rc = err_set(e, CALMA_E_NOMEM, "%s: out of memory building the model", path);
    else if (rc)
        err_prefix(e, "%s", path);
    if (!rc) {
        m.graph = &gp;
        rc = write_message(&m.base, path, e);
    }
    pool_free(&p);
    return rc;
}

int onnx_save_tensor(const ir_tensor *t, const char *name, const char *path, calma_error *e) {
    pool p = {0};
    int rc;
    Onnx__TensorProto *tp = tensor_proto(&p, t, name);
    if (!tp)
        rc = err_set(e, CALMA_E_NOMEM, "%s: out of memory", path);
    else
        rc = write_message(&tp->base, path, e);
    pool_free(&p);
    return rc;
}
