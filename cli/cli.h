/* The `moonbox` command: shared pieces of its subcommands. */
#ifndef MB_CLI_CLI_H
#define MB_CLI_CLI_H

#include <stdio.h>

#include "moonbox.h"

/* Exit statuses, as DESIGN.md specifies. */
enum { EXIT_OK = 0, EXIT_SCRIPT = 1, EXIT_USAGE = 2 };

typedef struct cli_log {
  int quiet;        /* drop info and debug records */
  int errors;       /* script errors seen (for --strict) */
} cli_log;

/* Log callback: prints go to stdout, everything else to stderr. */
void cli_log_fn(void *ud, mb_log_level level, const char *msg);

/* Print "moonbox: <message>" on stderr and return EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...);

/* Print "moonbox: out of memory" on stderr and exit with EXIT_USAGE. */
_Noreturn void cli_out_of_memory(void);

/* A copy of `s`; out of memory ends the process (cli_out_of_memory). */
char *cli_strdup(const char *s);

/* Whether `arg` asks for help (--help or -h); cli_wants_help: any of
 * argv[1..argc). */
int cli_is_help(const char *arg);
int cli_wants_help(int argc, char **argv);

/* A VFS path for FILE given on the command line: FILE relative to
 * DATA_DIR, or DATA_DIR/FILE written out (the prefix is dropped). */
const char *cli_vfs_path(const char *data_dir, const char *file);

int cmd_exec(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_console(int argc, char **argv);
int cmd_save(int argc, char **argv);

#endif
