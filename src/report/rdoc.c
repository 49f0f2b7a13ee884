#include "report/rdoc.h"

#include <ctype.h>
#include <math.h>
#include <string.h>

#include "bench/scenario.h"
#include "bench/journal.h"
#include "util/text.h"

const cJSON *rd_get(const cJSON *j, const char *path) {
    return journal_field(j, path);
}

double rd_num(const cJSON *j, const char *path) {
    return journal_num(j, path);
}

const char *rd_str(const cJSON *j, const char *path) {
    return journal_str(j, path);
}

const char *rd_label(const cJSON *t, char *buf, size_t n) {
    snprintf(buf, n, "%s b%.0f t%.0f", rd_str(t, "conversion"), rd_num(t, "batch"),
             rd_num(t, "threads"));
    size_t used = strlen(buf);
    if (rd_get(t, "streams") && used < n)
        snprintf(buf + used, n - used, " s%.0f", rd_num(t, "streams"));
    return buf;
}

int rd_ok(const cJSON *t) {
    return !strcmp(rd_str(t, "status"), "ok");
}

const char *rd_verdict(const cJSON *t) {
    const char *v = rd_str(t, "validation.verdict");
    return *v ? v : "-";
}

void rd_xml_escape(FILE *f, const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = text_utf8_len(p);
        if (!n) { /* not UTF-8: XML and a browser would refuse or guess */
            fputs("\xEF\xBF\xBD", f);
            p++;
            continue;
        }
        switch (*p) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            /* XML 1.0 allows no C0 control but tab and line breaks, and HTML
             * calls the C1 controls and U+FFFE/U+FFFF errors. */
            if ((*p != '\n' && text_is_control(p, n)) ||
                (n == 3 && p[0] == 0xEF && p[1] == 0xBF && p[2] >= 0xBE))
                fputc('?', f);
            else
                fwrite(p, 1, (size_t)n, f);
        }
        p += n;
    }
}

/* Text in a Markdown table cell or line, shown as written: '|' would end
 * the cell and a line break the row; the characters Markdown or inline HTML
 * give meaning to are backslash-escaped (CommonMark lets any ASCII
 * punctuation be), so a name like <script> or *x* is text, not markup. An
 * underscore inside a word (ORT_CPU) means nothing and stays as it is.
 * Control characters and bytes that are not UTF-8 become '?'. */
void rd_md_escape(FILE *f, const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = text_utf8_len(p);
        if (n == 1 && (*p == '\n' || *p == '\r')) {
            fputc(' ', f);
        } else if (!n || text_is_control(p, n)) {
            fputc('?', f);
        } else if (n == 1 && strchr("\\`*[]<>|~&!#", *p)) {
            fputc('\\', f);
            fputc(*p, f);
        } else if (*p == '_' &&
                   !(p > (const unsigned char *)s && isalnum(p[-1]) && isalnum(p[1]))) {
            fputs("\\_", f);
        } else {
            fwrite(p, 1, (size_t)n, f);
        }
        p += n ? n : 1;
    }
}

const cJSON *rd_best_trial(const cJSON *doc) {
    return rd_named_trial(doc, "best");
}

const cJSON *rd_named_trial(const cJSON *doc, const char *key) {
    return rd_scoped_trial(doc, doc, key);
}

const cJSON *rd_scoped_trial(const cJSON *doc, const cJSON *scope, const char *key) {
    char path[64];
    snprintf(path, sizeof path, "%s.id", key);
    const char *id = rd_str(scope, path);
    if (!*id) return NULL;
    const cJSON *t;
    cJSON_ArrayForEach(t, rd_get(doc, "trials")) {
        if (!strcmp(rd_str(t, "id"), id)) return t;
    }
    return NULL;
}

const char *rd_validation_text(const cJSON *t, char *buf, size_t n) {
    double abs_e = NAN, rel_e = NAN, cos = NAN;
    const cJSON *o;
    cJSON_ArrayForEach(o, rd_get(t, "validation.outputs")) {
        double a = rd_num(o, "max_abs"), r = rd_num(o, "max_rel"), c = rd_num(o, "cosine");
        if (isfinite(a) && !(a <= abs_e)) abs_e = a;
        if (isfinite(r) && !(r <= rel_e)) rel_e = r;
        if (isfinite(c) && !(c >= cos)) cos = c;
    }
    if (isfinite(abs_e))
        snprintf(buf, n, "%s (max abs %.2g, max rel %.2g, cosine %.6f)", rd_verdict(t), abs_e,
                 isfinite(rel_e) ? rel_e : 0.0, isfinite(cos) ? cos : NAN);
    else
        snprintf(buf, n, "%s", rd_verdict(t));
    return buf;
}

const char *rd_baseline_of(const cJSON *doc, const cJSON *t) {
    const cJSON *m;
    cJSON_ArrayForEach(m, rd_get(doc, "per_model")) {
        if (!strcmp(rd_str(m, "name"), rd_str(t, "model"))) return rd_str(m, "baseline");
    }
    return rd_str(doc, "baseline");
}

const char *rd_speedup(const cJSON *doc, const cJSON *t, char *buf, size_t n) {
    snprintf(buf, n, "-");
    const char *base = rd_baseline_of(doc, t);
    if (!*base || !rd_ok(t)) return buf;
    const cJSON *b;
    cJSON_ArrayForEach(b, rd_get(doc, "trials")) {
        /* on the figure each is judged on (src/bench/scenario.h) */
        double up = scen_better_ratio(t, b);
        if (rd_ok(b) && !strcmp(rd_str(b, "conversion"), base) &&
            !strcmp(rd_str(b, "model"), rd_str(t, "model")) &&
            rd_num(b, "batch") == rd_num(t, "batch") &&
            rd_num(b, "threads") == rd_num(t, "threads") && scen_streams(b) == scen_streams(t) &&
            isfinite(up))
            snprintf(buf, n, "%.2fx", up);
    }
    return buf;
}

const char *rd_method(const cJSON *doc, char *buf, size_t n) {
    double k = rd_num(doc, "plan.repeats");
    const char *base = rd_str(doc, "baseline");
    int used = 0;
    if (k > 1)
        used = snprintf(buf, n,
                        "Each trial ran in %.0f worker processes; medians and intervals pool "
                        "them, so the intervals hold the spread inside and between processes.",
                        k);
    else
        used = snprintf(buf, n,
                        "Each trial ran in one worker process: its interval does not include "
                        "process-to-process variation.");
    if (rd_get(doc, "per_model") && used >= 0 && (size_t)used < n)
        snprintf(buf + used, n - (size_t)used,
                 " Speed-ups are against each model's baseline at the same batch and threads.");
    else if (*base && used >= 0 && (size_t)used < n)
        snprintf(buf + used, n - (size_t)used,
                 " Speed-ups are against %s at the same batch and threads%s.", base,
                 rd_get(doc, "plan.scenario") ? " and streams, on each scenario's figure" : "");
    return buf;
}
