/* npy_read / npy_write: round trips for every dtype, files as NumPy writes
 * them (v1, v2, v3 headers), and every kind of broken file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/npy.h"

typedef struct fixture {
    char dir[256];
    char path[512];
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    const char *base = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/calma-npy-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->path, sizeof f->path, "%s/a.npy", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    if (n) assert_int_equal(fwrite(data, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

/* A .npy file: magic, version, header dict (padded to 64 like NumPy), data. */
static size_t make_npy(uint8_t *out, int major, const char *dict, const void *data, size_t n) {
    size_t pre = major == 1 ? 10 : 12;
    size_t dl = strlen(dict);
    size_t total = (pre + dl + 1 + 63) / 64 * 64;
    size_t hlen = total - pre;
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (uint8_t)major;
    out[7] = 0;
    if (major == 1) {
        out[8] = (uint8_t)hlen;
        out[9] = (uint8_t)(hlen >> 8);
    } else {
        out[8] = (uint8_t)hlen;
        out[9] = (uint8_t)(hlen >> 8);
        out[10] = 0;
        out[11] = 0;
    }
    memcpy(out + pre, dict, dl);
    memset(out + pre + dl, ' ', hlen - dl - 1);
    out[total - 1] = '\n';
    if (n) memcpy(out + total, data, n);
    return total + n;
}

static void expect_read(fixture *f, int status, const char *word) {
    calma_error e = {0};
    ir_tensor t;
    int rc = npy_read(f->path, &t, &e);
    if (rc != status)
        fail_msg("expected %s, got %s: %s", calma_status_name(status), calma_status_name(rc),
                 e.msg);
    assert_null(t.data);
    assert_memory_equal(e.msg, f->path, strlen(f->path));
    if (word && !strstr(e.msg, word)) fail_msg("'%s' not in: %s", word, e.msg);
}

static void test_roundtrip_all_dtypes(void **state) {
    fixture *f = *state;
    calma_dtype dts[] = {CALMA_DT_FLOAT,  CALMA_DT_DOUBLE, CALMA_DT_FLOAT16, CALMA_DT_INT8,
                         CALMA_DT_INT16,  CALMA_DT_INT32,  CALMA_DT_INT64,   CALMA_DT_UINT8,
                         CALMA_DT_UINT16, CALMA_DT_UINT32, CALMA_DT_UINT64,  CALMA_DT_BOOL};
    calma_error e = {0};
    for (size_t k = 0; k < sizeof dts / sizeof dts[0]; k++) {
        ir_tensor t = {0}, u;
        int64_t d[] = {2, 3, 1};
        assert_int_equal(ir_tensor_alloc(&t, dts[k], 3, d, &e), CALMA_OK);
        for (size_t i = 0; i < t.nbytes; i++) ((uint8_t *)t.data)[i] = (uint8_t)(i * 37 + k);
        if (dts[k] == CALMA_DT_BOOL)
            for (size_t i = 0; i < t.nbytes; i++) ((uint8_t *)t.data)[i] &= 1;
        assert_int_equal(npy_write(f->path, &t, &e), CALMA_OK);
        assert_int_equal(npy_read(f->path, &u, &e), CALMA_OK);
        assert_true(ir_tensor_same_shape(&t, &u));
        assert_int_equal(u.nbytes, t.nbytes);
        assert_memory_equal(u.data, t.data, t.nbytes);
        ir_tensor_free(&t);
        ir_tensor_free(&u);
    }
    /* scalar and 1-D: "()" and "(5,)" */
    ir_tensor s = {0}, u;
    assert_int_equal(ir_tensor_alloc(&s, CALMA_DT_FLOAT, 0, NULL, &e), CALMA_OK);
    *(float *)s.data = 2.5f;
    assert_int_equal(npy_write(f->path, &s, &e), CALMA_OK);
    assert_int_equal(npy_read(f->path, &u, &e), CALMA_OK);
    assert_int_equal(u.rank, 0);
    assert_true(*(float *)u.data == 2.5f);
    ir_tensor_free(&u);
    ir_tensor_free(&s);
    assert_int_equal(ir_tensor_alloc(&s, CALMA_DT_INT64, 1, (int64_t[]){5}, &e), CALMA_OK);
    assert_int_equal(npy_write(f->path, &s, &e), CALMA_OK);
    assert_int_equal(npy_read(f->path, &u, &e), CALMA_OK);
    assert_int_equal(u.rank, 1);
    assert_int_equal(u.dims[0], 5);
    ir_tensor_free(&u);
    ir_tensor_free(&s);
    /* empty array */
    assert_int_equal(ir_tensor_alloc(&s, CALMA_DT_FLOAT, 2, (int64_t[]){0, 4}, &e), CALMA_OK);
    assert_int_equal(npy_write(f->path, &s, &e), CALMA_OK);
    assert_int_equal(npy_read(f->path, &u, &e), CALMA_OK);
    assert_int_equal(u.dims[0], 0);
    assert_int_equal(u.nbytes, 0);
    ir_tensor_free(&u);
    ir_tensor_free(&s);
}

