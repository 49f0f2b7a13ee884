/* The server scenario's latency-throughput chart inside report_svg. */
#ifndef CALMA_REPORT_SVG_SERVE_H
#define CALMA_REPORT_SVG_SERVE_H

#include <stdio.h>

#include <cjson/cJSON.h>

/* The height the chart takes; 0 when the document has no server trial. */
double report_svg_serving_height(const cJSON *doc);
/* Draws it from y down (nothing without a server trial); the y below it. */
double report_svg_serving(const cJSON *doc, FILE *f, double y);

#endif
