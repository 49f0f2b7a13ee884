#include "bench/registry.h"

#include <ctype.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backends.h"
#include "transform/xform.h"
#include "util/err.h"
#include "util/text.h"
#include "util/mem.h"

struct registry {
    int n, cap;
    const calma_conversion **conv;
    int n_handles;
    void **handles; /* dlopen handles of plugins, closed last */
};

static const calma_conversion *const *builtin_tables(void) {
    static const calma_conversion *const tables[] = {refbe_conversions,   ortbe_conversions,
                                                     xnnbe_conversions,   dnnlbe_conversions,
                                                     torchbe_conversions, NULL};
    return tables;
}

/* Names people know from other tools, and what calma says about them. */
static const struct {
    const char *name;
    const char *answer;
} foreign[] = {
    {"COMPILE_INDUCTOR_DEFAULT",
     "torch.compile (Inductor) compiles the PyTorch program itself at run time; calma runs the "
     "exported ONNX model without Python. Use ORT_CPU or XNNPACK (TORCHSCRIPT_FROZEN is the "
     "nearest compiled PyTorch)"},
    {"COMPILE_INDUCTOR_MAX_AUTOTUNE", "torch.compile (Inductor) needs the PyTorch program and "
                                      "Python; calma runs ONNX models. Use ORT_CPU or XNNPACK"},
    {"COMPILE_INDUCTOR_REDUCE_OVERHEAD", "torch.compile (Inductor) needs the PyTorch program and "
                                         "Python; calma runs ONNX models. Use ORT_CPU or XNNPACK"},
    {"COMPILE_OPENVINO", "OpenVINO is not packaged for Debian 12 and cannot be installed here. "
                         "Use ORT_CPU (or XNNPACK for CNNs)"},
    {"OPENVINO", "OpenVINO is not packaged for Debian 12 and cannot be installed here. Use "
                 "ORT_CPU (or XNNPACK for CNNs)"},
    {"COMPILE_TENSORRT", "TensorRT needs an NVIDIA GPU and NVIDIA's proprietary runtime, which "
                         "calma does not ship. On a GPU machine use ORT_CUDA"},
    {"TENSORRT", "TensorRT needs an NVIDIA GPU and NVIDIA's proprietary runtime, which calma does "
                 "not ship. On a GPU machine use ORT_CUDA"},
    {"ORT_TENSORRT", "ONNX Runtime's TensorRT provider is not in the npm build calma uses. On a "
                     "GPU machine use ORT_CUDA"},
    {"TFLITE", "TensorFlow Lite runs .tflite files; its CPU engine is XNNPACK, which calma "
               "offers directly: use XNNPACK"},
    {"TVM", "Apache TVM is not packaged for Debian 12. Use ORT_CPU or XNNPACK"},
};

/* Upper-cases and maps '-' and ' ' to '_' so that "ort-cpu" finds ORT_CPU. */
static void canon(const char *in, char *out, size_t n) {
    size_t i = 0;
    for (; in[i] && i + 1 < n; i++) {
        char ch = in[i];
        out[i] = (ch == '-' || ch == ' ') ? '_' : (char)toupper((unsigned char)ch);
    }
    out[i] = '\0';
}

static int same_name(const char *a, const char *b) {
    char ca[128], cb[128];
    canon(a, ca, sizeof ca);
    canon(b, cb, sizeof cb);
    return strcmp(ca, cb) == 0;
}

/* Calls fn on the canonical name and every alias of c until fn returns 1. */
static int for_each_name(const calma_conversion *c, int (*fn)(const char *, void *), void *arg) {
    if (fn(c->name, arg)) return 1;
    if (!c->aliases) return 0;
    const char *p = c->aliases;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char alias[128];
        if (len >= sizeof alias) len = sizeof alias - 1;
        memcpy(alias, p, len);
        alias[len] = '\0';
        if (len && fn(alias, arg)) return 1;
        if (!comma) break;
        p = comma + 1;
    }
    return 0;
}

