/* err_: filling a calma_error at the place a failure is found. */
#ifndef CALMA_UTIL_ERR_H
#define CALMA_UTIL_ERR_H

#include "calma/calma.h"

#if defined(__GNUC__)
#define ERR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define ERR_PRINTF(f, a)
#endif

/* Writes the message and status into e (which may be NULL) and returns status,
 * so a failing path reads: return err_set(e, CALMA_E_IO, "%s: ...", path); */
int err_set(calma_error *e, int status, const char *fmt, ...) ERR_PRINTF(3, 4);

/* Puts "prefix: " in front of the message already in e, keeping its status;
 * returns that status. Used to add the file or node a callee did not know. */
int err_prefix(calma_error *e, const char *fmt, ...) ERR_PRINTF(2, 3);

/* Clears e to CALMA_OK with an empty message. */
void err_clear(calma_error *e);

#endif
