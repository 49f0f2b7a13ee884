/* Flag values: the input's lines are the arguments of calma bench (parsed
 * as plan_parse_args does, nothing run), and each line is also tried as a
 * duration, a size and an engine options string (ONNX Runtime's parser). */
#include "fuzz_util.h"

#include "backends/ort/ort_internal.h"
#include "bench/plan.h"

#define FUZZ_MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *argv[FUZZ_MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = "bench";
    for (char *line = text; line && argc <= FUZZ_MAX_ARGS;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        argv[argc++] = line;
        double d;
        uint64_t b;
        plan_parse_duration(line, &d);
        plan_parse_size(line, &b);
        ortbe_options o;
        calma_error e;
        ortbe_parse_options(line, &o, &e);
        line = nl ? nl + 1 : NULL;
    }
    argv[argc] = NULL;
    plan p;
    plan_init(&p);
    int help = 0;
    calma_error e = {0};
    if (plan_parse_args(&p, argc, argv, &help, &e) != CALMA_OK && !e.msg[0]) abort();
    plan_free(&p);
    free(text);
    return 0;
}
