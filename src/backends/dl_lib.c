#include "backends/dl_lib.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int dllib_exe_path(const char *rel, char *buf, size_t n) {
    if (n) buf[0] = '\0';
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) return -1;
    exe[len] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return -1;
    *slash = '\0';
    int w = snprintf(buf, n, "%s/%s", exe, rel);
    if (w > 0 && (size_t)w < n) return 0;
    if (n) buf[0] = '\0';
    return -1;
}

void *dllib_try(const char *path, dllib_tried *t) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h) return h;
    struct stat st;
    const char *why = stat(path, &st) ? "not found" : dlerror();
    size_t room = sizeof t->text - t->used;
    int w = snprintf(t->text + t->used, room, "%s%s (%s)", t->used ? ", " : "", path,
                     why ? why : "cannot be loaded");
    if (w > 0) t->used += (size_t)w < room ? (size_t)w : room - 1;
    return NULL;
}

void *dllib_open(const char *env, const char *const *paths, int n, dllib_tried *t, int *from_env) {
    const char *chosen = env ? getenv(env) : NULL;
    *from_env = chosen && *chosen;
    if (*from_env) return dllib_try(chosen, t);
    for (int i = 0; i < n; i++) {
        int dup = 0;
        for (int j = 0; j < i; j++) dup |= !strcmp(paths[i], paths[j]);
        if (dup || !paths[i][0]) continue;
        void *h = dllib_try(paths[i], t);
        if (h) return h;
    }
    return NULL;
}
