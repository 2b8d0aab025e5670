/* The package registry: what require("<prefix>.name") returns, and to
 * whom. Built-in packages (api/) and host packages register the same way. */
#include <string.h>

#include <lauxlib.h>

#include "core/vm.h"

static char key_cache;

mb_status mb__package_add(mb_vm *vm, const char *name, unsigned visibility,
                          mb_package_open open, mb__package_open_for open_for,
                          void *ud) {
  if (!name || !*name || strchr(name, '/') || (!open && !open_for))
    return mb__vm_fail(vm, MB_EINVAL, "bad package name or opener");
  if (!(visibility & MB_VISIBLE_EVERYWHERE))
    return mb__vm_fail(vm, MB_EINVAL, "package '%s' is visible nowhere", name);
  for (size_t i = 0; i < vm->npackages; i++) {
    if (strcmp(vm->packages[i].name, name) == 0)
      return mb__vm_fail(vm, MB_EINVAL, "package '%s.%s' is already registered",
                         vm->prefix, name);
  }
  char *copy = mb__vm_strdup(vm, name); /* first: the array matches its count */
  if (!copy) return mb__vm_fail(vm, MB_ENOMEM, "out of memory");
  mb__package *a = mb__vm_alloc(vm, vm->packages, vm->npackages * sizeof *a,
                                (vm->npackages + 1) * sizeof *a);
  if (!a) {
    mb__vm_strfree(vm, copy);
    return mb__vm_fail(vm, MB_ENOMEM, "out of memory");
  }
  vm->packages = a;
  mb__package *p = &a[vm->npackages];
  p->name = copy;
  p->visibility = visibility;
  p->open = open;
  p->open_for = open_for;
  p->ud = ud;
  vm->npackages++;
  return MB_OK;
}

mb_status mb_vm_register_package(mb_vm *vm, const char *name,
                                 unsigned visibility, mb_package_open open,
                                 void *ud) {
  if (!open) return mb__vm_fail(vm, MB_EINVAL, "package opener is NULL");
  return mb__package_add(vm, name, visibility, open, NULL, ud);
}

void mb__packages_free(mb_vm *vm) {
  for (size_t i = 0; i < vm->npackages; i++)
    mb__vm_strfree(vm, vm->packages[i].name);
  if (vm->packages)
    mb__vm_alloc(vm, vm->packages, vm->npackages * sizeof *vm->packages, 0);
  vm->packages = NULL;
  vm->npackages = 0;
}

int mb__packages_resolve(lua_State *L, const char *name, void *owner,
                         void *ud) {
  mb_vm *vm = ud;
  mb__instance *inst = owner;
  size_t plen = strlen(vm->prefix);
  if (strncmp(name, vm->prefix, plen) != 0 || name[plen] != '.') return 0;
  const char *rest = name + plen + 1;
  for (size_t i = 0; i < vm->npackages; i++) {
    mb__package *p = &vm->packages[i];
    if (strcmp(p->name, rest) != 0) continue;
    /* a package this context may not see does not exist for it */
    if (!(p->visibility & inst->container->context)) return 0;
    if (p->open_for) return p->open_for(L, inst, p->ud);
    lua_pushlightuserdata(L, &key_cache);
    lua_rawget(L, LUA_REGISTRYINDEX);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      lua_newtable(L);
      lua_pushlightuserdata(L, &key_cache);
      lua_pushvalue(L, -2);
      lua_rawset(L, LUA_REGISTRYINDEX);
    }
    lua_getfield(L, -1, rest);
    if (!lua_isnil(L, -1)) {
      lua_remove(L, -2);
      return 1;
    }
    lua_pop(L, 1);
    int top = lua_gettop(L);
    if (p->open(L, p->ud) != 1 || lua_gettop(L) != top + 1)
      return luaL_error(L, "package '%s' did not push one value", name);
    /* one package table serves every script of the realm: read-only */
    if (lua_istable(L, -1)) {
      mb__sandbox_readonly(L, -1);
      lua_remove(L, -2);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, rest);
    lua_remove(L, -2);
    return 1;
  }
  return 0;
}
