/* journal_: a run's folder. plan.json (written once, atomically),
 * journal.jsonl (one JSON object per finished trial, appended and fsynced the
 * moment the trial ends), oracle/b<batch>/ and <trial>.samples. A kill of
 * anything loses at most the trial in flight. */
#ifndef CALMA_BENCH_JOURNAL_H
#define CALMA_BENCH_JOURNAL_H

#include <cjson/cJSON.h>

#include "calma/calma.h"

#define JOURNAL_PLAN "plan.json"
#define JOURNAL_FILE "journal.jsonl"

/* mkdir -p, then proves the folder is writable by creating a file in it.
 * CALMA_E_IO naming the path otherwise. */
int journal_make_dir(const char *dir, calma_error *e);

/* j as JSON text (indented when formatted), with every byte that is not
 * UTF-8 replaced by U+FFFD, so that strict parsers (Python's json) read it:
 * engines and plugins hand calma strings it does not control. NULL when out
 * of memory; free with journal_free_text. */
char *journal_print(const cJSON *j, int formatted);
void journal_free_text(char *text);

/* Writes text (JSON) to dir/name through a temporary file, fsync and
 * rename, made safe as journal_print makes it. */
int journal_write_file(const char *dir, const char *name, const char *text, calma_error *e);

/* Reads the whole of path (NUL-terminated) into *out. */
int journal_read_file(const char *path, char **out, size_t *len, calma_error *e);

/* Is dir a run folder (it holds a readable plan.json)? Returns the parsed
 * plan in *plan_json; CALMA_E_USAGE naming dir otherwise. */
int journal_open_run(const char *dir, cJSON **plan_json, calma_error *e);

/* Appends rec as one line to dir/journal.jsonl and fsyncs it. */
int journal_append(const char *dir, const cJSON *rec, calma_error *e);

/* Reads dir/journal.jsonl into an array of trial records (a missing file is
 * an empty array). A last line cut mid-write is dropped and cut off the
 * file, so the next append starts on a line of its own. */
int journal_load(const char *dir, cJSON **records, calma_error *e);

/* Reading fields of records (and of plan.json and reports) without
 * tripping on absent ones: the item at a dotted path ("stats.median") or
 * NULL; the number there or NAN; the string there or "". */
const cJSON *journal_field(const cJSON *rec, const char *path);
double journal_num(const cJSON *rec, const char *path);
const char *journal_str(const cJSON *rec, const char *path);

/* The record whose "id" is id, or NULL. */
const cJSON *journal_find(const cJSON *records, const char *id);

#endif
