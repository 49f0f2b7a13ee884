/* The trial's options string, as far as ONNX Runtime is concerned. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "backends/ort/ort_internal.h"
#include "util/err.h"

static int parse_bool(const char *v, size_t n, int *out) {
    static const char *const yes[] = {"1", "on", "true", "yes"};
    static const char *const no[] = {"0", "off", "false", "no"};
    for (size_t i = 0; i < 4; i++) {
        if (strlen(yes[i]) == n && !strncasecmp(v, yes[i], n)) return *out = 1, 0;
        if (strlen(no[i]) == n && !strncasecmp(v, no[i], n)) return *out = 0, 0;
    }
    return -1;
}

static int parse_log(const char *v, size_t n, int *out) {
    static const char *const names[] = {"verbose", "info", "warning", "error", "fatal"};
    for (int i = 0; i < 5; i++)
        if (strlen(names[i]) == n && !strncasecmp(v, names[i], n)) return *out = i, 0;
    return -1;
}

static int key_is(const char *k, size_t n, const char *name) {
    return strlen(name) == n && !strncmp(k, name, n);
}

int ortbe_parse_options(const char *s, ortbe_options *o, calma_error *e) {
    o->spin = 0;
    o->log_level = 3;
    if (!s) return CALMA_OK;
    while (*s) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        const char *eq = memchr(s, '=', len);
        const char *k = s;
        size_t kn = eq ? (size_t)(eq - s) : len;
        const char *v = eq ? eq + 1 : "1"; /* a bare key means on */
        size_t vn = eq ? len - kn - 1 : 1;
        int bad = 0, known = 1;
        if (key_is(k, kn, "spin") || key_is(k, kn, "ort.spin"))
            bad = parse_bool(v, vn, &o->spin);
        else if (key_is(k, kn, "ort.log"))
            bad = parse_log(v, vn, &o->log_level);
        else
            known = 0;
        if (bad)
            return err_set(e, CALMA_E_USAGE, "option '%.*s': bad value '%.*s' for ONNX Runtime",
                           (int)len, s, (int)vn, v);
        if (!known && kn > 4 && !strncmp(k, "ort.", 4))
            return err_set(e, CALMA_E_USAGE,
                           "option '%.*s': unknown to ONNX Runtime (known: spin=0|1, "
                           "ort.log=verbose|info|warning|error)",
                           (int)len, s);
        s = end ? end + 1 : s + len;
    }
    return CALMA_OK;
}
