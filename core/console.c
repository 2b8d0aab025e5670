/* The console: input run in a container's context, and profiling figures. */
#include <string.h>

#include <lauxlib.h>

#include "core/vm.h"

static int new_env_protected(lua_State *L) {
  mb__instance *inst = lua_touserdata(L, 1);
  lua_settop(L, 0);
  mb__sandbox_new_env(L, inst->label, inst, &inst->handle_ref);
  inst->table_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* the environment */
  return 0;
}

/* The console environment of `c`, made on first use. It is an instance
 * that is never registered in its container: not saved, no handlers. */
static mb__instance *console_for(mb_vm *vm, mb__container *c) {
  for (size_t i = 0; i < vm->nconsoles; i++) {
    if (vm->consoles[i]->container == c) return vm->consoles[i];
  }
  mb__instance *inst = mb__instance_new(vm, c, "console");
  if (!inst) return NULL;
  mb__instance **a = NULL;
  if (mb__realm_pcall_trusted(vm->realms[c->realm], new_env_protected, inst) != MB_OK ||
      !(a = mb__vm_alloc(vm, vm->consoles, vm->nconsoles * sizeof *a,
                         (vm->nconsoles + 1) * sizeof *a))) {
    mb__instance_free(vm, inst);
    return NULL;
  }
  vm->consoles = a;
  vm->consoles[vm->nconsoles++] = inst;
  return inst;
}

void mb__console_drop(mb_vm *vm, const char *id) {
  size_t out = 0;
  for (size_t i = 0; i < vm->nconsoles; i++) {
    mb__instance *inst = vm->consoles[i];
    if (!id || strcmp(inst->container->id, id) == 0)
      mb__instance_free(vm, inst);
    else
      vm->consoles[out++] = inst;
  }
  if (out == 0 && vm->consoles) {
    mb__vm_alloc(vm, vm->consoles, vm->nconsoles * sizeof *vm->consoles, 0);
    vm->consoles = NULL;
  }
  vm->nconsoles = out;
}

static mb_status set_result(mb_vm *vm, const char *text, size_t len) {
  if (len + 1 > vm->console_result_size) {
    char *buf = mb__vm_alloc(vm, vm->console_result, vm->console_result_size, len + 1);
    if (!buf) return mb__vm_fail(vm, MB_ENOMEM, "out of memory");
    vm->console_result = buf;
    vm->console_result_size = len + 1;
  }
  memcpy(vm->console_result, text, len);
  vm->console_result[len] = 0;
  return MB_OK;
}

/* Compile `code` as an expression ("return <code>"), else as a statement;
 * pushes the chunk or returns MB_ECORRUPT with the statement's error. */
static mb_status compile(mb_vm *vm, lua_State *L, const char *code) {
  size_t len = strlen(code);
  lua_pushliteral(L, "return ");
  lua_pushlstring(L, code, len);
  lua_concat(L, 2);
  size_t wlen;
  const char *wrapped = lua_tolstring(L, -1, &wlen);
  int rc = luaL_loadbufferx(L, wrapped, wlen, "=console", "t");
  lua_remove(L, -2);
  if (rc == 0) return MB_OK;
  lua_pop(L, 1);
  rc = luaL_loadbufferx(L, code, len, "=console", "t");
  if (rc == 0) return MB_OK;
  mb_status st = rc == LUA_ERRMEM ? MB_ENOMEM : MB_ECORRUPT;
  mb__vm_fail(vm, st, "%s", lua_tostring(L, -1));
  lua_pop(L, 1);
  return st;
}

typedef struct console_run {
  mb_vm *vm;
  mb__instance *inst;
  mb__realm *realm;
  const char *code;
  mb_status status;
} console_run;

/* Compile, run and format, all protected: the input, its values and their
 * text are new Lua objects in a realm that may be at its memory limit. */
