/* Helpers for the fuzz targets (libFuzzer's LLVMFuzzerTestOneInput). The
 * readers under test take paths, as calma does: each input is written to a
 * file in a private folder first (page cache only, a few microseconds).
 * libFuzzer's interface forces the folder's name into static state. */
#ifndef CALMA_FUZZ_UTIL_H
#define CALMA_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir_name[64];

/* Every name a target writes, for the clean-up at exit. */
static inline void fuzz_remove_dir(void) {
    static const char *const names[] = {"model.onnx",        "data.bin",    "input.npy",
                                        "input_0.pb",        "report.json", "run/plan.json",
                                        "run/journal.jsonl", "run",         NULL};
    char path[256];
    for (int i = 0; names[i]; i++) {
        snprintf(path, sizeof path, "%s/%s", fuzz_dir_name, names[i]);
        if (unlink(path) != 0) rmdir(path);
    }
    rmdir(fuzz_dir_name);
}

/* The folder every input file goes to: made once, removed at exit. */
static inline const char *fuzz_dir(void) {
    if (!fuzz_dir_name[0]) {
        snprintf(fuzz_dir_name, sizeof fuzz_dir_name, "/tmp/calma-fuzz-XXXXXX");
        if (!mkdtemp(fuzz_dir_name)) {
            perror("calma fuzz: mkdtemp");
            abort();
        }
        atexit(fuzz_remove_dir);
    }
    return fuzz_dir_name;
}

/* Writes size bytes to fuzz_dir()/name; returns the path (static). */
static inline const char *fuzz_file(const char *name, const uint8_t *data, size_t size) {
    static char path[2][256];
    static int which;
    char *p = path[which ^= 1];
    snprintf(p, sizeof path[0], "%s/%s", fuzz_dir(), name);
    FILE *f = fopen(p, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f)) {
        perror("calma fuzz: writing the input");
        abort();
    }
    return p;
}

/* A sink for rendered output: /dev/null, opened once. */
static inline FILE *fuzz_sink(void) {
    static FILE *f;
    if (!f) f = fopen("/dev/null", "w");
    return f;
}

#endif
