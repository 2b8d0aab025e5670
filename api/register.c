/* The built-in packages and per-realm engine types. */
#include "api/api.h"

mb_status mb__api_register(mb_vm *vm) {
  mb_status st = mb__package_add(vm, "core", MB_VISIBLE_EVERYWHERE,
                                 mb__api_core_open, NULL, NULL);
  if (st == MB_OK)
    st = mb__package_add(vm, "util", MB_VISIBLE_EVERYWHERE, mb__api_util_open,
                         NULL, NULL);
  if (st == MB_OK)
    st = mb__package_add(vm, "world", MB_VISIBLE_GLOBAL, mb__api_world_open,
                         NULL, NULL);
  if (st == MB_OK)
    st = mb__package_add(vm, "self", MB_VISIBLE_LOCAL | MB_VISIBLE_PLAYER,
                         NULL, mb__api_self_open, NULL);
  if (st == MB_OK)
    st = mb__package_add(vm, "async", MB_VISIBLE_EVERYWHERE, NULL,
                         mb__api_async_open, NULL);
  if (st == MB_OK)
    st = mb__package_add(vm, "interfaces", MB_VISIBLE_EVERYWHERE, NULL,
                         mb__api_interfaces_open, NULL);
  if (st == MB_OK)
    st = mb__package_add(vm, "storage", MB_VISIBLE_EVERYWHERE,
                         mb__api_storage_open, NULL, NULL);
  return st;
}

static int open_realm_protected(lua_State *L) {
  lua_settop(L, 0);
  mb__api_util_open_realm(L);
  mb__api_object_open_realm(L);
  mb__api_async_open_realm(L);
  mb__api_storage_open_realm(L);
  return 0;
}

mb_status mb__api_open_realm(mb_vm *vm, mb__realm *realm) {
  (void)vm;
  return mb__realm_pcall_trusted(realm, open_realm_protected, NULL);
}
