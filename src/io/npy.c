/* .npy reading and writing. The header is a Python dict literal; only the
 * small subset NumPy writes is parsed. */
#include "io/npy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"
#include "util/mem.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c reads little-endian data straight into memory"
#endif

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6

static const struct {
    const char *descr; /* without the byte-order character */
    calma_dtype dt;
} npy_types[] = {
    {"f4", CALMA_DT_FLOAT},  {"f8", CALMA_DT_DOUBLE}, {"f2", CALMA_DT_FLOAT16},
    {"i1", CALMA_DT_INT8},   {"i2", CALMA_DT_INT16},  {"i4", CALMA_DT_INT32},
    {"i8", CALMA_DT_INT64},  {"u1", CALMA_DT_UINT8},  {"u2", CALMA_DT_UINT16},
    {"u4", CALMA_DT_UINT32}, {"u8", CALMA_DT_UINT64}, {"b1", CALMA_DT_BOOL},
};

const char *npy_descr(calma_dtype dt) {
    switch (dt) {
    case CALMA_DT_FLOAT:
        return "<f4";
    case CALMA_DT_DOUBLE:
        return "<f8";
    case CALMA_DT_FLOAT16:
        return "<f2";
    case CALMA_DT_INT8:
        return "|i1";
    case CALMA_DT_INT16:
        return "<i2";
    case CALMA_DT_INT32:
        return "<i4";
    case CALMA_DT_INT64:
        return "<i8";
    case CALMA_DT_UINT8:
        return "|u1";
    case CALMA_DT_UINT16:
        return "<u2";
    case CALMA_DT_UINT32:
        return "<u4";
    case CALMA_DT_UINT64:
        return "<u8";
    case CALMA_DT_BOOL:
        return "|b1";
    default:
        return NULL;
    }
}

/* ---- header parsing ---- */

typedef struct hdr {
    const char *start, *p, *end;
    const char *path;
    calma_error *e;
} hdr;

static void skip_space(hdr *h) {
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r'))
        h->p++;
}

static int expect(hdr *h, char c) {
    skip_space(h);
    if (h->p >= h->end || *h->p != c)
        return err_set(h->e, CALMA_E_PARSE, "%s: .npy header: expected '%c' at offset %td", h->path,
                       c, h->p - h->start);
    h->p++;
    return CALMA_OK;
}

/* A quoted Python string without escapes, copied into buf. */
static int parse_str(hdr *h, char *buf, size_t n) {
    skip_space(h);
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"'))
        return err_set(h->e, CALMA_E_PARSE, "%s: .npy header: expected a quoted string", h->path);
    char q = *h->p++;
    size_t len = 0;
    while (h->p < h->end && *h->p != q) {
        if (*h->p == '\\' || len + 1 >= n)
            return err_set(h->e, CALMA_E_PARSE, "%s: .npy header: a string is too long or escaped",
                           h->path);
        buf[len++] = *h->p++;
    }
    if (h->p >= h->end)
        return err_set(h->e, CALMA_E_PARSE, "%s: .npy header: unterminated string", h->path);
    h->p++;
    buf[len] = '\0';
    return CALMA_OK;
}

static int parse_word(hdr *h, const char *w) {
    size_t n = strlen(w);
    skip_space(h);
    if ((size_t)(h->end - h->p) >= n && !memcmp(h->p, w, n)) {
        h->p += n;
        return 1;
    }
    return 0;
}

static int parse_shape(hdr *h, int *rank, int64_t *dims) {
    int rc = expect(h, '(');
    if (rc) return rc;
    *rank = 0;
    for (;;) {
        skip_space(h);
        if (h->p < h->end && *h->p == ')') {
            h->p++;
            return CALMA_OK;
        }
        if (h->p >= h->end || *h->p < '0' || *h->p > '9')
            return err_set(h->e, CALMA_E_PARSE,
                           "%s: .npy header: shape holds something other than non-negative "
                           "integers",
                           h->path);
        int64_t v = 0;
        while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
            int d = *h->p++ - '0';
            if (v > (INT64_MAX - d) / 10)
                return err_set(h->e, CALMA_E_INVALID, "%s: .npy header: dimension %d overflows",
                               h->path, *rank);
            v = v * 10 + d;
        }
        parse_word(h, "L"); /* Python 2 longs */
        if (*rank >= IR_MAX_RANK)
            return err_set(h->e, CALMA_E_UNSUPPORTED, "%s: the array has more than %d dimensions",
                           h->path, IR_MAX_RANK);
        dims[(*rank)++] = v;
        skip_space(h);
        if (h->p < h->end && *h->p == ',') h->p++;
    }
}

