/* Helpers for the onnx_ tests: build ModelProto / TensorProto messages with
 * protobuf-c structs (all memory from an arena freed in one go), write them
 * to files, and manage a temporary folder. */
#ifndef CALMA_TEST_ONNX_UTIL_H
#define CALMA_TEST_ONNX_UTIL_H

#include <dirent.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "onnx/onnx.pb-c.h"

#define TU_MAX 64

typedef struct tu_arena {
    void *p[4096];
    int n;
} tu_arena;

static inline void *tu_new(tu_arena *a, size_t size) {
    if (a->n >= 4096) abort();
    void *q = calloc(1, size ? size : 1);
    if (!q) abort();
    a->p[a->n++] = q;
    return q;
}

static inline void tu_free(tu_arena *a) {
    for (int i = 0; i < a->n; i++) free(a->p[i]);
    a->n = 0;
}

static inline char *tu_str(tu_arena *a, const char *s) {
    char *c = tu_new(a, strlen(s) + 1);
    strcpy(c, s);
    return c;
}

static inline Onnx__ValueInfoProto *tu_vi(tu_arena *a, const char *name, int elem, int rank,
                                          const int64_t *dims, const char *const *params) {
    Onnx__ValueInfoProto *vi = tu_new(a, sizeof *vi);
    onnx__value_info_proto__init(vi);
    vi->name = tu_str(a, name);
    Onnx__TypeProto *tp = tu_new(a, sizeof *tp);
    onnx__type_proto__init(tp);
    Onnx__TypeProto__Tensor *tt = tu_new(a, sizeof *tt);
    onnx__type_proto__tensor__init(tt);
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->type = tp;
    tt->has_elem_type = 1;
    tt->elem_type = elem;
    if (rank >= 0) {
        Onnx__TensorShapeProto *sh = tu_new(a, sizeof *sh);
        onnx__tensor_shape_proto__init(sh);
        sh->n_dim = (size_t)rank;
        sh->dim = tu_new(a, sizeof(void *) * (size_t)(rank + 1));
        for (int d = 0; d < rank; d++) {
            Onnx__TensorShapeProto__Dimension *dim = tu_new(a, sizeof *dim);
            onnx__tensor_shape_proto__dimension__init(dim);
            if (params && params[d]) {
                dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                dim->dim_param = tu_str(a, params[d]);
            } else {
                dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                dim->dim_value = dims[d];
            }
            sh->dim[d] = dim;
        }
        tt->shape = sh;
    }
    return vi;
}

