/* One ONNX Runtime session per trial. load creates the environment and the
 * session options (cheap), convert creates the session (the costly part:
 * graph optimisation and kernel selection), run binds calma's buffers once as
 * OrtValues without copies and calls Run. Compiled only when the official
 * C API header was found at build time. */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <onnxruntime_c_api.h>

#include "backends/ort/ort_internal.h"
#include "ir/ir.h"
#include "onnx/onnx.h"
#include "util/err.h"
#include "util/mem.h"

typedef struct ortbe_binding {
    char *name;
    OrtValue *value;   /* an OrtValue over the caller's buffer, or NULL */
    calma_tensor seen; /* the buffer and shape value was made for */
} ortbe_binding;

typedef struct ortbe_state {
    const OrtApi *api;
    const ortbe_settings *set;
    const char *conversion;
    char *path;
    int path_is_temp; /* written from the graph by load; removed once the session exists */
    OrtEnv *env;
    OrtSessionOptions *so;
    OrtSession *session;
    OrtMemoryInfo *mem;
    int n_in, n_out;
    ortbe_binding *in, *out;
    const char **in_names, **out_names;
    OrtValue **in_vals, **out_vals;
    char empty[8]; /* stands in for the data of zero-element tensors */
} ortbe_state;

/* ORT's error code and text, mapped onto calma's statuses. Unknown ops,
 * missing kernels and unsupported model versions are "unsupported": the
 * model is fine, this engine cannot run it. */
static int map_status(OrtErrorCode code, const char *msg, int dflt) {
    static const char *const unsupported[] = {
        "Could not find an implementation",
        "is not a registered function/op",
        "Unsupported model IR version",
        "is under development and support for this is limited",
        "not supported",
        "Not implemented",
        "NOT_IMPLEMENTED",
        "No Op registered for",
    };
    if (code == ORT_NOT_IMPLEMENTED) return CALMA_E_UNSUPPORTED;
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++)
        if (msg && strstr(msg, unsupported[i])) return CALMA_E_UNSUPPORTED;
    switch (code) {
    case ORT_NO_SUCHFILE:
        return CALMA_E_IO;
    case ORT_INVALID_PROTOBUF:
        return CALMA_E_PARSE;
    case ORT_INVALID_GRAPH:
    case ORT_NO_MODEL:
    case ORT_INVALID_ARGUMENT:
        return CALMA_E_INVALID;
    default:
        return dflt;
    }
}

/* Turns a failed OrtStatus into e ("context: ORT's message"), releases it
 * and returns the calma status. */
static int fail(const OrtApi *api, OrtStatus *st, calma_error *e, int dflt, const char *fmt, ...)
    ERR_PRINTF(5, 6);
