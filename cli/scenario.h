/* Scenarios (see scenario.c). */
#ifndef MB_CLI_SCENARIO_H
#define MB_CLI_SCENARIO_H

#include <jansson.h>

#include "cli/session.h"

typedef enum sc_kind {
  SC_GLOBAL_EVENT,
  SC_OBJECT_EVENT,
  SC_ACTIVATE,
  SC_DEACTIVATE,
  SC_SAVE,
  SC_RELOAD,
  SC_CONSOLE
} sc_kind;

typedef struct sc_entry {
  long frame;
  size_t index; /* position in the file, for messages */
  sc_kind kind;
  char *object, *name, *path, *context, *code;
  char *data; /* msgpack of the event data (NULL: nil) */
  size_t size;
} sc_entry;

typedef struct scenario {
  sc_entry *e;
  size_t n;
  json_t *json; /* the entries as read, for --record */
} scenario;

/* Read and check a whole scenario; on error `err` names the entry. */
int scenario_load(scenario *sc, const char *file, char *err, size_t errsize);
int scenario_from_json(scenario *sc, json_t *root, char *err, size_t errsize);
/* Refuse entries naming objects the world does not have. */
int scenario_check_objects(const scenario *sc, cli_session *s, char *err,
                           size_t errsize);
/* Apply the entries of `frame` (cursor: the next entry). -1 on failure. */
int scenario_apply(scenario *sc, cli_session *s, long frame, size_t *cursor);
void scenario_free(scenario *sc);

/* The object id for a console context: global, player or an id. */
const char *cli_console_target(cli_session *s, const char *context);

#endif
