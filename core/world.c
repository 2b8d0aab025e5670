/* The world as the host describes it: object types, objects, activation,
 * manifests, and attaching scripts by hand. */
#include <stdio.h>
#include <string.h>

#include "core/vm.h"

mb__object *mb__vm_object(const mb_vm *vm, const char *id) {
  return mb__map_get(&vm->objects, id);
}

mb__container *mb__vm_container(mb_vm *vm, const char *id) {
  if (strcmp(id, "global") == 0) return &vm->global;
  mb__object *o = mb__vm_object(vm, id);
  return o ? &o->container : NULL;
}

static void object_free(mb_vm *vm, mb__object *o) {
  mb__container_clear(vm, &o->container);
  if (o->container.scripts)
    mb__vm_alloc(vm, o->container.scripts,
                 o->container.cap * sizeof *o->container.scripts, 0);
  mb__vm_strfree(vm, o->container.id);
  mb__vm_strfree(vm, o->cell);
  mb__vm_alloc(vm, o, sizeof *o, 0);
}

void mb__world_free(mb_vm *vm) {
  mb__console_drop(vm, NULL);
  if (vm->console_result)
    mb__vm_alloc(vm, vm->console_result, vm->console_result_size, 0);
  /* The Lua states are gone: instances hold only C memory now. */
  for (size_t i = 0; i < vm->nby_seq; i++) {
    if (vm->by_seq[i]) object_free(vm, vm->by_seq[i]);
  }
  mb__container_clear(vm, &vm->global);
  if (vm->global.scripts)
    mb__vm_alloc(vm, vm->global.scripts,
                 vm->global.cap * sizeof *vm->global.scripts, 0);
  if (vm->by_seq)
    mb__vm_alloc(vm, vm->by_seq, vm->cap_by_seq * sizeof *vm->by_seq, 0);
  mb__map_free(&vm->objects);
  for (size_t i = 0; i < vm->ntypes; i++) mb__vm_strfree(vm, vm->types[i]);
  for (size_t i = 0; i < vm->nmanifests; i++)
    mb__vm_strfree(vm, vm->manifest_paths[i]);
  if (vm->manifest_paths)
    mb__vm_alloc(vm, vm->manifest_paths,
                 vm->nmanifests * sizeof *vm->manifest_paths, 0);
}

mb_status mb_vm_register_type(mb_vm *vm, const char *name) {
  if (!name || !*name)
    return mb__vm_fail(vm, MB_EINVAL, "type name is empty");
  for (const char *p = name; *p; p++) {
    if (*p == ' ' || *p == ',' || *p == ':' || *p == '#')
      return mb__vm_fail(vm, MB_EINVAL,
                         "type name '%s' may not contain spaces, ',', ':' or '#'",
                         name);
  }
  if (!strcmp(name, "GLOBAL") || !strcmp(name, "CUSTOM"))
    return mb__vm_fail(vm, MB_EINVAL, "type name '%s' is a manifest flag",
                       name);
  for (size_t i = 0; i < vm->ntypes; i++) {
    if (strcmp(vm->types[i], name) == 0)
      return mb__vm_fail(vm, MB_EINVAL, "type '%s' is already registered",
                         name);
  }
  if (vm->ntypes == MB__MAX_TYPES)
    return mb__vm_fail(vm, MB_EINVAL, "too many object types (at most %d)",
                       MB__MAX_TYPES);
  if (vm->nmanifests)
    return mb__vm_fail(vm, MB_EINVAL,
                       "register types before adding manifests");
  char *copy = mb__vm_strdup(vm, name);
  if (!copy) return mb__vm_fail(vm, MB_ENOMEM, "out of memory");
  if (strcmp(name, "PLAYER") == 0) vm->player_type = (int)vm->ntypes;
  vm->types[vm->ntypes++] = copy;
  return MB_OK;
}

/* The manifest parser gets every type but PLAYER, which is a flag. */
static size_t manifest_types(const mb_vm *vm, const char **names,
                             int *index) {
  size_t n = 0;
  for (size_t i = 0; i < vm->ntypes; i++) {
    if ((int)i == vm->player_type) continue;
    index[n] = (int)i;
    names[n++] = vm->types[i];
  }
  return n;
}

/* Manifest flags use their own bit numbering (types without PLAYER);
 * translate an object's type into that numbering. */
uint64_t mb__type_flag(const mb_vm *vm, int type) {
  const char *names[MB__MAX_TYPES];
  int index[MB__MAX_TYPES];
  size_t n = manifest_types(vm, names, index);
  for (size_t i = 0; i < n; i++) {
    if (index[i] == type) return MB__FLAG_TYPE(i);
  }
  return 0;
}