static int name_matches(const char *candidate, void *arg) {
    return same_name(candidate, (const char *)arg);
}

const calma_conversion *registry_find(const registry *r, const char *name) {
    for (int i = 0; i < r->n; i++)
        if (for_each_name(r->conv[i], name_matches, (void *)name)) return r->conv[i];
    return NULL;
}

const char *registry_foreign(const char *name) {
    for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++)
        if (same_name(foreign[i].name, name)) return foreign[i].answer;
    return NULL;
}

static int add_conv(registry *r, const calma_conversion *c) {
    if (mem_grow((void **)&r->conv, &r->cap, r->n + 1, sizeof *r->conv)) return -1;
    r->conv[r->n++] = c;
    return 0;
}

static int valid_name(const char *s) {
    if (!s || !*s) return 0;
    for (; *s; s++)
        if (!(isupper((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_' || *s == '+'))
            return 0;
    return 1;
}

static int load_plugin(registry *r, const char *path, calma_error *e) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        return err_set(e, CALMA_E_USAGE, "plugin %s: cannot be loaded: %s", path,
                       why ? why : "unknown reason");
    }
    void **hs = realloc(r->handles, sizeof *hs * (size_t)(r->n_handles + 1));
    if (!hs) {
        dlclose(h);
        return err_set(e, CALMA_E_NOMEM, "out of memory");
    }
    r->handles = hs;
    r->handles[r->n_handles++] = h;
    calma_plugin_entry_fn entry;
    void *sym = dlsym(h, CALMA_PLUGIN_ENTRY);
    memcpy(&entry, &sym, sizeof entry); /* object to function pointer, as POSIX allows */
    if (!sym)
        return err_set(e, CALMA_E_USAGE,
                       "plugin %s: not a calma plugin (it exports no %s function)", path,
                       CALMA_PLUGIN_ENTRY);
    const calma_plugin *p = entry();
    if (!p)
        return err_set(e, CALMA_E_USAGE, "plugin %s: %s returned nothing", path,
                       CALMA_PLUGIN_ENTRY);
    if (p->abi < CALMA_BACKEND_ABI_MIN || p->abi > CALMA_BACKEND_ABI)
        return err_set(e, CALMA_E_USAGE,
                       "plugin %s: built for calma backend ABI %d, this calma speaks %d to %d",
                       path, p->abi, CALMA_BACKEND_ABI_MIN, CALMA_BACKEND_ABI);
    if (p->n_conversions <= 0 || !p->conversions)
        return err_set(e, CALMA_E_USAGE, "plugin %s: offers no conversions", path);
    for (int i = 0; i < p->n_conversions; i++) {
        const calma_conversion *c = &p->conversions[i];
        if (!valid_name(c->name))
            return err_set(e, CALMA_E_USAGE, "plugin %s: conversion name '%s' is not UPPER_SNAKE",
                           path, c->name ? c->name : "(null)");
        if (!c->backend || c->backend->abi < CALMA_BACKEND_ABI_MIN ||
            c->backend->abi > CALMA_BACKEND_ABI || !c->backend->load || !c->backend->run)
            return err_set(e, CALMA_E_USAGE,
                           "plugin %s: conversion %s has no usable backend (load and run are "
                           "required)",
                           path, c->name);
        if (c->tier < 1 || c->tier > 3)
            return err_set(e, CALMA_E_USAGE, "plugin %s: conversion %s has tier %d (1..3)", path,
                           c->name, c->tier);
        if (registry_find(r, c->name))
            return err_set(e, CALMA_E_USAGE, "plugin %s: conversion %s already exists", path,
                           c->name);
        if (add_conv(r, c)) return err_set(e, CALMA_E_NOMEM, "out of memory");
    }
    return CALMA_OK;
}

int registry_open(registry **out, const char *const *plugin_paths, int n_plugins, calma_error *e) {
    registry *r = calloc(1, sizeof *r);
    if (!r) return err_set(e, CALMA_E_NOMEM, "out of memory");
    for (const calma_conversion *const *t = builtin_tables(); *t; t++)
        for (const calma_conversion *c = *t; c->name; c++)
            if (add_conv(r, c)) {
                registry_close(r);
                return err_set(e, CALMA_E_NOMEM, "out of memory");
            }
    for (int i = 0; i < n_plugins; i++) {
        int rc = load_plugin(r, plugin_paths[i], e);
        if (rc) {
            registry_close(r);
            return rc;
        }
    }
    *out = r;
    return CALMA_OK;
}

void registry_close(registry *r) {
    if (!r) return;
    free(r->conv);
    for (int i = 0; i < r->n_handles; i++) dlclose(r->handles[i]);
    free(r->handles);
    free(r);
}

int registry_count(const registry *r) {
    return r->n;
}

const calma_conversion *registry_at(const registry *r, int i) {
    return i >= 0 && i < r->n ? r->conv[i] : NULL;
}

/* Optimal string alignment distance (Levenshtein plus adjacent swaps). */
static int edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 99;
    int d[64][64];
    for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            int cost = a[i - 1] != b[j - 1];
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    }
    return d[la][lb];
}

