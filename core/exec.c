/* mb_vm_exec_file: run one VFS file once as a global script instance. */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "core/vm.h"

typedef struct exec_instance {
  mb__script script; /* first: the sandbox finds math.random's state here */
  char label[300];
  int handle_ref;
} exec_instance;

typedef struct exec_setup {
  exec_instance *inst;
  const char *path;
  char err[1024];
  mb_status status;
} exec_setup;

/* Build the environment and load the chunk; leaves the chunk on the stack
 * of the caller (below the protected call's own frame it cannot: so it is
 * stored in the registry under the setup's address). */
static int setup_protected(lua_State *L) {
  exec_setup *s = lua_touserdata(L, 1);
  lua_settop(L, 0);
  mb__sandbox_new_env(L, s->inst->label, s->inst, &s->inst->handle_ref);
  s->status = mb__sandbox_load(L, s->path, 1, s->err, sizeof s->err);
  if (s->status != MB_OK) return 0;
  lua_pushlightuserdata(L, s);
  lua_insert(L, -2);
  lua_rawset(L, LUA_REGISTRYINDEX);
  return 0;
}

mb_status mb_vm_exec_file(mb_vm *vm, const char *path) {
  char norm[256], err[512];
  if (!path) return mb__vm_fail(vm, MB_EINVAL, "exec: path is NULL");
  mb_status st = mb__vfs_normalize(path, strlen(path), norm, sizeof norm, err,
                                   sizeof err);
  if (st != MB_OK) return mb__vm_fail(vm, st, "%s", err);

  exec_instance inst;
  memset(&inst, 0, sizeof inst);
  inst.handle_ref = LUA_NOREF;
  snprintf(inst.label, sizeof inst.label, "global[%s]", norm);
  mb__script_seed(&inst.script, vm->cfg.seed, inst.label);
  exec_setup setup = {&inst, norm, "", MB_OK};

  mb__realm *realm = vm->global;
  lua_State *L = mb__realm_lua(realm);
  st = mb__realm_pcall_trusted(realm, setup_protected, &setup);
  if (st == MB_OK && setup.status != MB_OK) {
    st = mb__vm_fail(vm, setup.status, "%s", setup.err);
  } else if (st != MB_OK) {
    st = mb__vm_fail(vm, st, "%s: %s", inst.label, mb__realm_error(realm));
  } else {
    lua_pushlightuserdata(L, &setup);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_pushlightuserdata(L, &setup);
    lua_pushnil(L);
    lua_rawset(L, LUA_REGISTRYINDEX);
    mb__realm_set_current(realm, &inst.script);
    st = mb__realm_call(realm, 0, 0, inst.label, NULL);
    mb__realm_set_current(realm, NULL);
    if (st != MB_OK) mb__vm_fail(vm, st, "%s", mb__realm_error(realm));
  }
  if (inst.handle_ref != LUA_NOREF)
    mb__sandbox_release_owner(L, inst.handle_ref);
  return st;
}
