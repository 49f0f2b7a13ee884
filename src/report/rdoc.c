#include "report/rdoc.h"

#include <math.h>
#include <string.h>

const cJSON *rd_get(const cJSON *j, const char *path) {
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

double rd_num(const cJSON *j, const char *path) {
    const cJSON *v = rd_get(j, path);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

const char *rd_str(const cJSON *j, const char *path) {
    const cJSON *v = rd_get(j, path);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : "";
}

const char *rd_label(const cJSON *t, char *buf, size_t n) {
    snprintf(buf, n, "%s b%.0f t%.0f", rd_str(t, "conversion"), rd_num(t, "batch"),
             rd_num(t, "threads"));
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
    for (; *s; s++) {
        switch (*s) {
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
            /* control characters other than tab/newline are not allowed in XML 1.0 */
            if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
                fputc('?', f);
            else
                fputc(*s, f);
        }
    }
}

const cJSON *rd_best_trial(const cJSON *doc) {
    const char *id = rd_str(doc, "best.id");
    if (!*id) return NULL;
    const cJSON *t;
    cJSON_ArrayForEach(t, rd_get(doc, "trials")) {
        if (!strcmp(rd_str(t, "id"), id)) return t;
    }
    return NULL;
}
