/* The command's world: world.json in, the host save section out and in.
 * The command is a host like any engine: it keeps the list of its objects
 * and the active cells, and saves them in its own section. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/msgpack_json.h"
#include "cli/world.h"

static const char *const openmw_types[] = {
    "ACTIVATOR", "ARMOR",  "BOOK",      "CLOTHING", "CONTAINER", "CREATURE",
    "DOOR",      "INGREDIENT", "LIGHT", "MISC_ITEM", "NPC",      "POTION",
    "WEAPON",    "APPARATUS", "LOCKPICK", "PROBE",   "REPAIR",   "PLAYER",
    NULL};

int cli_register_types(mb_vm *vm) {
  for (int i = 0; openmw_types[i]; i++) {
    if (mb_vm_register_type(vm, openmw_types[i]) != MB_OK) return -1;
  }
  return 0;
}

static void push_str(char ***list, size_t *n, const char *s) {
  char **a = realloc(*list, (*n + 1) * sizeof *a);
  if (!a) cli_out_of_memory();
  *list = a;
  a[(*n)++] = cli_strdup(s);
}

static void free_list(char **list, size_t n) {
  for (size_t i = 0; i < n; i++) free(list[i]);
  free(list);
}

void cli_world_free(cli_world *w) {
  free_list(w->cells, w->ncells);
  free_list(w->ids, w->nids);
  free_list(w->attach_ids, w->nattach);
  free_list(w->attach_paths, w->nattach);
  memset(w, 0, sizeof *w);
}

static int cell_active(const cli_world *w, const char *cell) {
  for (size_t i = 0; i < w->ncells; i++) {
    if (strcmp(w->cells[i], cell) == 0) return 1;
  }
  return 0;
}

/* Read the position array at `v` into pos; -1 if malformed. */
static int read_position(json_t *v, double pos[3]) {
  if (!v) return 0;
  if (!json_is_array(v) || json_array_size(v) != 3) return -1;
  for (size_t i = 0; i < 3; i++) {
    json_t *x = json_array_get(v, i);
    if (!json_is_number(x)) return -1;
    pos[i] = json_number_value(x);
  }
  return 0;
}

/* Create the objects of a world description (world.json, or the host
 * section of a save). `with_active` reads "active" flags (saves) instead of
 * deriving them from activeCells. */
static int apply_world(cli_world *w, mb_vm *vm, json_t *root, const char *name,
                       int with_active, char *err, size_t errsize) {
  if (!json_is_object(root)) {
    snprintf(err, errsize, "%s: the top level must be an object", name);
    return -1;
  }
  json_t *ts = json_object_get(root, "timescale");
  if (ts && (!json_is_number(ts) || json_number_value(ts) < 0)) {
    snprintf(err, errsize, "%s: 'timescale' must be a number >= 0", name);
    return -1;
  }
  w->timescale = ts ? json_number_value(ts) : 1;
  mb_vm_set_timescale(vm, w->timescale);
  json_t *cells = json_object_get(root, "activeCells");
  if (cells && !json_is_array(cells)) {
    snprintf(err, errsize, "%s: 'activeCells' must be a list of names", name);
    return -1;
  }
  size_t i;
  json_t *v;
  json_array_foreach(cells, i, v) {
    if (!json_is_string(v)) {
      snprintf(err, errsize, "%s: activeCells[%zu] must be a string", name, i);
      return -1;
    }
    push_str(&w->cells, &w->ncells, json_string_value(v));
  }
  json_t *objects = json_object_get(root, "objects");
  if (objects && !json_is_array(objects)) {
    snprintf(err, errsize, "%s: 'objects' must be a list", name);
    return -1;
  }
  json_array_foreach(objects, i, v) {
    json_t *id = json_object_get(v, "id"), *type = json_object_get(v, "type"),
           *cell = json_object_get(v, "cell"), *scripts = json_object_get(v, "scripts");
    if (!json_is_object(v) || !json_is_string(id) || !json_is_string(type)) {
      snprintf(err, errsize, "%s: objects[%zu] needs string 'id' and 'type'", name, i);
      return -1;
    }
    if (cell && !json_is_string(cell)) {
      snprintf(err, errsize, "%s: objects[%zu].cell must be a string", name, i);
      return -1;
    }
    mb_object_desc d;
    memset(&d, 0, sizeof d);
    d.id = json_string_value(id);
    d.type = json_string_value(type);
    d.cell = cell ? json_string_value(cell) : "";
    if (read_position(json_object_get(v, "position"), d.position) != 0) {
      snprintf(err, errsize, "%s: objects[%zu].position must be [x, y, z]", name, i);
      return -1;
    }
    json_t *active = json_object_get(v, "active");
    d.active = with_active && active ? json_is_true(active)
                                     : cell_active(w, d.cell);
    if (mb_vm_create_object(vm, &d) != MB_OK) {
      snprintf(err, errsize, "%s: objects[%zu]: %s", name, i, mb_vm_error(vm));
      return -1;
    }
    push_str(&w->ids, &w->nids, d.id);
    if (scripts && !json_is_array(scripts)) {
      snprintf(err, errsize, "%s: objects[%zu].scripts must be a list", name, i);
      return -1;
    }
    size_t k;
    json_t *s;
    json_array_foreach(scripts, k, s) {
      if (!json_is_string(s)) {
        snprintf(err, errsize, "%s: objects[%zu].scripts[%zu] must be a path", name, i, k);
        return -1;
      }
      size_t n = w->nattach;
      push_str(&w->attach_ids, &n, d.id);
      push_str(&w->attach_paths, &w->nattach, json_string_value(s));
    }
  }
  json_t *frames = json_object_get(root, "frames");
  w->frames = json_is_integer(frames) ? (long)json_integer_value(frames) : 0;
  return 0;
}