static int console_protected(lua_State *L) {
  console_run *cr = lua_touserdata(L, 1);
  mb_vm *vm = cr->vm;
  mb__instance *inst = cr->inst;
  mb__realm *realm = cr->realm;
  int top = lua_gettop(L);
  cr->status = compile(vm, L, cr->code);
  if (cr->status != MB_OK) return 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, inst->table_ref);
  lua_setfenv(L, -2);
  void *prev = mb__realm_current(L);
  mb__realm_set_current(realm, inst);
  cr->status = mb__realm_call(realm, 0, LUA_MULTRET, NULL, NULL);
  mb__realm_set_current(realm, prev);
  if (cr->status != MB_OK) {
    mb__vm_fail(vm, cr->status, "%s", mb__realm_error(realm));
    return 0;
  }
  /* the values as text, through the context's own tostring: it is script
   * code (it may call __tostring), so it runs through the gate */
  int n = lua_gettop(L) - top;
  luaL_checkstack(L, 8, "too many results");
  for (int i = 1; i <= n; i++) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, inst->table_ref);
    mb__rawfield(L, -1, "tostring");
    lua_remove(L, -2);
    lua_pushvalue(L, top + i);
    mb__realm_set_current(realm, inst);
    if (mb__realm_call(realm, 1, 1, NULL, NULL) != MB_OK)
      lua_pushliteral(L, "?");
    else if (!lua_isstring(L, -1)) {
      lua_pop(L, 1);
      lua_pushliteral(L, "?");
    }
    mb__realm_set_current(realm, prev);
    lua_replace(L, top + i); /* the text takes the value's place */
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 1; i <= n; i++) {
    if (i > 1) luaL_addchar(&b, '\t');
    lua_pushvalue(L, top + i);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  size_t len;
  const char *text = lua_tolstring(L, -1, &len);
  cr->status = set_result(vm, text, len);
  return 0;
}

mb_status mb_vm_console(mb_vm *vm, const char *id, const char *code,
                        const char **result) {
  if (result) *result = "";
  if (!id || !code) return mb__vm_fail(vm, MB_EINVAL, "console: NULL argument");
  if (vm->state != MB__RUNNING)
    return mb__vm_fail(vm, MB_EINVAL, "console: the VM has not started");
  mb__container *c = mb__vm_container(vm, id);
  if (!c) return mb__vm_fail(vm, MB_ENOTFOUND, "no object '%s'", id);
  mb__instance *inst = console_for(vm, c);
  if (!inst) return mb__vm_fail(vm, MB_ENOMEM, "out of memory");
  console_run cr = {vm, inst, vm->realms[c->realm], code, MB_OK};
  mb_status st = mb__realm_protect(cr.realm, console_protected, &cr, 0, 0);
  if (st != MB_OK) return mb__vm_fail(vm, st, "%s", mb__realm_error(cr.realm));
  if (cr.status == MB_OK && result) *result = vm->console_result;
  return cr.status;
}

/* ---- profiling --------------------------------------------------------------------- */

void mb_vm_set_profiling(mb_vm *vm, int on) {
  vm->profiling = on != 0;
}

static size_t add_entries(const mb__container *c, mb_profile_entry *out,
                          size_t max, size_t n) {
  for (size_t i = 0; i < c->nscripts; i++, n++) {
    if (n >= max) continue;
    const mb__instance *inst = c->scripts[i];
    out[n].label = inst->label;
    out[n].calls = inst->prof_calls;
    out[n].seconds = (double)inst->prof_ns / 1e9;
    out[n].allocated = inst->prof_allocated;
    out[n].bytes = inst->prof_bytes;
  }
  return n;
}

size_t mb_vm_profile(mb_vm *vm, mb_profile_entry *out, size_t max) {
  size_t n = add_entries(&vm->global, out, max, 0);
  for (size_t i = 0; i < vm->nby_seq; i++) {
    if (vm->by_seq[i]) n = add_entries(&vm->by_seq[i]->container, out, max, n);
  }
  return n;
}
