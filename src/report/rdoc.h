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

/* Writes s with the characters XML/HTML gives meaning to escaped. */
void rd_xml_escape(FILE *f, const char *s);

#endif
