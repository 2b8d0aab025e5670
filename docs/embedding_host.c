/* embedding_host.c: a small engine that embeds moonbox (docs/embedding.md).
 *
 * It mounts three scripts from memory, registers its object types and a
 * package of its own, creates a player and two doors, runs frames, sends an
 * event to a door and hears the door's answer, saves into memory, loads the
 * save into a second VM (recreating its objects from its own host section)
 * and checks that both VMs have the same state hash, before and after more
 * frames and after a hot reload. Everything it prints is deterministic.
 * Exit status 0 and a last line "embedding_host: OK" when every check held. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <msgpack.h>

#include "moonbox.h"

/* ---- the scripts (a mod, as the VFS would hold it) ---------------------- */

static const char manifest[] =
    "# flags: path\n"
    "GLOBAL: scripts/director.lua\n"
    "DOOR: scripts/door.lua\n"
    "PLAYER: scripts/hero.lua\n";

static const char director_lua[] =
    "local core = require('engine.core')\n"
    "local world = require('engine.world')\n"
    "local async = require('engine.async')\n"
    "local storage = require('engine.storage')\n"
    "local game = require('engine.game')\n"
    "\n"
    "local opened = {} -- door id -> times opened\n"
    "local announce = async:registerTimerCallback('announce', function(arg)\n"
    "  print('timer:', arg.text, 'at', core.getSimulationTime())\n"
    "end)\n"
    "\n"
    "return {\n"
    "  engineHandlers = {\n"
    "    onInit = function()\n"
    "      print('director: difficulty', game.difficulty, 'players', #world.players)\n"
    "      async:newSimulationTimer(1.5, announce, {text = 'a second and a half'})\n"
    "    end,\n"
    "    onSave = function() return {opened = opened} end,\n"
    "    onLoad = function(data) opened = data.opened end,\n"
    "  },\n"
    "  eventHandlers = {\n"
    "    DoorOpened = function(e)\n"
    "      opened[e.door] = (opened[e.door] or 0) + 1\n"
    "      storage.globalSection('Game'):set('doorsOpened', opened)\n"
    "      print('director:', e.door, 'opened by', e.by, 'in frame', game.frame())\n"
    "    end,\n"
    "  },\n"
    "}\n";

static const char door_lua[] =
    "local self = require('engine.self')\n"
    "local core = require('engine.core')\n"
    "local util = require('engine.util')\n"
    "\n"
    "local isOpen = false\n"
    "\n"
    "return {\n"
    "  engineHandlers = {\n"
    "    onSave = function() return {open = isOpen} end,\n"
    "    onLoad = function(data) isOpen = data.open end,\n"
    "  },\n"
    "  eventHandlers = {\n"
    "    Open = function(e)\n"
    "      if isOpen then return end\n"
    "      isOpen = true\n"
    "      self.position = self.position + util.vector3(0, 0, e.force)\n"
    "      core.sendGlobalEvent('DoorOpened', {door = self.id, by = e.by})\n"
    "    end,\n"
    "  },\n"
    "}\n";

static const char hero_lua[] =
    "local steps = 0\n"
    "return {\n"
    "  engineHandlers = {\n"
    "    onUpdate = function(dt) steps = steps + 1 end,\n"
    "    onSave = function() return steps end,\n"
    "    onLoad = function(saved) steps = saved end,\n"
    "  },\n"
    "}\n";

/* ---- the host's side ---------------------------------------------------- */

/* All memory of a VM goes through this allocator; it counts live bytes. */
typedef struct counting_alloc {
  size_t live;
} counting_alloc;

static void *count_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  counting_alloc *a = ud;
  void *p = mb_default_alloc(NULL, ptr, osize, nsize);
  if (nsize == 0 || p) a->live = a->live - (ptr ? osize : 0) + nsize;
  return p;
}

/* Script print() lines go to stdout; warnings and errors to stderr. */
typedef struct host_log {
  int errors;
} host_log;

