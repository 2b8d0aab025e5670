/* <prefix>.storage: sections of serialized values shared across realms. */
#include <string.h>

#include <lauxlib.h>

#include "api/api.h"
#include "core/storage.h"

static char key_section;

typedef struct section_ref {
  mb__section *s; /* sections live as long as the VM */
} section_ref;

static mb__section *check_section(lua_State *L) {
  int ok = 0;
  if (lua_getmetatable(L, 1)) {
    lua_pushlightuserdata(L, &key_section);
    lua_rawget(L, LUA_REGISTRYINDEX);
    ok = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
  }
  if (!ok) luaL_typerror(L, 1, "storage section (use section:method())");
  return ((section_ref *)lua_touserdata(L, 1))->s;
}

/* Global sections are written by global scripts, player sections by
 * player scripts; everyone else reads. */
static void check_writable(lua_State *L, mb__section *s) {
  mb__instance *inst = mb__realm_current(L);
  unsigned ctx = inst ? inst->container->context : 0;
  unsigned need = s->player ? MB_VISIBLE_PLAYER : MB_VISIBLE_GLOBAL;
  if (ctx != need)
    luaL_error(L, "storage section '%s' is read-only here (writable by %s scripts)",
               s->name, s->player ? "player" : "global");
}

typedef struct notice {
  mb_vm *vm;
  mb__section *s;
  const char *key;
  int ref;
  mb_status status;
} notice;

/* In the subscriber's realm, protected: the name and key are new strings
 * there, and that realm may be at its memory limit. */
static int notify_protected(lua_State *R) {
  notice *n = lua_touserdata(R, 1);
  lua_rawgeti(R, LUA_REGISTRYINDEX, n->ref);
  int cb = lua_gettop(R);
  lua_pushstring(R, n->s->name);
  if (n->key) lua_pushstring(R, n->key);
  else lua_pushnil(R);
  n->status = mb__callback_invoke(n->vm, R, cb, 2);
  return 0;
}

static void notify(lua_State *L, mb__section *s, const char *key) {
  mb_vm *vm = mb__vm_of(L);
  /* only those subscribed before the change: a callback that subscribes
   * again must not keep this loop going */
  size_t count = s->nsubs;
  for (size_t i = 0; i < count && i < s->nsubs; i++) {
    mb__subscriber sub = s->subs[i];
    lua_State *R = mb__realm_lua(vm->realms[sub.realm]);
    notice n = {vm, s, key, sub.ref, MB_OK};
    if (mb__realm_protect(vm->realms[sub.realm], notify_protected, &n, 0, 0) != MB_OK)
      mb__vm_script_error(vm, "storage section '%s': a subscriber could not be told: %s",
                          s->name, mb__realm_error(vm->realms[sub.realm]));
    mb_status st = n.status;
    if (st == MB_ENOTFOUND) { /* its script is gone: forget it */
      luaL_unref(R, LUA_REGISTRYINDEX, sub.ref);
      memmove(s->subs + i, s->subs + i + 1, (s->nsubs - i - 1) * sizeof *s->subs);
      s->nsubs--;
      count--;
      i--;
    }
  }
  if (mb__realm_budget_exhausted(L)) mb__realm_raise_budget(L);
}

static int push_value(lua_State *L, mb__section *s, const char *key, int frozen) {
  const mb__bytes *b = mb__storage_get(s, key);
  if (!b) {
    lua_pushnil(L);
    return 1;
  }
  if (mb_decode(L, b->data, b->size, NULL) != MB_OK) return lua_error(L);
  if (frozen) {
    mb__sandbox_freeze(L, -1);
    lua_remove(L, -2);
  }
  return 1;
}

static int section_get(lua_State *L) {
  mb__section *s = check_section(L);
  return push_value(L, s, luaL_checkstring(L, 2), 1);
}

static int section_get_copy(lua_State *L) {
  mb__section *s = check_section(L);
  return push_value(L, s, luaL_checkstring(L, 2), 0);
}

/* Serialize the value at idx (nil: remove) and store it under key. */
static void store(lua_State *L, mb__section *s, const char *key, int idx) {
  mb_vm *vm = mb__vm_of(L);
  if (lua_isnil(L, idx)) {
    mb__storage_set(vm, s, key, NULL, 0);
    return;
  }
  mb_codec_options opt;
  mb_codec_options_init(&opt);
  opt.root_name = key;
  void *data;
  size_t size;
  if (mb_encode(L, idx, &opt, mb__vm_alloc_cb, vm, &data, &size) != MB_OK)
    lua_error(L);
  mb_status st = mb__storage_set(vm, s, key, data, size);
  mb__vm_alloc(vm, data, size, 0);
  if (st != MB_OK) luaL_error(L, "not enough memory");
}

static int section_set(lua_State *L) {
  mb__section *s = check_section(L);
  const char *key = luaL_checkstring(L, 2);
  luaL_checkany(L, 3);
  check_writable(L, s);
  store(L, s, key, 3);
  notify(L, s, key);
  return 0;
}

