/* calma list: conversions, tiers, availability here and why. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "bench/journal.h"
#include "bench/registry.h"
#include "cli/cli.h"

static void usage(FILE *f) {
    fprintf(f, "usage: calma list [--plugin FILE.so]... [--json | --resolve NAMES]\n"
               "Prints every conversion calma knows with its tier, device and backend, whether\n"
               "it can run on this machine (and why not), what each tier holds, and the names\n"
               "from other tools that calma recognises but does not offer.\n"
               "--json: the same as a JSON array (name, aliases, tier, device, backend,\n"
               "available, why). --resolve A,B: the canonical name of each, one per line, or\n"
               "exit 2 with what calma bench would say (suggestions, foreign names).\n");
}

static void print_json(const registry *r) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < registry_count(r); i++) {
        const calma_conversion *c = registry_at(r, i);
        calma_error e;
        int rc = registry_probe(c, &e);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", c->name);
        cJSON_AddStringToObject(o, "aliases", c->aliases ? c->aliases : "");
        cJSON_AddNumberToObject(o, "tier", c->tier);
        cJSON_AddStringToObject(o, "device", c->device ? c->device : "cpu");
        cJSON_AddStringToObject(o, "backend", c->backend->name ? c->backend->name : "");
        cJSON_AddStringToObject(o, "description", c->description ? c->description : "");
        cJSON_AddBoolToObject(o, "available", rc == CALMA_OK);
        /* may follow a model transform (INT8+NAME), and its own precision */
        cJSON_AddBoolToObject(o, "reads_onnx", registry_reads_onnx(c));
        registry_entry en = {.conv = c};
        cJSON_AddStringToObject(o, "precision", registry_precision(&en));
        if (rc != CALMA_OK) cJSON_AddStringToObject(o, "why", e.msg);
        cJSON_AddItemToArray(a, o);
    }
    char *text = journal_print(a, 1); /* plugins' descriptions are free text */
    if (text) printf("%s\n", text);
    free(text);
    cJSON_Delete(a);
}

int cli_list(int argc, char **argv) {
    const char *plugins[32] = {0}, *resolve = NULL;
    int n_plugins = 0, json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--resolve") && i + 1 < argc) {
            resolve = argv[++i];
        } else if (!strcmp(argv[i], "--plugin") && i + 1 < argc && n_plugins < 32) {
            plugins[n_plugins++] = argv[++i];
        } else {
            fprintf(stderr, "calma list: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return CLI_EXIT_USAGE;
        }
    }
    registry *r;
    calma_error e;
    if (registry_open(&r, plugins, n_plugins, &e)) {
        fprintf(stderr, "calma list: %s\n", e.msg);
        return CLI_EXIT_USAGE;
    }
    int code = CLI_EXIT_OK;
    if (resolve) {
        registry_selection sel;
        if (registry_select(r, resolve, 1, &sel, &e)) {
            fprintf(stderr, "calma list: %s\n", e.msg);
            code = CLI_EXIT_USAGE;
        } else {
            if (sel.warnings[0]) fprintf(stderr, "calma list: %s\n", sel.warnings);
            for (int i = 0; i < sel.n; i++) printf("%s\n", sel.entry[i].name);
            registry_selection_free(&sel);
        }
    } else if (json) {
        print_json(r);
    } else {
        registry_print(r, stdout);
    }
    registry_close(r);
    return code;
}
