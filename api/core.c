/* <prefix>.core: clocks and the API revision. */
#include <lauxlib.h>

#include "api/api.h"

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

int mb__api_core_open(lua_State *L, void *ud) {
  (void)ud;
  static const luaL_Reg fns[] = {{"getSimulationTime", core_simulation_time},
                                 {"getGameTime", core_game_time},
                                 {NULL, NULL}};
  lua_newtable(L);
  luaL_register(L, NULL, fns);
  lua_pushinteger(L, API_REVISION);
  lua_setfield(L, -2, "API_REVISION");
  return 1;
}
