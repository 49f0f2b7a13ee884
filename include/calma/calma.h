/* calma: find the fastest correct way to run an ONNX model on this machine.
 *
 * Public types shared by every module and by backend plugins: status codes,
 * element types and the error record that failing calls fill in. */
#ifndef CALMA_CALMA_H
#define CALMA_CALMA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CALMA_VERSION "0.1.0"

/* Every call that can fail returns one of these and, when it is not
 * CALMA_OK, writes a message into the caller's calma_error. */
typedef enum calma_status {
    CALMA_OK = 0,
    CALMA_E_USAGE = 1,       /* a bad flag, argument or plan */
    CALMA_E_IO = 2,          /* a file missing, unreadable or unwritable */
    CALMA_E_PARSE = 3,       /* bytes that are not what they claim (protobuf, npy, json) */
    CALMA_E_INVALID = 4,     /* parsed, but wrong: shapes, cycles, dangling names, overflow */
    CALMA_E_UNSUPPORTED = 5, /* an op, dtype or attribute this code cannot express */
    CALMA_E_UNAVAILABLE = 6, /* an engine or device that is not present here */
    CALMA_E_NOMEM = 7,       /* an allocation failed */
    CALMA_E_INTERNAL = 8     /* a bug in calma or an engine */
} calma_status;

/* Element types, numbered as ONNX's TensorProto.DataType. */
typedef enum calma_dtype {
    CALMA_DT_UNDEFINED = 0,
    CALMA_DT_FLOAT = 1,
    CALMA_DT_UINT8 = 2,
    CALMA_DT_INT8 = 3,
    CALMA_DT_UINT16 = 4,
    CALMA_DT_INT16 = 5,
    CALMA_DT_INT32 = 6,
    CALMA_DT_INT64 = 7,
    CALMA_DT_STRING = 8,
    CALMA_DT_BOOL = 9,
    CALMA_DT_FLOAT16 = 10,
    CALMA_DT_DOUBLE = 11,
    CALMA_DT_UINT32 = 12,
    CALMA_DT_UINT64 = 13,
    CALMA_DT_BFLOAT16 = 16
} calma_dtype;

#define CALMA_ERROR_MAX 1024

/* A status with the message that explains it. The message names the file,
 * node, op or value at fault. */
typedef struct calma_error {
    int status;
    char msg[CALMA_ERROR_MAX];
} calma_error;

/* Name of a status ("ok", "io", ...). */
const char *calma_status_name(int status);

#ifdef __cplusplus
}
#endif

#endif