static int parse_descr(hdr *h, const char *d, calma_dtype *dt) {
    if (!strcmp(d, "|O") || !strcmp(d, "O") || !strcmp(d, "<O"))
        return err_set(h->e, CALMA_E_UNSUPPORTED,
                       "%s: holds Python objects (dtype '%s'); calma reads numeric arrays only",
                       h->path, d);
    char order = d[0];
    const char *code = d + 1;
    if (order != '<' && order != '|' && order != '>' && order != '=') {
        order = '=';
        code = d;
    }
    for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++) {
        if (strcmp(code, npy_types[i].descr)) continue;
        size_t sz = ir_dtype_size(npy_types[i].dt);
        if (order == '>' && sz > 1)
            return err_set(h->e, CALMA_E_UNSUPPORTED,
                           "%s: dtype '%s' is big-endian; calma reads little-endian .npy only",
                           h->path, d);
        *dt = npy_types[i].dt;
        return CALMA_OK;
    }
    return err_set(h->e, CALMA_E_UNSUPPORTED, "%s: dtype '%s' is not one calma reads", h->path, d);
}

static int parse_header(hdr *h, calma_dtype *dt, int *rank, int64_t *dims) {
    int have_descr = 0, have_order = 0, have_shape = 0, rc;
    char key[64], val[64];
    if ((rc = expect(h, '{'))) return rc;
    for (;;) {
        skip_space(h);
        if (h->p < h->end && *h->p == '}') break;
        if ((rc = parse_str(h, key, sizeof key)) || (rc = expect(h, ':'))) return rc;
        if (!strcmp(key, "descr")) {
            skip_space(h);
            if (h->p < h->end && *h->p == '[')
                return err_set(h->e, CALMA_E_UNSUPPORTED,
                               "%s: has a structured dtype; calma reads plain arrays only",
                               h->path);
            if ((rc = parse_str(h, val, sizeof val)) || (rc = parse_descr(h, val, dt))) return rc;
            have_descr = 1;
        } else if (!strcmp(key, "fortran_order")) {
            if (parse_word(h, "True"))
                return err_set(h->e, CALMA_E_UNSUPPORTED,
                               "%s: is in Fortran order; calma reads C-order arrays only", h->path);
            if (!parse_word(h, "False"))
                return err_set(h->e, CALMA_E_PARSE,
                               "%s: .npy header: fortran_order is neither True nor False", h->path);
            have_order = 1;
        } else if (!strcmp(key, "shape")) {
            if ((rc = parse_shape(h, rank, dims))) return rc;
            have_shape = 1;
        } else {
            return err_set(h->e, CALMA_E_PARSE, "%s: .npy header: unknown key '%s'", h->path, key);
        }
        skip_space(h);
        if (h->p < h->end && *h->p == ',') h->p++;
    }
    if (!have_descr || !have_order || !have_shape)
        return err_set(h->e, CALMA_E_PARSE, "%s: .npy header lacks '%s'", h->path,
                       !have_descr   ? "descr"
                       : !have_order ? "fortran_order"
                                     : "shape");
    return CALMA_OK;
}

/* ---- reading ---- */