mb_status mb__manifest_add_text(mb_vm *vm, const char *name, const char *text,
                                size_t len) {
  const char *names[MB__MAX_TYPES];
  int index[MB__MAX_TYPES];
  size_t n = manifest_types(vm, names, index);
  char err[512];
  mb_status st = mb__manifest_parse(vm->manifest, name, text, len, names, n,
                                    err, sizeof err);
  return st == MB_OK ? st : mb__vm_fail(vm, st, "%s", err);
}

mb_status mb_vm_add_manifest(mb_vm *vm, const char *path) {
  char *text = NULL;
  size_t size = 0;
  if (!path) return mb__vm_fail(vm, MB_EINVAL, "manifest path is NULL");
  mb_status st = mb_vm_read_file(vm, path, &text, &size);
  if (st != MB_OK) return st;
  st = mb__manifest_add_text(vm, path, text, size);
  mb_vm_release(vm, text, size);
  if (st != MB_OK) return st;
  /* remember it: hot reload reads it again */
  char **paths = mb__vm_alloc(vm, vm->manifest_paths,
                              vm->nmanifests * sizeof *paths,
                              (vm->nmanifests + 1) * sizeof *paths);
  if (!paths) return mb__vm_fail(vm, MB_ENOMEM, "out of memory");
  vm->manifest_paths = paths;
  paths[vm->nmanifests] = mb__vm_strdup(vm, path);
  if (!paths[vm->nmanifests]) {
    vm->manifest_paths = mb__vm_alloc(vm, paths, (vm->nmanifests + 1) * sizeof *paths,
                                      vm->nmanifests * sizeof *paths);
    return mb__vm_fail(vm, MB_ENOMEM, "out of memory");
  }
  vm->nmanifests++;
  return MB_OK;
}

static int find_type(const mb_vm *vm, const char *name) {
  for (size_t i = 0; i < vm->ntypes; i++) {
    if (strcmp(vm->types[i], name) == 0) return (int)i;
  }
  return -1;
}

mb_status mb_vm_create_object(mb_vm *vm, const mb_object_desc *d) {
  if (!d || !d->id || !d->type)
    return mb__vm_fail(vm, MB_EINVAL, "object needs an id and a type");
  if (!*d->id || strlen(d->id) > 200)
    return mb__vm_fail(vm, MB_EINVAL, "object id must be 1 to 200 bytes");
  if (strcmp(d->id, "global") == 0)
    return mb__vm_fail(vm, MB_EINVAL, "object id 'global' is reserved");
  if (mb__vm_object(vm, d->id))
    return mb__vm_fail(vm, MB_EINVAL, "object '%s' exists", d->id);
  int type = find_type(vm, d->type);
  if (type < 0)
    return mb__vm_fail(vm, MB_EINVAL, "object '%s': unknown type '%s'", d->id,
                       d->type);
  int realm = mb__vm_realm_index(vm, d->realm ? d->realm : "local");
  if (realm <= 0)
    return mb__vm_fail(vm, MB_EINVAL, "object '%s': no local realm '%s'",
                       d->id, d->realm ? d->realm : "local");
  if (vm->nby_seq == vm->cap_by_seq) {
    size_t cap = vm->cap_by_seq ? vm->cap_by_seq * 2 : 64;
    mb__object **a = mb__vm_alloc(vm, vm->by_seq,
                                  vm->cap_by_seq * sizeof *a, cap * sizeof *a);
    if (!a) return mb__vm_fail(vm, MB_ENOMEM, "out of memory");
    vm->by_seq = a;
    vm->cap_by_seq = cap;
  }
  mb__object *o = mb__vm_alloc(vm, NULL, 0, sizeof *o);
  if (!o) return mb__vm_fail(vm, MB_ENOMEM, "out of memory");
  memset(o, 0, sizeof *o);
  o->container.id = mb__vm_strdup(vm, d->id);
  o->cell = mb__vm_strdup(vm, d->cell ? d->cell : "");
  if (!o->container.id || !o->cell ||
      mb__map_put(&vm->objects, o->container.id, o) != MB_OK) {
    object_free(vm, o);
    return mb__vm_fail(vm, MB_ENOMEM, "out of memory");
  }
  o->container.object = o;
  o->container.realm = realm;
  o->container.context =
      type == vm->player_type ? MB_VISIBLE_PLAYER : MB_VISIBLE_LOCAL;
  o->type = type;
  memcpy(o->pos, d->position, sizeof o->pos);
  o->active = d->active != 0;
  o->seq = vm->next_seq++;
  vm->by_seq[vm->nby_seq++] = o;
  if (vm->state == MB__RUNNING) return mb__object_autoattach(vm, o);
  return MB_OK;
}

