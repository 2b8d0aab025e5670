/* Scenarios: host inputs at given frames, read from JSON and checked as a
 * whole before the run starts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/msgpack_json.h"
#include "cli/scenario.h"

/* ---- reading and checking ----------------------------------------------------- */

static char *dup_str(json_t *v) {
  return cli_strdup(json_string_value(v));
}

static int fail(char *err, size_t errsize, size_t i, const char *why) {
  snprintf(err, errsize, "entry %zu: %s", i + 1, why);
  return -1;
}

static int read_event(sc_entry *e, json_t *ev, int object, size_t i, char *err,
                      size_t errsize) {
  json_t *name = json_object_get(ev, "name"), *data = json_object_get(ev, "data"),
         *target = json_object_get(ev, "object");
  if (!json_is_object(ev)) return fail(err, errsize, i, "the event must be an object");
  const char *k;
  json_t *x;
  json_object_foreach(ev, k, x) {
    if (strcmp(k, "name") && strcmp(k, "data") && (!object || strcmp(k, "object"))) {
      char why[300];
      snprintf(why, sizeof why, "unknown event field '%s'", k);
      return fail(err, errsize, i, why);
    }
  }
  if (!json_is_string(name) || !*json_string_value(name))
    return fail(err, errsize, i, "the event needs a non-empty string 'name'");
  if (object && !json_is_string(target))
    return fail(err, errsize, i, "objectEvent needs a string 'object'");
  e->name = dup_str(name);
  if (object) e->object = dup_str(target);
  if (data && !json_is_null(data)) {
    char why[600];
    if (cli_json_to_msgpack(data, &e->data, &e->size, why, sizeof why))
      return fail(err, errsize, i, why);
  }
  return 0;
}

static int read_entry(sc_entry *e, json_t *v, size_t i, char *err, size_t errsize) {
  memset(e, 0, sizeof *e);
  if (!json_is_object(v)) return fail(err, errsize, i, "must be an object");
  json_t *frame = json_object_get(v, "frame");
  if (!json_is_integer(frame) || json_integer_value(frame) < 1)
    return fail(err, errsize, i, "needs an integer 'frame' >= 1");
  e->frame = (long)json_integer_value(frame);
  if (json_object_size(v) != 2)
    return fail(err, errsize, i,
                "needs 'frame' and exactly one of globalEvent, objectEvent, "
                "activate, deactivate, save, reload, console");
  const char *k;
  json_t *x;
  json_object_foreach(v, k, x) {
    if (!strcmp(k, "frame")) continue;
    if (!strcmp(k, "globalEvent")) {
      e->kind = SC_GLOBAL_EVENT;
      return read_event(e, x, 0, i, err, errsize);
    }
    if (!strcmp(k, "objectEvent")) {
      e->kind = SC_OBJECT_EVENT;
      return read_event(e, x, 1, i, err, errsize);
    }
    if (!strcmp(k, "activate") || !strcmp(k, "deactivate")) {
      e->kind = k[0] == 'a' ? SC_ACTIVATE : SC_DEACTIVATE;
      if (!json_is_string(x)) return fail(err, errsize, i, "needs an object id");
      e->object = dup_str(x);
      return 0;
    }
    if (!strcmp(k, "save")) {
      e->kind = SC_SAVE;
      if (!json_is_string(x) || !*json_string_value(x))
        return fail(err, errsize, i, "'save' needs a file path");
      e->path = dup_str(x);
      return 0;
    }
    if (!strcmp(k, "reload")) {
      e->kind = SC_RELOAD;
      if (!json_is_true(x)) return fail(err, errsize, i, "'reload' must be true");
      return 0;
    }
    if (!strcmp(k, "console")) {
      e->kind = SC_CONSOLE;
      json_t *ctx = json_object_get(x, "context"), *code = json_object_get(x, "code");
      if (!json_is_object(x) || !json_is_string(ctx) || !json_is_string(code))
        return fail(err, errsize, i, "'console' needs string 'context' and 'code'");
      e->context = dup_str(ctx);
      e->code = dup_str(code);
      return 0;
    }
    char why[300];
    snprintf(why, sizeof why, "unknown input '%s'", k);
    return fail(err, errsize, i, why);
  }
  return fail(err, errsize, i, "no input");
}

static void entry_free(sc_entry *e) {
  free(e->object);
  free(e->name);
  free(e->data);
  free(e->path);
  free(e->context);
  free(e->code);
}

void scenario_free(scenario *sc) {
  for (size_t i = 0; i < sc->n; i++) entry_free(&sc->e[i]);
  free(sc->e);
  json_decref(sc->json);
  memset(sc, 0, sizeof *sc);
}

