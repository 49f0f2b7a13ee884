/* Walking folders of cases, printing one line per case and the totals. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conform/conform.h"
#include "ref/ref.h"
#include "util/err.h"

const char *const conform_default_dirs[4] = {
    CONFORM_DATA_ROOT "/node",
    CONFORM_DATA_ROOT "/pytorch-converted",
    CONFORM_DATA_ROOT "/pytorch-operator",
    CONFORM_DATA_ROOT "/simple",
};

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_case(const char *dir) {
    char path[4096];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/model.onnx", dir) >= (int)sizeof path) return 0;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Last path component of p (ignoring trailing slashes) into buf. */
static void base_name(const char *p, char *buf, size_t n) {
    size_t len = strlen(p);
    while (len > 1 && p[len - 1] == '/') len--;
    size_t start = len;
    while (start > 0 && p[start - 1] != '/') start--;
    snprintf(buf, n, "%.*s", (int)(len - start), p + start);
}

void conform_case_label(const char *case_dir, char *buf, size_t n) {
    char parent[4096], a[512], b[512];
    snprintf(parent, sizeof parent, "%s", case_dir);
    size_t len = strlen(parent);
    while (len > 1 && parent[len - 1] == '/') parent[--len] = '\0';
    char *slash = strrchr(parent, '/');
    base_name(parent, b, sizeof b);
    if (slash && slash != parent) {
        *slash = '\0';
        base_name(parent, a, sizeof a);
        snprintf(buf, n, "%s/%s", a, b);
    } else {
        snprintf(buf, n, "%s", b);
    }
}

