/* A headless world opened from a data directory (see session.c). */
#ifndef MB_CLI_SESSION_H
#define MB_CLI_SESSION_H

#include "cli/cli.h"
#include "cli/world.h"

typedef struct cli_options {
  const char *data_dir;
  const char *load;       /* --load SAVE */
  const char *save;       /* --save SAVE */
  const char *scenario;   /* --scenario FILE */
  const char *api_prefix; /* --api-prefix NAME */
  const char *record;     /* --record FILE */
  const char *storage;    /* --storage FILE: Persistent storage sections */
  long frames;            /* --frames N */
  double dt;              /* --dt SECONDS */
  long hash_every;        /* --hash-every N (0: never) */
  uint64_t seed;          /* --seed N */
  int strict, quiet, profile;
  int no_start; /* open only: VM, types, manifests (cli_session_start later) */
} cli_options;

typedef struct cli_session {
  mb_vm *vm;
  cli_log log;
  cli_world world;
  const char *data_dir;
  int console_errors; /* failed console entries of a scenario */
} cli_session;

/* Parse the options of run (allow_run) or check/console. Returns an exit
 * status. */
int cli_parse_options(int argc, char **argv, cli_options *o, int allow_run);

/* Open DATA_DIR: VM, types, manifests, then --load or a new game. Returns
 * an exit status (EXIT_OK, or EXIT_USAGE after printing why). */
int cli_session_open(cli_session *s, const cli_options *o);
/* Load --load or start a new game (what cli_session_open does last). */
int cli_session_start(cli_session *s, const cli_options *o);
int cli_session_save(cli_session *s, const char *path);
int cli_session_hash(cli_session *s, uint64_t *hash);
void cli_session_close(cli_session *s);
/* Print the top scripts by time and by memory (stderr). */
void cli_print_profile(mb_vm *vm);

#endif
