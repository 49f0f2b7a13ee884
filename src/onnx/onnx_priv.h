/* Declarations shared by the files of src/onnx/ only. Messages written by
 * these helpers do not name the model file: onnx_load and onnx_load_tensor
 * put the path in front once, at the top. */
#ifndef CALMA_ONNX_PRIV_H
#define CALMA_ONNX_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "calma/calma.h"
#include "ir/ir.h"
#include "onnx/onnx.pb-c.h"

/* The allocator every unpack uses: plain malloc/free, so that a raw_data
 * buffer taken over by an ir_tensor can later be released with free(). */
ProtobufCAllocator onnx_pb_allocator(void);

/* Reads a whole regular, non-empty file into a malloc'ed buffer. */
int onnx_read_file(const char *path, uint8_t **buf, size_t *len, calma_error *e);

/* Fails (CALMA_E_PARSE) when the message nesting of buf, read as desc,
 * exceeds max_depth. Malformed bytes are left for protobuf-c to report. */
int onnx_check_nesting(const uint8_t *buf, size_t len, const ProtobufCMessageDescriptor *desc,
                       int max_depth, calma_error *e);

/* Folder of path ("." when it has none), malloc'ed. */
char *onnx_dirname(const char *path);

/* Reads nbytes of a tensor's external data into *data (malloc'ed, only
 * after location, offset and length have been checked). dir is the folder
 * the model (or tensor file) lives in; location must stay inside it. */
int onnx_read_external(const Onnx__TensorProto *tp, const char *dir, size_t nbytes, void **data,
                       calma_error *e);

/* Converts a TensorProto into an owned ir_tensor. what names the tensor for
 * messages ("initializer 'w'"). raw_data is taken over rather than copied
 * when its size is right, and typed arrays are freed once copied: tp is
 * modified, and must come from an unpack with onnx_pb_allocator(). */
int onnx_tensor_from_proto(Onnx__TensorProto *tp, const char *dir, const char *what, ir_tensor *out,
                           calma_error *e);

/* Maps an ONNX elem_type to a calma dtype calma can hold; UNDEFINED when it
 * cannot (strings, complex, float8, unknown numbers). */
calma_dtype onnx_dtype(int32_t elem_type);
/* Name of an ONNX elem_type for messages, including those calma cannot hold
 * ("complex64", "float8e5m2"); "unknown" for numbers ONNX does not define. */
const char *onnx_elem_type_name(int32_t elem_type);

#endif