typedef struct suggest_ctx {
    const char *want; /* canonical spelling of the unknown name */
    int best;         /* best score seen for the current conversion */
} suggest_ctx;

/* Score of one candidate spelling: edit distance, with substring matches
 * counted as close (ORT finds ORT_CPU). */
static int score_name(const char *candidate, void *arg) {
    suggest_ctx *s = arg;
    char c[128];
    canon(candidate, c, sizeof c);
    int d = edit_distance(s->want, c);
    if (strlen(s->want) >= 3 && (strstr(c, s->want) || strstr(s->want, c))) d = d < 1 ? d : 1;
    if (d < s->best) s->best = d;
    return 0;
}

int registry_suggest(const registry *r, const char *name, char *buf, size_t n, int max) {
    char want[128];
    canon(name, want, sizeof want);
    int limit = (int)strlen(want) / 3;
    if (limit < 2) limit = 2;
    const calma_conversion *pick[8];
    int score[8], found = 0;
    if (max > 8) max = 8;
    for (int i = 0; i < r->n; i++) {
        suggest_ctx s = {want, 99};
        for_each_name(r->conv[i], score_name, &s);
        if (s.best > limit) continue;
        /* insertion into the best-max list, ties keep registry order */
        int pos = found;
        while (pos > 0 && score[pos - 1] > s.best) pos--;
        if (pos >= max) continue;
        int last = found < max ? found : max - 1;
        for (int k = last; k > pos; k--) {
            pick[k] = pick[k - 1];
            score[k] = score[k - 1];
        }
        pick[pos] = r->conv[i];
        score[pos] = s.best;
        if (found < max) found++;
    }
    buf[0] = '\0';
    size_t used = 0;
    for (int k = 0; k < found && used < n; k++) {
        const char *sep = k == 0 ? "" : (k == found - 1 ? " or " : ", ");
        used += (size_t)snprintf(buf + used, n - used, "%s%s", sep, pick[k]->name);
    }
    return found;
}

void registry_selection_free(registry_selection *s) {
    free(s->conv);
    free(s->entry);
    memset(s, 0, sizeof *s);
}

static void append(char *buf, size_t n, const char *fmt, ...) ERR_PRINTF(3, 4);
static void append(char *buf, size_t n, const char *fmt, ...) {
    size_t used = strlen(buf);
    if (used + 1 >= n) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, n - used, fmt, ap);
    va_end(ap);
}

/* ---- transforms before conversions ---- */

int registry_reads_onnx(const calma_conversion *c) {
    return c && c->backend && c->backend->abi >= 2 &&
           (c->backend->flags & CALMA_BACKEND_READS_ONNX);
}

