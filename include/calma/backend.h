/* The interface a backend implements. Built-in backends and plugins
 * (shared objects loaded with --plugin) use the same structures.
 *
 * A backend offers one or more conversions. For each trial calma calls, in
 * one worker process: probe (is the engine here?), load (read the model into
 * the engine), convert (optional: compile or optimise for the batch size and
 * thread count), run (one inference, many times), release. */
#ifndef CALMA_BACKEND_H
#define CALMA_BACKEND_H

#include "calma/calma.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ABI 2 added calma_backend.flags and .info and calma_trial_config.profile,
 * at the ends of their structures. A plugin built for ABI 1 still loads:
 * calma reads neither flags nor info from a backend whose abi is 1. */
#define CALMA_BACKEND_ABI 2
#define CALMA_BACKEND_ABI_MIN 1

/* calma_backend.flags */
/* load runs any ONNX model it is given (from calma_model.path or .graph), so
 * calma's model transforms (INT8+ORT_CPU, ...) may come before its
 * conversions. Backends that build their own graph from the ops they know
 * leave it unset. */
#define CALMA_BACKEND_READS_ONNX 1u

#define CALMA_TENSOR_MAX_RANK 8

/* A view on memory the caller owns. */
typedef struct calma_tensor {
    const char *name;
    calma_dtype dtype;
    int rank;
    int64_t dims[CALMA_TENSOR_MAX_RANK];
    void *data;
    size_t nbytes;
} calma_tensor;

struct ir_graph;

/* What a backend gets to load. The graph is calma's parsed model (see
 * src/ir/ir.h) for built-in backends; plugins may ignore it and open path. */
typedef struct calma_model {
    const char *path; /* the .onnx file; external data lives beside it */
    const struct ir_graph *graph;
    int n_inputs; /* the tensors run() is given, in this order (data NULL here) */
    const calma_tensor *inputs;
    int n_outputs; /* the tensors run() must fill, in this order (data NULL here) */
    const calma_tensor *outputs;
    /* ABI 2 (appended, so a plugin built for ABI 1 never reads it): the
     * model's TorchScript file, from calma bench --torchscript or MODEL.pt
     * found beside MODEL.onnx; NULL when there is none. */
    const char *torchscript;
} calma_model;

typedef struct calma_trial_config {
    int64_t batch;
    int threads;         /* intra-op threads the engine may use */
    const char *options; /* "key=value,key=value" given by the user, or "" */
    /* ABI 2: calma bench --profile. The backend may time its own parts in
     * run() and report them through info (e.g. the share of time spent
     * outside the engine). A plugin built for ABI 1 never sees it. */
    int profile;
} calma_trial_config;

/* One fact a backend reports about the model it converted: a key
 * (snake_case, e.g. "nodes_in_engine") and either a number (text NULL) or
 * a string. */
typedef struct calma_fact {
    const char *key;
    const char *text;
    double number;
} calma_fact;

#define CALMA_MAX_FACTS 32

typedef struct calma_conversion calma_conversion;

typedef struct calma_backend {
    int abi; /* CALMA_BACKEND_ABI */
    const char *name;
    /* Engine version for reports (may return NULL before probe succeeded). */
    const char *(*version)(void);
    /* CALMA_OK when the conversion can run here, else CALMA_E_UNAVAILABLE with
     * the reason (and, where it helps, the command that installs it). Cheap:
     * no model is loaded. */
    int (*probe)(const calma_conversion *c, calma_error *e);
    /* Reads the model into the engine; *state is the backend's. Returns
     * CALMA_E_UNSUPPORTED naming the op or dtype the conversion cannot express. */
    int (*load)(const calma_conversion *c, const calma_model *m, const calma_trial_config *cfg,
                void **state, calma_error *e);
    /* Optional (NULL): compiles or optimises after load; timed separately. */
    int (*convert)(void *state, calma_error *e);
    /* One inference: inputs and outputs as described in the calma_model, on
     * caller-owned buffers that stay the same between calls. */
    int (*run)(void *state, const calma_tensor *inputs, int n_in, calma_tensor *outputs, int n_out,
               calma_error *e);
    /* Frees everything load and convert made. state may be NULL. */
    void (*release)(void *state);
    /* ABI 2: CALMA_BACKEND_* bits (0 for a backend of ABI 1). */
    unsigned flags;
    /* ABI 2, optional (NULL): facts about the converted model, written into
     * facts (at most max); returns how many. Called after the last run and
     * before release; strings stay valid until release. calma records them
     * in the trial as "engine_info". */
    int (*info)(void *state, calma_fact *facts, int max);
} calma_backend;

struct calma_conversion {
    const char *name;        /* canonical, UPPER_SNAKE */
    const char *aliases;     /* comma-separated names from other tools, or NULL */
    int tier;                /* lowest tier that includes it: 1, 2 or 3 */
    const char *device;      /* "cpu", "cuda", ... */
    const char *description; /* one line */
    const calma_backend *backend;
    const void *data; /* the backend's settings for this conversion */
};

/* A plugin is a shared object exporting
 *     const calma_plugin *calma_plugin_entry(void);
 * whose conversions are added to the registry. */
typedef struct calma_plugin {
    int abi; /* CALMA_BACKEND_ABI (or any from CALMA_BACKEND_ABI_MIN) */
    const char *name;
    int n_conversions;
    const calma_conversion *conversions;
} calma_plugin;

#define CALMA_PLUGIN_ENTRY "calma_plugin_entry"
typedef const calma_plugin *(*calma_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif
