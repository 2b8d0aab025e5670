/* The built-in packages and per-realm engine types. */
#include "api/api.h"

/* Each opens either once (`open`) or per requiring instance (`open_for`). */
static const struct {
  const char *name;
  unsigned visibility;
  mb_package_open open;
  mb__package_open_for open_for;
} builtins[] = {
    {"core", MB_VISIBLE_EVERYWHERE, mb__api_core_open, NULL},
    {"util", MB_VISIBLE_EVERYWHERE, mb__api_util_open, NULL},
    {"world", MB_VISIBLE_GLOBAL, mb__api_world_open, NULL},
    {"self", MB_VISIBLE_LOCAL | MB_VISIBLE_PLAYER, NULL, mb__api_self_open},
    {"async", MB_VISIBLE_EVERYWHERE, NULL, mb__api_async_open},
    {"interfaces", MB_VISIBLE_EVERYWHERE, NULL, mb__api_interfaces_open},
    {"storage", MB_VISIBLE_EVERYWHERE, mb__api_storage_open, NULL},
};

mb_status mb__api_register(mb_vm *vm) {
  mb_status st = MB_OK;
  for (size_t i = 0; st == MB_OK && i < sizeof builtins / sizeof *builtins; i++)
    st = mb__package_add(vm, builtins[i].name, builtins[i].visibility,
                         builtins[i].open, builtins[i].open_for, NULL);
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
