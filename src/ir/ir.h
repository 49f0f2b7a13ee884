/* ir_: tensors, dtypes and the graph every other module works on.
 *
 * A graph is a list of values (named edges: graph inputs, initializers,
 * node outputs) and a list of nodes that refer to values by index. After
 * ir_graph_sort the nodes are in topological order. */
#ifndef CALMA_IR_H
#define CALMA_IR_H

#include <stddef.h>
#include <stdint.h>

#include "calma/calma.h"

#define IR_MAX_RANK 8

/* ---- dtypes ---- */

/* Bytes per element; 0 for types calma cannot hold in a flat buffer
 * (strings, undefined). */
size_t ir_dtype_size(calma_dtype dt);
/* "float32", "int64", ...; "?" for unknown values. */
const char *ir_dtype_name(calma_dtype dt);
/* Parses ir_dtype_name's spellings (and "float", "half", "fp16", ...). */
calma_dtype ir_dtype_parse(const char *s);

/* IEEE half <-> single, exact for every half value. */
float ir_half_to_float(uint16_t h);
uint16_t ir_float_to_half(float f);
float ir_bf16_to_float(uint16_t h);
uint16_t ir_float_to_bf16(float f);

/* ---- tensors ---- */

typedef struct ir_tensor {
    calma_dtype dtype;
    int rank;
    int64_t dims[IR_MAX_RANK];
    void *data;    /* NULL when only the type and shape are known */
    size_t nbytes; /* size of data in bytes */
    int owns;      /* data is freed by ir_tensor_free */
} ir_tensor;

/* Number of elements of a shape; fails (CALMA_E_INVALID) on a negative
 * dimension, a rank above IR_MAX_RANK or overflow. */
int ir_shape_numel(int rank, const int64_t *dims, size_t *out, calma_error *e);
/* Elements of a tensor whose shape is already known to be valid. */
size_t ir_tensor_numel(const ir_tensor *t);
/* Sets the type and shape and allocates zeroed, owned data. Any data the
 * tensor held is freed first. */
int ir_tensor_alloc(ir_tensor *t, calma_dtype dt, int rank, const int64_t *dims, calma_error *e);
/* Frees owned data and resets the tensor to empty. */
void ir_tensor_free(ir_tensor *t);
/* Deep copy (dst is overwritten, not freed first). */
int ir_tensor_copy(ir_tensor *dst, const ir_tensor *src, calma_error *e);
/* Same dtype, rank and dims. */
int ir_tensor_same_shape(const ir_tensor *a, const ir_tensor *b);
/* "float32[1,3,224,224]" into buf. */
const char *ir_tensor_desc(const ir_tensor *t, char *buf, size_t n);
/* Element i as double / as int64 (for any numeric dtype, bool and half). */
double ir_tensor_get_f64(const ir_tensor *t, size_t i);
int64_t ir_tensor_get_i64(const ir_tensor *t, size_t i);
/* Stores v (rounded or truncated to the dtype) at element i. */
void ir_tensor_set_f64(ir_tensor *t, size_t i, double v);

/* ---- attributes ---- */

typedef enum ir_attr_type { /* numbered as ONNX's AttributeProto.AttributeType */
                            IR_ATTR_UNDEFINED = 0,
                            IR_ATTR_FLOAT = 1,
                            IR_ATTR_INT = 2,
                            IR_ATTR_STRING = 3,
                            IR_ATTR_TENSOR = 4,
                            IR_ATTR_GRAPH = 5,
                            IR_ATTR_FLOATS = 6,
                            IR_ATTR_INTS = 7,
                            IR_ATTR_STRINGS = 8,
                            IR_ATTR_TENSORS = 9,
                            IR_ATTR_GRAPHS = 10,
                            IR_ATTR_SPARSE_TENSOR = 11,
                            IR_ATTR_SPARSE_TENSORS = 12,
                            IR_ATTR_TYPE_PROTO = 13,
                            IR_ATTR_TYPE_PROTOS = 14
} ir_attr_type;

typedef struct ir_attr {
    char *name;
    ir_attr_type type;
    float f;
    int64_t i;
    char *s; /* STRING: bytes, NUL-terminated */
    size_t s_len;
    ir_tensor t; /* TENSOR */
    size_t n;    /* element count of the list kinds below */
    float *floats;
    int64_t *ints;
    char **strings;
    ir_tensor *tensors;
    /* GRAPH kinds are kept only as their type: calma runs no control flow. */
} ir_attr;

/* ---- graph ---- */

typedef struct ir_value {
    char *name;
    calma_dtype dtype;            /* UNDEFINED when not declared */
    int rank;                     /* -1 when not declared */
    int64_t dims[IR_MAX_RANK];    /* -1 for a symbolic or unknown dimension */
    char *dim_param[IR_MAX_RANK]; /* name of a symbolic dimension, else NULL */
    ir_tensor *init;              /* constant value (initializer), else NULL */
    int producer;                 /* index of the producing node, -1 if none */
} ir_value;

