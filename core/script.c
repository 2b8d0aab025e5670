/* Script instances: starting (atomically), stopping, calling handlers. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

#include "core/vm.h"

static const char *const known_sections[] = {
    "interfaceName", "interface", "eventHandlers", "engineHandlers", NULL};
static const char *const known_handlers[] = {
    "onInit",   "onLoad",     "onSave",              "onUpdate",
    "onActive", "onInactive", "onInterfaceOverride", NULL};

static int in_list(const char *s, const char *const *list) {
  for (int i = 0; list[i]; i++) {
    if (strcmp(s, list[i]) == 0) return 1;
  }
  return 0;
}

static lua_State *realm_lua(mb_vm *vm, const mb__container *c) {
  return mb__realm_lua(vm->realms[c->realm]);
}

/* ---- lifetime of one instance ---------------------------------------------- */

mb__instance *mb__instance_new(mb_vm *vm, mb__container *c, const char *path) {
  mb__instance *inst = mb__vm_alloc(vm, NULL, 0, sizeof *inst);
  if (!inst) return NULL;
  memset(inst, 0, sizeof *inst);
  inst->container = c;
  inst->handle_ref = inst->table_ref = inst->update_ref = LUA_NOREF;
  inst->callbacks_ref = LUA_NOREF;
  inst->uid = ++vm->next_uid;
  inst->path = mb__vm_strdup(vm, path);
  size_t n = strlen(c->id) + strlen(path) + 3;
  inst->label = mb__vm_alloc(vm, NULL, 0, n);
  if (!inst->path || !inst->label) {
    mb__instance_free(vm, inst);
    return NULL;
  }
  snprintf(inst->label, n, "%s[%s]", c->id, path);
  mb__script_seed(&inst->script, vm->cfg.seed, inst->label);
  if (vm->start_rng && vm->start_rng->size == 32) {
    /* a load: math.random continues where the saved run was */
    const unsigned char *b = (const unsigned char *)vm->start_rng->data;
    for (int w = 0; w < 4; w++) {
      uint64_t x = 0;
      for (int k = 0; k < 8; k++) x = (x << 8) | b[w * 8 + k];
      inst->script.rng[w] = x;
    }
    vm->start_rng = NULL;
  }
  const mb__manifest_entry *e = mb__manifest_find(vm->manifest, path);
  inst->order = SIZE_MAX;
  for (size_t i = 0; e && i < mb__manifest_count(vm->manifest); i++) {
    if (mb__manifest_at(vm->manifest, i) == e) inst->order = i;
  }
  return inst;
}

static void bytes_free(mb_vm *vm, mb__bytes *b) {
  if (b->data) mb__vm_alloc(vm, b->data, b->size, 0);
  b->data = NULL;
  b->size = 0;
}

mb_status mb__bytes_copy(mb_vm *vm, mb__bytes *dst, const void *src,
                         size_t size) {
  bytes_free(vm, dst);
  if (!src || !size) return MB_OK;
  dst->data = mb__vm_alloc(vm, NULL, 0, size);
  if (!dst->data) return MB_ENOMEM;
  memcpy(dst->data, src, size);
  dst->size = size;
  return MB_OK;
}

void mb__rng_bytes(const mb__instance *inst, char out[32]) {
  for (int w = 0; w < 4; w++) {
    for (int k = 0; k < 8; k++)
      out[w * 8 + k] = (char)(inst->script.rng[w] >> (56 - 8 * k));
  }
}

void mb__instance_free(mb_vm *vm, mb__instance *inst) {
  if (!inst) return;
  if (inst->container->realm < (int)vm->nrealms) {
    lua_State *L = realm_lua(vm, inst->container);
    if (inst->handle_ref != LUA_NOREF)
      mb__sandbox_release_owner(L, inst->handle_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, inst->table_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, inst->update_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, inst->callbacks_ref);
  }
  bytes_free(vm, &inst->init_data);
  bytes_free(vm, &inst->kept);
  mb__vm_strfree(vm, inst->path);
  if (inst->label) mb__vm_alloc(vm, inst->label, strlen(inst->label) + 1, 0);
  mb__vm_alloc(vm, inst, sizeof *inst, 0);
}

typedef struct load_ctx {
  mb__instance *inst;
  char err[1024];
  mb_status status;
} load_ctx;

static char key_loaded;

