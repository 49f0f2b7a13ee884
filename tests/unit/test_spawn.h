/* Running the calma executable ($CALMA_BIN, set by CTest) from a test.
 * Include after <cmocka.h>. */
#ifndef CALMA_TEST_SPAWN_H
#define CALMA_TEST_SPAWN_H

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Starts `calma bench ARGS...` (args NULL-terminated) in folder cwd, its
 * stdout to the file out and its stderr to err (NULL: /dev/null; the same
 * path for both: one log). Returns its pid. */
static inline pid_t calma_bench_start(const char *cwd, const char *const *args, const char *out,
                                      const char *err) {
    const char *bin = getenv("CALMA_BIN");
    assert_non_null(bin);
    char *argv[64];
    int n = 0;
    argv[n++] = (char *)bin;
    argv[n++] = "bench";
    for (int i = 0; args[i] && n < 63; i++) argv[n++] = (char *)args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (chdir(cwd) != 0) _exit(99);
        int fo = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = err && out && !strcmp(err, out)
                     ? fo
                     : open(err ? err : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fo < 0 || fe < 0) _exit(99);
        dup2(fo, 1);
        dup2(fe, 2);
        execv(bin, argv);
        _exit(98);
    }
    return pid;
}

/* Waits for pid: its exit code, or 128 + the signal that ended it. */
static inline int calma_wait(pid_t pid) {
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#endif
