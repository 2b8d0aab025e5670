/* <prefix>.interfaces: the interfaces published in the script's container,
 * looked up on each access so that adding or removing a script changes
 * what I.Name is at once. Scripts get read-only views. */
#include <string.h>

#include <lauxlib.h>

#include "api/api.h"

static int iface_index(lua_State *L) {
  mb__instance *inst = mb__sandbox_handle_owner(L, lua_upvalueindex(1));
  const char *name = lua_tostring(L, 2);
  if (!inst || !name) return 0;
  if (!mb__interface_push(mb__vm_of(L), inst->container, name, SIZE_MAX))
    return 0;
  return 1;
}

static int iface_newindex(lua_State *L) {
  return luaL_error(L, "interfaces are read-only");
}

int mb__api_interfaces_open(lua_State *L, mb__instance *inst, void *ud) {
  (void)ud;
  lua_newtable(L);
  lua_createtable(L, 0, 3);
  lua_rawgeti(L, LUA_REGISTRYINDEX, inst->handle_ref);
  lua_pushcclosure(L, iface_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, iface_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
  return 1;
}