static void test_written_header(void **state) {
    fixture *f = *state;
    calma_error e = {0};
    ir_tensor t = {0};
    assert_int_equal(ir_tensor_alloc(&t, CALMA_DT_FLOAT, 2, (int64_t[]){2, 3}, &e), CALMA_OK);
    assert_int_equal(npy_write(f->path, &t, &e), CALMA_OK);
    ir_tensor_free(&t);
    uint8_t buf[256];
    FILE *fp = fopen(f->path, "rb");
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    assert_int_equal(n, 128 + 24); /* 10 + 60 + newline, padded to 64 */
    assert_memory_equal(buf, "\x93NUMPY\x01\x00", 8);
    assert_int_equal(buf[8] | buf[9] << 8, 118);
    assert_int_equal(buf[127], '\n');
    const char *want = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    assert_memory_equal(buf + 10, want, strlen(want));
    /* bfloat16 has no .npy name */
    assert_int_equal(ir_tensor_alloc(&t, CALMA_DT_BFLOAT16, 1, (int64_t[]){1}, &e), CALMA_OK);
    assert_int_equal(npy_write(f->path, &t, &e), CALMA_E_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "bfloat16"));
    ir_tensor_free(&t);
}

static void test_numpy_layouts(void **state) {
    fixture *f = *state;
    uint8_t buf[1024];
    calma_error e = {0};
    ir_tensor t;
    int32_t v[] = {1, -2, 3, -4};
    /* v2 and v3 headers, keys in another order, double quotes, no trailing
     * comma: all spellings NumPy (or hand-written files) use. */
    size_t n =
        make_npy(buf, 2, "{'shape': (2, 2), 'fortran_order': False, 'descr': '<i4'}", v, sizeof v);
    write_file(f->path, buf, n);
    assert_int_equal(npy_read(f->path, &t, &e), CALMA_OK);
    assert_int_equal(t.dtype, CALMA_DT_INT32);
    assert_int_equal(((int32_t *)t.data)[3], -4);
    ir_tensor_free(&t);
    n = make_npy(buf, 3, "{\"descr\": \"<i4\", \"fortran_order\": False, \"shape\": (4,), }", v,
                 sizeof v);
    write_file(f->path, buf, n);
    assert_int_equal(npy_read(f->path, &t, &e), CALMA_OK);
    assert_int_equal(t.rank, 1);
    ir_tensor_free(&t);
    uint8_t b[] = {1, 0, 1};
    n = make_npy(buf, 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", b, 3);
    write_file(f->path, buf, n);
    assert_int_equal(npy_read(f->path, &t, &e), CALMA_OK);
    assert_int_equal(t.dtype, CALMA_DT_BOOL);
    ir_tensor_free(&t);
    n = make_npy(buf, 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", b, 3);
    write_file(f->path, buf, n);
    assert_int_equal(npy_read(f->path, &t, &e), CALMA_OK);
    assert_int_equal(t.dtype, CALMA_DT_UINT8);
    ir_tensor_free(&t);
}

static void test_bad_files(void **state) {
    fixture *f = *state;
    uint8_t buf[1024];
    float v[4] = {0};
    size_t n;

    write_file(f->path, "", 0);
    expect_read(f, CALMA_E_PARSE, "empty");
    write_file(f->path, "hello world, not numpy", 22);
    expect_read(f, CALMA_E_PARSE, "not a .npy file");
    n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", v, sizeof v);
    write_file(f->path, buf, n);
    expect_read(f, CALMA_E_UNSUPPORTED, "Fortran order");
    n = make_npy(buf, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2), }", v,
                 sizeof v);
    write_file(f->path, buf, n);
    expect_read(f, CALMA_E_UNSUPPORTED, "big-endian");
    n = make_npy(buf, 1, "{'descr': '|O', 'fortran_order': False, 'shape': (2, 2), }", v, sizeof v);
    write_file(f->path, buf, n);
    expect_read(f, CALMA_E_UNSUPPORTED, "objects");
    n = make_npy(buf, 1, "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", v, sizeof v);
    write_file(f->path, buf, n);
    expect_read(f, CALMA_E_UNSUPPORTED, "'<c8'");
    n = make_npy(buf, 1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", v,
                 8);
    write_file(f->path, buf, n);
    expect_read(f, CALMA_E_UNSUPPORTED, "structured");
    /* truncated data: header says 2x2 floats, file has 3 */
    n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", v, 12);
    write_file(f->path, buf, n);
    expect_read(f, CALMA_E_PARSE, "truncated");
    /* header lies the other way: more data than the shape */
    n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", v, sizeof v);
    write_file(f->path, buf, n);
    expect_read(f, CALMA_E_PARSE, "float32[3]");
    /* header length beyond the file */
    n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", v, 4);
    buf[9] = 0x10;
    write_file(f->path, buf, n);
    expect_read(f, CALMA_E_PARSE, "truncated");
    /* cut inside the magic / version */
    write_file(f->path, "\x93NUMPY\x01", 7);
    expect_read(f, CALMA_E_PARSE, NULL);
    n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", v, 4);
    buf[6] = 9;
    write_file(f->path, buf, n);
    expect_read(f, CALMA_E_UNSUPPORTED, "version 9");
    n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", v, 4);
    write_file(f->path, buf, n);
    expect_read(f, CALMA_E_PARSE, "shape");
    n = make_npy(buf, 1,
                 "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999, "
                 "99999999999), }",
                 v, 4);
    write_file(f->path, buf, n);
    expect_read(f, CALMA_E_INVALID, "overflow");
    n = make_npy(buf, 1,
                 "{'descr': '<f4', 'fortran_order': False, 'shape': "
                 "(99999999999999999999999,), }",
                 v, 4);
    write_file(f->path, buf, n);
    expect_read(f, CALMA_E_INVALID, "overflow");
    n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }",
                 v, 4);
    write_file(f->path, buf, n);
    expect_read(f, CALMA_E_UNSUPPORTED, "more than 8");
    n = make_npy(buf, 1, "{'descr': '<f4', 'shape': (1,), }", v, 4);
    write_file(f->path, buf, n);
    expect_read(f, CALMA_E_PARSE, "fortran_order");
    n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", v, 4);
    write_file(f->path, buf, n);
    expect_read(f, CALMA_E_PARSE, "unknown key");
    n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,", v, 4);
    write_file(f->path, buf, n);
    expect_read(f, CALMA_E_PARSE, "header");

    calma_error e = {0};
    ir_tensor t;
    assert_int_equal(npy_read(f->dir, &t, &e), CALMA_E_IO);
    assert_non_null(strstr(e.msg, "directory"));
    char missing[600];
    snprintf(missing, sizeof missing, "%s/none.npy", f->dir);
    assert_int_equal(npy_read(missing, &t, &e), CALMA_E_IO);
    assert_non_null(strstr(e.msg, "no such file"));
    assert_non_null(strstr(e.msg, missing));
    ir_tensor w = {0};
    assert_int_equal(ir_tensor_alloc(&w, CALMA_DT_FLOAT, 1, (int64_t[]){1}, &e), CALMA_OK);
    snprintf(missing, sizeof missing, "%s/no/such/dir.npy", f->dir);
    assert_int_equal(npy_write(missing, &w, &e), CALMA_E_IO);
    assert_non_null(strstr(e.msg, missing));
    ir_tensor_free(&w);
}

/* Every prefix of a valid file and every single-byte corruption of its
 * header is refused or read, never crashes. */
static void test_corruptions(void **state) {
    fixture *f = *state;
    uint8_t buf[256], mut[256];
    float v[6] = {1, 2, 3, 4, 5, 6};
    size_t n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", v,
                        sizeof v);
    calma_error e = {0};
    ir_tensor t;
    for (size_t cut = 0; cut < n; cut++) {
        write_file(f->path, buf, cut);
        assert_int_not_equal(npy_read(f->path, &t, &e), CALMA_OK);
        assert_null(t.data);
    }
    for (size_t i = 0; i < 64; i++) {
        for (int val = 0; val < 256; val += 51) {
            memcpy(mut, buf, n);
            mut[i] = (uint8_t)val;
            write_file(f->path, mut, n);
            if (npy_read(f->path, &t, &e) == CALMA_OK)
                ir_tensor_free(&t);
            else
                assert_memory_equal(e.msg, f->path, strlen(f->path));
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip_all_dtypes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_written_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_numpy_layouts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corruptions, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
