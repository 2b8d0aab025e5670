/* <prefix>.async: timers and callbacks of one script instance. */
#include <string.h>

#include <lauxlib.h>

#include "api/api.h"

static char key_token, key_callback;

/* A registered timer callback, as returned by registerTimerCallback. */
typedef struct token {
  uint64_t uid;
  char name[1];
} token;

/* A function wrapped by async:callback, bound to its script. */
typedef struct callback {
  uint64_t uid;
  int fn_ref;
  size_t clen; /* data: container id, NUL, path, NUL */
  char data[1];
} callback;

/* The script the package belongs to (upvalue 1: its sandbox handle). */
static mb__instance *owner(lua_State *L) {
  mb__instance *inst = mb__sandbox_handle_owner(L, lua_upvalueindex(1));
  if (!inst) luaL_error(L, "the script was removed");
  return inst;
}

static void *check_udata(lua_State *L, int idx, void *key, const char *what) {
  int ok = 0;
  if (lua_getmetatable(L, idx)) {
    lua_pushlightuserdata(L, key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    ok = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
  }
  if (!ok) luaL_typerror(L, idx, what);
  return lua_touserdata(L, idx);
}

static void set_meta(lua_State *L, void *key) {
  lua_pushlightuserdata(L, key);
  lua_rawget(L, LUA_REGISTRYINDEX);
  lua_setmetatable(L, -2);
}

static int register_timer_callback(lua_State *L) {
  mb__instance *inst = owner(L);
  const char *name = luaL_checkstring(L, 2);
  luaL_checktype(L, 3, LUA_TFUNCTION);
  /* Registration at load time only: after a load, the same code runs again
   * and registers the same names before any saved timer fires. */
  if (!inst->loading)
    return luaL_error(L, "registerTimerCallback must be called while the "
                         "script loads (at its top level)");
  if (inst->callbacks_ref == LUA_NOREF) {
    lua_newtable(L);
    inst->callbacks_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, inst->callbacks_ref);
  lua_getfield(L, -1, name);
  if (!lua_isnil(L, -1))
    return luaL_error(L, "timer callback '%s' is already registered", name);
  lua_pop(L, 1);
  lua_pushvalue(L, 3);
  lua_setfield(L, -2, name);
  size_t len = strlen(name);
  token *t = lua_newuserdata(L, offsetof(token, name) + len + 1);
  t->uid = inst->uid;
  memcpy(t->name, name, len + 1);
  set_meta(L, &key_token);
  return 1;
}

static mb_status new_timer(lua_State *L, mb__instance *inst, double delay,
                           int game, mb__timer *t) {
  mb_vm *vm = mb__vm_of(L);
  memset(t, 0, sizeof *t);
  t->fn_ref = LUA_NOREF;
  t->uid = inst->uid;
  t->realm = inst->container->realm;
  t->game = game;
  t->due = (game ? vm->game_time : vm->sim_time) + (delay > 0 ? delay : 0);
  t->container = mb__vm_strdup(vm, inst->container->id);
  t->path = mb__vm_strdup(vm, inst->path);
  return t->container && t->path ? MB_OK : MB_ENOMEM;
}

static int savable_timer(lua_State *L, int game) {
  mb__instance *inst = owner(L);
  mb_vm *vm = mb__vm_of(L);
  double delay = luaL_checknumber(L, 2);
  token *tok = check_udata(L, 3, &key_token, "timer callback");
  if (tok->uid != inst->uid)
    return luaL_error(L, "timer callback '%s' belongs to another script", tok->name);
  mb__bytes arg = {NULL, 0};
  if (!lua_isnoneornil(L, 4)) {
    mb_codec_options opt;
    mb_codec_options_init(&opt);
    opt.root_name = "arg";
    void *data;
    if (mb_encode(L, 4, &opt, mb__vm_alloc_cb, vm, &data, &arg.size) != MB_OK)
      return lua_error(L); /* the message names the path */
    arg.data = data;
  }
  mb__timer *t = mb__vm_alloc(vm, NULL, 0, sizeof *t);
  if (!t) {
    if (arg.data) mb__vm_alloc(vm, arg.data, arg.size, 0);
    return luaL_error(L, "not enough memory");
  }
  mb_status st = new_timer(L, inst, delay, game, t);
  t->arg = arg;
  t->callback = mb__vm_strdup(vm, tok->name);
  if (st != MB_OK || !t->callback) {
    mb__timer_free(vm, t);
    return luaL_error(L, "not enough memory");
  }
  if (mb__timer_add(vm, t) != MB_OK) return luaL_error(L, "not enough memory");
  return 0;
}

static int unsavable_timer(lua_State *L, int game) {
  mb__instance *inst = owner(L);
  mb_vm *vm = mb__vm_of(L);
  double delay = luaL_checknumber(L, 2);
  luaL_checktype(L, 3, LUA_TFUNCTION);
  mb__timer *t = mb__vm_alloc(vm, NULL, 0, sizeof *t);
  if (!t) return luaL_error(L, "not enough memory");
  if (new_timer(L, inst, delay, game, t) != MB_OK) {
    mb__timer_free(vm, t);
    return luaL_error(L, "not enough memory");
  }
  lua_pushvalue(L, 3);
  t->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  if (mb__timer_add(vm, t) != MB_OK) return luaL_error(L, "not enough memory");
  return 0;
}

static int new_simulation_timer(lua_State *L) {
  return savable_timer(L, 0);
}
static int new_game_timer(lua_State *L) {
  return savable_timer(L, 1);
}
static int new_unsavable_simulation_timer(lua_State *L) {
  return unsavable_timer(L, 0);
}
static int new_unsavable_game_timer(lua_State *L) {
  return unsavable_timer(L, 1);
}

static int new_callback(lua_State *L) {
  mb__instance *inst = owner(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  size_t clen = strlen(inst->container->id), plen = strlen(inst->path);
  callback *cb = lua_newuserdata(L, offsetof(callback, data) + clen + plen + 2);
  cb->uid = inst->uid;
  cb->fn_ref = LUA_NOREF;
  cb->clen = clen;
  memcpy(cb->data, inst->container->id, clen + 1);
  memcpy(cb->data + clen + 1, inst->path, plen + 1);
  set_meta(L, &key_callback);
  lua_pushvalue(L, 2);
  cb->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 1;
}

int mb__is_callback(lua_State *L, int idx) {
  int ok = 0;
  if (lua_type(L, idx) == LUA_TUSERDATA && lua_getmetatable(L, idx)) {
    lua_pushlightuserdata(L, &key_callback);
    lua_rawget(L, LUA_REGISTRYINDEX);
    ok = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
  }
  return ok;
}

mb_status mb__callback_invoke(mb_vm *vm, lua_State *L, int idx, int nargs) {
  callback *cb = lua_touserdata(L, idx);
  mb__instance *inst =
      mb__instance_find(vm, cb->data, cb->data + cb->clen + 1, cb->uid);
  if (!inst) {
    /* its script is gone: calling it is a logged no-op */
    mb__vm_log(vm, MB_LOG_WARN, "%s[%s]: callback called after its script was removed",
               cb->data, cb->data + cb->clen + 1);
    lua_pop(L, nargs);
    return MB_ENOTFOUND;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, cb->fn_ref);
  lua_insert(L, -(nargs + 1));
  mb_status st = mb__instance_call(vm, inst, nargs, 0, "callback");
  if (inst->doomed && !inst->running) mb__instance_free(vm, inst);
  return st;
}

static int callback_call(lua_State *L) {
  int nargs = lua_gettop(L) - 1;
  mb__callback_invoke(mb__vm_of(L), L, 1, nargs);
  return 0;
}

static int callback_gc(lua_State *L) {
  callback *cb = lua_touserdata(L, 1);
  luaL_unref(L, LUA_REGISTRYINDEX, cb->fn_ref);
  cb->fn_ref = LUA_NOREF;
  return 0;
}

static int token_tostring(lua_State *L) {
  token *t = lua_touserdata(L, 1);
  lua_pushfstring(L, "TimerCallback(%s)", t->name);
  return 1;
}

void mb__api_async_open_realm(lua_State *L) {
  lua_pushlightuserdata(L, &key_token);
  lua_createtable(L, 0, 2);
  lua_pushcfunction(L, token_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_rawset(L, LUA_REGISTRYINDEX);
  lua_pushlightuserdata(L, &key_callback);
  lua_createtable(L, 0, 3);
  lua_pushcfunction(L, callback_call);
  lua_setfield(L, -2, "__call");
  lua_pushcfunction(L, callback_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_rawset(L, LUA_REGISTRYINDEX);
}

int mb__api_async_open(lua_State *L, mb__instance *inst, void *ud) {
  (void)ud;
  static const luaL_Reg fns[] = {
      {"registerTimerCallback", register_timer_callback},
      {"newSimulationTimer", new_simulation_timer},
      {"newGameTimer", new_game_timer},
      {"newUnsavableSimulationTimer", new_unsavable_simulation_timer},
      {"newUnsavableGameTimer", new_unsavable_game_timer},
      {"callback", new_callback},
      {NULL, NULL}};
  lua_newtable(L);
  for (int i = 0; fns[i].name; i++) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, inst->handle_ref);
    lua_pushcclosure(L, fns[i].func, 1);
    lua_setfield(L, -2, fns[i].name);
  }
  mb__sandbox_readonly(L, -1);
  lua_remove(L, -2);
  return 1;
}
