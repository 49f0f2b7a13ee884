/* The hand-written ONNX Runtime loop (see ort_plain.h). Deliberately plain:
 * no calma code, the C API called directly. */
#include "ort_plain.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <onnxruntime_c_api.h>

#define PLAIN_MAX_IO 16

struct ort_plain {
    const OrtApi *api;
    OrtEnv *env;
    OrtSessionOptions *so;
    OrtSession *session;
    OrtMemoryInfo *mem;
    OrtAllocator *alloc;
    size_t n_in, n_out;
    char *in_names[PLAIN_MAX_IO], *out_names[PLAIN_MAX_IO];
    OrtValue *in[PLAIN_MAX_IO];
    float *in_data[PLAIN_MAX_IO];
};

double ort_plain_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int check(const OrtApi *api, OrtStatus *st, const char *what, char *err, size_t n) {
    if (!st) return 0;
    snprintf(err, n, "%s: %s", what, api->GetErrorMessage(st));
    api->ReleaseStatus(st);
    return -1;
}

#define CHECK(call, what)                                                                          \
    do {                                                                                           \
        if (check(p->api, (call), what, err, n)) return -1;                                        \
    } while (0)

static int make_input(ort_plain *p, size_t i, char *err, size_t n) {
    OrtTypeInfo *ti = NULL;
    const OrtTensorTypeAndShapeInfo *tsi = NULL;
    int64_t dims[8];
    size_t rank = 0;
    ONNXTensorElementDataType type;
    CHECK(p->api->SessionGetInputTypeInfo(p->session, i, &ti), "input type");
    CHECK(p->api->CastTypeInfoToTensorInfo(ti, &tsi), "input tensor type");
    CHECK(p->api->GetDimensionsCount(tsi, &rank), "input rank");
    if (rank > 8) rank = 8;
    CHECK(p->api->GetDimensions(tsi, dims, rank), "input dims");
    CHECK(p->api->GetTensorElementType(tsi, &type), "input dtype");
    p->api->ReleaseTypeInfo(ti);
    if (type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) {
        snprintf(err, n, "input %zu is not float32", i);
        return -1;
    }
    size_t numel = 1;
    for (size_t d = 0; d < rank; d++) {
        if (dims[d] < 0) dims[d] = 1; /* batch 1 */
        numel *= (size_t)dims[d];
    }
    p->in_data[i] = malloc(numel * sizeof(float) + 1);
    if (!p->in_data[i]) return snprintf(err, n, "out of memory"), -1;
    for (size_t k = 0; k < numel; k++) p->in_data[i][k] = (float)((k * 7919) % 2001) / 1000.0f - 1;
    CHECK(p->api->CreateTensorWithDataAsOrtValue(p->mem, p->in_data[i], numel * sizeof(float), dims,
                                                 rank, type, &p->in[i]),
          "input tensor");
    return 0;
}

int ort_plain_open(const char *model, int threads, ort_plain **out, double *create_s, char *err,
                   size_t n) {
    ort_plain *p = calloc(1, sizeof *p);
    *out = p;
    if (!p) return snprintf(err, n, "out of memory"), -1;
    p->api = OrtGetApiBase()->GetApi(ORT_API_VERSION);
    if (!p->api) return snprintf(err, n, "ONNX Runtime does not serve API %d", ORT_API_VERSION), -1;
    CHECK(p->api->CreateEnv(ORT_LOGGING_LEVEL_ERROR, "plain", &p->env), "env");
    CHECK(p->api->CreateSessionOptions(&p->so), "options");
    CHECK(p->api->SetIntraOpNumThreads(p->so, threads), "threads");
    CHECK(p->api->SetInterOpNumThreads(p->so, 1), "inter-op threads");
    CHECK(p->api->SetSessionExecutionMode(p->so, ORT_SEQUENTIAL), "sequential");
    CHECK(p->api->SetSessionGraphOptimizationLevel(p->so, ORT_ENABLE_ALL), "optimization level");
    CHECK(p->api->AddSessionConfigEntry(p->so, "session.intra_op.allow_spinning", "0"), "spin");
    CHECK(p->api->AddSessionConfigEntry(p->so, "session.inter_op.allow_spinning", "0"), "spin");
    double t0 = ort_plain_now();
    CHECK(p->api->CreateSession(p->env, model, p->so, &p->session), "session");
    *create_s = ort_plain_now() - t0;
    CHECK(p->api->CreateCpuMemoryInfo(OrtDeviceAllocator, OrtMemTypeDefault, &p->mem),
          "memory info");
    CHECK(p->api->GetAllocatorWithDefaultOptions(&p->alloc), "allocator");
    CHECK(p->api->SessionGetInputCount(p->session, &p->n_in), "input count");
    CHECK(p->api->SessionGetOutputCount(p->session, &p->n_out), "output count");
    if (p->n_in > PLAIN_MAX_IO || p->n_out > PLAIN_MAX_IO)
        return snprintf(err, n, "too many inputs or outputs"), -1;
    for (size_t i = 0; i < p->n_in; i++) {
        CHECK(p->api->SessionGetInputName(p->session, i, p->alloc, &p->in_names[i]), "input name");
        if (make_input(p, i, err, n)) return -1;
    }
    for (size_t k = 0; k < p->n_out; k++)
        CHECK(p->api->SessionGetOutputName(p->session, k, p->alloc, &p->out_names[k]),
              "output name");
    return 0;
}

int ort_plain_run(ort_plain *p, char *err, size_t n) {
    OrtValue *outs[PLAIN_MAX_IO] = {0};
    CHECK(p->api->Run(p->session, NULL, (const char *const *)p->in_names,
                      (const OrtValue *const *)p->in, p->n_in, (const char *const *)p->out_names,
                      p->n_out, outs),
          "run");
    for (size_t k = 0; k < p->n_out; k++) p->api->ReleaseValue(outs[k]);
    return 0;
}

void ort_plain_close(ort_plain *p) {
    if (!p) return;
    const OrtApi *api = p->api;
    if (api) {
        for (size_t i = 0; i < PLAIN_MAX_IO; i++) {
            if (p->in[i]) api->ReleaseValue(p->in[i]);
            if (p->in_names[i]) (void)!api->AllocatorFree(p->alloc, p->in_names[i]);
            if (p->out_names[i]) (void)!api->AllocatorFree(p->alloc, p->out_names[i]);
        }
        if (p->session) api->ReleaseSession(p->session);
        if (p->so) api->ReleaseSessionOptions(p->so);
        if (p->mem) api->ReleaseMemoryInfo(p->mem);
        if (p->env) api->ReleaseEnv(p->env);
    }
    for (size_t i = 0; i < PLAIN_MAX_IO; i++) free(p->in_data[i]);
    free(p);
}