static int read_exact(int fd, void *dst, size_t n, size_t *got) {
    uint8_t *p = dst;
    *got = 0;
    while (*got < n) {
        ssize_t r = read(fd, p + *got, n - *got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        *got += (size_t)r;
    }
    return 0;
}

static int open_npy(const char *path, int *fd_out, off_t *size, calma_error *e) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return err_set(e, CALMA_E_IO, "%s: no such file", path);
        return err_set(e, CALMA_E_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    struct stat st;
    int rc = CALMA_OK;
    if (fstat(fd, &st))
        rc = err_set(e, CALMA_E_IO, "%s: cannot stat: %s", path, strerror(errno));
    else if (S_ISDIR(st.st_mode))
        rc = err_set(e, CALMA_E_IO, "%s: is a directory, not a .npy file", path);
    else if (!S_ISREG(st.st_mode))
        rc = err_set(e, CALMA_E_IO, "%s: is not a regular file", path);
    if (rc) {
        close(fd);
        return rc;
    }
    *fd_out = fd;
    *size = st.st_size;
    return CALMA_OK;
}

int npy_read(const char *path, ir_tensor *out, calma_error *e) {
    memset(out, 0, sizeof *out);
    int fd = -1;
    off_t fsize = 0;
    int rc = open_npy(path, &fd, &fsize, e);
    if (rc) return rc;
    uint8_t pre[12];
    size_t got;
    char *text = NULL;
    ir_tensor t = {0};
    if (read_exact(fd, pre, 10, &got)) {
        rc = err_set(e, CALMA_E_IO, "%s: cannot read: %s", path, strerror(errno));
        goto done;
    }
    if (got == 0) {
        rc = err_set(e, CALMA_E_PARSE, "%s: the file is empty", path);
        goto done;
    }
    if (got < 8 || memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN)) {
        rc = err_set(e, CALMA_E_PARSE, "%s: not a .npy file (no \\x93NUMPY magic)", path);
        goto done;
    }
    int major = pre[6], minor = pre[7];
    size_t hlen, hstart;
    if (major == 1) {
        if (got < 10) goto truncated;
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
        hstart = 10;
    } else if (major == 2 || major == 3) {
        size_t more;
        if (got < 10 || read_exact(fd, pre + 10, 2, &more) || more < 2) goto truncated;
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
        hstart = 12;
    } else {
        rc = err_set(e, CALMA_E_UNSUPPORTED, "%s: .npy format version %d.%d is not one calma reads",
                     path, major, minor);
        goto done;
    }
    if ((uint64_t)fsize < hstart || hlen > (uint64_t)fsize - hstart) goto truncated;
    text = malloc(hlen + 1);
    if (!text) {
        rc = err_set(e, CALMA_E_NOMEM, "%s: out of memory reading the header", path);
        goto done;
    }
    if (read_exact(fd, text, hlen, &got) || got != hlen) goto truncated;
    text[hlen] = '\0';
    calma_dtype dt = CALMA_DT_UNDEFINED;
    int rank = 0;
    int64_t dims[IR_MAX_RANK];
    hdr h = {text, text, text + hlen, path, e};
    if ((rc = parse_header(&h, &dt, &rank, dims))) goto done;
    /* The header is a claim: hold it against the file before allocating,
     * so a 100-byte file cannot ask for gigabytes. */
    ir_tensor shape = {.dtype = dt, .rank = rank};
    memcpy(shape.dims, dims, sizeof(int64_t) * (size_t)rank);
    size_t numel;
    if ((rc = ir_shape_numel(rank, dims, &numel, e))) {
        err_prefix(e, "%s", path);
        goto done;
    }
    if (numel > SIZE_MAX / ir_dtype_size(dt)) {
        rc = err_set(e, CALMA_E_INVALID, "%s: .npy header: the array's size overflows", path);
        goto done;
    }
    shape.nbytes = numel * ir_dtype_size(dt);
    uint64_t data_bytes = (uint64_t)fsize - hstart - hlen;
    if (data_bytes != shape.nbytes) {
        char desc[128];
        rc = err_set(e, CALMA_E_PARSE,
                     "%s: %sthe header says %s (%zu bytes) but the file holds %llu bytes of data",
                     path, data_bytes < shape.nbytes ? "truncated: " : "",
                     ir_tensor_desc(&shape, desc, sizeof desc), shape.nbytes,
                     (unsigned long long)data_bytes);
        goto done;
    }
    if ((rc = ir_tensor_alloc(&t, dt, rank, dims, e))) {
        err_prefix(e, "%s", path);
        goto done;
    }
    if (read_exact(fd, t.data, t.nbytes, &got) || got != t.nbytes) goto truncated;
    *out = t;
    memset(&t, 0, sizeof t);
    goto done;
truncated:
    rc = err_set(e, CALMA_E_PARSE, "%s: truncated .npy file", path);
done:
    ir_tensor_free(&t);
    free(text);
    close(fd);
    return rc;
}

/* ---- writing ---- */

int npy_write(const char *path, const ir_tensor *t, calma_error *e) {
    const char *descr = npy_descr(t->dtype);
    if (!descr)
        return err_set(e, CALMA_E_UNSUPPORTED, "%s: dtype %s has no .npy spelling", path,
                       ir_dtype_name(t->dtype));
    size_t n, bytes;
    int rc = ir_shape_numel(t->rank, t->dims, &n, e);
    if (rc) {
        err_prefix(e, "%s", path);
        return rc;
    }
    if (mem_mul_size(n, ir_dtype_size(t->dtype), &bytes) || (bytes && !t->data) ||
        t->nbytes < bytes)
        return err_set(e, CALMA_E_INVALID, "%s: the tensor holds %zu bytes, its shape needs %zu",
                       path, t->data ? t->nbytes : 0, bytes);
    char shape[IR_MAX_RANK * 24 + 8];
    size_t used = 0;
    shape[used++] = '(';
    for (int i = 0; i < t->rank; i++)
        used += (size_t)snprintf(shape + used, sizeof shape - used, i ? ", %lld" : "%lld",
                                 (long long)t->dims[i]);
    if (t->rank == 1) shape[used++] = ',';
    shape[used++] = ')';
    shape[used] = '\0';
    char dict[sizeof shape + 128];
    int dl = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                      descr, shape);
    /* Pad with spaces so the data starts at a multiple of 64 bytes. */
    size_t total = 10 + (size_t)dl + 1;
    size_t padded = (total + 63) / 64 * 64;
    size_t hlen = padded - 10;
    uint8_t head[10 + sizeof dict + 64];
    memcpy(head, NPY_MAGIC, NPY_MAGIC_LEN);
    head[6] = 1;
    head[7] = 0;
    head[8] = (uint8_t)(hlen & 0xff);
    head[9] = (uint8_t)(hlen >> 8);
    memcpy(head + 10, dict, (size_t)dl);
    memset(head + 10 + dl, ' ', hlen - (size_t)dl - 1);
    head[padded - 1] = '\n';

    FILE *f = fopen(path, "wb");
    if (!f) return err_set(e, CALMA_E_IO, "%s: cannot create: %s", path, strerror(errno));
    int bad = fwrite(head, 1, padded, f) != padded;
    if (!bad && bytes) bad = fwrite(t->data, 1, bytes, f) != bytes;
    if (fclose(f)) bad = 1;
    if (bad) {
        int err = errno;
        unlink(path);
        return err_set(e, CALMA_E_IO, "%s: cannot write: %s", path, strerror(err));
    }
    return CALMA_OK;
}
