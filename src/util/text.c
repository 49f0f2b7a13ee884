#include "util/text.h"

#include <stdlib.h>
#include <string.h>

int text_utf8_len(const unsigned char *s) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    int len;
    unsigned min;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, min = 0x80;
    else if ((c & 0xF0) == 0xE0)
        len = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, min = 0x10000;
    else
        return 0;
    unsigned cp = c & (0x7Fu >> len);
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0; /* also stops at the NUL */
        cp = cp << 6 | (s[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

int text_utf8_valid(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = text_utf8_len(p);
        if (!n) return 0;
        p += n;
    }
    return 1;
}

char *text_utf8_fix(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    size_t need = 1;
    for (const unsigned char *q = p; *q;) {
        int n = text_utf8_len(q);
        need += n ? (size_t)n : 3;
        q += n ? n : 1;
    }
    char *out = malloc(need), *o = out;
    if (!out) return NULL;
    while (*p) {
        int n = text_utf8_len(p);
        if (n) {
            memcpy(o, p, (size_t)n);
            o += n;
            p += n;
        } else {
            memcpy(o, "\xEF\xBF\xBD", 3); /* U+FFFD */
            o += 3;
            p++;
        }
    }
    *o = '\0';
    return out;
}

int text_is_control(const unsigned char *s, int len) {
    if (len == 1) return (s[0] < 0x20 && s[0] != '\t') || s[0] == 0x7F;
    return len == 2 && s[0] == 0xC2 && s[1] < 0xA0; /* U+0080..U+009F */
}

void text_printable(char *s) {
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        int n = text_utf8_len(p);
        if (!n || text_is_control(p, n)) {
            /* A C1 control is two bytes: both go, the string only shrinks. */
            int drop = n ? n : 1;
            *p++ = '?';
            if (drop > 1) memmove(p, p + drop - 1, strlen((char *)p + drop - 1) + 1);
            continue;
        }
        p += n;
    }
}

void text_fputs_printable(FILE *f, const char *s, size_t max) {
    const unsigned char *p = (const unsigned char *)s;
    size_t done = 0;
    while (*p && (!max || done < max)) {
        int n = text_utf8_len(p);
        if (!n || text_is_control(p, n)) {
            fputc('?', f);
            p += n ? n : 1;
        } else {
            fwrite(p, 1, (size_t)n, f);
            p += n;
        }
        done += (size_t)(n ? n : 1);
    }
}