int scenario_from_json(scenario *sc, json_t *root, char *err, size_t errsize) {
  memset(sc, 0, sizeof *sc);
  if (!json_is_array(root)) {
    snprintf(err, errsize, "a scenario is a JSON list of entries");
    return -1;
  }
  sc->json = json_incref(root);
  sc->e = calloc(json_array_size(root) + 1, sizeof *sc->e);
  if (!sc->e) {
    snprintf(err, errsize, "out of memory");
    return -1;
  }
  size_t i;
  json_t *v;
  json_array_foreach(root, i, v) {
    if (read_entry(&sc->e[i], v, i, err, errsize)) {
      entry_free(&sc->e[i]);
      scenario_free(sc);
      return -1;
    }
    sc->e[i].index = i;
    sc->n++;
    if (i > 0 && sc->e[i].frame < sc->e[i - 1].frame) {
      snprintf(err, errsize, "entry %zu: frame %ld comes after frame %ld: entries must be in frame order",
               i + 1, sc->e[i].frame, sc->e[i - 1].frame);
      scenario_free(sc);
      return -1;
    }
  }
  return 0;
}

int scenario_load(scenario *sc, const char *file, char *err, size_t errsize) {
  json_error_t je;
  json_t *root = json_load_file(file, JSON_REJECT_DUPLICATES, &je);
  if (!root) {
    snprintf(err, errsize, "%s:%d: %s", file, je.line, je.text);
    return -1;
  }
  char why[900];
  int rc = scenario_from_json(sc, root, why, sizeof why);
  json_decref(root);
  if (rc) snprintf(err, errsize, "%s: %s", file, why);
  return rc;
}

/* ---- applying ------------------------------------------------------------------- */

/* The console context names: global, player (the first player), or an id. */
const char *cli_console_target(cli_session *s, const char *context) {
  if (strcmp(context, "player") != 0) return context;
  for (size_t i = 0; i < s->world.nids; i++) {
    mb_object_info info;
    if (mb_vm_object_info(s->vm, s->world.ids[i], &info) == MB_OK &&
        strcmp(info.type, "PLAYER") == 0)
      return s->world.ids[i];
  }
  return "player";
}

int scenario_apply(scenario *sc, cli_session *s, long frame, size_t *cursor) {
  for (; *cursor < sc->n && sc->e[*cursor].frame <= frame; (*cursor)++) {
    sc_entry *e = &sc->e[*cursor];
    if (e->frame < frame) continue;
    mb_status st = MB_OK;
    const char *result = NULL;
    switch (e->kind) {
    case SC_GLOBAL_EVENT:
      st = mb_vm_send_global_event(s->vm, e->name, e->data, e->size);
      break;
    case SC_OBJECT_EVENT:
      st = mb_vm_send_event(s->vm, e->object, e->name, e->data, e->size);
      break;
    case SC_ACTIVATE:
    case SC_DEACTIVATE:
      st = mb_vm_set_active(s->vm, e->object, e->kind == SC_ACTIVATE);
      break;
    case SC_SAVE:
      if (cli_session_save(s, e->path) != 0) return -1;
      break;
    case SC_RELOAD:
      st = mb_vm_reload(s->vm);
      break;
    case SC_CONSOLE:
      st = mb_vm_console(s->vm, cli_console_target(s, e->context), e->code, &result);
      if (st == MB_OK && result && *result) printf("%s\n", result);
      if (st == MB_ERROR || st == MB_ECORRUPT || st == MB_EBUDGET) {
        fprintf(stderr, "console: %s\n", mb_vm_error(s->vm));
        s->console_errors++;
        st = MB_OK;
      }
      break;
    }
    if (st != MB_OK) {
      fprintf(stderr, "moonbox: scenario entry %zu (frame %ld): %s\n",
              e->index + 1, e->frame, mb_vm_error(s->vm));
      return -1;
    }
  }
  return 0;
}

int scenario_check_objects(const scenario *sc, cli_session *s, char *err,
                           size_t errsize) {
  for (size_t i = 0; i < sc->n; i++) {
    const sc_entry *e = &sc->e[i];
    const char *id = e->object;
    if (e->kind == SC_CONSOLE) {
      id = cli_console_target(s, e->context);
      if (!strcmp(id, "global")) continue;
    }
    mb_object_info info;
    if (id && mb_vm_object_info(s->vm, id, &info) != MB_OK) {
      snprintf(err, errsize, "entry %zu: no object '%s' in the world", e->index + 1, id);
      return -1;
    }
  }
  return 0;
}
