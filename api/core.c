/* <prefix>.core: clocks and the API revision. */
#include <lauxlib.h>

#include "api/api.h"
#include "serializer/codec.h"

/* Bumped whenever the script-facing API changes. */
#define API_REVISION 1

static int core_simulation_time(lua_State *L) {
  lua_pushnumber(L, mb__vm_of(L)->sim_time);
  return 1;
}

static int core_game_time(lua_State *L) {
  lua_pushnumber(L, mb__vm_of(L)->game_time);
  return 1;
}

mb_status mb__api_send_event(lua_State *L, const char *target, int name_idx,
                             int data_idx) {
  mb_vm *vm = mb__vm_of(L);
  const char *name = luaL_checkstring(L, name_idx);
  mb__buf b;
  mb__buf_init(&b, mb__vm_alloc_cb, vm);
  if (!lua_isnoneornil(L, data_idx)) {
    /* serialized now: a bad payload fails in the sender, naming the path */
    mb_codec_options opt;
    mb_codec_options_init(&opt);
    opt.root_name = "data";
    if (mb__encode(L, data_idx, &opt, &b) != MB_OK) {
      mb__buf_free(&b);
      return lua_error(L);
    }
  }
  /* the event takes the encoder's buffer as it is: no copy, no shrink */
  mb__bytes bytes = {(char *)b.data, b.len};
  mb_status st = mb__event_queue(vm, target, name, &bytes, b.cap);
  if (st != MB_OK) {
    mb__buf_free(&b);
    return luaL_error(L, "not enough memory");
  }
  return MB_OK;
}

static int core_send_global_event(lua_State *L) {
  mb__api_send_event(L, NULL, 1, 2);
  return 0;
}

int mb__api_core_open(lua_State *L, void *ud) {
  (void)ud;
  static const luaL_Reg fns[] = {{"getSimulationTime", core_simulation_time},
                                 {"getGameTime", core_game_time},
                                 {"sendGlobalEvent", core_send_global_event},
                                 {NULL, NULL}};
  lua_newtable(L);
  luaL_register(L, NULL, fns);
  lua_pushinteger(L, API_REVISION);
  lua_setfield(L, -2, "API_REVISION");
  return 1;
}