static inline Onnx__NodeProto *tu_node(tu_arena *a, const char *op, const char *name, int n_in,
                                       const char *const *in, int n_out, const char *const *out) {
    Onnx__NodeProto *n = tu_new(a, sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = tu_str(a, op);
    n->name = name ? tu_str(a, name) : NULL;
    n->n_input = (size_t)n_in;
    n->input = tu_new(a, sizeof(char *) * (size_t)(n_in + 1));
    for (int i = 0; i < n_in; i++) n->input[i] = tu_str(a, in[i]);
    n->n_output = (size_t)n_out;
    n->output = tu_new(a, sizeof(char *) * (size_t)(n_out + 1));
    for (int i = 0; i < n_out; i++) n->output[i] = tu_str(a, out[i]);
    n->attribute = tu_new(a, sizeof(void *) * TU_MAX);
    return n;
}

static inline Onnx__AttributeProto *tu_attr(tu_arena *a, Onnx__NodeProto *n, const char *name,
                                            int type) {
    Onnx__AttributeProto *at = tu_new(a, sizeof *at);
    onnx__attribute_proto__init(at);
    at->name = tu_str(a, name);
    if (type) {
        at->has_type = 1;
        at->type = (Onnx__AttributeProto__AttributeType)type;
    }
    if (n->n_attribute >= TU_MAX) abort();
    n->attribute[n->n_attribute++] = at;
    return at;
}

/* A tensor with type and shape; the caller sets its data fields. */
static inline Onnx__TensorProto *tu_tensor(tu_arena *a, const char *name, int dtype, int rank,
                                           const int64_t *dims) {
    Onnx__TensorProto *t = tu_new(a, sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = name ? tu_str(a, name) : NULL;
    t->has_data_type = 1;
    t->data_type = dtype;
    t->n_dims = (size_t)rank;
    t->dims = tu_new(a, sizeof(int64_t) * (size_t)(rank + 1));
    for (int d = 0; d < rank; d++) t->dims[d] = dims[d];
    return t;
}

static inline void tu_raw(tu_arena *a, Onnx__TensorProto *t, const void *data, size_t len) {
    t->has_raw_data = 1;
    t->raw_data.len = len;
    t->raw_data.data = tu_new(a, len);
    memcpy(t->raw_data.data, data, len);
}

static inline void tu_external(tu_arena *a, Onnx__TensorProto *t, const char *loc,
                               const char *offset, const char *length) {
    t->has_data_location = 1;
    t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    t->external_data = tu_new(a, sizeof(void *) * 3);
    const char *keys[] = {"location", "offset", "length"};
    const char *vals[] = {loc, offset, length};
    for (int i = 0; i < 3; i++) {
        if (!vals[i]) continue;
        Onnx__StringStringEntryProto *kv = tu_new(a, sizeof *kv);
        onnx__string_string_entry_proto__init(kv);
        kv->key = tu_str(a, keys[i]);
        kv->value = tu_str(a, vals[i]);
        t->external_data[t->n_external_data++] = kv;
    }
}

/* An empty model importing the default domain at opset. */
static inline Onnx__ModelProto *tu_model(tu_arena *a, int64_t opset) {
    Onnx__ModelProto *m = tu_new(a, sizeof *m);
    onnx__model_proto__init(m);
    m->has_ir_version = 1;
    m->ir_version = 8;
    m->producer_name = tu_str(a, "test");
    m->opset_import = tu_new(a, sizeof(void *) * TU_MAX);
    if (opset > 0) {
        Onnx__OperatorSetIdProto *op = tu_new(a, sizeof *op);
        onnx__operator_set_id_proto__init(op);
        op->domain = tu_str(a, "");
        op->has_version = 1;
        op->version = opset;
        m->opset_import[m->n_opset_import++] = op;
    }
    Onnx__GraphProto *g = tu_new(a, sizeof *g);
    onnx__graph_proto__init(g);
    g->name = tu_str(a, "g");
    g->node = tu_new(a, sizeof(void *) * TU_MAX);
    g->input = tu_new(a, sizeof(void *) * TU_MAX);
    g->output = tu_new(a, sizeof(void *) * TU_MAX);
    g->initializer = tu_new(a, sizeof(void *) * TU_MAX);
    g->value_info = tu_new(a, sizeof(void *) * TU_MAX);
    m->graph = g;
    return m;
}

static inline void tu_add_node(Onnx__ModelProto *m, Onnx__NodeProto *n) {
    if (m->graph->n_node >= TU_MAX) abort();
    m->graph->node[m->graph->n_node++] = n;
}
static inline void tu_add_input(Onnx__ModelProto *m, Onnx__ValueInfoProto *v) {
    if (m->graph->n_input >= TU_MAX) abort();
    m->graph->input[m->graph->n_input++] = v;
}
static inline void tu_add_output(Onnx__ModelProto *m, Onnx__ValueInfoProto *v) {
    if (m->graph->n_output >= TU_MAX) abort();
    m->graph->output[m->graph->n_output++] = v;
}
static inline void tu_add_init(Onnx__ModelProto *m, Onnx__TensorProto *t) {
    if (m->graph->n_initializer >= TU_MAX) abort();
    m->graph->initializer[m->graph->n_initializer++] = t;
}

/* x float[1,2] + w (initializer float[2], raw) -> y float[1,2]. */
static inline Onnx__ModelProto *tu_add_model(tu_arena *a) {
    Onnx__ModelProto *m = tu_model(a, 13);
    int64_t xd[] = {1, 2}, wd[] = {2};
    tu_add_input(m, tu_vi(a, "x", 1, 2, xd, NULL));
    tu_add_output(m, tu_vi(a, "y", 1, 2, xd, NULL));
    Onnx__TensorProto *w = tu_tensor(a, "w", 1, 1, wd);
    float wv[] = {1.5f, -2.0f};
    tu_raw(a, w, wv, sizeof wv);
    tu_add_init(m, w);
    tu_add_node(m,
                tu_node(a, "Add", "add0", 2, (const char *[]){"x", "w"}, 1, (const char *[]){"y"}));
    return m;
}

static inline int tu_write_bytes(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = len ? fwrite(data, 1, len, f) : 0;
    return (fclose(f) || w != len) ? -1 : 0;
}

static inline int tu_write_msg(const ProtobufCMessage *m, const char *path) {
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) return -1;
    protobuf_c_message_pack(m, buf);
    int rc = tu_write_bytes(path, buf, n);
    free(buf);
    return rc;
}

/* Packed bytes of a message (malloc'ed). */
static inline uint8_t *tu_pack(const ProtobufCMessage *m, size_t *len) {
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(*len ? *len : 1);
    if (buf) protobuf_c_message_pack(m, buf);
    return buf;
}

static inline char *tu_path(tu_arena *a, const char *dir, const char *name) {
    char *p = tu_new(a, strlen(dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

static inline char *tu_tmpdir(void) {
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/calma-onnx-XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    if (!d) abort();
    char *r = malloc(strlen(d) + 1);
    strcpy(r, d);
    return r;
}

/* Removes a folder the tests made, recursively, without following links. */
static inline void tu_rm_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st)) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *ent;
            while ((ent = readdir(d))) {
                if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, "..")) continue;
                size_t n = strlen(path) + strlen(ent->d_name) + 2;
                char *sub = malloc(n);
                if (!sub) continue;
                memcpy(sub, path, strlen(path));
                sub[strlen(path)] = '/';
                strcpy(sub + strlen(path) + 1, ent->d_name);
                tu_rm_tree(sub);
                free(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static inline void tu_rmdir(char *dir) {
    tu_rm_tree(dir);
    free(dir);
}

#endif