static int load_protected(lua_State *L) {
  load_ctx *ctx = lua_touserdata(L, 1);
  lua_settop(L, 0);
  mb__sandbox_new_env(L, ctx->inst->label, ctx->inst, &ctx->inst->handle_ref);
  ctx->status = mb__sandbox_load(L, ctx->inst->path, 1, ctx->err,
                                 sizeof ctx->err);
  if (ctx->status != MB_OK) return 0;
  /* hand the chunk to the caller through the registry */
  lua_pushlightuserdata(L, &key_loaded);
  lua_insert(L, -2);
  lua_rawset(L, LUA_REGISTRYINDEX);
  return 0;
}

mb_status mb__instance_load(mb_vm *vm, mb__instance *inst, char *err,
                            size_t errsize) {
  mb__realm *realm = vm->realms[inst->container->realm];
  lua_State *L = mb__realm_lua(realm);
  load_ctx ctx;
  ctx.inst = inst;
  ctx.err[0] = 0;
  ctx.status = MB_OK;
  mb_status st = mb__realm_pcall_trusted(realm, load_protected, &ctx);
  if (st != MB_OK) {
    snprintf(err, errsize, "%s", mb__realm_error(realm));
    return st;
  }
  if (ctx.status != MB_OK) {
    snprintf(err, errsize, "%s", ctx.err);
    return ctx.status;
  }
  lua_pushlightuserdata(L, &key_loaded);
  lua_rawget(L, LUA_REGISTRYINDEX);
  lua_pushlightuserdata(L, &key_loaded);
  lua_pushnil(L);
  lua_rawset(L, LUA_REGISTRYINDEX);
  return MB_OK;
}

mb_status mb__instance_call(mb_vm *vm, mb__instance *inst, int nargs,
                            int nresults, const char *what) {
  mb__realm *realm = vm->realms[inst->container->realm];
  void *prev = mb__realm_current(mb__realm_lua(realm));
  mb__realm_set_current(realm, inst);
  inst->running++;
  mb_status st;
  if (vm->profiling) {
    struct timespec t0, t1;
    size_t m0 = mb__realm_memory(realm);
    mb__realm_set_meter(realm, &inst->prof_allocated);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    st = mb__realm_call(realm, nargs, nresults, inst->label, what);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* a nested call measured its own script; this one resumes counting */
    mb__realm_set_meter(realm, prev ? &((mb__instance *)prev)->prof_allocated : NULL);
    inst->prof_calls++;
    inst->prof_ns += (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u +
                     (uint64_t)t1.tv_nsec - (uint64_t)t0.tv_nsec;
    inst->prof_bytes += (int64_t)mb__realm_memory(realm) - (int64_t)m0;
  } else {
    st = mb__realm_call(realm, nargs, nresults, inst->label, what);
  }
  inst->running--;
  mb__realm_set_current(realm, prev);
  if (st != MB_OK) mb__vm_script_error(vm, "%s", mb__realm_error(realm));
  return st;
}

/* ---- checking what a script returned ---------------------------------------- */

typedef struct check_ctx {
  mb_vm *vm;
  mb__instance *inst;
  char err[512];
} check_ctx;

/* The returned table (index 2): sections and handlers. Raw access only, so
 * no script code runs here. Unknown names are warnings; wrong types are
 * errors that stop the start. */
static int check_protected(lua_State *L) {
  check_ctx *ctx = lua_touserdata(L, 1);
  const char *label = ctx->inst->label;
  lua_pushnil(L);
  while (lua_next(L, 2)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING || !in_list(lua_tostring(L, -1), known_sections))
      mb__vm_log(ctx->vm, MB_LOG_WARN, "%s: unknown section '%s'", label,
                 lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1)
                                                : luaL_typename(L, -1));
  }
  static const char *const tables[] = {"engineHandlers", "eventHandlers",
                                       "interface"};
  for (int t = 0; t < 3; t++) {
    mb__rawfield(L, 2, tables[t]);
    if (!lua_isnil(L, -1) && !lua_istable(L, -1)) {
      snprintf(ctx->err, sizeof ctx->err, "'%s' must be a table, got %s",
               tables[t], luaL_typename(L, -1));
      return 0;
    }
    if (lua_istable(L, -1) && t < 2) {
      lua_pushnil(L);
      while (lua_next(L, -2)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        if (!k) {
          snprintf(ctx->err, sizeof ctx->err, "%s keys must be strings", tables[t]);
          return 0;
        }
        if (!lua_isfunction(L, -1)) {
          snprintf(ctx->err, sizeof ctx->err, "%s.%s must be a function, got %s",
                   tables[t], k, luaL_typename(L, -1));
          return 0;
        }
        if (t == 0 && !in_list(k, known_handlers))
          mb__vm_log(ctx->vm, MB_LOG_WARN, "%s: unknown engine handler '%s'",
                     label, k);
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 1);
  }
  mb__rawfield(L, 2, "interfaceName");
  if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING) {
    snprintf(ctx->err, sizeof ctx->err, "'interfaceName' must be a string, got %s",
             luaL_typename(L, -1));
    return 0;
  }
  return 0;
}

