/* fmt_: numbers for people, in units chosen for their magnitude. */
#ifndef CALMA_UTIL_FMT_H
#define CALMA_UTIL_FMT_H

#include <stddef.h>

/* Seconds as "812 ns", "3.41 us", "12.5 ms", "1.23 s"; "-" when not finite. */
const char *fmt_time(double seconds, char *buf, size_t n);
/* Bytes as "512 KiB", "12.3 MiB", "1.50 GiB"; "-" when not positive. */
const char *fmt_bytes(double bytes, char *buf, size_t n);
/* Rates as "812 /s", "12.3k /s", "1.23M /s". */
const char *fmt_rate(double per_s, char *buf, size_t n);

#endif
