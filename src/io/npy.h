/* npy_: NumPy .npy files, calma's own small reader and writer.
 *
 * Format versions 1.0, 2.0 and 3.0; little-endian, C order; dtypes <f4 <f8
 * <f2 |i1 <i2 <i4 <i8 |u1 <u2 <u4 <u8 |b1. Everything else (Fortran order,
 * big-endian, objects, structured or string dtypes) is refused with a
 * message that begins with the file's path. */
#ifndef CALMA_IO_NPY_H
#define CALMA_IO_NPY_H

#include "calma/calma.h"
#include "ir/ir.h"

/* Reads path into *out (owned data). CALMA_E_IO: missing, unreadable, a
 * directory; CALMA_E_PARSE: not .npy, truncated, a header that lies about
 * the data; CALMA_E_UNSUPPORTED: a layout or dtype calma does not read;
 * CALMA_E_INVALID: a shape that overflows. */
int npy_read(const char *path, ir_tensor *out, calma_error *e);

/* Writes t as version 1.0 (a rank-8 header always fits). bfloat16 has no
 * .npy spelling and is refused. */
int npy_write(const char *path, const ir_tensor *t, calma_error *e);

/* The .npy descr of a dtype ("<f4"), or NULL when it has none. */
const char *npy_descr(calma_dtype dt);

#endif