/* The conversions that take transforms, "A, B or C" into buf. */
static void onnx_readers(const registry *r, char *buf, size_t n) {
    buf[0] = '\0';
    int total = 0, k = 0;
    for (int i = 0; i < r->n; i++) total += registry_reads_onnx(r->conv[i]);
    for (int i = 0; i < r->n; i++) {
        if (!registry_reads_onnx(r->conv[i])) continue;
        append(buf, n, "%s%s", k == 0 ? "" : (k == total - 1 ? " or " : ", "), r->conv[i]->name);
        k++;
    }
}

static int unknown_transform(const char *tname, const char *full, calma_error *e) {
    char want[64], sug[128] = "", all[128] = "";
    canon(tname, want, sizeof want);
    for (int i = 0, k = 0; i < xform_count(); i++) {
        const char *x = xform_at(i)->name;
        append(all, sizeof all, "%s%s", i ? ", " : "", x);
        int d = edit_distance(want, x);
        if (d <= 2 || (strlen(want) >= 2 && (strstr(x, want) || strstr(want, x))))
            append(sug, sizeof sug, "%s%s", k++ ? " or " : "", x);
    }
    if (sug[0])
        return err_set(e, CALMA_E_USAGE,
                       "unknown transform '%s' in '%s'; did you mean %s? (transforms: %s)", tname,
                       full, sug, all);
    return err_set(e, CALMA_E_USAGE, "unknown transform '%s' in '%s' (transforms: %s)", tname, full,
                   all);
}

static int unknown_conversion(const registry *r, const char *name, calma_error *e) {
    const char *why = registry_foreign(name);
    if (why) return err_set(e, CALMA_E_USAGE, "%s: not offered by calma: %s", name, why);
    if (xform_find(name))
        return err_set(e, CALMA_E_USAGE,
                       "'%s' is a model transform, not a conversion: write it before one, e.g. "
                       "%s+ORT_CPU",
                       name, xform_find(name)->name);
    char sug[256];
    if (registry_suggest(r, name, sug, sizeof sug, 3))
        return err_set(e, CALMA_E_USAGE, "unknown conversion '%s'; did you mean %s?", name, sug);
    return err_set(e, CALMA_E_USAGE, "unknown conversion '%s'; `calma list` shows them all", name);
}

int registry_resolve(const registry *r, const char *name, registry_entry *out, calma_error *e) {
    memset(out, 0, sizeof *out);
    const char *plus = strchr(name, '+');
    const char *cname = plus ? plus + 1 : name;
    if (plus) {
        char tname[64];
        size_t len = (size_t)(plus - name);
        if (len >= sizeof tname) len = sizeof tname - 1;
        memcpy(tname, name, len);
        tname[len] = '\0';
        if (strchr(cname, '+'))
            return err_set(e, CALMA_E_USAGE,
                           "'%s': one transform per conversion (TRANSFORM+CONVERSION, e.g. "
                           "INT8+ORT_CPU)",
                           name);
        out->xform = xform_find(tname);
        if (!out->xform) return unknown_transform(tname, name, e);
    }
    out->conv = registry_find(r, cname);
    if (!out->conv) return unknown_conversion(r, cname, e);
    if (out->xform && !registry_reads_onnx(out->conv)) {
        char readers[512];
        onnx_readers(r, readers, sizeof readers);
        return err_set(e, CALMA_E_USAGE,
                       "'%s': %s cannot take a model transform: its backend (%s) does not declare "
                       "that it runs any ONNX model it is given. Transforms go before %s",
                       name, out->conv->name,
                       out->conv->backend->name ? out->conv->backend->name : "?", readers);
    }
    snprintf(out->name, sizeof out->name, "%s%s%s", out->xform ? out->xform->name : "",
             out->xform ? "+" : "", out->conv->name);
    return CALMA_OK;
}

static int ends_with(const char *s, const char *tail) {
    size_t n = strlen(s), m = strlen(tail);
    return n > m && !strcmp(s + n - m, tail);
}