/* The handler `name` of `inst`, pushed; returns 0 (nothing pushed) if it
 * has none. */
int mb__instance_handler(mb_vm *vm, mb__instance *inst, const char *name) {
  lua_State *L = realm_lua(vm, inst->container);
  if (inst->table_ref == LUA_NOREF) return 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, inst->table_ref);
  mb__rawfield(L, -1, "engineHandlers");
  if (!lua_istable(L, -1)) {
    lua_pop(L, 2);
    return 0;
  }
  mb__rawfield(L, -1, name);
  lua_replace(L, -3);
  lua_pop(L, 1);
  if (lua_isfunction(L, -1)) return 1;
  lua_pop(L, 1);
  return 0;
}

/* Keep the returned table and its onUpdate in the registry (luaL_ref may
 * grow the registry: protected). */
static int register_protected(lua_State *L) {
  mb__instance *inst = lua_touserdata(L, 1);
  mb_vm *vm = mb__vm_of(L);
  lua_pushvalue(L, 2);
  inst->table_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  if (mb__instance_handler(vm, inst, "onUpdate"))
    inst->update_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

/* ---- containers ------------------------------------------------------------- */

mb__instance *mb__container_find(const mb__container *c, const char *path) {
  for (size_t i = 0; i < c->nscripts; i++) {
    if (strcmp(c->scripts[i]->path, path) == 0) return c->scripts[i];
  }
  return NULL;
}

static mb_status container_insert(mb_vm *vm, mb__container *c,
                                  mb__instance *inst) {
  if (c->nscripts == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 2;
    mb__instance **a =
        mb__vm_alloc(vm, c->scripts, c->cap * sizeof *a, cap * sizeof *a);
    if (!a) return MB_ENOMEM;
    c->scripts = a;
    c->cap = cap;
  }
  size_t at = c->nscripts;
  while (at > 0 && c->scripts[at - 1]->order > inst->order) at--;
  memmove(c->scripts + at + 1, c->scripts + at,
          (c->nscripts - at) * sizeof *c->scripts);
  c->scripts[at] = inst;
  c->nscripts++;
  return MB_OK;
}

static void container_unlink(mb__container *c, mb__instance *inst) {
  for (size_t i = 0; i < c->nscripts; i++) {
    if (c->scripts[i] == inst) {
      memmove(c->scripts + i, c->scripts + i + 1,
              (c->nscripts - i - 1) * sizeof *c->scripts);
      c->nscripts--;
      return;
    }
  }
}

void mb__script_stop(mb_vm *vm, mb__instance *inst) {
  container_unlink(inst->container, inst);
  if (inst->running) {
    /* its handler is on the stack: free it when the call returns */
    inst->doomed = 1;
    return;
  }
  mb__instance_free(vm, inst);
}

void mb__container_clear(mb_vm *vm, mb__container *c) {
  while (c->nscripts) mb__script_stop(vm, c->scripts[c->nscripts - 1]);
}

int mb__script_allowed(mb_vm *vm, const mb__container *c, const char *path,
                       char *err, size_t errsize) {
  const mb__manifest_entry *e = mb__manifest_find(vm->manifest, path);
  if (!e) {
    snprintf(err, errsize, "%s is not in any manifest", path);
    return 0;
  }
  if (!c->object) {
    if (e->flags & MB__FLAG_GLOBAL) return 1;
    snprintf(err, errsize, "%s is not a GLOBAL script", path);
    return 0;
  }
  const mb__object *o = c->object;
  if (e->flags & MB__FLAG_GLOBAL) {
    snprintf(err, errsize, "%s is a GLOBAL script; it cannot be attached to '%s'",
             path, c->id);
    return 0;
  }
  if ((e->flags & MB__FLAG_CUSTOM) || (e->flags & mb__type_flag(vm, o->type)) ||
      ((e->flags & MB__FLAG_PLAYER) && o->type == vm->player_type))
    return 1;
  snprintf(err, errsize,
           "%s cannot be attached to '%s' (type %s): its flags allow neither "
           "CUSTOM nor that type",
           path, c->id, vm->types[o->type]);
  return 0;
}

/* ---- interfaces ---------------------------------------------------------------- */

/* The interfaceName of `inst` is `name`? */
static int publishes(mb_vm *vm, mb__instance *inst, const char *name) {
  lua_State *L = realm_lua(vm, inst->container);
  lua_rawgeti(L, LUA_REGISTRYINDEX, inst->table_ref);
  mb__rawfield(L, -1, "interfaceName");
  int yes = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), name) == 0;
  lua_pop(L, 2);
  return yes;
}

