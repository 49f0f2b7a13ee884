/* torchbe_: the boundary between calma (C) and its libtorch side (C++,
 * built as calma_torch.so and opened with dlopen, so that only the workers
 * that run a PyTorch conversion pay libtorch's start-up and memory).
 *
 * Plain C types only: the C++ side includes this header and
 * calma/backend.h and nothing else of calma. The C side does all the ONNX
 * work (attributes, shape inference, constant folding, op checks) and hands
 * the C++ side a program: a list of steps, one ATen call each, over
 * numbered slots. Every entry point catches C++ exceptions and returns a
 * calma status with the message in e. */
#ifndef CALMA_BACKENDS_TORCH_ABI_H
#define CALMA_BACKENDS_TORCH_ABI_H

#include <stddef.h>
#include <stdint.h>

#include "calma/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TORCHBE_ABI 1 /* bump on any change below */
#define TORCHBE_ENTRY "calma_torch_api"

/* One ATen call. The meaning of i0, i1, f0, f1 and p is given per kind. */
typedef enum torchbe_kind {
    TORCHBE_CONV,           /* in x, w[, b]; win: the window, groups */
    TORCHBE_GEMM,           /* in A, B[, C]; i0 transA, i1 transB, f0 alpha, f1 beta */
    TORCHBE_MATMUL,         /* in a, b */
    TORCHBE_BATCHNORM,      /* in x, scale, bias, mean, var; f0 epsilon */
    TORCHBE_LAYERNORM,      /* in x, scale[, bias]; i0 first normalised axis, f0 epsilon */
    TORCHBE_SOFTMAX,        /* i0 axis, i1 1: over all dims from axis on (opset < 13) */
    TORCHBE_LOGSOFTMAX,     /* as SOFTMAX */
    TORCHBE_MAXPOOL,        /* win: the window, ceil_mode */
    TORCHBE_AVGPOOL,        /* win: the window, ceil_mode, count_include_pad */
    TORCHBE_GLOBAL_AVGPOOL, /* mean over the spatial dims, kept */
    TORCHBE_GLOBAL_MAXPOOL,
    TORCHBE_IDENTITY, /* the output is the input (Identity, Dropout at inference) */
    TORCHBE_RELU,
    TORCHBE_SIGMOID,
    TORCHBE_TANH,
    TORCHBE_SQRT,
    TORCHBE_ERF,
    TORCHBE_EXP,
    TORCHBE_LOG,
    TORCHBE_NEG,
    TORCHBE_ABS,
    TORCHBE_RECIPROCAL,
    TORCHBE_HARDSWISH,
    TORCHBE_NOT,
    TORCHBE_FLOOR,
    TORCHBE_CEIL,
    TORCHBE_ROUND, /* half to even, as ONNX */
    TORCHBE_SIGN,
    TORCHBE_SIN,
    TORCHBE_COS,
    TORCHBE_TAN,
    TORCHBE_ASIN,
    TORCHBE_ACOS,
    TORCHBE_ATAN,
    TORCHBE_SINH,
    TORCHBE_COSH,
    TORCHBE_ASINH,
    TORCHBE_ACOSH,
    TORCHBE_ATANH,
    TORCHBE_SOFTPLUS,
    TORCHBE_SOFTSIGN,
    TORCHBE_ISNAN,
    TORCHBE_MISH,
    TORCHBE_GELU,            /* i0 1: the tanh approximation */
    TORCHBE_HARDSIGMOID,     /* f0 alpha, f1 beta */
    TORCHBE_ELU,             /* f0 alpha */
    TORCHBE_SELU,            /* f0 alpha, f1 gamma */
    TORCHBE_CELU,            /* f0 alpha */
    TORCHBE_THRESHOLDEDRELU, /* f0 alpha */
    TORCHBE_LEAKYRELU,       /* f0 alpha */
    TORCHBE_CLIP,            /* in x[, min][, max] at run time; i0 bit 1: f0 is the constant min,
                                bit 2: f1 is the constant max */
    TORCHBE_ADD,
    TORCHBE_SUB,
    TORCHBE_MUL,
    TORCHBE_DIV,   /* integer operands divide with truncation, as ONNX does */
    TORCHBE_POW,   /* i0 1: the exponent is the constant f0; the result keeps x's dtype */
    TORCHBE_EQUAL, /* comparisons give bool */
    TORCHBE_LESS,
    TORCHBE_GREATER,
    TORCHBE_LESS_EQUAL,
    TORCHBE_GREATER_EQUAL,
    TORCHBE_AND,
    TORCHBE_OR,
    TORCHBE_XOR,
    TORCHBE_MOD,   /* i0 1: fmod (the dividend's sign), else the divisor's sign */
    TORCHBE_PRELU, /* in x, slope */
    TORCHBE_MAX,   /* variadic: the elementwise max of every input, broadcast */
    TORCHBE_MIN,
    TORCHBE_SUM,
    TORCHBE_MEAN,
    TORCHBE_WHERE,       /* in cond, x, y */
    TORCHBE_CAST,        /* i0 the target calma_dtype */
    TORCHBE_RESHAPE,     /* p the output dims (Reshape, Flatten, Squeeze, Unsqueeze) */
    TORCHBE_EXPAND,      /* p the output dims */
    TORCHBE_TRANSPOSE,   /* p the permutation */
    TORCHBE_CONCAT,      /* in the parts; i0 axis */
    TORCHBE_SPLIT,       /* i0 axis; p the size of each output along it */
    TORCHBE_SLICE,       /* p: 5 per sliced axis: axis, start, end, step > 0, flip first */
    TORCHBE_GATHER,      /* in data, indices; i0 axis, i1 that axis' size; f0 1: the index
                            is the scalar constant p[0] (>= 0), else p is the output dims */
    TORCHBE_REDUCE_MEAN, /* i0 keepdims; p the axes (>= 0, never empty) */
    TORCHBE_REDUCE_SUM,
    TORCHBE_REDUCE_MAX,
    TORCHBE_REDUCE_MIN,
    TORCHBE_REDUCE_PROD,
    TORCHBE_REDUCE_SUM_SQUARE,
    TORCHBE_REDUCE_L1,
    TORCHBE_REDUCE_L2,
    TORCHBE_REDUCE_LOG_SUM,
    TORCHBE_REDUCE_LOG_SUM_EXP,
    TORCHBE_ARGMAX, /* i0 axis, i1 keepdims */
    TORCHBE_ARGMIN,
    TORCHBE_INSTANCENORM,    /* in x, scale, bias; f0 epsilon */
    TORCHBE_TILE,            /* p the repeats */
    TORCHBE_TRILU,           /* i0 1: upper, i1 the diagonal offset k */
    TORCHBE_GATHER_ELEMENTS, /* in data, indices; i0 axis, i1 that axis' size */
    TORCHBE_CUMSUM,          /* i0 axis; i1 bit 1: exclusive, bit 2: reverse */
    TORCHBE_PAD, /* i0 0: constant (f0 the value), 1: reflect, 2: edge; p constant_pad_nd's
                    list (the last dim's begin, end first), covering the last n_p / 2 dims */
    TORCHBE_N_KINDS
} torchbe_kind;