const char *registry_precision(const registry_entry *en) {
    if (en->xform) return en->xform->precision;
    const char *n = en->conv ? en->conv->name : "";
    if (ends_with(n, "_FP16")) return "fp16";
    if (ends_with(n, "_BF16")) return "bf16";
    if (ends_with(n, "_INT8")) return "int8";
    return "fp32";
}

const char *registry_precision_of(const registry *r, const char *name) {
    registry_entry en;
    calma_error e;
    return registry_resolve(r, name, &en, &e) == CALMA_OK ? registry_precision(&en) : "fp32";
}

/* Pairs of tier 3 ("everything"): each transform before the default engine. */
static const char *const tier3_transformed[] = {"FP16+ORT_CPU", "BF16+ORT_CPU", "INT8+ORT_CPU",
                                                NULL};

static void add_entry(registry_selection *out, const registry_entry *en) {
    out->entry[out->n] = *en;
    out->conv[out->n] = en->conv;
    out->n++;
}

static int select_tier(const registry *r, int tier, registry_selection *out, calma_error *e) {
    if (tier < 1 || tier > 3) {
        registry_selection_free(out);
        return err_set(e, CALMA_E_USAGE, "--tier must be 1, 2 or 3 (got %d)", tier);
    }
    for (int i = 0; i < r->n; i++) {
        if (r->conv[i]->tier > tier) continue;
        registry_entry en = {.conv = r->conv[i]};
        snprintf(en.name, sizeof en.name, "%s", r->conv[i]->name);
        add_entry(out, &en);
    }
    for (int k = 0; tier >= 3 && tier3_transformed[k]; k++) {
        registry_entry en;
        calma_error ignored;
        if (registry_resolve(r, tier3_transformed[k], &en, &ignored) == CALMA_OK)
            add_entry(out, &en);
    }
    return CALMA_OK;
}

int registry_select(const registry *r, const char *names_csv, int tier, registry_selection *out,
                    calma_error *e) {
    memset(out, 0, sizeof *out);
    size_t cap = (size_t)r->n + 8;
    for (const char *q = names_csv; q && *q; q++) cap += *q == ',';
    out->conv = calloc(cap, sizeof *out->conv);
    out->entry = calloc(cap, sizeof *out->entry);
    if (!out->conv || !out->entry) {
        registry_selection_free(out);
        return err_set(e, CALMA_E_NOMEM, "out of memory");
    }
    if (!names_csv) return select_tier(r, tier, out, e);
    char problems[CALMA_ERROR_MAX] = "";
    const char *p = names_csv;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len && isspace((unsigned char)*p)) p++, len--;
        while (len && isspace((unsigned char)p[len - 1])) len--;
        char name[128];
        if (len >= sizeof name) len = sizeof name - 1;
        memcpy(name, p, len);
        name[len] = '\0';
        if (len) {
            registry_entry en;
            calma_error why;
            if (registry_resolve(r, name, &en, &why)) {
                size_t ml = strlen(why.msg);
                int ends = ml && (why.msg[ml - 1] == '?' || why.msg[ml - 1] == '.');
                append(problems, sizeof problems, "%s%s ", why.msg, ends ? "" : ".");
            } else {
                int dup = 0;
                for (int k = 0; k < out->n; k++) dup |= !strcmp(out->entry[k].name, en.name);
                if (dup)
                    append(out->warnings, sizeof out->warnings,
                           "%s is listed more than once (last as '%s'); it runs once. ", en.name,
                           name);
                else if ((size_t)out->n < cap)
                    add_entry(out, &en);
            }
        }
        if (!comma) break;
        p = comma + 1;
    }
    size_t pl = strlen(problems);
    if (pl && problems[pl - 1] == ' ') problems[pl - 1] = '\0';
    size_t wl = strlen(out->warnings);
    if (wl && out->warnings[wl - 1] == ' ') out->warnings[wl - 1] = '\0';
    if (problems[0]) {
        registry_selection_free(out);
        return err_set(e, CALMA_E_USAGE, "%s", problems);
    }
    if (out->n == 0) {
        registry_selection_free(out);
        return err_set(e, CALMA_E_USAGE,
                       "the conversion list is empty; give names (see `calma list`) or a --tier");
    }
    return CALMA_OK;
}

