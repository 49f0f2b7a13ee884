/* report_: a run rendered for people (table, Markdown, SVG, HTML) and for
 * machines (JSON, CSV), from report.json or straight from a run folder's
 * journal. The document is the one bench_report_build makes; its schema is
 * docs/report.schema.json. */
#ifndef CALMA_REPORT_H
#define CALMA_REPORT_H

#include <stdio.h>

#include <cjson/cJSON.h>

#include "calma/calma.h"

/* 2 added serving scenarios (a trial's "streams" and "scenario", the
 * plan's "scenario"); version 1 reports read as version 2 without them. */
#define REPORT_SCHEMA_VERSION 2
#define REPORT_SCHEMA_OLDEST 1

/* Opens a report: a report.json file, or a run folder (rebuilt from its
 * plan.json and journal.jsonl, also for an interrupted run). A journal whose
 * last line was cut mid-write is rendered up to what is complete, and note
 * says what was cut ("" otherwise). A report of another schema version is
 * refused (CALMA_E_UNSUPPORTED naming both versions); versions
 * REPORT_SCHEMA_OLDEST to REPORT_SCHEMA_VERSION are read. */
int report_open(const char *path, cJSON **doc, char *note, size_t note_n, calma_error *e);

/* Checks the document's schema version is one this calma reads
 * (CALMA_E_UNSUPPORTED otherwise). */
int report_check_version(const cJSON *doc, const char *what, calma_error *e);

typedef enum report_format {
    REPORT_TABLE,
    REPORT_JSON,
    REPORT_CSV,
    REPORT_MD,
    REPORT_SVG,
    REPORT_HTML
} report_format;

/* "table", "json", ... -> format; -1 when unknown. */
int report_format_parse(const char *s);

#define REPORT_COLOR 1 /* ANSI colours in the table */
#define REPORT_WIDE 2  /* every column in the table (else it fits 100 columns) */

/* Renders doc in format to f; flags: REPORT_COLOR | REPORT_WIDE. */
int report_render(const cJSON *doc, report_format format, int flags, FILE *f, calma_error *e);

void report_csv(const cJSON *doc, FILE *f);
void report_md(const cJSON *doc, FILE *f);
void report_svg(const cJSON *doc, FILE *f);
void report_html(const cJSON *doc, FILE *f);

#endif
