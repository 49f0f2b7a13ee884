/* rd_: reading fields of a report document without tripping on absent
 * ones (an interrupted or failed trial has only some of them). */
#ifndef CALMA_REPORT_RDOC_H
#define CALMA_REPORT_RDOC_H

#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

/* The item at a dotted path ("stats.median"), or NULL. */
const cJSON *rd_get(const cJSON *j, const char *path);
/* The number at path, or NAN. */
double rd_num(const cJSON *j, const char *path);
/* The string at path, or "". */
const char *rd_str(const cJSON *j, const char *path);
/* "ORT_CPU b1 t2" for a trial. */
const char *rd_label(const cJSON *trial, char *buf, size_t n);
/* Is the trial ok (ran and validated)? */
int rd_ok(const cJSON *trial);
/* The validation verdict: "pass", "fail", "no oracle: why", or "-". */
const char *rd_verdict(const cJSON *trial);

/* The trial named best in the document (by id), or NULL. */
const cJSON *rd_best_trial(const cJSON *doc);
/* The trial the document names under key ("best_latency", ...), or NULL. */
const cJSON *rd_named_trial(const cJSON *doc, const char *key);
/* The same where scope (doc, or an entry of its "per_model") names it. */
const cJSON *rd_scoped_trial(const cJSON *doc, const cJSON *scope, const char *key);

/* "pass (max abs 2.1e-06, max rel 3e-05, cosine 1.000000)": the verdict
 * with the worst output's numbers. */
const char *rd_validation_text(const cJSON *trial, char *buf, size_t n);
/* The baseline conversion for trial t: its model's in a report of several
 * models, else the document's ("" when none). */
const char *rd_baseline_of(const cJSON *doc, const cJSON *t);
/* "3.41x" against t's baseline at the same batch and threads, or "-". */
const char *rd_speedup(const cJSON *doc, const cJSON *trial, char *buf, size_t n);
/* One sentence on how the run measured: processes per trial, the
 * baseline. */
const char *rd_method(const cJSON *doc, char *buf, size_t n);

/* Writes s with the characters XML/HTML gives meaning to escaped; bytes
 * that are not UTF-8 become U+FFFD, control characters but tab and
 * newline '?'. */
void rd_xml_escape(FILE *f, const char *s);
/* Writes s as Markdown text (a table cell or a line): '|' and the
 * characters Markdown and inline HTML give meaning to backslash-escaped,
 * line breaks as spaces, control characters and bytes that are not UTF-8
 * as '?'. */
void rd_md_escape(FILE *f, const char *s);

#endif
