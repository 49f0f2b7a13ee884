#include "bench/journal.h"

#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/err.h"
#include "util/text.h"

int journal_make_dir(const char *dir, calma_error *e) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return err_set(e, CALMA_E_IO, "run folder path too long: %.100s...", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return err_set(e, CALMA_E_IO, "cannot create folder %s: %s", path, strerror(errno));
        *p = '/';
    }
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return err_set(e, CALMA_E_IO, "cannot create run folder %s: %s", path, strerror(errno));
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return err_set(e, CALMA_E_IO, "run folder %s is not a folder", path);
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/.calma-write-test", path);
    int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, "x", 1) != 1) {
        int err = errno;
        if (fd >= 0) close(fd);
        return err_set(e, CALMA_E_IO, "run folder %s is not writable: %s", path, strerror(err));
    }
    close(fd);
    unlink(probe);
    return CALMA_OK;
}

static int write_all(int fd, const char *s, size_t n) {
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* cJSON escapes the C0 controls but writes DEL and the C1 controls
 * (U+0080..U+009F, which a terminal may act on) as they are; both can only
 * sit inside strings, so \u escapes keep the meaning. text is valid UTF-8. */
static int del_or_c1(const unsigned char *p, int n) {
    return (n == 1 && p[0] == 0x7F) || (n == 2 && text_is_control(p, n));
}

static char *escape_controls(char *text) {
    size_t extra = 0;
    const unsigned char *p = (const unsigned char *)text;
    while (*p) {
        int n = text_utf8_len(p);
        if (n > 0 && del_or_c1(p, n)) extra += 6 - (size_t)n;
        p += n ? n : 1;
    }
    if (!extra) return text;
    char *out = malloc(strlen(text) + extra + 1), *o = out;
    if (!out) {
        free(text);
        return NULL;
    }
    for (p = (const unsigned char *)text; *p;) {
        int n = text_utf8_len(p);
        if (n <= 0) n = 1;
        if (del_or_c1(p, n)) {
            unsigned cp = n == 1 ? p[0] : (unsigned)(p[1] & 0x3F) | 0x80;
            o += sprintf(o, "\\u%04x", cp);
        } else {
            memcpy(o, p, (size_t)n);
            o += n;
        }
        p += n;
    }
    *o = '\0';
    free(text);
    return out;
}

/* JSON text made safe as journal_print says; raw is consumed. */
static char *clean_json(char *raw) {
    if (!raw) return NULL;
    if (!text_utf8_valid(raw)) {
        /* cJSON passes bytes at and above 0x80 through: bytes that are not
         * UTF-8 can only sit inside strings, where U+FFFD keeps the
         * document valid JSON. */
        char *fixed = text_utf8_fix(raw);
        free(raw);
        raw = fixed;
    }
    return raw ? escape_controls(raw) : NULL;
}

char *journal_print(const cJSON *j, int formatted) {
    return clean_json(formatted ? cJSON_Print(j) : cJSON_PrintUnformatted(j));
}

void journal_free_text(char *text) {
    free(text); /* cJSON's default allocator and text_utf8_fix's are both malloc */
}

int journal_write_file(const char *dir, const char *name, const char *text, calma_error *e) {
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    char *fixed = clean_json(strdup(text));
    if (fixed) text = fixed;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        free(fixed);
        return err_set(e, CALMA_E_IO, "cannot write %s: %s", tmp, strerror(errno));
    }
    int bad = write_all(fd, text, strlen(text)) || fsync(fd);
    free(fixed);
    if (bad) {
        int err = errno;
        close(fd);
        unlink(tmp);
        return err_set(e, CALMA_E_IO, "cannot write %s: %s", tmp, strerror(err));
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        int err = errno;
        unlink(tmp);
        return err_set(e, CALMA_E_IO, "cannot rename %s to %s: %s", tmp, path, strerror(err));
    }
    return CALMA_OK;
}