mb_status mb_vm_remove_object(mb_vm *vm, const char *id) {
  mb__object *o = id ? mb__vm_object(vm, id) : NULL;
  if (!o) return mb__vm_fail(vm, MB_ENOTFOUND, "no object '%s'", id ? id : "");
  mb__console_drop(vm, id);
  mb__map_remove(&vm->objects, id);
  for (size_t i = 0; i < vm->nby_seq; i++) {
    if (vm->by_seq[i] == o) vm->by_seq[i] = NULL;
  }
  object_free(vm, o);
  return MB_OK;
}

static void push_nothing(lua_State *L, void *ud) {
  (void)L;
  (void)ud;
}

mb_status mb_vm_set_active(mb_vm *vm, const char *id, int active) {
  mb__object *o = id ? mb__vm_object(vm, id) : NULL;
  if (!o) return mb__vm_fail(vm, MB_ENOTFOUND, "no object '%s'", id ? id : "");
  active = active != 0;
  if (o->active == active) return MB_OK;
  o->active = active;
  if (active) mb__timers_wake(vm, id);
  if (vm->state == MB__RUNNING)
    mb__container_call(vm, &o->container, active ? "onActive" : "onInactive",
                       push_nothing, NULL, 0);
  return MB_OK;
}

mb_status mb_vm_object_info(mb_vm *vm, const char *id, mb_object_info *out) {
  mb__object *o = id ? mb__vm_object(vm, id) : NULL;
  if (!o) return mb__vm_fail(vm, MB_ENOTFOUND, "no object '%s'", id ? id : "");
  out->type = vm->types[o->type];
  out->cell = o->cell;
  memcpy(out->position, o->pos, sizeof o->pos);
  out->active = o->active;
  return MB_OK;
}

mb_status mb_vm_add_script(mb_vm *vm, const char *id, const char *path,
                           const void *init_data, size_t size) {
  if (!id || !path) return mb__vm_fail(vm, MB_EINVAL, "add_script: NULL argument");
  mb__object *o = mb__vm_object(vm, id);
  if (!o) return mb__vm_fail(vm, MB_ENOTFOUND, "no object '%s'", id);
  char norm[256], err[512];
  mb_status st = mb__vfs_normalize(path, strlen(path), norm, sizeof norm, err,
                                   sizeof err);
  if (st != MB_OK) return mb__vm_fail(vm, st, "%s", err);
  if (!mb__script_allowed(vm, &o->container, norm, err, sizeof err))
    return mb__vm_fail(vm, MB_EINVAL, "%s", err);
  if (mb__container_find(&o->container, norm))
    return mb__vm_fail(vm, MB_EINVAL, "%s[%s] is already attached", id, norm);
  mb__bytes init = {(char *)init_data, size};
  return mb__script_start(vm, &o->container, norm, init_data ? &init : NULL,
                          NULL);
}

mb_status mb_vm_remove_script(mb_vm *vm, const char *id, const char *path) {
  mb__object *o = id && path ? mb__vm_object(vm, id) : NULL;
  if (!o) return mb__vm_fail(vm, MB_ENOTFOUND, "no object '%s'", id ? id : "");
  char norm[256], err[512];
  mb_status st = mb__vfs_normalize(path, strlen(path), norm, sizeof norm, err,
                                   sizeof err);
  if (st != MB_OK) return mb__vm_fail(vm, st, "%s", err);
  mb__instance *inst = mb__container_find(&o->container, norm);
  if (!inst)
    return mb__vm_fail(vm, MB_ENOTFOUND, "%s[%s] is not attached", id, norm);
  mb__script_stop(vm, inst);
  return MB_OK;
}

int mb_vm_has_script(mb_vm *vm, const char *id, const char *path) {
  mb__object *o = id && path ? mb__vm_object(vm, id) : NULL;
  char norm[256], err[64];
  if (!o || mb__vfs_normalize(path, strlen(path), norm, sizeof norm, err,
                              sizeof err) != MB_OK)
    return 0;
  return mb__container_find(&o->container, norm) != NULL;
}

void mb_vm_set_timescale(mb_vm *vm, double timescale) {
  if (timescale >= 0) vm->timescale = timescale;
}
double mb_vm_simulation_time(const mb_vm *vm) {
  return vm->sim_time;
}
double mb_vm_game_time(const mb_vm *vm) {
  return vm->game_time;
}