static int section_as_table(lua_State *L) {
  mb__section *s = check_section(L);
  lua_createtable(L, 0, (int)s->n);
  for (size_t i = 0; i < s->n; i++) {
    push_value(L, s, s->entries[i].key, 0);
    lua_setfield(L, -2, s->entries[i].key);
  }
  return 1;
}

static int section_reset(lua_State *L) {
  mb__section *s = check_section(L);
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
  check_writable(L, s);
  /* encode everything first: a bad key or value must change nothing */
  lua_newtable(L);
  int encoded = lua_gettop(L);
  if (lua_istable(L, 2)) {
    lua_pushnil(L);
    while (lua_next(L, 2)) {
      if (lua_type(L, -2) != LUA_TSTRING)
        return luaL_error(L, "storage keys must be strings, got %s",
                          luaL_typename(L, -2));
      mb_codec_options opt;
      mb_codec_options_init(&opt);
      opt.root_name = lua_tostring(L, -2);
      if (mb_encode_string(L, lua_gettop(L), &opt) != MB_OK) return lua_error(L);
      lua_pushvalue(L, -3);
      lua_insert(L, -2);
      lua_rawset(L, encoded); /* key -> bytes */
      lua_pop(L, 1);
    }
  }
  mb_vm *vm = mb__vm_of(L);
  mb__storage_clear(vm, s);
  lua_pushnil(L);
  while (lua_next(L, encoded)) {
    size_t n;
    const char *bytes = lua_tolstring(L, -1, &n);
    if (mb__storage_set(vm, s, lua_tostring(L, -2), bytes, n) != MB_OK)
      return luaL_error(L, "not enough memory");
    lua_pop(L, 1);
  }
  notify(L, s, NULL);
  return 0;
}

static int section_subscribe(lua_State *L) {
  mb__section *s = check_section(L);
  if (!mb__is_callback(L, 2))
    return luaL_argerror(L, 2, "async:callback(fn) expected");
  mb_vm *vm = mb__vm_of(L);
  int realm = mb__vm_realm_index(vm, mb__realm_name(mb__realm_of(L)));
  lua_pushvalue(L, 2);
  int ref = luaL_ref(L, LUA_REGISTRYINDEX);
  if (mb__storage_subscribe(vm, s, realm, ref) != MB_OK) {
    luaL_unref(L, LUA_REGISTRYINDEX, ref);
    return luaL_error(L, "not enough memory");
  }
  return 0;
}

static int section_set_life_time(lua_State *L) {
  mb__section *s = check_section(L);
  lua_Integer lt = luaL_checkinteger(L, 2);
  luaL_argcheck(L, lt >= MB__LIFE_PERSISTENT && lt <= MB__LIFE_TEMPORARY, 2,
                "storage.LIFE_TIME value expected");
  check_writable(L, s);
  s->lifetime = (int)lt;
  return 0;
}

static int push_section(lua_State *L, int player) {
  const char *name = luaL_checkstring(L, 1);
  mb__instance *inst = mb__realm_current(L);
  if (player && (!inst || inst->container->context != MB_VISIBLE_PLAYER))
    return luaL_error(L, "playerSection is available to player scripts only");
  mb__section *s = mb__storage_section(mb__vm_of(L), name, player, 1);
  if (!s) return luaL_error(L, "not enough memory");
  section_ref *r = lua_newuserdata(L, sizeof *r);
  r->s = s;
  lua_pushlightuserdata(L, &key_section);
  lua_rawget(L, LUA_REGISTRYINDEX);
  lua_setmetatable(L, -2);
  return 1;
}

static int global_section(lua_State *L) {
  return push_section(L, 0);
}
static int player_section(lua_State *L) {
  return push_section(L, 1);
}

void mb__api_storage_open_realm(lua_State *L) {
  static const luaL_Reg methods[] = {{"get", section_get},
                                     {"getCopy", section_get_copy},
                                     {"set", section_set},
                                     {"asTable", section_as_table},
                                     {"reset", section_reset},
                                     {"subscribe", section_subscribe},
                                     {"setLifeTime", section_set_life_time},
                                     {NULL, NULL}};
  lua_pushlightuserdata(L, &key_section);
  lua_createtable(L, 0, 2);
  lua_newtable(L);
  luaL_register(L, NULL, methods);
  lua_setfield(L, -2, "__index");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_rawset(L, LUA_REGISTRYINDEX);
}

int mb__api_storage_open(lua_State *L, void *ud) {
  (void)ud;
  lua_newtable(L);
  lua_pushcfunction(L, global_section);
  lua_setfield(L, -2, "globalSection");
  lua_pushcfunction(L, player_section);
  lua_setfield(L, -2, "playerSection");
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, MB__LIFE_PERSISTENT);
  lua_setfield(L, -2, "Persistent");
  lua_pushinteger(L, MB__LIFE_GAME_SESSION);
  lua_setfield(L, -2, "GameSession");
  lua_pushinteger(L, MB__LIFE_TEMPORARY);
  lua_setfield(L, -2, "Temporary");
  mb__sandbox_readonly(L, -1);
  lua_remove(L, -2);
  lua_setfield(L, -2, "LIFE_TIME");
  return 1;
}