int mb__interface_push(mb_vm *vm, mb__container *c, const char *name,
                       size_t below) {
  lua_State *L = realm_lua(vm, c);
  /* the latest script in load order wins */
  for (size_t i = below < c->nscripts ? below : c->nscripts; i-- > 0;) {
    mb__instance *inst = c->scripts[i];
    if (!publishes(vm, inst, name)) continue;
    lua_rawgeti(L, LUA_REGISTRYINDEX, inst->table_ref);
    mb__rawfield(L, -1, "interface");
    lua_remove(L, -2);
    if (!lua_istable(L, -1)) {
      lua_pop(L, 1);
      return 0;
    }
    mb__sandbox_readonly(L, -1);
    lua_remove(L, -2);
    return 1;
  }
  return 0;
}

/* A script that takes over an interface sees the one it replaces. */
static void interface_override(mb_vm *vm, mb__instance *inst) {
  mb__container *c = inst->container;
  lua_State *L = realm_lua(vm, c);
  int top = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, inst->table_ref);
  mb__rawfield(L, -1, "interfaceName");
  if (lua_type(L, -1) != LUA_TSTRING) {
    lua_settop(L, top);
    return;
  }
  /* the string stays on the stack while `name` is used: any length works */
  const char *name = lua_tostring(L, -1);
  size_t at = 0;
  while (at < c->nscripts && c->scripts[at] != inst) at++;
  for (size_t i = at + 1; i < c->nscripts; i++) {
    if (publishes(vm, c->scripts[i], name)) { /* a later one wins */
      lua_settop(L, top);
      return;
    }
  }
  if (!mb__instance_handler(vm, inst, "onInterfaceOverride")) {
    lua_settop(L, top);
    return;
  }
  if (!mb__interface_push(vm, c, name, at)) {
    lua_settop(L, top);
    return;
  }
  mb__instance_call(vm, inst, 1, 0, "onInterfaceOverride");
  lua_settop(L, top);
}

/* ---- starting ---------------------------------------------------------------- */

/* Push the Lua value of serialized bytes (nil when empty). Returns MB_OK or
 * an error with the message in err. */
