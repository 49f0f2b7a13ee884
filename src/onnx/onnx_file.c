/* Files: whole-file reads, nesting checks before unpacking, and external
 * data that must stay inside the model's folder. */
#include "onnx/onnx_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"
#include "util/mem.h"

static void *pb_alloc(void *data, size_t size) {
    (void)data;
    return malloc(size ? size : 1);
}

static void pb_free(void *data, void *p) {
    (void)data;
    free(p);
}

ProtobufCAllocator onnx_pb_allocator(void) {
    ProtobufCAllocator a = {pb_alloc, pb_free, NULL};
    return a;
}

/* Opens a regular file for reading; a FIFO or device must not block us. */
static int open_regular(const char *path, int *fd_out, off_t *size, const char *what,
                        calma_error *e) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return err_set(e, CALMA_E_IO, "%s: no such %s", path, what);
        return err_set(e, CALMA_E_IO, "%s: cannot open %s: %s", path, what, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st)) {
        int rc = err_set(e, CALMA_E_IO, "%s: cannot stat %s: %s", path, what, strerror(errno));
        close(fd);
        return rc;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return err_set(e, CALMA_E_IO, "%s: is a directory, not a %s", path, what);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return err_set(e, CALMA_E_IO, "%s: is not a regular file", path);
    }
    *fd_out = fd;
    *size = st.st_size;
    return CALMA_OK;
}

static int read_fully(int fd, void *dst, size_t n, off_t offset) {
    uint8_t *p = dst;
    while (n) {
        size_t chunk = n > ((size_t)1 << 30) ? ((size_t)1 << 30) : n;
        ssize_t r = pread(fd, p, chunk, offset);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1; /* error, or the file shrank under us */
        p += r;
        n -= (size_t)r;
        offset += r;
    }
    return 0;
}

int onnx_read_file(const char *path, uint8_t **buf, size_t *len, calma_error *e) {
    int fd;
    off_t size;
    *buf = NULL;
    *len = 0;
    int rc = open_regular(path, &fd, &size, "file", e);
    if (rc) return rc;
    if (size == 0) {
        close(fd);
        return err_set(e, CALMA_E_PARSE, "%s: the file is empty", path);
    }
    if ((uint64_t)size > SIZE_MAX) {
        close(fd);
        return err_set(e, CALMA_E_IO, "%s: the file is too large to read", path);
    }
    uint8_t *p = malloc((size_t)size);
    if (!p) {
        close(fd);
        return err_set(e, CALMA_E_NOMEM, "%s: out of memory reading %lld bytes", path,
                       (long long)size);
    }
    if (read_fully(fd, p, (size_t)size, 0)) {
        rc = err_set(e, CALMA_E_IO, "%s: cannot read: %s", path,
                     errno ? strerror(errno) : "file shrank while reading");
        free(p);
        close(fd);
        return rc;
    }
    close(fd);
    *buf = p;
    *len = (size_t)size;
    return CALMA_OK;
}

/* ---- nesting check ---- */

static int read_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *v) {
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*pos >= len) return -1;
        uint8_t b = p[(*pos)++];
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

/* 1: too deep; 0: fine or malformed (protobuf-c will say). */
static int nesting_exceeds(const uint8_t *p, size_t len, const ProtobufCMessageDescriptor *desc,
                           int depth_left) {
    if (depth_left < 0) return 1;
    size_t pos = 0;
    while (pos < len) {
        uint64_t tag, v;
        if (read_varint(p, len, &pos, &tag)) return 0;
        switch (tag & 7) {
        case 0:
            if (read_varint(p, len, &pos, &v)) return 0;
            break;
        case 1:
            if (len - pos < 8) return 0;
            pos += 8;
            break;
        case 5:
            if (len - pos < 4) return 0;
            pos += 4;
            break;
        case 2: {
            if (read_varint(p, len, &pos, &v) || v > len - pos) return 0;
            uint64_t number = tag >> 3;
            const ProtobufCFieldDescriptor *f =
                number <= UINT32_MAX
                    ? protobuf_c_message_descriptor_get_field(desc, (unsigned)number)
                    : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
                nesting_exceeds(p + pos, (size_t)v, f->descriptor, depth_left - 1))
                return 1;
            pos += (size_t)v;
            break;
        }
        default:
            return 0;
        }
    }
    return 0;
}

int onnx_check_nesting(const uint8_t *buf, size_t len, const ProtobufCMessageDescriptor *desc,
                       int max_depth, calma_error *e) {
    if (nesting_exceeds(buf, len, desc, max_depth))
        return err_set(e, CALMA_E_PARSE, "messages are nested more than %d deep", max_depth);
    return CALMA_OK;
}

/* ---- external data ---- */

char *onnx_dirname(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return mem_strdup(".");
    if (slash == path) return mem_strdup("/");
    return mem_strndup(path, (size_t)(slash - path));
}

