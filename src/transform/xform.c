/* The transforms by name, their options, and xform_apply: BatchNormalization
 * folding first, then the transform's own pass (calibrating for INT8). */
#include "transform/xform.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "transform/xform_internal.h"
#include "util/err.h"

static const xform_info infos[] = {
    {"FP16", XFORM_FP16, "fp16",
     "weights and activations in float16, float32 at the model's inputs and outputs; ops without "
     "a safe float16 form stay float32"},
    {"BF16", XFORM_BF16, "bf16",
     "the same in bfloat16, for the ops ONNX gives a bfloat16 form (Conv has none before opset "
     "22)"},
    {"INT8", XFORM_INT8, "int8",
     "static quantization (QDQ): per-channel int8 weights, per-tensor uint8 activations "
     "calibrated with the oracle"},
};

int xform_count(void) {
    return (int)(sizeof infos / sizeof infos[0]);
}

const xform_info *xform_at(int i) {
    return i >= 0 && i < xform_count() ? &infos[i] : NULL;
}

const xform_info *xform_find(const char *name) {
    char c[32];
    size_t i = 0;
    for (; name[i] && i + 1 < sizeof c; i++)
        c[i] = name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);
    c[i] = '\0';
    if (name[i]) return NULL;
    for (int k = 0; k < xform_count(); k++)
        if (!strcmp(infos[k].name, c)) return &infos[k];
    return NULL;
}

/* ---- options ---- */

static int key_is(const char *k, size_t n, const char *name) {
    return strlen(name) == n && !strncmp(k, name, n);
}

static int val_is(const char *v, size_t n, const char *name) {
    return strlen(name) == n && !strncasecmp(v, name, n);
}

static int parse_one(xform_opts *o, const char *k, size_t kn, const char *v, size_t vn,
                     calma_error *e) {
    if (key_is(k, kn, "xform.calibrate")) {
        if (val_is(v, vn, "minmax"))
            o->calib.method = XFORM_CALIB_MINMAX;
        else if (val_is(v, vn, "percentile"))
            o->calib.method = XFORM_CALIB_PERCENTILE;
        else
            return err_set(e, CALMA_E_USAGE,
                           "option xform.calibrate='%.*s': give minmax or percentile", (int)vn, v);
    } else if (key_is(k, kn, "xform.percentile")) {
        char buf[64], *end;
        snprintf(buf, sizeof buf, "%.*s", (int)(vn < 63 ? vn : 63), v);
        errno = 0;
        double p = strtod(buf, &end);
        if (errno || end == buf || *end || !(p > 50 && p <= 100))
            return err_set(e, CALMA_E_USAGE,
                           "option xform.percentile='%s': give a share in percent above 50 and "
                           "at most 100, e.g. 99.99",
                           buf);
        o->calib.percentile = p;
    } else if (key_is(k, kn, "xform.activations")) {
        if (val_is(v, vn, "uint8") || val_is(v, vn, "u8"))
            o->act = CALMA_DT_UINT8;
        else if (val_is(v, vn, "int8") || val_is(v, vn, "s8"))
            o->act = CALMA_DT_INT8;
        else
            return err_set(e, CALMA_E_USAGE, "option xform.activations='%.*s': give uint8 or int8",
                           (int)vn, v);
    } else if (key_is(k, kn, "xform.test_break")) {
#ifdef CALMA_TEST_HOOKS
        o->test_break = !(vn == 1 && v[0] == '0');
#else
        return err_set(e, CALMA_E_USAGE,
                       "option xform.test_break exists only in builds with CALMA_TEST_HOOKS");
#endif
    } else {
        return err_set(e, CALMA_E_USAGE,
                       "option '%.*s': unknown to the transforms (known: xform.calibrate=minmax|"
                       "percentile, xform.percentile=P, xform.activations=uint8|int8)",
                       (int)kn, k);
    }
    return CALMA_OK;
}