static void on_log(void *ud, mb_log_level level, const char *msg) {
  host_log *log = ud;
  if (level == MB_LOG_PRINT) {
    printf("%s\n", msg);
  } else if (level >= MB_LOG_WARN) {
    if (level == MB_LOG_ERROR) log->errors++;
    fflush(stdout);
    fprintf(stderr, "moonbox: %s\n", msg);
  }
}

/* The engine's own world: the objects it owns. */
typedef struct thing {
  const char *id, *type;
  int active;
} thing;

static const thing things[] = {
    {"hero", "PLAYER", 1}, {"door_1", "DOOR", 1}, {"door_2", "DOOR", 0}};
enum { NTHINGS = sizeof things / sizeof things[0] };

typedef struct engine {
  host_log log;
  long frame;
  int door_events; /* DoorOpened events the host heard */
} engine;

static int failures;

static void check(int ok, const char *what) {
  if (!ok) {
    failures++;
    printf("FAILED: %s\n", what);
  }
}

/* Stop on a failed library call, with the VM's message. */
static void must(mb_vm *vm, mb_status st, const char *call) {
  if (st == MB_OK) return;
  fprintf(stderr, "embedding_host: %s: %s: %s\n", call, mb_status_name(st),
          vm ? mb_vm_error(vm) : "");
  exit(1);
}

/* The host package `engine.game`: a constant and a function that reads the
 * engine's frame counter (the engine is the opener's `ud`). */
static int game_frame(lua_State *L) {
  const engine *e = lua_touserdata(L, lua_upvalueindex(1));
  lua_pushinteger(L, e->frame);
  return 1;
}

static int open_game(lua_State *L, void *ud) {
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, 2);
  lua_setfield(L, -2, "difficulty");
  lua_pushlightuserdata(L, ud);
  lua_pushcclosure(L, game_frame, 1);
  lua_setfield(L, -2, "frame");
  return 1;
}

/* Host handler of the global event DoorOpened: its data is msgpack. */
static void on_door_opened(void *ud, mb_vm *vm, const char *name,
                           const void *data, size_t size) {
  (void)vm;
  engine *e = ud;
  e->door_events++;
  char door[64] = "?", by[64] = "?";
  msgpack_unpacked msg;
  msgpack_unpacked_init(&msg);
  if (msgpack_unpack_next(&msg, data, size, NULL) == MSGPACK_UNPACK_SUCCESS &&
      msg.data.type == MSGPACK_OBJECT_MAP) {
    const msgpack_object_map *m = &msg.data.via.map;
    for (uint32_t i = 0; i < m->size; i++) {
      const msgpack_object *k = &m->ptr[i].key, *v = &m->ptr[i].val;
      if (k->type != MSGPACK_OBJECT_STR || v->type != MSGPACK_OBJECT_STR) continue;
      char *out = k->via.str.size == 4 && !memcmp(k->via.str.ptr, "door", 4) ? door
                  : k->via.str.size == 2 && !memcmp(k->via.str.ptr, "by", 2) ? by
                                                                             : NULL;
      if (out && v->via.str.size < 64) {
        memcpy(out, v->via.str.ptr, v->via.str.size);
        out[v->via.str.size] = 0;
      }
    }
  }
  msgpack_unpacked_destroy(&msg);
  printf("host: %s door=%s by=%s\n", name, door, by);
}

/* The host section of a save: the engine's objects as "id type active\n"
 * lines (any bytes would do; the library stores them as they are). */
static size_t dump_world(mb_vm *vm, char *buf, size_t size) {
  size_t n = 0;
  for (int i = 0; i < NTHINGS; i++) {
    mb_object_info info;
    must(vm, mb_vm_object_info(vm, things[i].id, &info), "mb_vm_object_info");
    n += (size_t)snprintf(buf + n, size - n, "%s %s %d\n", things[i].id,
                          info.type, info.active);
  }
  return n;
}

/* Load callback: recreate the objects listed in the host section, before
 * the library applies the scripts' saved state to them. */