/* Strict non-negative decimal, as ONNX stores offset and length. */
static int parse_u64(const char *s, uint64_t *out) {
    if (!s || !*s) return -1;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Refuses what could leave the folder before touching the file system:
 * an absolute path or any ".." component. */
static int location_is_plain(const char *loc) {
    if (loc[0] == '/') return 0;
    const char *p = loc;
    while (*p) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') return 0;
        if (!end) break;
        p = end + 1;
    }
    return 1;
}

int onnx_read_external(const Onnx__TensorProto *tp, const char *dir, size_t nbytes, void **data,
                       calma_error *e) {
    *data = NULL;
    const char *loc = NULL, *off_s = NULL, *len_s = NULL;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const Onnx__StringStringEntryProto *kv = tp->external_data[i];
        if (!kv->key) continue;
        if (!strcmp(kv->key, "location"))
            loc = kv->value;
        else if (!strcmp(kv->key, "offset"))
            off_s = kv->value;
        else if (!strcmp(kv->key, "length"))
            len_s = kv->value;
    }
    if (!loc || !*loc) return err_set(e, CALMA_E_INVALID, "external data has no location");
    if (loc[0] == '/')
        return err_set(e, CALMA_E_INVALID,
                       "external data location '%s' is an absolute path; only paths inside the "
                       "model's folder are allowed",
                       loc);
    if (!location_is_plain(loc))
        return err_set(e, CALMA_E_INVALID,
                       "external data location '%s' escapes the model's folder ('..')", loc);
    uint64_t offset = 0, length = nbytes;
    if (off_s && parse_u64(off_s, &offset))
        return err_set(e, CALMA_E_INVALID, "external data offset '%s' is not a number", off_s);
    if (len_s && parse_u64(len_s, &length))
        return err_set(e, CALMA_E_INVALID, "external data length '%s' is not a number", len_s);
    if (length != nbytes)
        return err_set(e, CALMA_E_INVALID,
                       "external data in '%s' has length %llu, the tensor's shape needs %zu bytes",
                       loc, (unsigned long long)length, nbytes);

    int rc = CALMA_OK, fd = -1;
    char *full = NULL, *real_dir = NULL, *real_file = NULL;
    size_t dl = strlen(dir), ll = strlen(loc);
    full = malloc(dl + ll + 2);
    if (!full) return err_set(e, CALMA_E_NOMEM, "out of memory");
    memcpy(full, dir, dl);
    full[dl] = '/';
    memcpy(full + dl + 1, loc, ll + 1);
    real_dir = realpath(dir, NULL);
    if (!real_dir) {
        rc = err_set(e, CALMA_E_IO, "cannot resolve folder '%s': %s", dir, strerror(errno));
        goto done;
    }
    real_file = realpath(full, NULL);
    if (!real_file) {
        if (errno == ENOENT)
            rc = err_set(e, CALMA_E_IO, "external data file '%s' is missing", full);
        else
            rc = err_set(e, CALMA_E_IO, "cannot resolve external data file '%s': %s", full,
                         strerror(errno));
        goto done;
    }
    /* A symlink inside the folder may still point outside it. */
    size_t rl = strlen(real_dir);
    int inside = strcmp(real_dir, "/") == 0 ||
                 (strncmp(real_file, real_dir, rl) == 0 && real_file[rl] == '/');
    if (!inside) {
        rc = err_set(e, CALMA_E_INVALID,
                     "external data location '%s' resolves to '%s', outside the model's folder",
                     loc, real_file);
        goto done;
    }
    off_t size;
    rc = open_regular(real_file, &fd, &size, "external data file", e);
    if (rc) goto done;
    /* A hard link is a second name of a file that may live anywhere on the
     * file system; nothing in the folder tells where. */
    struct stat st;
    if (fstat(fd, &st) == 0 && st.st_nlink > 1) {
        rc = err_set(e, CALMA_E_INVALID,
                     "external data file '%s' is a hard link (%lu names): it may be a file from "
                     "outside the model's folder; copy the data instead",
                     full, (unsigned long)st.st_nlink);
        goto done;
    }
    if (offset > (uint64_t)INT64_MAX || offset > (uint64_t)size) {
        rc = err_set(e, CALMA_E_INVALID,
                     "external data offset %llu is beyond the end of '%s' (%lld bytes)",
                     (unsigned long long)offset, full, (long long)size);
        goto done;
    }
    if (length > (uint64_t)size - offset) {
        rc = err_set(e, CALMA_E_INVALID,
                     "external data '%s' holds %lld bytes; offset %llu + length %llu runs past "
                     "its end",
                     full, (long long)size, (unsigned long long)offset, (unsigned long long)length);
        goto done;
    }
    void *dst = malloc(nbytes ? nbytes : 1);
    if (!dst) {
        rc = err_set(e, CALMA_E_NOMEM, "out of memory reading %zu bytes of external data", nbytes);
        goto done;
    }
    if (nbytes && read_fully(fd, dst, nbytes, (off_t)offset)) {
        rc = err_set(e, CALMA_E_IO, "cannot read external data file '%s'", full);
        free(dst);
        goto done;
    }
    *data = dst;
done:
    if (fd >= 0) close(fd);
    free(full);
    free(real_dir);
    free(real_file);
    return rc;
}