int registry_probe(const calma_conversion *c, calma_error *e) {
    err_clear(e);
    if (!c->backend->probe) return CALMA_OK;
    int rc = c->backend->probe(c, e);
    if (rc && !e->msg[0]) err_set(e, rc, "the backend gave no reason");
    /* A plugin writes its message itself: one printable line. */
    e->msg[sizeof e->msg - 1] = '\0';
    text_printable(e->msg);
    return rc;
}

/* A plugin's string in a column of width w, made printable. */
static void print_field(FILE *f, const char *s, int w) {
    char buf[64];
    snprintf(buf, sizeof buf, "%s", s);
    text_printable(buf);
    fprintf(f, "%-*s ", w, buf);
}

void registry_print(const registry *r, FILE *f) {
    fprintf(f, "%-20s %-4s %-6s %-11s %-11s %s\n", "CONVERSION", "TIER", "DEVICE", "BACKEND",
            "HERE", "DESCRIPTION / WHY UNAVAILABLE");
    for (int i = 0; i < r->n; i++) {
        const calma_conversion *c = r->conv[i];
        calma_error e;
        int rc = registry_probe(c, &e);
        const char *ver = rc == CALMA_OK && c->backend->version ? c->backend->version() : NULL;
        /* Plugins supply every string but the name (checked at load). */
        fprintf(f, "%-20s %-4d ", c->name, c->tier);
        print_field(f, c->device ? c->device : "cpu", 6);
        print_field(f, c->backend->name ? c->backend->name : "?", 11);
        fprintf(f, "%-11s ", rc == CALMA_OK ? "available" : "unavailable");
        text_fputs_printable(f, c->description ? c->description : "", 400);
        fputc('\n', f);
        if (c->aliases && c->aliases[0]) {
            fprintf(f, "%-20s also called: ", "");
            text_fputs_printable(f, c->aliases, 400);
            fputc('\n', f);
        }
        if (ver) {
            fprintf(f, "%-20s engine: ", "");
            text_fputs_printable(f, ver, 256);
            fputc('\n', f);
        }
        if (rc != CALMA_OK) fprintf(f, "%-20s why: %s\n", "", e.msg);
    }
    fprintf(f, "\nTiers (--tier N runs every conversion of tier N and below):\n");
    static const char *const what[] = {
        "", "quick check for CI: the oracle and the default fast conversion",
        "deployment choice: every conversion worth deploying",
        "everything: optimisation-level variants and the rest"};
    for (int t = 1; t <= 3; t++) {
        fprintf(f, "  %d  %s:", t, what[t]);
        for (int i = 0; i < r->n; i++)
            if (r->conv[i]->tier <= t) fprintf(f, " %s", r->conv[i]->name);
        for (int k = 0; t == 3 && tier3_transformed[k]; k++) {
            registry_entry en;
            calma_error ignored;
            if (registry_resolve(r, tier3_transformed[k], &en, &ignored) == CALMA_OK)
                fprintf(f, " %s", en.name);
        }
        fprintf(f, "\n");
    }
    char readers[512];
    onnx_readers(r, readers, sizeof readers);
    fprintf(f, "\nModel transforms, written TRANSFORM+CONVERSION (e.g. INT8+ORT_CPU), before %s:\n",
            readers[0] ? readers : "(no conversion here reads ONNX)");
    for (int i = 0; i < xform_count(); i++)
        fprintf(f, "  %-6s %-5s %s\n", xform_at(i)->name, xform_at(i)->precision,
                xform_at(i)->description);
    fprintf(f, "\nNames from other tools that calma recognises but does not offer:\n");
    for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++)
        fprintf(f, "  %-32s %s\n", foreign[i].name, foreign[i].answer);
}
