/* cli_: the calma command line. Each subcommand lives in its own file
 * (cmd_<name>.c) and returns the process exit status:
 *   0 success, 1 a trial or check failed, 2 bad usage or bad input,
 *   130 interrupted. */
#ifndef CALMA_CLI_H
#define CALMA_CLI_H

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2
#define CLI_EXIT_INTERRUPTED 130

/* argv[0] is the subcommand's name. */
int cli_bench(int argc, char **argv);
int cli_list(int argc, char **argv);
int cli_run(int argc, char **argv);
int cli_zoo(int argc, char **argv);
int cli_conformance(int argc, char **argv);
int cli_report(int argc, char **argv);
int cli_compare(int argc, char **argv);
int cli_merge(int argc, char **argv);
int cli_worker(int argc, char **argv); /* internal: one trial, started by bench */

/* Prints calma's version and each engine's to stdout. */
void cli_print_versions(void);

/* Path of the running calma executable (for exec of workers). */
const char *cli_self_path(void);

#endif
