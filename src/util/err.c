#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/text.h"

const char *calma_status_name(int status) {
    switch (status) {
    case CALMA_OK:
        return "ok";
    case CALMA_E_USAGE:
        return "usage";
    case CALMA_E_IO:
        return "io";
    case CALMA_E_PARSE:
        return "parse";
    case CALMA_E_INVALID:
        return "invalid";
    case CALMA_E_UNSUPPORTED:
        return "unsupported";
    case CALMA_E_UNAVAILABLE:
        return "unavailable";
    case CALMA_E_NOMEM:
        return "nomem";
    case CALMA_E_INTERNAL:
        return "internal";
    default:
        return "unknown";
    }
}

int err_set(calma_error *e, int status, const char *fmt, ...) {
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        /* Messages quote file names, node names and engine text: one
         * printable line, safe for a terminal and for JSON. */
        text_printable(e->msg);
        e->status = status;
    }
    return status;
}

int err_prefix(calma_error *e, const char *fmt, ...) {
    if (!e) return CALMA_E_INTERNAL;
    char head[CALMA_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    /* head, ": ", then as much of the old message as fits */
    char old[CALMA_ERROR_MAX];
    memcpy(old, e->msg, sizeof old);
    size_t h = strlen(head);
    if (h > sizeof e->msg - 3) h = sizeof e->msg - 3;
    memcpy(e->msg, head, h);
    memcpy(e->msg + h, ": ", 2);
    size_t room = sizeof e->msg - h - 3, o = strlen(old);
    if (o > room) o = room;
    memcpy(e->msg + h + 2, old, o);
    e->msg[h + 2 + o] = '\0';
    text_printable(e->msg);
    return e->status;
}

void err_clear(calma_error *e) {
    if (e) {
        e->status = CALMA_OK;
        e->msg[0] = '\0';
    }
}