static int cmp_str(const void *x, const void *y) {
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Case folders directly under dir (or dir itself when it is a case), sorted. */
static int list_cases(const char *dir, char ***out, int *n, calma_error *e) {
    *out = NULL;
    *n = 0;
    if (is_case(dir)) {
        *out = malloc(sizeof(char *));
        if (!*out || !((*out)[0] = strdup(dir))) return err_set(e, CALMA_E_NOMEM, "out of memory");
        *n = 1;
        return CALMA_OK;
    }
    DIR *d = opendir(dir);
    if (!d) return err_set(e, CALMA_E_IO, "%s: not a folder of cases or a case", dir);
    struct dirent *de;
    int cap = 0, rc = CALMA_OK;
    char path[4096];
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path) continue;
        if (!is_case(path)) continue;
        if (*n >= cap) {
            cap = cap ? cap * 2 : 64;
            char **p = realloc(*out, sizeof(char *) * (size_t)cap);
            if (!p) {
                rc = err_set(e, CALMA_E_NOMEM, "out of memory");
                break;
            }
            *out = p;
        }
        if (!((*out)[*n] = strdup(path))) {
            rc = err_set(e, CALMA_E_NOMEM, "out of memory");
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (*n) qsort(*out, (size_t)*n, sizeof(char *), cmp_str);
    return rc;
}

static void free_list(char **l, int n) {
    for (int i = 0; i < n; i++) free(l[i]);
    free(l);
}

static void add_totals(conform_totals *t, conform_status s) {
    switch (s) {
    case CONFORM_PASS:
        t->pass++;
        break;
    case CONFORM_FAIL:
        t->fail++;
        break;
    case CONFORM_UNSUPPORTED:
        t->unsupported++;
        break;
    default:
        t->error++;
        break;
    }
}

static void print_totals(FILE *f, const char *what, const conform_totals *t) {
    int all = t->pass + t->fail + t->unsupported + t->error;
    fprintf(f, "%-20s %4d passed, %3d failed, %3d unsupported, %3d errors (%d cases)\n", what,
            t->pass, t->fail, t->unsupported, t->error, all);
}

int conform_run(const conform_runner *r, const conform_options *o, conform_totals *total,
                calma_error *e) {
    const char *const *dirs = o->dirs && o->n_dirs ? o->dirs : conform_default_dirs;
    int nd = o->dirs && o->n_dirs ? o->n_dirs : 4;
    memset(total, 0, sizeof *total);
    for (int d = 0; d < nd; d++)
        if (!is_dir(dirs[d]))
            return err_set(e, CALMA_E_IO, "%s: no such folder%s", dirs[d],
                           strncmp(dirs[d], CONFORM_DATA_ROOT, strlen(CONFORM_DATA_ROOT))
                               ? ""
                               : " (install Debian's libonnx-testdata)");
    conform_totals *per = calloc((size_t)(nd > 0 ? nd : 1), sizeof *per);
    if (!per) return err_set(e, CALMA_E_NOMEM, "out of memory");
    int rc = CALMA_OK;
    char label[1024];
    for (int d = 0; d < nd && !rc; d++) {
        char **cases;
        int n;
        rc = list_cases(dirs[d], &cases, &n, e);
        for (int i = 0; !rc && i < n; i++) {
            conform_case_label(cases[i], label, sizeof label);
            if (o->filter && !strstr(label, o->filter)) continue;
            conform_result res;
            conform_run_case(r, cases[i], &res);
            add_totals(&per[d], res.status);
            add_totals(total, res.status);
            if (o->out) {
                fprintf(o->out, "%s  %s", conform_status_name(res.status), label);
                if (res.status != CONFORM_PASS) fprintf(o->out, ": %s", res.detail);
                if (o->verbose) fprintf(o->out, "  [%.3f s]", res.seconds);
                fputc('\n', o->out);
                fflush(o->out);
            }
            if (o->on_case) o->on_case(o->on_case_ctx, label, &res);
        }
        free_list(cases, n);
    }
    if (!rc && o->out) {
        fprintf(o->out, "\n%s totals\n", r->name);
        char name[512];
        for (int d = 0; d < nd; d++) {
            base_name(dirs[d], name, sizeof name);
            print_totals(o->out, name, &per[d]);
        }
        print_totals(o->out, "all", total);
        if (r->open == conform_reference_runner()->open)
            fprintf(o->out, "ops the oracle runs: %d\n", ref_op_count());
    }
    free(per);
    return rc;
}

/* ---- exclusions ---- */

void conform_exclusions_free(conform_exclusion *x, int n) {
    for (int i = 0; i < n; i++) {
        free(x[i].label);
        free(x[i].reason);
    }
    free(x);
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

int conform_exclusions_load(const char *path, conform_exclusion **out, int *n, calma_error *e) {
    *out = NULL;
    *n = 0;
    FILE *f = fopen(path, "r");
    if (!f) return err_set(e, CALMA_E_IO, "%s: cannot open", path);
    char line[2048];
    int lineno = 0, cap = 0, rc = CALMA_OK;
    conform_exclusion *x = NULL;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#') continue;
        size_t cut = strcspn(s, "#\t");
        char *reason = s[cut] ? trim(s + cut + 1) : s + cut;
        s[cut] = '\0';
        char *label = trim(s);
        while (*reason == '#') reason = trim(reason + 1);
        if (!*reason || !*label || strchr(label, ' ')) {
            rc = err_set(e, CALMA_E_PARSE, "%s:%d: expected 'folder/case  # reason'", path, lineno);
            break;
        }
        if (*n >= cap) {
            cap = cap ? cap * 2 : 32;
            conform_exclusion *p = realloc(x, sizeof *p * (size_t)cap);
            if (!p) {
                rc = err_set(e, CALMA_E_NOMEM, "out of memory");
                break;
            }
            x = p;
        }
        x[*n].label = strdup(label);
        x[*n].reason = strdup(reason);
        (*n)++;
        if (!x[*n - 1].label || !x[*n - 1].reason) {
            rc = err_set(e, CALMA_E_NOMEM, "out of memory");
            break;
        }
    }
    fclose(f);
    if (rc) {
        conform_exclusions_free(x, *n);
        *n = 0;
        return rc;
    }
    *out = x;
    return CALMA_OK;
}

const conform_exclusion *conform_exclusion_find(const conform_exclusion *x, int n,
                                                const char *label) {
    for (int i = 0; i < n; i++)
        if (!strcmp(x[i].label, label)) return &x[i];
    return NULL;
}