typedef struct ir_node {
    char *name;
    char *op_type;
    char *domain; /* "" for the default ONNX domain */
    int n_in;
    int *in; /* value index per input; -1 for an omitted optional input */
    int n_out;
    int *out; /* value index per output; -1 for an omitted optional output */
    int n_attr;
    ir_attr *attr;
} ir_node;

typedef struct ir_opset {
    char *domain;
    int64_t version;
} ir_opset;

typedef struct ir_graph {
    char *name;
    int64_t ir_version;
    char *producer_name;
    char *producer_version;
    int n_opsets;
    ir_opset *opsets;
    int n_values, cap_values;
    ir_value *values;
    int n_nodes, cap_nodes;
    ir_node *nodes;
    int n_inputs; /* runtime inputs: graph inputs that are not initializers */
    int *inputs;
    int n_outputs;
    int *outputs;
    void *index; /* name -> value lookup, private to graph.c */
} ir_graph;

ir_graph *ir_graph_new(void);
void ir_graph_free(ir_graph *g);

/* Index of the value called name, or -1. */
int ir_graph_find(const ir_graph *g, const char *name);
/* Index of the value called name, created (untyped) if absent; -1 on OOM. */
int ir_graph_value(ir_graph *g, const char *name);
/* Declares value v's type; rank -1 leaves the shape unknown. dims < 0 mean
 * symbolic; dim_params (may be NULL) names them. */
int ir_value_set_type(ir_value *v, calma_dtype dt, int rank, const int64_t *dims,
                      const char *const *dim_params);
/* Adds a runtime input / output by value name (created if absent). */
int ir_graph_add_input(ir_graph *g, const char *name, calma_dtype dt, int rank, const int64_t *dims,
                       const char *const *dim_params);
int ir_graph_add_output(ir_graph *g, const char *name, calma_dtype dt, int rank,
                        const int64_t *dims, const char *const *dim_params);
/* Makes the value called name a constant; the graph takes ownership of *t's
 * data (t is left empty). */
int ir_graph_add_initializer(ir_graph *g, const char *name, ir_tensor *t);
/* Sets the opset version for a domain ("" is ONNX's default domain). */
int ir_graph_set_opset(ir_graph *g, const char *domain, int64_t version);
/* Opset version imported for domain, or 0. */
int64_t ir_graph_opset(const ir_graph *g, const char *domain);

/* Appends a node; input/output names may be "" or NULL for omitted optional
 * ones. Values are created as needed. Returns the node or NULL on OOM. */
ir_node *ir_graph_add_node(ir_graph *g, const char *op_type, const char *name, int n_in,
                           const char *const *in, int n_out, const char *const *out);

/* Attributes on a node (copies everything given). */
int ir_node_set_int(ir_node *n, const char *name, int64_t v);
int ir_node_set_float(ir_node *n, const char *name, float v);
int ir_node_set_string(ir_node *n, const char *name, const char *v);
int ir_node_set_ints(ir_node *n, const char *name, const int64_t *v, size_t count);
int ir_node_set_floats(ir_node *n, const char *name, const float *v, size_t count);
/* Takes ownership of *t's data. */
int ir_node_set_tensor(ir_node *n, const char *name, ir_tensor *t);
/* Reserves one attribute slot and returns it zeroed with its name set (for
 * readers that fill kinds the setters above do not cover). */
ir_attr *ir_node_new_attr(ir_node *n, const char *name);

const ir_attr *ir_node_attr(const ir_node *n, const char *name);
int64_t ir_node_int(const ir_node *n, const char *name, int64_t dflt);
float ir_node_float(const ir_node *n, const char *name, float dflt);
/* The string attribute, or dflt. */
const char *ir_node_string(const ir_node *n, const char *name, const char *dflt);
/* The ints attribute (count in *count), or NULL with *count 0. */
const int64_t *ir_node_ints(const ir_node *n, const char *name, size_t *count);
const float *ir_node_floats(const ir_node *n, const char *name, size_t *count);

/* Sorts nodes topologically and fills each value's producer. Fails with
 * CALMA_E_INVALID on a cycle, a node input that nothing produces, a value
 * produced twice, or a graph output nothing produces. */
int ir_graph_sort(ir_graph *g, calma_error *e);

/* Number of elements in all initializers (the model's parameter count). */
int64_t ir_graph_param_count(const ir_graph *g);

/* Replaces every symbolic or unknown leading (batch) dimension of the
 * runtime inputs and outputs with batch. Other symbolic dimensions are left
 * as they are and reported by the caller that needs them fixed. */
void ir_graph_set_batch(ir_graph *g, int64_t batch);

/* "float32[N,3,224,224]" for a declared value: symbolic dimensions by name,
 * unknown ones as '?', an unknown rank as "float32[?]". */
const char *ir_value_desc(const ir_value *v, char *buf, size_t n);

/* Value name for error messages (never NULL). */
const char *ir_value_name(const ir_graph *g, int v);
/* Node label for error messages: "node 'name' (Op)" into buf. */
const char *ir_node_label(const ir_node *n, char *buf, size_t size);

#endif
