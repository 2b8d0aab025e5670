/* Storage sections (see storage.h). */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "core/storage.h"

typedef struct mb__storage {
  mb__section **sections; /* creation order */
  size_t n, cap;
} mb__storage;

static void section_free(mb_vm *vm, mb__section *s) {
  for (size_t i = 0; i < s->n; i++) {
    mb__vm_strfree(vm, s->entries[i].key);
    if (s->entries[i].value.data)
      mb__vm_alloc(vm, s->entries[i].value.data, s->entries[i].value.size, 0);
  }
  if (s->entries) mb__vm_alloc(vm, s->entries, s->cap * sizeof *s->entries, 0);
  for (size_t i = 0; i < s->nsubs; i++) {
    if (s->subs[i].realm < (int)vm->nrealms)
      luaL_unref(mb__realm_lua(vm->realms[s->subs[i].realm]), LUA_REGISTRYINDEX,
                 s->subs[i].ref);
  }
  if (s->subs) mb__vm_alloc(vm, s->subs, s->capsubs * sizeof *s->subs, 0);
  mb__vm_strfree(vm, s->name);
  mb__vm_alloc(vm, s, sizeof *s, 0);
}

void mb__storage_free(mb_vm *vm) {
  mb__storage *st = vm->storage;
  if (!st) return;
  for (size_t i = 0; i < st->n; i++) section_free(vm, st->sections[i]);
  if (st->sections) mb__vm_alloc(vm, st->sections, st->cap * sizeof *st->sections, 0);
  mb__vm_alloc(vm, st, sizeof *st, 0);
  vm->storage = NULL;
}

mb__section *mb__storage_section(mb_vm *vm, const char *name, int player,
                                 int create) {
  mb__storage *st = vm->storage;
  for (size_t i = 0; st && i < st->n; i++) {
    mb__section *s = st->sections[i];
    if (s->player == player && strcmp(s->name, name) == 0) return s;
  }
  if (!create) return NULL;
  if (!st) {
    st = vm->storage = mb__vm_alloc(vm, NULL, 0, sizeof *st);
    if (!st) return NULL;
    memset(st, 0, sizeof *st);
  }
  if (st->n == st->cap) {
    size_t cap = st->cap ? st->cap * 2 : 8;
    mb__section **a = mb__vm_alloc(vm, st->sections, st->cap * sizeof *a, cap * sizeof *a);
    if (!a) return NULL;
    st->sections = a;
    st->cap = cap;
  }
  mb__section *s = mb__vm_alloc(vm, NULL, 0, sizeof *s);
  if (!s) return NULL;
  memset(s, 0, sizeof *s);
  s->name = mb__vm_strdup(vm, name);
  if (!s->name) {
    mb__vm_alloc(vm, s, sizeof *s, 0);
    return NULL;
  }
  s->player = player;
  /* Unlike OpenMW (Persistent), sections default to GameSession so that a
   * save is complete by itself and runs replay exactly. */
  s->lifetime = MB__LIFE_GAME_SESSION;
  st->sections[st->n++] = s;
  return s;
}

/* Binary search: the index of `key`, or where it would go. */
static size_t find_key(const mb__section *s, const char *key, int *found) {
  size_t lo = 0, hi = s->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = strcmp(s->entries[mid].key, key);
    if (c == 0) {
      *found = 1;
      return mid;
    }
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  *found = 0;
  return lo;
}

const mb__bytes *mb__storage_get(const mb__section *s, const char *key) {
  int found;
  size_t i = find_key(s, key, &found);
  return found ? &s->entries[i].value : NULL;
}

static mb_status grow_entries(mb_vm *vm, mb__section *s) {
  if (s->n < s->cap) return MB_OK;
  size_t cap = s->cap ? s->cap * 2 : 8;
  mb__storage_entry *a =
      mb__vm_alloc(vm, s->entries, s->cap * sizeof *a, cap * sizeof *a);
  if (!a) return MB_ENOMEM;
  s->entries = a;
  s->cap = cap;
  return MB_OK;
}