static mb_status load_world(void *ud, mb_vm *vm, const void *data,
                            size_t size) {
  (void)ud;
  if (!data) return MB_ECORRUPT; /* our saves always have a host section */
  char text[512];
  if (size >= sizeof text) return MB_ECORRUPT;
  memcpy(text, data, size);
  text[size] = 0;
  char id[64], type[64];
  int active, used;
  for (const char *p = text; sscanf(p, "%63s %63s %d\n%n", id, type, &active, &used) == 3;
       p += used) {
    mb_object_desc d = {id, type, "Seyda Neen", {0, 0, 0}, active, NULL};
    mb_status st = mb_vm_create_object(vm, &d);
    if (st != MB_OK) return st;
  }
  return MB_OK;
}

/* A VM with the engine's configuration, files, types, package, manifest and
 * event handler: what both the first and the second VM need. */
static mb_vm *new_vm(engine *e, counting_alloc *mem) {
  mb_config cfg;
  mb_config_init(&cfg);
  cfg.alloc = count_alloc;
  cfg.alloc_ud = mem;
  cfg.log = on_log;
  cfg.log_ud = &e->log;
  cfg.seed = 42;
  cfg.limits.memory_limit = (size_t)32 << 20;
  cfg.limits.instruction_budget = 1000000;
  cfg.limits.deadline_ms = 500;
  mb_vm *vm = NULL;
  must(NULL, mb_vm_new(&cfg, &vm), "mb_vm_new");
  must(vm, mb_vm_mount_file(vm, "mygame.omwscripts", manifest, strlen(manifest)),
       "mb_vm_mount_file");
  must(vm, mb_vm_mount_file(vm, "scripts/director.lua", director_lua, strlen(director_lua)),
       "mb_vm_mount_file");
  must(vm, mb_vm_mount_file(vm, "scripts/door.lua", door_lua, strlen(door_lua)),
       "mb_vm_mount_file");
  must(vm, mb_vm_mount_file(vm, "scripts/hero.lua", hero_lua, strlen(hero_lua)),
       "mb_vm_mount_file");
  must(vm, mb_vm_register_type(vm, "PLAYER"), "mb_vm_register_type");
  must(vm, mb_vm_register_type(vm, "DOOR"), "mb_vm_register_type");
  must(vm, mb_vm_register_package(vm, "game", MB_VISIBLE_GLOBAL, open_game, e),
       "mb_vm_register_package");
  must(vm, mb_vm_add_manifest(vm, "mygame.omwscripts"), "mb_vm_add_manifest");
  must(vm, mb_vm_on_global_event(vm, "DoorOpened", on_door_opened, e),
       "mb_vm_on_global_event");
  return vm;
}

static void run_frames(mb_vm *vm, engine *e, int n) {
  for (int i = 0; i < n; i++) {
    e->frame++;
    must(vm, mb_vm_update(vm, 0.5), "mb_vm_update");
  }
}