static int fail(const OrtApi *api, OrtStatus *st, calma_error *e, int dflt, const char *fmt, ...) {
    char ctx[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    const char *msg = api->GetErrorMessage(st);
    int rc = map_status(api->GetErrorCode(st), msg, dflt);
    err_set(e, rc, "%s: ONNX Runtime: %s", ctx, msg ? msg : "(no message)");
    api->ReleaseStatus(st);
    return rc;
}

/* Shorthand for the setup calls whose failure is calma's or ORT's bug. */
#define ORT_TRY(s, call, what)                                                                     \
    do {                                                                                           \
        OrtStatus *st_ = (call);                                                                   \
        if (st_) return fail((s)->api, st_, e, CALMA_E_INTERNAL, "%s: %s", (s)->conversion, what); \
    } while (0)

/* For release calls that report a status nobody can act on. */
static void drop(const OrtApi *api, OrtStatus *st) {
    if (st) api->ReleaseStatus(st);
}

static void free_bindings(const OrtApi *api, ortbe_binding *b, int n) {
    if (!b) return;
    for (int i = 0; i < n; i++) {
        if (b[i].value) api->ReleaseValue(b[i].value);
        free(b[i].name);
    }
    free(b);
}

void ortbe_release(void *p) {
    ortbe_state *s = p;
    if (!s) return;
    if (s->api) {
        free_bindings(s->api, s->in, s->n_in);
        free_bindings(s->api, s->out, s->n_out);
        if (s->session) s->api->ReleaseSession(s->session);
        if (s->so) s->api->ReleaseSessionOptions(s->so);
        if (s->mem) s->api->ReleaseMemoryInfo(s->mem);
        if (s->env) s->api->ReleaseEnv(s->env);
    }
    free(s->in_names);
    free(s->out_names);
    free(s->in_vals);
    free(s->out_vals);
    if (s->path && s->path_is_temp) unlink(s->path);
    free(s->path);
    free(s);
}

static const OrtApi *get_api(void *lib, calma_error *e) {
    const OrtApiBase *(*get_base)(void);
    void *sym = dlsym(lib, "OrtGetApiBase");
    if (!sym) {
        err_set(e, CALMA_E_UNAVAILABLE, "the ONNX Runtime library exports no OrtGetApiBase; %s",
                ORTBE_INSTALL_HINT);
        return NULL;
    }
    memcpy(&get_base, &sym, sizeof get_base);
    const OrtApiBase *base = get_base();
    const OrtApi *api = base ? base->GetApi(ORT_API_VERSION) : NULL;
    if (!api)
        err_set(e, CALMA_E_UNAVAILABLE,
                "ONNX Runtime %s does not serve C API version %d (calma needs ONNX Runtime 1.22 "
                "or later); %s",
                base && base->GetVersionString ? base->GetVersionString() : "?", ORT_API_VERSION,
                ORTBE_INSTALL_HINT);
    return api;
}

static int has_provider(const OrtApi *api, const char *name, calma_error *e) {
    char **list = NULL;
    int n = 0;
    OrtStatus *st = api->GetAvailableProviders(&list, &n);
    if (st) return fail(api, st, e, CALMA_E_INTERNAL, "listing execution providers"), 0;
    int found = 0;
    for (int i = 0; i < n; i++) found |= !strcmp(list[i], name);
    drop(api, api->ReleaseAvailableProviders(list, n));
    return found;
}

int ortbe_probe_api(const ortbe_settings *set, void *lib, calma_error *e) {
    const OrtApi *api = get_api(lib, e);
    if (!api) return CALMA_E_UNAVAILABLE;
    if (!set || !set->cuda) return CALMA_OK;
    err_clear(e);
    if (!has_provider(api, "CUDAExecutionProvider", e))
        return e->status ? e->status
                         : err_set(e, CALMA_E_UNAVAILABLE,
                                   "this ONNX Runtime (%s) was built without the CUDA execution "
                                   "provider; point %s at a GPU build of libonnxruntime",
                                   ortbe_lib_version(lib), ORTBE_ENV_LIBRARY);
    /* Say every reason at once: a user fixing only the first would meet the next. */
    char dir[4096], prov[4200], why[256] = "";
    struct stat st;
    int no_gpu = !ortbe_gpu_present(why, sizeof why);
    int no_lib = ortbe_lib_dir(lib, dir, sizeof dir) == 0 &&
                 (snprintf(prov, sizeof prov, "%s/libonnxruntime_providers_cuda.so", dir),
                  stat(prov, &st) != 0);
    if (no_lib)
        return err_set(e, CALMA_E_UNAVAILABLE,
                       "no CUDA provider: %s is absent (the npm build is CPU-only)%s%s; set %s to "
                       "a GPU build of ONNX Runtime",
                       prov, no_gpu ? ", and " : "", no_gpu ? why : "", ORTBE_ENV_LIBRARY);
    if (no_gpu) return err_set(e, CALMA_E_UNAVAILABLE, "%s", why);
    return CALMA_OK;
}

static int copy_bindings(const calma_tensor *t, int n, ortbe_binding **out, const char ***names,
                         OrtValue ***vals, calma_error *e) {
    *out = calloc((size_t)n + 1, sizeof **out);
    *names = calloc((size_t)n + 1, sizeof **names);
    *vals = calloc((size_t)n + 1, sizeof **vals);
    if (!*out || !*names || !*vals) return err_set(e, CALMA_E_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        if (!t[i].name) return err_set(e, CALMA_E_INTERNAL, "tensor %d has no name", i);
        (*out)[i].name = mem_strdup(t[i].name);
        if (!(*out)[i].name) return err_set(e, CALMA_E_NOMEM, "out of memory");
        (*names)[i] = (*out)[i].name;
    }
    return CALMA_OK;
}

static int set_options(ortbe_state *s, const calma_trial_config *cfg, const ortbe_options *o,
                       calma_error *e) {
    const OrtApi *api = s->api;
    int threads = cfg && cfg->threads > 0 ? cfg->threads : 1;
    ORT_TRY(s, api->CreateSessionOptions(&s->so), "creating session options");
    ORT_TRY(s, api->SetIntraOpNumThreads(s->so, threads), "setting intra-op threads");
    ORT_TRY(s, api->SetInterOpNumThreads(s->so, 1), "setting inter-op threads");
    ORT_TRY(s, api->SetSessionExecutionMode(s->so, ORT_SEQUENTIAL), "setting sequential execution");
    ORT_TRY(s, api->SetSessionGraphOptimizationLevel(s->so, (GraphOptimizationLevel)s->set->opt),
            "setting the graph optimization level");
    /* Spinning threads burn a core each between runs and disturb the other
     * trials' measurements; off unless the user asks (spin=1). */
    const char *spin = o->spin ? "1" : "0";
    ORT_TRY(s, api->AddSessionConfigEntry(s->so, "session.intra_op.allow_spinning", spin),
            "setting intra-op spinning");
    ORT_TRY(s, api->AddSessionConfigEntry(s->so, "session.inter_op.allow_spinning", spin),
            "setting inter-op spinning");
    ORT_TRY(s, api->SetSessionLogSeverityLevel(s->so, o->log_level), "setting the log level");
    if (s->set->cuda) {
        OrtCUDAProviderOptionsV2 *cuda = NULL;
        ORT_TRY(s, api->CreateCUDAProviderOptions(&cuda), "creating CUDA provider options");
        OrtStatus *st = api->SessionOptionsAppendExecutionProvider_CUDA_V2(s->so, cuda);
        api->ReleaseCUDAProviderOptions(cuda);
        if (st)
            return fail(api, st, e, CALMA_E_UNAVAILABLE, "%s: adding the CUDA execution provider",
                        s->conversion);
    }
    return CALMA_OK;
}

/* A model built in memory (a zoo model) reaches ORT through a temporary
 * file: ORT's session takes a path or bytes, and a path also finds external
 * data. */
static int save_temp(ortbe_state *s, const ir_graph *g, calma_error *e) {
    const char *dir = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/calma-ort-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(tmpl);
    if (fd < 0)
        return err_set(e, CALMA_E_IO, "%s: cannot create a temporary model file %s: %s",
                       s->conversion, tmpl, strerror(errno));
    close(fd);
    s->path = mem_strdup(tmpl);
    if (!s->path) {
        unlink(tmpl);
        return err_set(e, CALMA_E_NOMEM, "out of memory");
    }
    s->path_is_temp = 1;
    int rc = onnx_save(g, s->path, e);
    return rc ? err_prefix(e, "%s: writing the model for ONNX Runtime", s->conversion) : CALMA_OK;
}

int ortbe_load(const calma_conversion *c, const calma_model *m, const calma_trial_config *cfg,
               void **state, calma_error *e) {
    *state = NULL;
    if (!m || (!m->path && !m->graph))
        return err_set(e, CALMA_E_INTERNAL, "%s: ONNX Runtime needs the model's file or graph",
                       c->name);
    ortbe_options o;
    int rc = ortbe_parse_options(cfg ? cfg->options : NULL, &o, e);
    if (rc) return rc;
    void *lib = ortbe_lib_open(e);
    if (!lib) return CALMA_E_UNAVAILABLE;
    ortbe_state *s = calloc(1, sizeof *s);
    if (!s) return err_set(e, CALMA_E_NOMEM, "out of memory");
    s->set = c->data;
    s->conversion = c->name;
    if (!s->set) rc = err_set(e, CALMA_E_INTERNAL, "%s has no ORT settings", c->name);
    if (!rc && !(s->api = get_api(lib, e))) rc = CALMA_E_UNAVAILABLE;
    if (!rc && m->path && !(s->path = mem_strdup(m->path)))
        rc = err_set(e, CALMA_E_NOMEM, "out of memory");
    if (!rc && !m->path) rc = save_temp(s, m->graph, e);
    s->n_in = m->n_inputs;
    s->n_out = m->n_outputs;
    if (!rc) rc = copy_bindings(m->inputs, m->n_inputs, &s->in, &s->in_names, &s->in_vals, e);
    if (!rc) rc = copy_bindings(m->outputs, m->n_outputs, &s->out, &s->out_names, &s->out_vals, e);
    if (!rc) {
        OrtStatus *st = s->api->CreateEnv((OrtLoggingLevel)o.log_level, "calma", &s->env);
        if (st) rc = fail(s->api, st, e, CALMA_E_INTERNAL, "%s: creating the environment", c->name);
    }
    if (!rc) rc = set_options(s, cfg, &o, e);
    if (!rc) {
        OrtStatus *st = s->api->CreateCpuMemoryInfo(OrtDeviceAllocator, OrtMemTypeDefault, &s->mem);
        if (st) rc = fail(s->api, st, e, CALMA_E_INTERNAL, "%s: creating memory info", c->name);
    }
    if (rc) {
        ortbe_release(s);
        return rc;
    }
    *state = s;
    return CALMA_OK;
}

/* CALMA_OK when name is among the session's inputs (or outputs), -1 when
 * not, or an ORT failure's status; list gets every name, for the message. */
static int session_has(ortbe_state *s, int outputs, const char *name, char *list, size_t n,
                       calma_error *e) {
    const OrtApi *api = s->api;
    OrtAllocator *alloc = NULL;
    size_t count = 0;
    ORT_TRY(s, api->GetAllocatorWithDefaultOptions(&alloc), "getting the default allocator");
    ORT_TRY(s,
            (outputs ? api->SessionGetOutputCount : api->SessionGetInputCount)(s->session, &count),
            "counting the session's inputs and outputs");
    int found = -1;
    size_t used = 0;
    list[0] = '\0';
    for (size_t i = 0; i < count; i++) {
        char *got = NULL;
        ORT_TRY(s,
                (outputs ? api->SessionGetOutputName : api->SessionGetInputName)(s->session, i,
                                                                                 alloc, &got),
                "reading the session's input and output names");
        if (!strcmp(got, name)) found = (int)i;
        int w = snprintf(list + used, n - used, "%s'%s'", used ? ", " : "", got);
        if (w > 0 && used + (size_t)w < n) used += (size_t)w;
        drop(api, api->AllocatorFree(alloc, got));
    }
    return found >= 0 ? CALMA_OK : -1;
}

static int check_names(ortbe_state *s, calma_error *e) {
    char list[512];
    size_t n_session = 0;
    ORT_TRY(s, s->api->SessionGetInputCount(s->session, &n_session), "counting the inputs");
    for (int pass = 0; pass < 2; pass++) {
        ortbe_binding *b = pass ? s->out : s->in;
        int n = pass ? s->n_out : s->n_in;
        for (int i = 0; i < n; i++) {
            int rc = session_has(s, pass, b[i].name, list, sizeof list, e);
            if (rc > 0) return rc;
            if (rc < 0)
                return err_set(e, CALMA_E_INVALID,
                               "%s: %s '%s' is not among the session's %s (%s) in %s",
                               s->conversion, pass ? "output" : "input", b[i].name,
                               pass ? "outputs" : "inputs", list, s->path);
        }
    }
    if (n_session > (size_t)s->n_in)
        return err_set(e, CALMA_E_INVALID, "%s: the session of %s needs %zu inputs, calma feeds %d",
                       s->conversion, s->path, n_session, s->n_in);
    return CALMA_OK;
}

int ortbe_convert(void *p, calma_error *e) {
    ortbe_state *s = p;
    if (s->session) return CALMA_OK;
    OrtStatus *st = s->api->CreateSession(s->env, s->path, s->so, &s->session);
    if (st) {
        s->session = NULL;
        return fail(s->api, st, e, CALMA_E_INVALID, "%s: creating the session for %s",
                    s->conversion, s->path);
    }
    if (s->path_is_temp) {
        unlink(s->path);
        s->path_is_temp = 0;
    }
    return check_names(s, e);
}

static int same_view(const calma_tensor *a, const calma_tensor *b) {
    return a->data == b->data && a->nbytes == b->nbytes && a->dtype == b->dtype &&
           a->rank == b->rank && !memcmp(a->dims, b->dims, sizeof(int64_t) * (size_t)a->rank);
}

/* (Re)makes the OrtValue over t's buffer when the buffer or shape changed:
 * the worker passes the same buffers every time, so this runs once. */
static int bind(ortbe_state *s, ortbe_binding *b, const calma_tensor *t, OrtValue **slot,
                calma_error *e) {
    if (b->value && same_view(&b->seen, t)) return CALMA_OK;
    if (b->value) s->api->ReleaseValue(b->value);
    b->value = *slot = NULL;
    if (t->dtype == CALMA_DT_STRING || ir_dtype_size(t->dtype) == 0)
        return err_set(e, CALMA_E_UNSUPPORTED,
                       "%s: tensor '%s' has dtype %s, which calma cannot bind", s->conversion,
                       b->name, ir_dtype_name(t->dtype));
    if (t->rank < 0 || t->rank > CALMA_TENSOR_MAX_RANK)
        return err_set(e, CALMA_E_INVALID, "%s: tensor '%s' has rank %d", s->conversion, b->name,
                       t->rank);
    void *data = t->data ? t->data : s->empty;
    if (!t->data && t->nbytes)
        return err_set(e, CALMA_E_INTERNAL, "%s: tensor '%s' has no buffer", s->conversion,
                       b->name);
    OrtStatus *st =
        s->api->CreateTensorWithDataAsOrtValue(s->mem, data, t->nbytes, t->dims, (size_t)t->rank,
                                               (ONNXTensorElementDataType)t->dtype, &b->value);
    if (st) {
        b->value = NULL;
        return fail(s->api, st, e, CALMA_E_INVALID, "%s: binding tensor '%s'", s->conversion,
                    b->name);
    }
    b->seen = *t;
    *slot = b->value;
    return CALMA_OK;
}

int ortbe_run(void *p, const calma_tensor *inputs, int n_in, calma_tensor *outputs, int n_out,
              calma_error *e) {
    ortbe_state *s = p;
    if (n_in != s->n_in || n_out != s->n_out)
        return err_set(e, CALMA_E_INTERNAL, "%s: expected %d inputs and %d outputs, got %d and %d",
                       s->conversion, s->n_in, s->n_out, n_in, n_out);
    if (!s->session) {
        int rc = ortbe_convert(s, e);
        if (rc) return rc;
    }
    for (int i = 0; i < n_in; i++) {
        int rc = bind(s, &s->in[i], &inputs[i], &s->in_vals[i], e);
        if (rc) return rc;
    }
    for (int k = 0; k < n_out; k++) {
        int rc = bind(s, &s->out[k], &outputs[k], &s->out_vals[k], e);
        if (rc) return rc;
    }
    OrtStatus *st = s->api->Run(s->session, NULL, s->in_names, (const OrtValue *const *)s->in_vals,
                                (size_t)n_in, s->out_names, (size_t)n_out, s->out_vals);
    if (st) return fail(s->api, st, e, CALMA_E_INTERNAL, "%s: running %s", s->conversion, s->path);
    for (int k = 0; k < n_out; k++)
        if (s->out_vals[k] != s->out[k].value) {
            /* ORT handed back a value of its own instead of filling ours. */
            s->api->ReleaseValue(s->out_vals[k]);
            s->out_vals[k] = s->out[k].value;
            return err_set(e, CALMA_E_INTERNAL,
                           "%s: ONNX Runtime did not write output '%s' in place", s->conversion,
                           s->out[k].name);
        }
    return CALMA_OK;
}
