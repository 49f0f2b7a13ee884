/* text_: untrusted text made safe for where it goes. Engines, plugins,
 * model files and downloaded reports hand calma strings it does not
 * control (error messages, version strings, file names, tensor names):
 * they may hold bytes that are not UTF-8, which a strict JSON parser
 * refuses, and control characters (ESC sequences, carriage returns) that
 * rewrite a terminal. */
#ifndef CALMA_UTIL_TEXT_H
#define CALMA_UTIL_TEXT_H

#include <stddef.h>
#include <stdio.h>

/* Length (1..4) of the well-formed UTF-8 sequence at s, or 0 when the
 * bytes there are not one (a stray continuation byte, an overlong form, a
 * surrogate, a code point above U+10FFFF, a sequence cut short). */
int text_utf8_len(const unsigned char *s);

/* Is the whole of s well-formed UTF-8? */
int text_utf8_valid(const char *s);

/* A malloc'ed copy of s in which each byte that does not begin a
 * well-formed sequence is replaced by U+FFFD; NULL when out of memory. */
char *text_utf8_fix(const char *s);

/* Is the code point at s (a well-formed sequence of len bytes) a control
 * character a terminal acts on: C0 (tab excepted), DEL or C1? */
int text_is_control(const unsigned char *s, int len);

/* In place: every control character (text_is_control, line breaks too) and
 * every byte that is not well-formed UTF-8 becomes '?'. The string never
 * grows. For one-line fields and the terminal. */
void text_printable(char *s);

/* Writes at most max bytes of s (0: all of it) to f as text_printable
 * would make it, without changing s. */
void text_fputs_printable(FILE *f, const char *s, size_t max);

#endif