mb_status mb__storage_set(mb_vm *vm, mb__section *s, const char *key,
                          const void *data, size_t size) {
  int found;
  size_t i = find_key(s, key, &found);
  if (!size) {
    if (!found) return MB_OK;
    mb__vm_strfree(vm, s->entries[i].key);
    if (s->entries[i].value.data)
      mb__vm_alloc(vm, s->entries[i].value.data, s->entries[i].value.size, 0);
    memmove(s->entries + i, s->entries + i + 1, (s->n - i - 1) * sizeof *s->entries);
    s->n--;
    return MB_OK;
  }
  mb__bytes value = {NULL, 0};
  if (mb__bytes_copy(vm, &value, data, size) != MB_OK) return MB_ENOMEM;
  if (found) {
    if (s->entries[i].value.data)
      mb__vm_alloc(vm, s->entries[i].value.data, s->entries[i].value.size, 0);
    s->entries[i].value = value;
    return MB_OK;
  }
  char *k = mb__vm_strdup(vm, key);
  if (!k || grow_entries(vm, s) != MB_OK) {
    mb__vm_strfree(vm, k);
    mb__vm_alloc(vm, value.data, value.size, 0);
    return MB_ENOMEM;
  }
  memmove(s->entries + i + 1, s->entries + i, (s->n - i) * sizeof *s->entries);
  s->entries[i].key = k;
  s->entries[i].value = value;
  s->n++;
  return MB_OK;
}

void mb__storage_clear(mb_vm *vm, mb__section *s) {
  while (s->n) mb__storage_set(vm, s, s->entries[s->n - 1].key, NULL, 0);
}

mb_status mb__storage_subscribe(mb_vm *vm, mb__section *s, int realm, int ref) {
  if (s->nsubs == s->capsubs) {
    size_t cap = s->capsubs ? s->capsubs * 2 : 4;
    mb__subscriber *a = mb__vm_alloc(vm, s->subs, s->capsubs * sizeof *a, cap * sizeof *a);
    if (!a) return MB_ENOMEM;
    s->subs = a;
    s->capsubs = cap;
  }
  s->subs[s->nsubs].realm = realm;
  s->subs[s->nsubs].ref = ref;
  s->nsubs++;
  return MB_OK;
}

/* ---- save and load --------------------------------------------------------------- */

typedef struct storage_ctx {
  mb_vm *vm;
  mb_save *save;
  mb__section *section;
  const void *payload;
  size_t size;
  mb_status status;
  char err[256];
  const char *name; /* loading: the section to fill */
  int player, lifetime;
} storage_ctx;

static int save_section(lua_State *L) {
  storage_ctx *c = lua_touserdata(L, 1);
  mb__section *s = c->section;
  lua_createtable(L, 0, (int)s->n);
  for (size_t i = 0; i < s->n; i++) {
    lua_pushlstring(L, s->entries[i].value.data, s->entries[i].value.size);
    lua_setfield(L, -2, s->entries[i].key);
  }
  void *data = NULL;
  size_t size = 0;
  c->status = mb_encode(L, -1, NULL, mb__vm_alloc_cb, c->vm, &data, &size);
  if (c->status != MB_OK) {
    snprintf(c->err, sizeof c->err, "%s", lua_tostring(L, -1));
    return 0;
  }
  c->status = mb_save_put(c->save, "storage", s->player ? "player" : "global",
                          s->name, data, size);
  mb__vm_alloc(c->vm, data, size, 0);
  return 0;
}

/* Put the sections of one lifetime into `save`. */
static mb_status put_sections(mb_vm *vm, mb_save *save, int lifetime) {
  mb__storage *st = vm->storage;
  for (size_t i = 0; st && i < st->n; i++) {
    if (st->sections[i]->lifetime != lifetime) continue;
    storage_ctx c = {vm, save, st->sections[i], NULL, 0, MB_OK, "", NULL, 0, 0};
    mb_status rc = mb__realm_pcall_trusted(vm->realms[0], save_section, &c);
    if (rc == MB_OK) rc = c.status;
    if (rc != MB_OK)
      return mb__vm_fail(vm, rc, "saving storage section '%s': %s",
                         st->sections[i]->name, c.err);
  }
  return MB_OK;
}