static mb_status push_bytes(lua_State *L, const mb__bytes *b, char *err,
                            size_t errsize) {
  if (!b || !b->size) {
    lua_pushnil(L);
    return MB_OK;
  }
  mb_status st = mb_decode(L, b->data, b->size, NULL);
  if (st != MB_OK) {
    snprintf(err, errsize, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  return st;
}

mb_status mb__script_start(mb_vm *vm, mb__container *c, const char *path,
                           const mb__bytes *init, const mb__bytes *saved) {
  char err[1024];
  mb__instance *inst = mb__instance_new(vm, c, path);
  if (!inst) return mb__vm_fail(vm, MB_ENOMEM, "out of memory");
  mb__realm *realm = vm->realms[c->realm];
  lua_State *L = mb__realm_lua(realm);
  int top = lua_gettop(L);
  mb_status st = init ? mb__bytes_copy(vm, &inst->init_data, init->data, init->size)
                      : MB_OK;
  if (st == MB_OK) st = mb__instance_load(vm, inst, err, sizeof err);
  if (st == MB_OK) {
    /* the chunk runs unlabelled: a failure is reported as a failed start */
    inst->loading = 1; /* timer callbacks may be registered now */
    mb__realm_set_current(realm, inst);
    st = mb__realm_call(realm, 0, 1, NULL, NULL);
    mb__realm_set_current(realm, NULL);
    inst->loading = 0;
    if (st != MB_OK) snprintf(err, sizeof err, "%s", mb__realm_error(realm));
  }
  if (st == MB_OK && !lua_istable(L, -1)) {
    snprintf(err, sizeof err, "script must return a table, got %s",
             luaL_typename(L, -1));
    st = MB_ERROR;
  }
  if (st == MB_OK) {
    check_ctx ctx = {vm, inst, ""};
    lua_pushvalue(L, -1);
    if (mb__realm_protect(realm, check_protected, &ctx, 1, 0) != MB_OK) {
      snprintf(err, sizeof err, "%s", mb__realm_error(realm));
      st = MB_ENOMEM;
    } else if (ctx.err[0]) {
      snprintf(err, sizeof err, "%s", ctx.err);
      st = MB_ERROR;
    }
  }
  if (st == MB_OK) {
    lua_pushvalue(L, -1);
    if (mb__realm_protect(realm, register_protected, inst, 1, 0) != MB_OK ||
        container_insert(vm, c, inst) != MB_OK) {
      st = MB_ENOMEM;
      snprintf(err, sizeof err, "out of memory");
    }
  }
  lua_settop(L, top);
  if (st != MB_OK) {
    /* nothing of a failed start stays behind */
    mb__vm_script_error(vm, "Can't start %s: %s", inst->label, err);
    mb__vm_fail(vm, st, "Can't start %s: %s", inst->label, err);
    mb__instance_free(vm, inst);
    return st;
  }

  interface_override(vm, inst);
  /* started: now onInit(initData) or onLoad(savedData, initData) */
  const char *what = saved ? "onLoad" : "onInit";
  if (mb__instance_handler(vm, inst, what)) {
    int nargs = 0;
    if (saved) {
      st = push_bytes(L, saved, err, sizeof err);
      nargs++;
    }
    if (st == MB_OK) {
      st = push_bytes(L, &inst->init_data, err, sizeof err);
      nargs++;
    }
    if (st != MB_OK) {
      lua_settop(L, top);
      mb__vm_script_error(vm, "%s %s failed: %s", inst->label, what, err);
    } else {
      st = mb__instance_call(vm, inst, nargs, 0, what);
    }
    if (st != MB_OK && saved) {
      /* keep the data it could not take, for the next save */
      if (mb__bytes_copy(vm, &inst->kept, saved->data, saved->size) == MB_OK)
        inst->keep = 1;
    }
  }
  if (inst->doomed && !inst->running) mb__instance_free(vm, inst);
  return MB_OK;
}

mb_status mb__object_autoattach(mb_vm *vm, mb__object *o) {
  uint64_t type_flag = mb__type_flag(vm, o->type);
  int player = o->type == vm->player_type;
  o->started = 1;
  for (size_t i = 0; i < mb__manifest_count(vm->manifest); i++) {
    const mb__manifest_entry *e = mb__manifest_at(vm->manifest, i);
    if (!((e->flags & type_flag) || (player && (e->flags & MB__FLAG_PLAYER))))
      continue;
    if (mb__container_find(&o->container, e->path)) continue;
    mb__script_start(vm, &o->container, e->path, NULL, NULL);
    if (!mb__vm_object(vm, o->container.id)) return MB_OK; /* removed */
  }
  return MB_OK;
}

typedef struct container_call {
  mb_vm *vm;
  mb__container *c;
  const char *name;
  void (*push)(lua_State *L, void *ud);
  void *ud;
  int nargs;
} container_call;

static int container_call_protected(lua_State *L) {
  container_call *cc = lua_touserdata(L, 1);
  mb__container *c = cc->c;
  /* by index: a handler may add or remove scripts of other containers */
  for (size_t i = 0; i < c->nscripts; i++) {
    mb__instance *inst = c->scripts[i];
    if (!mb__instance_handler(cc->vm, inst, cc->name)) continue;
    if (cc->push) cc->push(L, cc->ud);
    mb__instance_call(cc->vm, inst, cc->nargs, 0, cc->name);
    int gone = i >= c->nscripts || c->scripts[i] != inst; /* unlinked */
    if (inst->doomed && !inst->running) mb__instance_free(cc->vm, inst);
    if (gone) i--;
  }
  return 0;
}

void mb__container_call(mb_vm *vm, mb__container *c, const char *name,
                        void (*push)(lua_State *L, void *ud), void *ud,
                        int nargs) {
  container_call cc = {vm, c, name, push, ud, nargs};
  mb__realm *realm = vm->realms[c->realm];
  if (mb__realm_protect(realm, container_call_protected, &cc, 0, 0) != MB_OK)
    mb__vm_script_error(vm, "%s %s: %s", c->id, name, mb__realm_error(realm));
}