int journal_read_file(const char *path, char **out, size_t *len, calma_error *e) {
    *out = NULL;
    FILE *f = fopen(path, "rbe");
    if (!f) return err_set(e, CALMA_E_IO, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fclose(f);
            return err_set(e, CALMA_E_NOMEM, "out of memory reading %s", path);
        }
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1) break;
        cap *= 2;
        char *nb = realloc(buf, cap);
        if (!nb) free(buf);
        buf = nb;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return err_set(e, CALMA_E_IO, "cannot read %s", path);
    }
    buf[n] = '\0';
    *out = buf;
    if (len) *len = n;
    return CALMA_OK;
}

int journal_open_run(const char *dir, cJSON **plan_json, calma_error *e) {
    *plan_json = NULL;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return err_set(e, CALMA_E_USAGE, "%s: no such folder", dir);
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, JOURNAL_PLAN);
    char *text;
    calma_error sub = {0};
    if (journal_read_file(path, &text, NULL, &sub))
        return err_set(e, CALMA_E_USAGE, "%s: not a calma run folder (no readable %s)", dir,
                       JOURNAL_PLAN);
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(j) ||
        !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "calma_version"))) {
        cJSON_Delete(j);
        return err_set(e, CALMA_E_USAGE, "%s: %s is not a calma plan", dir, JOURNAL_PLAN);
    }
    *plan_json = j;
    return CALMA_OK;
}

int journal_append(const char *dir, const cJSON *rec, calma_error *e) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, JOURNAL_FILE);
    char *line = journal_print(rec, 0);
    if (!line) return err_set(e, CALMA_E_NOMEM, "out of memory writing %s", path);
    size_t n = strlen(line);
    char *full = realloc(line, n + 2);
    if (!full) {
        free(line);
        return err_set(e, CALMA_E_NOMEM, "out of memory writing %s", path);
    }
    full[n] = '\n';
    full[n + 1] = '\0';
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        free(full);
        return err_set(e, CALMA_E_IO, "cannot open %s: %s", path, strerror(errno));
    }
    int bad = write_all(fd, full, n + 1) || fsync(fd);
    int err = errno;
    close(fd);
    free(full);
    if (bad) return err_set(e, CALMA_E_IO, "cannot append to %s: %s", path, strerror(err));
    return CALMA_OK;
}

int journal_load(const char *dir, cJSON **records, calma_error *e) {
    *records = cJSON_CreateArray();
    if (!*records) return err_set(e, CALMA_E_NOMEM, "out of memory");
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, JOURNAL_FILE);
    if (access(path, F_OK) != 0) return CALMA_OK;
    char *text;
    size_t len;
    int rc = journal_read_file(path, &text, &len, e);
    if (rc) return rc;
    size_t good = 0; /* bytes up to the end of the last complete line */
    char *p = text;
    for (;;) {
        char *nl = strchr(p, '\n');
        if (!nl) break;
        *nl = '\0';
        good = (size_t)(nl + 1 - text);
        cJSON *r = cJSON_Parse(p);
        if (cJSON_IsObject(r) && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, "id")))
            cJSON_AddItemToArray(*records, r);
        else
            cJSON_Delete(r); /* a damaged line: the trial is redone */
        p = nl + 1;
    }
    free(text);
    if (good < len && truncate(path, (off_t)good) != 0)
        return err_set(e, CALMA_E_IO, "cannot cut the partial last line of %s: %s", path,
                       strerror(errno));
    return CALMA_OK;
}

const cJSON *journal_find(const cJSON *records, const char *id) {
    const cJSON *r;
    cJSON_ArrayForEach(r, records) {
        const cJSON *i = cJSON_GetObjectItemCaseSensitive(r, "id");
        if (cJSON_IsString(i) && !strcmp(i->valuestring, id)) return r;
    }
    return NULL;
}

const cJSON *journal_field(const cJSON *j, const char *path) {
    char key[128];
    while (j && *path) {
        const char *dot = strchr(path, '.');
        size_t len = dot ? (size_t)(dot - path) : strlen(path);
        if (len >= sizeof key) return NULL;
        memcpy(key, path, len);
        key[len] = '\0';
        j = cJSON_GetObjectItemCaseSensitive(j, key);
        path += len + (dot ? 1 : 0);
    }
    return j;
}

double journal_num(const cJSON *j, const char *path) {
    const cJSON *v = journal_field(j, path);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

const char *journal_str(const cJSON *j, const char *path) {
    const cJSON *v = journal_field(j, path);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : "";
}
