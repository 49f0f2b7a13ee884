#include "util/fmt.h"

#include <math.h>
#include <stdio.h>

const char *fmt_time(double s, char *buf, size_t n) {
    if (!isfinite(s) || s < 0)
        snprintf(buf, n, "-");
    else if (s < 1e-6)
        snprintf(buf, n, "%.0f ns", s * 1e9);
    else if (s < 1e-3)
        snprintf(buf, n, "%.3g us", s * 1e6);
    else if (s < 1)
        snprintf(buf, n, "%.3g ms", s * 1e3);
    else
        snprintf(buf, n, "%.3g s", s);
    return buf;
}

const char *fmt_bytes(double b, char *buf, size_t n) {
    const double k = 1024.0;
    if (!isfinite(b) || b <= 0)
        snprintf(buf, n, "-");
    else if (b < k * k)
        snprintf(buf, n, "%.0f KiB", b / k);
    else if (b < k * k * k)
        snprintf(buf, n, "%.1f MiB", b / (k * k));
    else
        snprintf(buf, n, "%.2f GiB", b / (k * k * k));
    return buf;
}

const char *fmt_rate(double r, char *buf, size_t n) {
    if (!isfinite(r) || r <= 0)
        snprintf(buf, n, "-");
    else if (r < 1e3)
        snprintf(buf, n, "%.3g /s", r);
    else if (r < 1e6)
        snprintf(buf, n, "%.3gk /s", r / 1e3);
    else
        snprintf(buf, n, "%.3gM /s", r / 1e6);
    return buf;
}