#define TORCHBE_MAX_SPATIAL 3

/* The window of a convolution or pool, pads resolved (auto_pad applied). */
typedef struct torchbe_window {
    int nsp; /* spatial dims, 1..3 */
    int64_t kernel[TORCHBE_MAX_SPATIAL], stride[TORCHBE_MAX_SPATIAL], dilation[TORCHBE_MAX_SPATIAL];
    int64_t pad_begin[TORCHBE_MAX_SPATIAL], pad_end[TORCHBE_MAX_SPATIAL];
    int64_t groups;
    int ceil_mode, count_include_pad;
} torchbe_window;

typedef struct torchbe_step {
    int kind;         /* torchbe_kind */
    const char *node; /* "node 'conv1' (Conv)" for messages */
    int n_in;
    const int *in; /* slots; -1 for an omitted optional input */
    int n_out;
    const int *out; /* slots */
    int n_drop;
    const int *drop; /* slots no later step reads: released after this one */
    int64_t i0, i1;
    double f0, f1;
    int n_p;
    const int64_t *p;
    torchbe_window win;
} torchbe_step;

/* A whole graph. Slots are numbered 0..n_slots-1; constants are set once,
 * inputs on every run, the rest by the steps. */
typedef struct torchbe_program {
    int n_slots;
    int n_consts;
    const int *const_slot;
    const calma_tensor *consts; /* data owned by calma, alive until the program is freed */
    int n_inputs;
    const int *input_slot;
    int n_outputs;
    const int *output_slot;
    int n_steps;
    const torchbe_step *steps;
} torchbe_program;

/* What calma_torch.so offers, returned by calma_torch_api(TORCHBE_ABI), or
 * NULL when the library was built for another ABI. Handles are opaque. */
typedef struct torchbe_api {
    int abi;
    const char *(*version)(void); /* libtorch's version, "1.13.0" */
    /* TORCH_EAGER. create: checks the program and views the constants
     * (zero-copy); convert: copies them into libtorch-owned tensors, as a
     * PyTorch module holds its parameters. threads: at::set_num_threads. */
    int (*eager_create)(const torchbe_program *p, int threads, void **h, calma_error *e);
    int (*eager_convert)(void *h, calma_error *e);
    int (*eager_run)(void *h, const calma_tensor *in, int n_in, calma_tensor *out, int n_out,
                     calma_error *e);
    void (*eager_free)(void *h);
    /* TORCHSCRIPT: torch::jit::load and a check of forward's signature
     * against the model's inputs and outputs (m's tensors, data NULL). */
    int (*script_load)(const char *path, const calma_model *m, int threads, void **h,
                       calma_error *e);
    /* TORCHSCRIPT_FROZEN: torch::jit::freeze, then optimize_for_inference. */
    int (*script_freeze)(void *h, calma_error *e);
    int (*script_run)(void *h, const calma_tensor *in, int n_in, calma_tensor *out, int n_out,
                      calma_error *e);
    void (*script_free)(void *h);
} torchbe_api;

typedef const torchbe_api *(*torchbe_entry_fn)(int abi);

#ifdef __cplusplus
}
#endif

#endif