int xform_parse_options(const char *s, xform_opts *o, calma_error *e) {
    memset(o, 0, sizeof *o);
    xform_calib_defaults(&o->calib);
    o->act = CALMA_DT_UINT8;
    while (s && *s) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        const char *eq = memchr(s, '=', len);
        size_t kn = eq ? (size_t)(eq - s) : len;
        const char *v = eq ? eq + 1 : "1";
        size_t vn = eq ? len - kn - 1 : 1;
        if (kn > 6 && !strncmp(s, "xform.", 6)) {
            int rc = parse_one(o, s, kn, v, vn, e);
            if (rc) return rc;
        }
        s = end ? end + 1 : s + len;
    }
    return CALMA_OK;
}

void xform_opts_describe(const xform_info *x, const xform_opts *o, char *buf, size_t n) {
    if (x->kind != XFORM_INT8) {
        snprintf(buf, n, "%s", x->name);
        return;
    }
    snprintf(buf, n,
             "%s activations=%s calibration=%d method=%s percentile=%.17g seed=%llu "
             "user_inputs=%d break=%d",
             x->name, o->act == CALMA_DT_INT8 ? "int8" : "uint8", o->calib.batches,
             o->calib.method == XFORM_CALIB_PERCENTILE ? "percentile" : "minmax",
             o->calib.percentile, (unsigned long long)o->calib.seed, o->calib.n_inputs,
             o->test_break);
}

/* ---- the report ---- */

void xform_report_keep(xform_report *rep, const char *op, const char *why) {
    rep->kept++;
    for (int k = 0; k < rep->n_kept_ops; k++)
        if (!strcmp(rep->kept_ops[k].op, op) && !strcmp(rep->kept_ops[k].why, why)) {
            rep->kept_ops[k].count++;
            return;
        }
    if (rep->n_kept_ops >= XFORM_REPORT_MAX_KEPT) return;
    xform_kept *k = &rep->kept_ops[rep->n_kept_ops++];
    snprintf(k->op, sizeof k->op, "%s", op);
    snprintf(k->why, sizeof k->why, "%s", why);
    k->count = 1;
}

/* ---- applying ---- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int int8(const ir_graph *g, const xform_opts *o, const xform_ranges *given, ir_graph **out,
                xform_ranges *ranges_out, xform_report *rep, calma_error *e) {
    xform_ranges own = {0};
    const xform_ranges *r = given;
    if (!r) {
        char **names = NULL;
        int n = 0;
        int rc = xform_int8_plan(g, o, &names, &n, e);
        double t0 = now_s();
        if (!rc) rc = xform_calibrate(g, (const char *const *)names, n, &o->calib, &own, e);
        rep->calib_s = now_s() - t0;
        xform_names_free(names, n);
        if (rc) return rc;
        r = &own;
    }
    rep->calib_batches = r->batches;
    int rc = xform_int8_apply(g, o, r, out, rep, e);
    if (!rc && ranges_out && r == &own) {
        *ranges_out = own;
        memset(&own, 0, sizeof own);
    }
    xform_ranges_free(&own);
    return rc;
}

int xform_apply(const xform_info *x, const ir_graph *g, const xform_opts *o,
                const xform_ranges *ranges, ir_graph **out, xform_ranges *ranges_out,
                xform_report *rep, calma_error *e) {
    *out = NULL;
    memset(rep, 0, sizeof *rep);
    if (ranges_out) memset(ranges_out, 0, sizeof *ranges_out);
    ir_graph *folded = NULL;
    int rc = xform_fold_bn(g, &folded, &rep->folded_bn, e);
    if (rc) return err_prefix(e, "%s: folding BatchNormalization", x->name);
    switch (x->kind) {
    case XFORM_FP16:
        rc = xform_to_half(folded, CALMA_DT_FLOAT16, out, rep, e);
        break;
    case XFORM_BF16:
        rc = xform_to_half(folded, CALMA_DT_BFLOAT16, out, rep, e);
        break;
    case XFORM_INT8:
        rc = int8(folded, o, ranges, out, ranges_out, rep, e);
        break;
    }
    ir_graph_free(folded);
    if (!rc) rep->nodes = (*out)->n_nodes;
    return rc;
}