mb_status mb__storage_save(mb_vm *vm, mb_save *save) {
  return put_sections(vm, save, MB__LIFE_GAME_SESSION);
}

/* Decode a whole section and check it before anything changes: a payload
 * that is not a map of strings to bytes leaves the live section alone (the
 * save's copy is kept and written back). */
static int load_section(lua_State *L) {
  storage_ctx *c = lua_touserdata(L, 1);
  if (mb_decode(L, c->payload, c->size, NULL) != MB_OK || !lua_istable(L, -1)) {
    snprintf(c->err, sizeof c->err, "not a storage section");
    return 0;
  }
  int t = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING) {
      snprintf(c->err, sizeof c->err, "not a storage section (a key or value is not bytes)");
      return 0;
    }
    lua_pop(L, 1);
  }
  mb__section *s = mb__storage_section(c->vm, c->name, c->player, 1);
  if (!s) return luaL_error(L, "not enough memory");
  mb__storage_clear(c->vm, s);
  s->lifetime = c->lifetime;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    size_t n;
    const char *v = lua_tolstring(L, -1, &n);
    if (mb__storage_set(c->vm, s, lua_tostring(L, -2), v, n) != MB_OK)
      return luaL_error(L, "not enough memory");
    lua_pop(L, 1);
  }
  return 0;
}

/* Read every storage section of `save` as sections of `lifetime`. */
static void read_sections(mb_vm *vm, mb_save *save, unsigned char *applied,
                          int lifetime) {
  for (size_t i = 0; i < mb_save_section_count(save); i++) {
    mb_save_section sec;
    mb_save_section_at(save, i, &sec);
    if (strcmp(sec.kind, "storage") || !sec.checksum_ok) continue;
    storage_ctx c = {vm, save, NULL, sec.payload, sec.size, MB_OK, "", NULL, 0, 0};
    c.name = sec.path;
    c.player = strcmp(sec.container, "player") == 0;
    c.lifetime = lifetime;
    if (mb__realm_pcall_trusted(vm->realms[0], load_section, &c) == MB_OK &&
        !c.err[0] && applied)
      applied[i] = 1;
  }
}

void mb__storage_load(mb_vm *vm, mb_save *save, unsigned char *applied) {
  mb__storage *st = vm->storage;
  /* the game's sections are replaced; temporary ones do not survive */
  for (size_t i = 0; st && i < st->n; i++) {
    if (st->sections[i]->lifetime != MB__LIFE_PERSISTENT)
      mb__storage_clear(vm, st->sections[i]);
  }
  read_sections(vm, save, applied, MB__LIFE_GAME_SESSION);
}

mb_status mb_vm_save_persistent(mb_vm *vm, const char *path) {
  if (!path) return mb__vm_fail(vm, MB_EINVAL, "save_persistent: path is NULL");
  mb_save *save;
  if (mb_save_new(mb__vm_alloc_cb, vm, &save) != MB_OK)
    return mb__vm_fail(vm, MB_ENOMEM, "out of memory");
  mb_status st = put_sections(vm, save, MB__LIFE_PERSISTENT);
  if (st == MB_OK) {
    st = mb_save_write_file(save, path);
    if (st != MB_OK) mb__vm_fail(vm, st, "%s", mb_save_error(save));
  }
  mb_save_free(save);
  return st;
}

mb_status mb_vm_load_persistent(mb_vm *vm, const char *path) {
  if (!path) return mb__vm_fail(vm, MB_EINVAL, "load_persistent: path is NULL");
  mb_save *save;
  if (mb_save_new(mb__vm_alloc_cb, vm, &save) != MB_OK)
    return mb__vm_fail(vm, MB_ENOMEM, "out of memory");
  mb_status st = mb_save_read_file(save, path);
  if (st != MB_OK) {
    mb_status out = st == MB_ENOTFOUND ? st : st == MB_ENOMEM ? st : MB_ECORRUPT;
    mb__vm_fail(vm, out, "%s", mb_save_error(save));
    mb_save_free(save);
    return out;
  }
  read_sections(vm, save, NULL, MB__LIFE_PERSISTENT);
  mb_save_free(save);
  return MB_OK;
}
