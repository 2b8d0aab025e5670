/* The command's world (see world.c). */
#ifndef MB_CLI_WORLD_H
#define MB_CLI_WORLD_H

#include "cli/cli.h"

typedef struct cli_world {
  double timescale;
  char **cells; /* active cells */
  size_t ncells;
  char **ids;   /* objects, in creation order */
  size_t nids;
  char **attach_ids, **attach_paths; /* world.json "scripts", after start */
  size_t nattach;
  long frames;  /* frames run by every run that led here */
} cli_world;

/* Register OpenMW's object types. */
int cli_register_types(mb_vm *vm);
/* Create the world of DATA_DIR/world.json (or one active player). */
int cli_world_new_game(cli_world *w, mb_vm *vm, const char *data_dir,
                       char *err, size_t errsize);
/* Attach world.json's per-object scripts (after mb_vm_start). */
int cli_world_attach(cli_world *w, mb_vm *vm, char *err, size_t errsize);
/* mb_load_host_fn: rebuild the world from a save's host section. */
mb_status cli_world_host_load(void *ud, mb_vm *vm, const void *data,
                              size_t size);
/* The host section: the world as msgpack bytes (free() them). */
char *cli_world_dump(const cli_world *w, mb_vm *vm, size_t *len);
void cli_world_free(cli_world *w);

#endif
