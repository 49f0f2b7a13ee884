/* Helpers shared by the tests that run `calma bench` with the fault plugin
 * (tests/plugins/fault_plugin.c) and read back its journal. Include after
 * cmocka.h. */
#ifndef CALMA_TEST_BENCH_UTIL_H
#define CALMA_TEST_BENCH_UTIL_H

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ir/ir.h"
#include "onnx/onnx.h"
#include "test_files.h"
#include "test_identity.h"
#include "test_spawn.h"

typedef struct env {
    char dir[256];
    char model[300];
    char plugin[600];
} env;

static inline double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* calma bench ARGS in the test's folder, stdout and stderr to log. */
static inline pid_t spawn_calma(const env *v, const char *const *args, const char *log) {
    return calma_bench_start(v->dir, args, log, log);
}

static inline int wait_exit(pid_t pid) {
    return calma_wait(pid);
}

static inline void dump(const char *log) {
    char *s = slurp(log);
    if (s) fprintf(stderr, "---- %s\n%s\n----\n", log, s);
    free(s);
}

/* The journal's records as a JSON array (whole lines only). */
static inline cJSON *read_journal(const char *run) {
    char path[700];
    snprintf(path, sizeof path, "%s/journal.jsonl", run);
    cJSON *a = cJSON_CreateArray();
    char *s = slurp(path);
    if (!s) return a;
    char *p = s, *nl;
    while ((nl = strchr(p, '\n'))) {
        *nl = '\0';
        cJSON *r = cJSON_Parse(p);
        if (r) cJSON_AddItemToArray(a, r);
        p = nl + 1;
    }
    free(s);
    return a;
}

static inline const cJSON *find(const cJSON *recs, const char *conv) {
    const cJSON *r;
    cJSON_ArrayForEach(r, recs) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(r, "conversion");
        if (cJSON_IsString(c) && !strcmp(c->valuestring, conv)) return r;
    }
    return NULL;
}

static inline const char *field(const cJSON *r, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static inline void expect(const cJSON *recs, const char *conv, const char *status,
                          const char *in_msg) {
    const cJSON *r = find(recs, conv);
    if (!r) fprintf(stderr, "no journal record for %s\n", conv);
    assert_non_null(r);
    if (strcmp(field(r, "status"), status) || (in_msg && !strstr(field(r, "message"), in_msg)))
        fprintf(stderr, "%s: status %s (%s), expected %s (%s)\n", conv, field(r, "status"),
                field(r, "message"), status, in_msg ? in_msg : "");
    assert_string_equal(field(r, "status"), status);
    if (in_msg) assert_non_null(strstr(field(r, "message"), in_msg));
    if (strcmp(status, "ok")) assert_true(strlen(field(r, "message")) > 0);
}

/* A fresh folder under /tmp for one test, the model path in it and the
 * fault plugin built beside the tests. */
static inline int bench_env_setup(void **state, const char *tag) {
    env *v = calloc(1, sizeof *v);
    snprintf(v->dir, sizeof v->dir, "/tmp/calma-%s-XXXXXX", tag);
    if (!mkdtemp(v->dir)) return -1;
    snprintf(v->model, sizeof v->model, "%s/identity.onnx", v->dir);
    const char *build = getenv("CALMA_BUILD_DIR");
    if (!build) return -1;
    snprintf(v->plugin, sizeof v->plugin, "%s/tests/plugins/fault_plugin.so", build);
    *state = v;
    return 0;
}

static inline int bench_env_teardown(void **state) {
    env *v = *state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", v->dir);
    if (system(cmd) != 0) return -1;
    free(v);
    return 0;
}

#endif