int cli_world_new_game(cli_world *w, mb_vm *vm, const char *data_dir,
                       char *err, size_t errsize) {
  char path[4096];
  snprintf(path, sizeof path, "%s/world.json", data_dir);
  FILE *f = fopen(path, "rb");
  if (!f) {
    /* no world.json: one active player */
    mb_object_desc d = {"player", "PLAYER", "", {0, 0, 0}, 1, NULL};
    w->timescale = 1;
    if (mb_vm_create_object(vm, &d) != MB_OK) {
      snprintf(err, errsize, "%s", mb_vm_error(vm));
      return -1;
    }
    push_str(&w->ids, &w->nids, "player");
    return 0;
  }
  json_error_t je;
  json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
  fclose(f);
  if (!root) {
    snprintf(err, errsize, "%s:%d: %s", path, je.line, je.text);
    return -1;
  }
  int rc = apply_world(w, vm, root, "world.json", 0, err, errsize);
  json_decref(root);
  return rc;
}

int cli_world_attach(cli_world *w, mb_vm *vm, char *err, size_t errsize) {
  for (size_t i = 0; i < w->nattach; i++) {
    if (mb_vm_add_script(vm, w->attach_ids[i], w->attach_paths[i], NULL, 0) !=
        MB_OK) {
      snprintf(err, errsize, "world.json: %s", mb_vm_error(vm));
      return -1;
    }
  }
  return 0;
}

mb_status cli_world_host_load(void *ud, mb_vm *vm, const void *data,
                              size_t size) {
  cli_world *w = ud;
  char err[512];
  if (!data) {
    fputs("moonbox: the save has no world section (not written by moonbox run)\n",
          stderr);
    return MB_ECORRUPT;
  }
  json_t *root = cli_msgpack_to_json(data, size);
  if (!json_is_object(root) || json_object_get(root, "$bytes")) {
    json_decref(root);
    fputs("moonbox: the save's world section is damaged\n", stderr);
    return MB_ECORRUPT;
  }
  /* the save replaces whatever world there was */
  for (size_t i = 0; i < w->nids; i++) mb_vm_remove_object(vm, w->ids[i]);
  cli_world_free(w);
  int rc = apply_world(w, vm, root, "save", 1, err, sizeof err);
  json_decref(root);
  if (rc != 0) {
    fprintf(stderr, "moonbox: %s\n", err);
    return MB_ECORRUPT;
  }
  /* the save holds the attachments: nothing from world.json to attach */
  free_list(w->attach_ids, w->nattach);
  free_list(w->attach_paths, w->nattach);
  w->attach_ids = w->attach_paths = NULL;
  w->nattach = 0;
  return MB_OK;
}

char *cli_world_dump(const cli_world *w, mb_vm *vm, size_t *len) {
  json_t *root = json_object();
  json_object_set_new(root, "format", json_integer(1));
  json_object_set_new(root, "timescale", json_real(w->timescale));
  json_object_set_new(root, "frames", json_integer(w->frames));
  json_t *cells = json_array();
  for (size_t i = 0; i < w->ncells; i++)
    json_array_append_new(cells, json_string(w->cells[i]));
  json_object_set_new(root, "activeCells", cells);
  json_t *objects = json_array();
  for (size_t i = 0; i < w->nids; i++) {
    mb_object_info info;
    if (mb_vm_object_info(vm, w->ids[i], &info) != MB_OK) continue;
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(w->ids[i]));
    json_object_set_new(o, "type", json_string(info.type));
    json_object_set_new(o, "cell", json_string(info.cell));
    json_t *pos = json_array();
    for (int k = 0; k < 3; k++) json_array_append_new(pos, json_real(info.position[k]));
    json_object_set_new(o, "position", pos);
    json_object_set_new(o, "active", json_boolean(info.active));
    json_array_append_new(objects, o);
  }
  json_object_set_new(root, "objects", objects);
  /* msgpack, so that save tools show it like every other section; jansson
   * keeps insertion order, so equal worlds give equal bytes */
  char *bytes = NULL, err[256];
  if (cli_json_to_msgpack(root, &bytes, len, err, sizeof err) != 0) {
    fprintf(stderr, "moonbox: %s\n", err);
    exit(EXIT_USAGE);
  }
  json_decref(root);
  return bytes;
}
