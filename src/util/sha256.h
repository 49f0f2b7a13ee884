/* sha256_: the SHA-256 digest (FIPS 180-4) of a file, for reports that must
 * say exactly which model they measured. */
#ifndef CALMA_UTIL_SHA256_H
#define CALMA_UTIL_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct sha256_ctx {
    uint32_t h[8];
    uint64_t len; /* bytes hashed so far */
    unsigned char buf[64];
    size_t fill;
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t n);
/* Writes 64 lowercase hex digits and a NUL into hex. */
void sha256_final_hex(sha256_ctx *c, char hex[65]);
/* Digest of a whole file; -1 when it cannot be read. */
int sha256_file(const char *path, char hex[65]);

#endif