int main(void) {
  printf("moonbox %s\n", mb_version());
  counting_alloc mem1 = {0}, mem2 = {0};
  engine e1 = {{0}, 0, 0}, e2 = {{0}, 0, 0};

  /* a new game */
  mb_vm *vm = new_vm(&e1, &mem1);
  for (int i = 0; i < NTHINGS; i++) {
    mb_object_desc d = {things[i].id, things[i].type, "Seyda Neen", {0, 0, 0},
                        things[i].active, NULL};
    must(vm, mb_vm_create_object(vm, &d), "mb_vm_create_object");
  }
  must(vm, mb_vm_start(vm), "mb_vm_start");
  run_frames(vm, &e1, 3); /* t = 1.5: the director's timer fires */

  /* host -> scripts: {by = "hero", force = 3} to door_1, as msgpack */
  msgpack_sbuffer buf;
  msgpack_sbuffer_init(&buf);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 2);
  msgpack_pack_str(&pk, 2);
  msgpack_pack_str_body(&pk, "by", 2);
  msgpack_pack_str(&pk, 4);
  msgpack_pack_str_body(&pk, "hero", 4);
  msgpack_pack_str(&pk, 5);
  msgpack_pack_str_body(&pk, "force", 5);
  msgpack_pack_int(&pk, 3);
  must(vm, mb_vm_send_event(vm, "door_1", "Open", buf.data, buf.size), "mb_vm_send_event");
  /* the same event for the inactive door waits until it is active */
  must(vm, mb_vm_send_event(vm, "door_2", "Open", buf.data, buf.size), "mb_vm_send_event");
  msgpack_sbuffer_destroy(&buf);
  run_frames(vm, &e1, 2); /* door_1 opens; the director and the host hear it */
  check(e1.door_events == 1, "the host heard DoorOpened once");
  mb_object_info info;
  must(vm, mb_vm_object_info(vm, "door_1", &info), "mb_vm_object_info");
  printf("host: door_1 is at z = %g\n", info.position[2]);
  check(info.position[2] == 3, "door_1 moved by its script");

  /* save into memory, with the engine's world as the host section */
  char world[512];
  size_t world_size = dump_world(vm, world, sizeof world);
  char *save = NULL;
  size_t save_size = 0;
  must(vm, mb_vm_save_memory(vm, world, world_size, &save, &save_size),
       "mb_vm_save_memory");
  uint64_t h1, h2;
  must(vm, mb_vm_state_hash(vm, world, world_size, &h1), "mb_vm_state_hash");

  /* a second VM continues the game from the save */
  mb_vm *vm2 = new_vm(&e2, &mem2);
  e2.frame = e1.frame;
  must(vm2, mb_vm_load_memory(vm2, save, save_size, load_world, NULL), "mb_vm_load_memory");
  mb_vm_release(vm, save, save_size);
  must(vm2, mb_vm_state_hash(vm2, world, world_size, &h2), "mb_vm_state_hash");
  printf("state hash after load: %s\n", h1 == h2 ? "match" : "mismatch");
  check(h1 == h2, "the loaded VM has the saved state");

  /* both go on; door_2 becomes active in both and gets its waiting event */
  must(vm, mb_vm_set_active(vm, "door_2", 1), "mb_vm_set_active");
  must(vm2, mb_vm_set_active(vm2, "door_2", 1), "mb_vm_set_active");
  run_frames(vm, &e1, 2);
  run_frames(vm2, &e2, 2);
  check(e1.door_events == 2 && e2.door_events == 1, "door_2 opened in both VMs");
  world_size = dump_world(vm, world, sizeof world);
  must(vm, mb_vm_state_hash(vm, world, world_size, &h1), "mb_vm_state_hash");
  must(vm2, mb_vm_state_hash(vm2, world, world_size, &h2), "mb_vm_state_hash");
  printf("state hash two frames later: %s\n", h1 == h2 ? "match" : "mismatch");
  check(h1 == h2, "both VMs stay in step");

  /* hot reload: re-read scripts and manifests, keep the state */
  must(vm, mb_vm_reload(vm), "mb_vm_reload");
  must(vm, mb_vm_state_hash(vm, world, world_size, &h2), "mb_vm_state_hash");
  printf("state hash after hot reload: %s\n", h1 == h2 ? "match" : "mismatch");
  check(h1 == h2, "hot reload keeps the state");

  printf("script errors: %d\n", e1.log.errors + e2.log.errors);
  check(e1.log.errors + e2.log.errors == 0, "no script failed");
  check(mb_vm_memory(vm) > 0 && mb_vm_memory(vm) <= mem1.live, "memory accounting");
  mb_vm_free(vm);
  mb_vm_free(vm2);
  printf("bytes still allocated: %zu\n", mem1.live + mem2.live);
  check(mem1.live == 0 && mem2.live == 0, "every byte returned");

  if (failures) return 1;
  printf("embedding_host: OK\n");
  return 0;
}
