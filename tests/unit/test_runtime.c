/* The runtime through the public API: manifests, objects, handlers, save,
 * load, hot reload, packages, events, timers, interfaces and storage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lua.h>

#include "moonbox.h"
#include "tests/unit/testutil.h"

typedef struct file {
  const char *path, *text;
} file;

static mb_vm *world(mbt_log *log, const file *files) {
  mb_vm *vm = mbt_vm(log, NULL);
  assert_non_null(vm);
  for (const file *f = files; f->path; f++)
    assert_int_equal(mb_vm_mount_file(vm, f->path, f->text, strlen(f->text)), MB_OK);
  static const char *const types[] = {"NPC", "CONTAINER", "PLAYER", NULL};
  for (int i = 0; types[i]; i++) assert_int_equal(mb_vm_register_type(vm, types[i]), MB_OK);
  assert_int_equal(mb_vm_add_manifest(vm, "test.omwscripts"), MB_OK);
  return vm;
}

static void object(mb_vm *vm, const char *id, const char *type, int active) {
  mb_object_desc d = {id, type, "cell", {0, 0, 0}, active, NULL};
  assert_int_equal(mb_vm_create_object(vm, &d), MB_OK);
}

/* The print lines of the log, without the "print|" prefix, one per line. */
static char *prints(const mbt_log *log) {
  size_t n = log->len + 1;
  char *out = calloc(1, n);
  const char *p = log->text ? log->text : "";
  while (*p) {
    const char *end = strchr(p, '\n');
    if (!end) end = p + strlen(p);
    if (strncmp(p, "print|", 6) == 0) strncat(out, p + 6, (size_t)(end - p - 5));
    p = *end ? end + 1 : end;
  }
  return out;
}

static void assert_prints(mbt_log *log, const char *want) {
  char *got = prints(log);
  assert_string_equal(got, want);
  free(got);
  mbt_log_clear(log);
}

static void step(mb_vm *vm, int frames, double dt) {
  for (int i = 0; i < frames; i++) assert_int_equal(mb_vm_update(vm, dt), MB_OK);
}

/* ---- manifests, attachment, handlers ---------------------------------------- */

static const file basic_files[] = {
    {"test.omwscripts",
     "GLOBAL: g.lua\nNPC: npc.lua\nPLAYER: p.lua\nCUSTOM, CONTAINER: c.lua\n"},
    {"g.lua", "return {engineHandlers = {onInit = function() print('g init') end,\n"
              "  onUpdate = function(dt) print('g update', dt) end}}"},
    {"npc.lua", "local self = require('engine.self')\n"
                "return {engineHandlers = {onInit = function(d) print('npc init', self.id, d) end,\n"
                "  onUpdate = function() print('npc update') end,\n"
                "  onActive = function() print('active') end,\n"
                "  onInactive = function() print('inactive') end}}"},
    {"p.lua", "return {engineHandlers = {onInit = function() print('p init') end}}"},
    {"c.lua", "return {engineHandlers = {onInit = function(d) print('c init', d and d.x) end}}"},
    {NULL, NULL}};

static void autoattach_and_handler_order(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = world(&log, basic_files);
  object(vm, "npc_1", "NPC", 1);
  object(vm, "pc", "PLAYER", 1);
  object(vm, "chest", "CONTAINER", 0);
  object(vm, "npc_2", "NPC", 0);
  assert_prints(&log, ""); /* nothing runs before the start */
  assert_int_equal(mb_vm_start(vm), MB_OK);
  assert_prints(&log, "global[g.lua]:\tg init\n"
                      "npc_1[npc.lua]:\tnpc init\tnpc_1\tnil\n"
                      "pc[p.lua]:\tp init\n"
                      "chest[c.lua]:\tc init\tnil\n"
                      "npc_2[npc.lua]:\tnpc init\tnpc_2\tnil\n");
  step(vm, 1, 0.5);
  /* onUpdate only for active containers; global always */
  assert_prints(&log, "global[g.lua]:\tg update\t0.5\nnpc_1[npc.lua]:\tnpc update\n");
  assert_int_equal(mb_vm_set_active(vm, "npc_2", 1), MB_OK);
  assert_int_equal(mb_vm_set_active(vm, "npc_1", 0), MB_OK);
  assert_prints(&log, "npc_2[npc.lua]:\tactive\nnpc_1[npc.lua]:\tinactive\n");
  /* created after the start: attached at once */
  object(vm, "npc_3", "NPC", 0);
  assert_prints(&log, "npc_3[npc.lua]:\tnpc init\tnpc_3\tnil\n");
  mb_vm_free(vm);
}

static void custom_scripts_and_refusals(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = world(&log, basic_files);
  object(vm, "npc_1", "NPC", 1);
  mb_vm_start(vm);
  mbt_log_clear(&log);
  assert_int_equal(mb_vm_add_script(vm, "npc_1", "c.lua", "\x81\xa1x\x07", 4), MB_OK);
  assert_prints(&log, "npc_1[c.lua]:\tc init\t7\n");
  assert_true(mb_vm_has_script(vm, "npc_1", "C.LUA"));
  assert_int_equal(mb_vm_add_script(vm, "npc_1", "c.lua", NULL, 0), MB_EINVAL);
  assert_non_null(strstr(mb_vm_error(vm), "already attached"));
  assert_int_equal(mb_vm_add_script(vm, "npc_1", "g.lua", NULL, 0), MB_EINVAL);
  assert_non_null(strstr(mb_vm_error(vm), "g.lua is a GLOBAL script"));
  assert_int_equal(mb_vm_add_script(vm, "npc_1", "p.lua", NULL, 0), MB_EINVAL);
  assert_non_null(strstr(mb_vm_error(vm), "its flags allow neither CUSTOM nor that type"));
  assert_int_equal(mb_vm_add_script(vm, "npc_1", "zzz.lua", NULL, 0), MB_EINVAL);
  assert_non_null(strstr(mb_vm_error(vm), "not in any manifest"));
  assert_int_equal(mb_vm_remove_script(vm, "npc_1", "c.lua"), MB_OK);
  assert_false(mb_vm_has_script(vm, "npc_1", "c.lua"));
  assert_int_equal(mb_vm_remove_script(vm, "npc_1", "c.lua"), MB_ENOTFOUND);
  mb_object_desc d = {"global", "NPC", "", {0, 0, 0}, 1, NULL};
  assert_int_equal(mb_vm_create_object(vm, &d), MB_EINVAL);
  d.id = "x";
  d.type = "DRAGON";
  assert_int_equal(mb_vm_create_object(vm, &d), MB_EINVAL);
  assert_non_null(strstr(mb_vm_error(vm), "unknown type 'DRAGON'"));
  mb_vm_free(vm);
  mbt_log_clear(&log);
}

static const file broken_files[] = {
    {"test.omwscripts", "GLOBAL: a.lua\nGLOBAL: syntax.lua\nGLOBAL: notable.lua\n"
                        "GLOBAL: raises.lua\nGLOBAL: badinit.lua\nGLOBAL: odd.lua\nGLOBAL: z.lua\n"},
    {"a.lua", "return {engineHandlers = {onUpdate = function() error('a fails') end}}"},
    {"syntax.lua", "return {"},
    {"notable.lua", "return 42"},
    {"raises.lua", "error('at load')"},
    {"badinit.lua", "return {engineHandlers = {onInit = function() error('init fails') end,\n"
                    "  onUpdate = function() print('badinit still updates') end}}"},
    {"odd.lua", "return {engineHandler = {}, engineHandlers = {onFoo = function() end}}"},
    {"z.lua", "return {engineHandlers = {onUpdate = function() print('z runs') end}}"},
    {NULL, NULL}};

static void failing_scripts_are_isolated(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = world(&log, broken_files);
  mb_vm_start(vm);
  assert_true(mbt_log_has(&log, "Can't start global[syntax.lua]: syntax.lua:1: unexpected symbol near '<eof>'"));
  assert_true(mbt_log_has(&log, "Can't start global[notable.lua]: script must return a table, got number"));
  assert_true(mbt_log_has(&log, "Can't start global[raises.lua]: raises.lua:1: at load"));
  assert_true(mbt_log_has(&log, "global[badinit.lua] onInit failed: badinit.lua:1: init fails"));
  assert_true(mbt_log_has(&log, "global[odd.lua]: unknown section 'engineHandler'"));
  assert_true(mbt_log_has(&log, "global[odd.lua]: unknown engine handler 'onFoo'"));
  uint64_t errors = mb_vm_script_errors(vm);
  mbt_log_clear(&log);
  step(vm, 1, 0.1);
  assert_true(mbt_log_has(&log, "global[a.lua] onUpdate failed: a.lua:1: a fails\nstack traceback:"));
  assert_true(mbt_log_has(&log, "badinit still updates"));
  assert_true(mbt_log_has(&log, "z runs"));
  assert_int_equal(mb_vm_script_errors(vm), errors + 1);
  mb_vm_free(vm);
  mbt_log_clear(&log);
}

static void manifest_errors(void **state) {
  (void)state;
  mb_vm *vm = mbt_vm(NULL, NULL);
  mb_vm_register_type(vm, "NPC");
  const char *m = "GLOBAL: a.lua\nNCP: b.lua\n";
  mb_vm_mount_file(vm, "mods/a.omwscripts", m, strlen(m));
  assert_int_equal(mb_vm_add_manifest(vm, "mods/a.omwscripts"), MB_ECORRUPT);
  assert_string_equal(mb_vm_error(vm), "mods/a.omwscripts:2: unknown flag 'NCP'");
  assert_int_equal(mb_vm_script_count(vm), 0);
  mb_vm_free(vm);
}

/* ---- packages --------------------------------------------------------------------- */

static int open_host_pkg(struct lua_State *L, void *ud) {
  (void)ud;
  lua_State *l = L;
  lua_createtable(l, 0, 1);
  lua_pushinteger(l, 42);
  lua_setfield(l, -2, "answer");
  return 1;
}

static const file pkg_files[] = {
    {"test.omwscripts", "GLOBAL: g.lua\nNPC: n.lua\n"},
    {"g.lua", "local world = require('engine.world')\n"
              "print('host', require('engine.host').answer)\n"
              "print(pcall(require, 'engine.self'))\n"
              "print(pcall(function() require('engine.host').answer = 1 end))\n"
              "local a = world.getObjectById('a')\n"
              "a.position = require('engine.util').vector3(1, 2, 3)\n"
              "print(a.position, a.type, a:isActive(), world.getObjectById('none'))\n"
              "return {}"},
    {"n.lua", "local self = require('engine.self')\n"
              "local util = require('engine.util')\n"
              "print(pcall(require, 'engine.world'), pcall(require, 'engine.host'))\n"
              "return {engineHandlers = {onInit = function()\n"
              "  self.position = util.vector3(5, 0, 0)\n"
              "  print('own', self.position)\n"
              "  if self.id == 'b' then\n"
              "    local other = require('engine.world')\n"
              "  end\n"
              "end}}"},
    {NULL, NULL}};

static void packages_and_visibility(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = world(&log, pkg_files);
  assert_int_equal(mb_vm_register_package(vm, "host", MB_VISIBLE_GLOBAL, open_host_pkg, NULL), MB_OK);
  assert_int_equal(mb_vm_register_package(vm, "host", MB_VISIBLE_GLOBAL, open_host_pkg, NULL), MB_EINVAL);
  object(vm, "a", "NPC", 1);
  mb_vm_start(vm);
  char *p = prints(&log);
  assert_non_null(strstr(p, "a[n.lua]:\tfalse\tfalse\tmodule not found: engine.host\n"));
  assert_non_null(strstr(p, "a[n.lua]:\town\t(5, 0, 0)\n"));
  assert_non_null(strstr(p, "global[g.lua]:\thost\t42\n"));
  assert_non_null(strstr(p, "global[g.lua]:\tfalse\tmodule not found: engine.self\n"));
  assert_non_null(strstr(p, "attempt to modify a read-only table"));
  assert_non_null(strstr(p, "global[g.lua]:\t(1, 2, 3)\tNPC\ttrue\tnil\n"));
  free(p);
  mb_object_info info;
  assert_int_equal(mb_vm_object_info(vm, "a", &info), MB_OK);
  assert_true(info.position[0] == 5 && info.position[1] == 0); /* its own script moved it last */
  mb_vm_free(vm);
  mbt_log_clear(&log);
}

static const file other_files[] = {
    {"test.omwscripts", "NPC: n.lua\n"},
    {"n.lua", "local self = require('engine.self')\n"
              "return {eventHandlers = {Poke = function(other)\n"
              "  print(pcall(function() other.position = self.position end))\n"
              "end}}"},
    {NULL, NULL}};

static void local_scripts_change_only_their_object(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = world(&log, other_files);
  object(vm, "a", "NPC", 1);
  object(vm, "b", "NPC", 1);
  mb_vm_start(vm);
  /* a handle of "b" (ext type 3, id "b") sent to "a" */
  assert_int_equal(mb_vm_send_event(vm, "a", "Poke", "\xd4\x03\x62", 3), MB_OK);
  step(vm, 1, 0.1);
  assert_prints(&log, "a[n.lua]:\tfalse\tn.lua:3: object 'b' is read-only here: "
                      "a local script may change only its own object\n");
  mb_vm_free(vm);
}

/* ---- save, load, reload ---------------------------------------------------------- */

static const file save_files[] = {
    {"test.omwscripts", "GLOBAL: g.lua\nNPC: n.lua\nCUSTOM: c.lua\n"},
    {"g.lua", "local n = 0\n"
              "return {engineHandlers = {\n"
              "  onInit = function() print('g init') end,\n"
              "  onLoad = function(d) n = d.n print('g load', n) end,\n"
              "  onSave = function() return {n = n} end,\n"
              "  onUpdate = function() n = n + 1 end}}"},
    {"n.lua", "local k = 0\n"
              "return {engineHandlers = {\n"
              "  onLoad = function(d, init) k = d print('n load', d) end,\n"
              "  onSave = function() return k end,\n"
              "  onUpdate = function() k = k + 10 end}}"},
    {"c.lua", "return {engineHandlers = {onLoad = function(d, init) print('c load', d, init.x) end}}"},
    {NULL, NULL}};

static int host_calls;
/* The host's load callback: check its section, recreate its object. */
static mb_status recreate_npc(void *ud, mb_vm *vm, const void *data, size_t size) {
  (void)ud;
  host_calls++;
  assert_int_equal(size, 5);
  assert_memory_equal(data, "host!", 5);
  mb_object_desc d = {"npc", "NPC", "cell", {0, 0, 0}, 1, NULL};
  return mb_vm_create_object(vm, &d);
}

static void save_then_load_continues(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = world(&log, save_files);
  object(vm, "npc", "NPC", 1);
  mb_vm_start(vm);
  assert_int_equal(mb_vm_add_script(vm, "npc", "c.lua", "\x81\xa1x\x05", 4), MB_OK);
  step(vm, 3, 0.25);
  char *data;
  size_t size;
  assert_int_equal(mb_vm_save_memory(vm, "host!", 5, &data, &size), MB_OK);
  uint64_t h1, h2;
  assert_int_equal(mb_vm_state_hash(vm, NULL, 0, &h1), MB_OK);
  mbt_log_clear(&log);

  /* a fresh VM: the host recreates its object in the load callback */
  mbt_log log2 = {0};
  mb_vm *vm2 = world(&log2, save_files);
  host_calls = 0;
  assert_int_equal(mb_vm_load_memory(vm2, data, size, recreate_npc, NULL), MB_OK);
  assert_int_equal(host_calls, 1);
  assert_prints(&log2, "global[g.lua]:\tg load\t3\n"
                       "npc[n.lua]:\tn load\t30\n"
                       "npc[c.lua]:\tc load\tnil\t5\n");
  assert_true(mb_vm_simulation_time(vm2) == 0.75);
  assert_int_equal(mb_vm_state_hash(vm2, NULL, 0, &h2), MB_OK);
  assert_true(h1 == h2);
  /* a load that does not take the host section keeps it */
  mb_vm *vm3 = world(&log2, save_files);
  object(vm3, "npc", "NPC", 1);
  assert_int_equal(mb_vm_load_memory(vm3, data, size, NULL, NULL), MB_OK);
  uint64_t h3;
  assert_int_equal(mb_vm_state_hash(vm3, "host!", 5, &h3), MB_OK);
  uint64_t h1_host;
  assert_int_equal(mb_vm_state_hash(vm, "host!", 5, &h1_host), MB_OK);
  assert_true(h3 == h1_host);
  mb_vm_free(vm3);
  mbt_log_clear(&log2);
  step(vm, 2, 0.25);
  step(vm2, 2, 0.25);
  assert_int_equal(mb_vm_state_hash(vm, NULL, 0, &h1), MB_OK);
  assert_int_equal(mb_vm_state_hash(vm2, NULL, 0, &h2), MB_OK);
  assert_true(h1 == h2);
  mb_vm_release(vm, data, size);
  mb_vm_free(vm);
  mb_vm_free(vm2);
  mbt_log_clear(&log2);
}

static const file kept_files_a[] = {
    {"test.omwscripts", "GLOBAL: g.lua\nGLOBAL: old.lua\nNPC: n.lua\n"},
    {"g.lua", "return {engineHandlers = {onSave = function() return 'g' end}}"},
    {"old.lua", "return {engineHandlers = {onSave = function() return {precious = true} end}}"},
    {"n.lua", "return {engineHandlers = {onSave = function() return 'n' end,\n"
              "  onLoad = function(d) if d == 'boom' then error('cannot load') end end}}"},
    {NULL, NULL}};
static const file kept_files_b[] = {
    {"test.omwscripts", "GLOBAL: g.lua\nNPC: n.lua\n"},
    {"g.lua", "return {engineHandlers = {onSave = function() return 'g' end}}"},
    {"n.lua", "return {engineHandlers = {onSave = function() return 'n2' end,\n"
              "  onLoad = function(d) error('cannot load') end}}"},
    {NULL, NULL}};

/* Data for a script that is gone, an object the host did not create and
 * an onLoad that raised survive a save/load/save cycle unchanged. */
static void unapplied_data_is_kept(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = world(&log, kept_files_a);
  object(vm, "npc", "NPC", 1);
  object(vm, "ghost", "NPC", 1);
  mb_vm_start(vm);
  char *first;
  size_t first_size;
  assert_int_equal(mb_vm_save_memory(vm, NULL, 0, &first, &first_size), MB_OK);

  mb_vm *vm2 = world(&log, kept_files_b);
  object(vm2, "npc", "NPC", 1); /* no ghost */
  mbt_log_clear(&log);
  assert_int_equal(mb_vm_load_memory(vm2, first, first_size, NULL, NULL), MB_OK);
  assert_true(mbt_log_has(&log, "global[old.lua]: the script is not in any manifest; its data is kept for the next save"));
  assert_true(mbt_log_has(&log, "ghost[n.lua]: object 'ghost' does not exist; its data is kept"));
  assert_true(mbt_log_has(&log, "npc[n.lua] onLoad failed: n.lua:2: cannot load"));
  assert_true(mbt_log_has(&log, "npc[n.lua]: onLoad failed; its data is kept"));
  char *second;
  size_t second_size;
  assert_int_equal(mb_vm_save_memory(vm2, NULL, 0, &second, &second_size), MB_OK);

  /* back in the first world, everything is where it was */
  mb_vm *vm3 = world(&log, kept_files_a);
  object(vm3, "npc", "NPC", 1);
  object(vm3, "ghost", "NPC", 1);
  mbt_log_clear(&log);
  assert_int_equal(mb_vm_load_memory(vm3, second, second_size, NULL, NULL), MB_OK);
  assert_false(mbt_log_has(&log, "kept"));
  uint64_t h1, h3;
  assert_int_equal(mb_vm_state_hash(vm, NULL, 0, &h1), MB_OK);
  assert_int_equal(mb_vm_state_hash(vm3, NULL, 0, &h3), MB_OK);
  assert_true(h1 == h3);
  mb_vm_release(vm, first, first_size);
  mb_vm_release(vm2, second, second_size);
  mb_vm_free(vm);
  mb_vm_free(vm2);
  mb_vm_free(vm3);
  mbt_log_clear(&log);
}

static const file onsave_files[] = {
    {"test.omwscripts", "GLOBAL: g.lua\n"},
    {"g.lua", "local bad = false\n"
              "return {engineHandlers = {\n"
              "  onSave = function() if bad then return {inventory = {1, 2, {owner = print}}} end return 'good' end,\n"
              "  onLoad = function(d) print('loaded', d) end,\n"
              "  onUpdate = function() bad = true end}}"},
    {NULL, NULL}};

static void unserializable_onsave_keeps_previous_data(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = world(&log, onsave_files);
  mb_vm_start(vm);
  char *data;
  size_t size;
  assert_int_equal(mb_vm_save_memory(vm, NULL, 0, &data, &size), MB_OK);
  mb_vm_release(vm, data, size);
  step(vm, 1, 0.1);
  mbt_log_clear(&log);
  assert_int_equal(mb_vm_save_memory(vm, NULL, 0, &data, &size), MB_OK);
  assert_true(mbt_log_has(&log, "global[g.lua] onSave failed: data.inventory[3].owner: function is not serializable"));
  mb_vm *vm2 = world(&log, onsave_files);
  mbt_log_clear(&log);
  assert_int_equal(mb_vm_load_memory(vm2, data, size, NULL, NULL), MB_OK);
  assert_prints(&log, "global[g.lua]:\tloaded\tgood\n");
  mb_vm_release(vm, data, size);
  mb_vm_free(vm);
  mb_vm_free(vm2);
}

static void hot_reload_is_stable(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = world(&log, save_files);
  object(vm, "npc", "NPC", 1);
  mb_vm_start(vm);
  step(vm, 2, 0.5);
  uint64_t h0, h1, h2;
  assert_int_equal(mb_vm_state_hash(vm, NULL, 0, &h0), MB_OK);
  mbt_log_clear(&log);
  assert_int_equal(mb_vm_reload(vm), MB_OK);
  assert_prints(&log, "global[g.lua]:\tg load\t2\nnpc[n.lua]:\tn load\t20\n");
  assert_int_equal(mb_vm_state_hash(vm, NULL, 0, &h1), MB_OK);
  assert_int_equal(mb_vm_reload(vm), MB_OK);
  assert_int_equal(mb_vm_state_hash(vm, NULL, 0, &h2), MB_OK);
  assert_true(h0 == h1);
  assert_true(h1 == h2);
  /* a changed file is read again */
  const char *g2 = "return {engineHandlers = {onLoad = function(d) print('new g', d.n) end}}";
  mb_vm_mount_file(vm, "g.lua", g2, strlen(g2));
  mbt_log_clear(&log);
  assert_int_equal(mb_vm_reload(vm), MB_OK);
  assert_true(mbt_log_has(&log, "new g\t2"));
  mb_vm_free(vm);
  mbt_log_clear(&log);
}

/* ---- events ---------------------------------------------------------------------- */

static const file event_files[] = {
    {"test.omwscripts", "GLOBAL: g1.lua\nGLOBAL: g2.lua\nGLOBAL: g3.lua\nNPC: n.lua\n"},
    {"g1.lua", "return {eventHandlers = {Ping = function(e) print('g1', e.n, e.seen) end}}"},
    {"g2.lua", "return {eventHandlers = {Ping = function(e) print('g2', e.n) e.seen = 'g2'\n"
               "  if e.n == 2 then return false end end}}"},
    {"g3.lua", "local core = require('engine.core')\n"
               "local world = require('engine.world')\n"
               "local sent = false\n"
               "return {engineHandlers = {onUpdate = function()\n"
               "  if sent then return end sent = true\n"
               "  core.sendGlobalEvent('Ping', {n = 1})\n"
               "  world.getObjectById('a'):sendEvent('Hello', {from = 'g3'})\n"
               "  core.sendGlobalEvent('Ping', {n = 2})\n"
               "  print(pcall(core.sendGlobalEvent, 'Ping', {f = print}))\n"
               "end},\n"
               "eventHandlers = {Ping = function(e) print('g3', e.n) end,\n"
               "  Reply = function(e) print('reply', e.from) end,\n"
               "  Bad = function() error('bad handler') end}}"},
    {"n.lua", "local core = require('engine.core')\n"
              "return {eventHandlers = {Hello = function(e) print('hello', e.from)\n"
              "  core.sendGlobalEvent('Reply', {from = 'n'}) end}}"},
    {NULL, NULL}};

static void events_order_and_stop(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = world(&log, event_files);
  object(vm, "a", "NPC", 1);
  mb_vm_start(vm);
  step(vm, 1, 0.1); /* sends; nothing delivered yet */
  assert_prints(&log, "global[g3.lua]:\tfalse\tdata.f: function is not serializable\n");
  step(vm, 1, 0.1);
  /* reverse load order; all handlers share one table; false stops */
  assert_prints(&log, "global[g3.lua]:\tg3\t1\n"
                      "global[g2.lua]:\tg2\t1\n"
                      "global[g1.lua]:\tg1\t1\tg2\n"
                      "global[g3.lua]:\tg3\t2\n"
                      "global[g2.lua]:\tg2\t2\n"
                      "a[n.lua]:\thello\tg3\n");
  step(vm, 1, 0.1);
  assert_prints(&log, "global[g3.lua]:\treply\tn\n");
  mb_vm_free(vm);
}

static void events_wait_for_inactive_objects(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = world(&log, event_files);
  object(vm, "a", "NPC", 0);
  mb_vm_start(vm);
  assert_int_equal(mb_vm_send_event(vm, "a", "Hello", "\x81\xa4" "from\xa4host", 11), MB_OK);
  assert_int_equal(mb_vm_send_event(vm, "a", "Hello", "\xc1", 1), MB_ECORRUPT);
  step(vm, 3, 0.1);
  mbt_log_clear(&log);
  /* pending events are part of the save */
  char *data;
  size_t size;
  assert_int_equal(mb_vm_save_memory(vm, NULL, 0, &data, &size), MB_OK);
  mb_vm *vm2 = world(&log, event_files);
  object(vm2, "a", "NPC", 0);
  assert_int_equal(mb_vm_load_memory(vm2, data, size, NULL, NULL), MB_OK);
  mb_vm_set_active(vm2, "a", 1);
  mbt_log_clear(&log);
  step(vm2, 1, 0.1);
  assert_true(mbt_log_has(&log, "a[n.lua]:\thello\thost"));
  mb_vm_release(vm, data, size);
  mb_vm_free(vm);
  mb_vm_free(vm2);
  mbt_log_clear(&log);
}

static int host_events;
static void on_reply(void *ud, mb_vm *vm, const char *name, const void *data,
                     size_t size) {
  (void)ud;
  (void)vm;
  (void)data;
  assert_string_equal(name, "Reply");
  assert_true(size > 0);
  host_events++;
}

static void host_receives_global_events(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = world(&log, event_files);
  object(vm, "a", "NPC", 1);
  assert_int_equal(mb_vm_on_global_event(vm, "Reply", on_reply, NULL), MB_OK);
  mb_vm_start(vm);
  host_events = 0;
  step(vm, 3, 0.1);
  assert_int_equal(host_events, 1);
  mb_vm_free(vm);
  mbt_log_clear(&log);
}

/* ---- timers ---------------------------------------------------------------------- */

static const file timer_files[] = {
    {"test.omwscripts", "NPC: n.lua\nGLOBAL: g.lua\n"},
    {"n.lua", "local async = require('engine.async')\n"
              "local core = require('engine.core')\n"
              "local cb = async:registerTimerCallback('ring', function(arg)\n"
              "  print('ring', arg, core.getSimulationTime()) end)\n"
              "return {engineHandlers = {onInit = function()\n"
              "  async:newSimulationTimer(30, cb, 30)\n"
              "  async:newSimulationTimer(90, cb, 90)\n"
              "  async:newSimulationTimer(50, cb, 50)\n"
              "  async:newSimulationTimer(50, cb, '50b')\n"
              "  async:newUnsavableSimulationTimer(10, function() print('unsavable') end)\n"
              "  print(pcall(async.registerTimerCallback, async, 'late', print))\n"
              "  print(pcall(async.newSimulationTimer, async, 1, cb, {print}))\n"
              "end}}"},
    {"g.lua", "local async = require('engine.async')\n"
              "local core = require('engine.core')\n"
              "local cb = async:registerTimerCallback('g', function() print('game timer', core.getGameTime()) end)\n"
              "return {engineHandlers = {onInit = function() async:newGameTimer(60, cb) end}}"},
    {NULL, NULL}};

/* The DESIGN example: delays 30, 50, 90; inactive from 15 to 65. */
static void timers_wait_for_inactive_objects(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = world(&log, timer_files);
  mb_vm_set_timescale(vm, 2);
  object(vm, "a", "NPC", 1);
  mb_vm_start(vm);
  char *p = prints(&log);
  assert_non_null(strstr(p, "registerTimerCallback must be called while the script loads"));
  assert_non_null(strstr(p, "arg[1]: function is not serializable"));
  free(p);
  mbt_log_clear(&log);
  step(vm, 15, 1); /* t = 15 */
  assert_prints(&log, "a[n.lua]:\tunsavable\n");
  mb_vm_set_active(vm, "a", 0);
  step(vm, 50, 1); /* t = 65 */
  mb_vm_set_active(vm, "a", 1);
  assert_prints(&log, "global[g.lua]:\tgame timer\t60\n");
  step(vm, 1, 0); /* paused frame at 65: the overdue ones fire, in order */
  assert_prints(&log, "a[n.lua]:\tring\t30\t65\n"
                      "a[n.lua]:\tring\t50\t65\n"
                      "a[n.lua]:\tring\t50b\t65\n");
  step(vm, 24, 1); /* t = 89 */
  assert_prints(&log, "");
  step(vm, 1, 1);
  assert_prints(&log, "a[n.lua]:\tring\t90\t90\n");
  mb_vm_free(vm);
}

static void timers_survive_save_and_load(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = world(&log, timer_files);
  object(vm, "a", "NPC", 1);
  mb_vm_start(vm);
  step(vm, 20, 1);
  char *data;
  size_t size;
  assert_int_equal(mb_vm_save_memory(vm, NULL, 0, &data, &size), MB_OK);
  mb_vm *vm2 = world(&log, timer_files);
  object(vm2, "a", "NPC", 1);
  assert_int_equal(mb_vm_load_memory(vm2, data, size, NULL, NULL), MB_OK);
  mbt_log_clear(&log);
  step(vm, 80, 1);
  char *one = prints(&log);
  mbt_log_clear(&log);
  step(vm2, 80, 1);
  char *two = prints(&log);
  mbt_log_clear(&log);
  assert_string_equal(one, two);
  assert_non_null(strstr(one, "ring\t90\t90"));
  free(one);
  free(two);
  /* removing a script cancels its timers */
  step(vm, 1, 1);
  mb_vm_release(vm, data, size);
  mb_vm_free(vm);
  mb_vm_free(vm2);
}

static const file cancel_files[] = {
    {"test.omwscripts", "CUSTOM: n.lua\n"},
    {"n.lua", "local async = require('engine.async')\n"
              "local cb = async:registerTimerCallback('ring', function() print('ring') end)\n"
              "return {engineHandlers = {onInit = function()\n"
              "  async:newSimulationTimer(5, cb)\n"
              "  async:newUnsavableSimulationTimer(5, function() print('unsavable') end)\n"
              "end}}"},
    {NULL, NULL}};

static void removing_a_script_cancels_its_timers(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = world(&log, cancel_files);
  object(vm, "a", "NPC", 1);
  mb_vm_start(vm);
  mb_vm_add_script(vm, "a", "n.lua", NULL, 0);
  mb_vm_remove_script(vm, "a", "n.lua");
  mb_vm_add_script(vm, "a", "n.lua", NULL, 0); /* a new instance: its own timers */
  step(vm, 10, 1);
  assert_prints(&log, "a[n.lua]:\tring\na[n.lua]:\tunsavable\n");
  mb_vm_free(vm);
}

static const file missing_cb_files[] = {
    {"test.omwscripts", "GLOBAL: g.lua\n"},
    {"g.lua", "local async = require('engine.async')\n"
              "local cb = async:registerTimerCallback('ring', function() print('ring') end)\n"
              "return {engineHandlers = {onInit = function() async:newSimulationTimer(5, cb) end}}"},
    {NULL, NULL}};
static const file missing_cb_files_b[] = {
    {"test.omwscripts", "GLOBAL: g.lua\n"},
    {"g.lua", "return {}"},
    {NULL, NULL}};

static void missing_timer_callback_is_kept(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = world(&log, missing_cb_files);
  mb_vm_start(vm);
  char *data, *data2;
  size_t size, size2;
  assert_int_equal(mb_vm_save_memory(vm, NULL, 0, &data, &size), MB_OK);
  mb_vm *vm2 = world(&log, missing_cb_files_b);
  assert_int_equal(mb_vm_load_memory(vm2, data, size, NULL, NULL), MB_OK);
  mbt_log_clear(&log);
  step(vm2, 10, 1);
  assert_true(mbt_log_has(&log, "global[g.lua]: timer callback 'ring' is not registered; the timer is kept for the next save"));
  assert_int_equal(mb_vm_save_memory(vm2, NULL, 0, &data2, &size2), MB_OK);
  mb_vm *vm3 = world(&log, missing_cb_files);
  assert_int_equal(mb_vm_load_memory(vm3, data2, size2, NULL, NULL), MB_OK);
  mbt_log_clear(&log);
  step(vm3, 1, 1);
  assert_prints(&log, "global[g.lua]:\tring\n");
  mb_vm_release(vm, data, size);
  mb_vm_release(vm2, data2, size2);
  mb_vm_free(vm);
  mb_vm_free(vm2);
  mb_vm_free(vm3);
}

/* ---- interfaces -------------------------------------------------------------------- */

static const file iface_files[] = {
    {"test.omwscripts", "CUSTOM: base.lua\nCUSTOM: over.lua\nCUSTOM: user.lua\n"},
    {"base.lua", "return {interfaceName = 'Greet', interface = {hello = function() return 'base' end}}"},
    {"over.lua", "local base\n"
                 "return {interfaceName = 'Greet',\n"
                 "  interface = {hello = function() return 'over+' .. base.hello() end},\n"
                 "  engineHandlers = {onInterfaceOverride = function(b) base = b print('override') end,\n"
                 "    onInit = function() print('over init', base ~= nil) end}}"},
    {"user.lua", "local I = require('engine.interfaces')\n"
                 "return {eventHandlers = {Ask = function()\n"
                 "  print(I.Greet and I.Greet.hello(), I.Missing)\n"
                 "  print(pcall(function() I.Greet.hello = nil end))\n"
                 "end}}"},
    {NULL, NULL}};

static void interface_override_chain(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = world(&log, iface_files);
  object(vm, "a", "NPC", 1);
  object(vm, "b", "NPC", 1);
  mb_vm_start(vm);
  mb_vm_add_script(vm, "a", "user.lua", NULL, 0);
  mb_vm_add_script(vm, "a", "base.lua", NULL, 0);
  mb_vm_add_script(vm, "a", "over.lua", NULL, 0);
  mb_vm_add_script(vm, "b", "user.lua", NULL, 0);
  assert_prints(&log, "a[over.lua]:\toverride\na[over.lua]:\tover init\ttrue\n");
  mb_vm_send_event(vm, "a", "Ask", NULL, 0);
  mb_vm_send_event(vm, "b", "Ask", NULL, 0); /* another container sees nothing */
  step(vm, 1, 0.1);
  assert_prints(&log, "a[user.lua]:\tover+base\tnil\n"
                      "a[user.lua]:\tfalse\tuser.lua:4: attempt to modify a read-only table\n"
                      "b[user.lua]:\tnil\tnil\n"
                      "b[user.lua]:\tfalse\tuser.lua:4: attempt to index field 'Greet' (a nil value)\n");
  mb_vm_remove_script(vm, "a", "over.lua");
  mb_vm_send_event(vm, "a", "Ask", NULL, 0);
  step(vm, 1, 0.1);
  assert_true(mbt_log_has(&log, "a[user.lua]:\tbase\tnil"));
  mb_vm_free(vm);
  mbt_log_clear(&log);
}

/* ---- storage ----------------------------------------------------------------------- */

static const file storage_files[] = {
    {"test.omwscripts", "GLOBAL: g.lua\nPLAYER: p.lua\nNPC: n.lua\n"},
    {"g.lua", "local storage = require('engine.storage')\n"
              "local s = storage.globalSection('Settings')\n"
              "return {engineHandlers = {onInit = function()\n"
              "  s:set('speed', 3)\n"
              "  s:set('list', {1, 2, {x = 1}})\n"
              "  local t = storage.globalSection('Temp')\n"
              "  t:setLifeTime(storage.LIFE_TIME.Temporary)\n"
              "  t:set('gone', true)\n"
              "  print(pcall(s.set, s, 'bad', {print}))\n"
              "end,\n"
              "onUpdate = function() s:set('speed', s:get('speed') + 1) end}}"},
    {"p.lua", "local storage = require('engine.storage')\n"
              "local async = require('engine.async')\n"
              "local s = storage.globalSection('Settings')\n"
              "return {engineHandlers = {onInit = function()\n"
              "  s:subscribe(async:callback(function(section, key) print('changed', section, key, s:get(key)) end))\n"
              "  print(pcall(s.set, s, 'speed', 0))\n"
              "  local l = s:get('list')\n"
              "  print(l[3].x, pcall(function() l[3].x = 2 end))\n"
              "  local c = s:getCopy('list') c[3].x = 2 print(c[3].x, s:get('list')[3].x)\n"
              "  storage.playerSection('Mine'):set('k', 'v')\n"
              "end}}"},
    {"n.lua", "local storage = require('engine.storage')\n"
              "return {engineHandlers = {onInit = function()\n"
              "  print(pcall(storage.playerSection, 'Mine'))\n"
              "  print(storage.globalSection('Settings'):get('speed'))\n"
              "end}}"},
    {NULL, NULL}};

static void storage_sections(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = world(&log, storage_files);
  object(vm, "pc", "PLAYER", 1);
  object(vm, "n", "NPC", 1);
  mb_vm_start(vm);
  char *p = prints(&log);
  assert_non_null(strstr(p, "global[g.lua]:\tfalse\tbad[1]: function is not serializable\n"));
  assert_non_null(strstr(p, "pc[p.lua]:\tfalse\tstorage section 'Settings' is read-only here (writable by global scripts)\n"));
  assert_non_null(strstr(p, "pc[p.lua]:\t1\tfalse\tp.lua:8: attempt to modify a read-only table\n"));
  assert_non_null(strstr(p, "pc[p.lua]:\t2\t1\n"));
  assert_non_null(strstr(p, "n[n.lua]:\tfalse\tplayerSection is available to player scripts only\n"));
  assert_non_null(strstr(p, "n[n.lua]:\t3\n"));
  free(p);
  mbt_log_clear(&log);
  step(vm, 1, 0.1);
  assert_prints(&log, "pc[p.lua]:\tchanged\tSettings\tspeed\t4\n");
  /* GameSession data is in the save; Temporary is not */
  char *data;
  size_t size;
  assert_int_equal(mb_vm_save_memory(vm, NULL, 0, &data, &size), MB_OK);
  const char *probe = "GLOBAL: q.lua\n";
  (void)probe;
  mb_vm *vm2 = world(&log, storage_files);
  object(vm2, "pc", "PLAYER", 1);
  object(vm2, "n", "NPC", 1);
  assert_int_equal(mb_vm_load_memory(vm2, data, size, NULL, NULL), MB_OK);
  const char *q = "local s = require('engine.storage')\n"
                  "print(s.globalSection('Settings'):get('speed'), s.globalSection('Temp'):get('gone'))";
  mb_vm_mount_file(vm2, "q.lua", q, strlen(q));
  mbt_log_clear(&log);
  assert_int_equal(mb_vm_exec_file(vm2, "q.lua"), MB_OK);
  assert_prints(&log, "global[q.lua]:\t4\tnil\n");
  mb_vm_release(vm, data, size);
  mb_vm_free(vm);
  mb_vm_free(vm2);
}

/* Host code reads script tables raw: a metatable on the returned table
 * (or on the console environment) cannot run code outside the budget. */
static const file meta_files[] = {
    {"test.omwscripts", "GLOBAL: sly.lua\n"},
    {"sly.lua", "local loop = function() while true do end end\n"
                "return setmetatable({}, {__index = loop, __newindex = loop})"},
    {NULL, NULL}};

static void script_metatables_never_run_in_the_host(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_config cfg;
  mb_config_init(&cfg);
  cfg.limits.instruction_budget = 100000;
  cfg.log = mbt_log_fn;
  cfg.log_ud = &log;
  mb_vm *vm = NULL;
  assert_int_equal(mb_vm_new(&cfg, &vm), MB_OK);
  for (const file *f = meta_files; f->path; f++)
    mb_vm_mount_file(vm, f->path, f->text, strlen(f->text));
  mb_vm_add_manifest(vm, "test.omwscripts");
  assert_int_equal(mb_vm_start(vm), MB_OK); /* returns: nothing looped */
  step(vm, 2, 0.1);
  mb_vm_send_global_event(vm, "Anything", NULL, 0);
  step(vm, 1, 0.1);
  char *data;
  size_t size;
  assert_int_equal(mb_vm_save_memory(vm, NULL, 0, &data, &size), MB_OK);
  mb_vm_release(vm, data, size);
  /* the console's own tostring, replaced by a runaway, is budgeted too */
  const char *out = NULL;
  assert_int_equal(mb_vm_console(vm, "global", "tostring = function() while true do end end", &out), MB_OK);
  assert_int_equal(mb_vm_console(vm, "global", "1", &out), MB_OK);
  assert_string_equal(out, "?");
  mb_vm_free(vm);
  mbt_log_clear(&log);
}

/* ---- more local realms, callbacks of removed scripts -------------------------- */

static const file realm_files[] = {
    {"test.omwscripts", "GLOBAL: g.lua\nNPC: n.lua\nCUSTOM: sub.lua\n"},
    {"g.lua", "local storage = require('engine.storage')\n"
              "return {eventHandlers = {Hello = function(e) print('hello from', e.id)\n"
              "  storage.globalSection('S'):set('k', e.id) end}}"},
    {"n.lua", "local self = require('engine.self')\n"
              "local core = require('engine.core')\n"
              "local big = {}\n"
              "return {engineHandlers = {onUpdate = function()\n"
              "  if self.id == 'far' then for i = 1, 2000 do big[i] = {i} end end\n"
              "  core.sendGlobalEvent('Hello', {id = self.id}) end}}"},
    {"sub.lua", "local storage = require('engine.storage')\n"
              "local async = require('engine.async')\n"
              "return {engineHandlers = {onInit = function()\n"
              "  storage.globalSection('S'):subscribe(async:callback(function(_, key)\n"
              "    print('changed', key) end)) end}}"},
    {NULL, NULL}};

/* A host realm of its own: its scripts run there, with their own memory,
 * and reach the others only through events. */
static void objects_in_another_local_realm(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = world(&log, realm_files);
  assert_int_equal(mb_vm_add_realm(vm, "client2", NULL), MB_OK);
  assert_int_equal(mb_vm_add_realm(vm, "client2", NULL), MB_EINVAL);
  mb_object_desc near = {"near", "NPC", "", {0, 0, 0}, 1, NULL};
  mb_object_desc far = {"far", "NPC", "", {0, 0, 0}, 1, "client2"};
  mb_object_desc bad = {"x", "NPC", "", {0, 0, 0}, 1, "global"};
  assert_int_equal(mb_vm_create_object(vm, &near), MB_OK);
  assert_int_equal(mb_vm_create_object(vm, &far), MB_OK);
  assert_int_equal(mb_vm_create_object(vm, &bad), MB_EINVAL);
  mb_vm_start(vm);
  size_t before = mb_vm_realm_memory(vm, "client2");
  size_t local_before = mb_vm_realm_memory(vm, "local");
  step(vm, 2, 0.1);
  assert_true(mbt_log_has(&log, "hello from\tnear"));
  assert_true(mbt_log_has(&log, "hello from\tfar"));
  /* far's table lives in client2, not in the default local realm */
  assert_true(mb_vm_realm_memory(vm, "client2") > before + 50000);
  assert_true(mb_vm_realm_memory(vm, "local") < local_before + 50000);
  mb_vm_free(vm);
  mbt_log_clear(&log);
}

static void callbacks_of_removed_scripts_are_logged_no_ops(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = world(&log, realm_files);
  object(vm, "near", "NPC", 1);
  mb_vm_start(vm);
  assert_int_equal(mb_vm_add_script(vm, "near", "sub.lua", NULL, 0), MB_OK);
  step(vm, 2, 0.1); /* Hello sets S.k: the subscriber prints */
  assert_true(mbt_log_has(&log, "near[sub.lua]:\tchanged\tk"));
  assert_int_equal(mb_vm_remove_script(vm, "near", "sub.lua"), MB_OK);
  mbt_log_clear(&log);
  step(vm, 1, 0.1);
  assert_false(mbt_log_has(&log, "changed"));
  assert_true(mbt_log_has(&log, "near[sub.lua]: callback called after its script was removed"));
  mb_vm_free(vm);
  mbt_log_clear(&log);
}

/* A realm at its memory limit: host-side work for it (event names, storage
 * notices, console input) fails that work, never the process (LuaJIT exits
 * when an allocation outside protected mode fails). */
static const file full_files[] = {
    {"test.omwscripts", "NPC: hog.lua\nGLOBAL: g.lua\n"},
    {"hog.lua", "local storage = require('engine.storage')\n"
                "local async = require('engine.async')\n"
                "hog = {}\n"
                "return {engineHandlers = {onInit = function()\n"
                "  storage.globalSection('S'):subscribe(async:callback(function() print('told') end))\n"
                "end, onUpdate = function()\n"
                "  pcall(function() while true do hog[#hog + 1] = {#hog, #hog + 1} end end)\n"
                "end}}"},
    {"g.lua", "local storage = require('engine.storage')\n"
              "return {engineHandlers = {onUpdate = function()\n"
              "  storage.globalSection('S'):set(string.rep('k', 5000), 1) end}}"},
    {NULL, NULL}};

static void a_full_realm_never_takes_the_host_down(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_config cfg;
  mb_config_init(&cfg);
  cfg.limits.memory_limit = 4u << 20;
  cfg.log = mbt_log_fn;
  cfg.log_ud = &log;
  mb_vm *vm = NULL;
  assert_int_equal(mb_vm_new(&cfg, &vm), MB_OK);
  for (const file *f = full_files; f->path; f++)
    mb_vm_mount_file(vm, f->path, f->text, strlen(f->text));
  mb_vm_register_type(vm, "NPC");
  mb_vm_add_manifest(vm, "test.omwscripts");
  object(vm, "hog", "NPC", 1);
  mb_vm_start(vm);
  char name[3001];
  memset(name, 'e', 3000);
  name[3000] = 0;
  for (int i = 0; i < 3; i++) {
    assert_int_equal(mb_vm_send_event(vm, "hog", name, NULL, 0), MB_OK);
    step(vm, 1, 0.1); /* the hog fills its realm again every frame */
    const char *out;
    mb_vm_console(vm, "hog", "string.rep('y', 3000) .. 'z'", &out);
  }
  /* still alive, still saving */
  char *data;
  size_t size;
  assert_int_equal(mb_vm_save_memory(vm, NULL, 0, &data, &size), MB_OK);
  mb_vm_release(vm, data, size);
  mb_vm_free(vm);
  mbt_log_clear(&log);
}

/* ---- found in review ---------------------------------------------------------- */

static const file review_files[] = {
    {"test.omwscripts", "GLOBAL: g.lua\n"},
    {"g.lua", "local storage = require('engine.storage')\n"
              "local s = storage.globalSection('S')\n"
              "return {engineHandlers = {onInit = function()\n"
              "  s:set('keep', 42)\n"
              "  print(pcall(s.reset, s, {a = 1, b = print}))\n"
              "  print(s:get('keep'), s:get('a'))\n"
              "end}, eventHandlers = {Ping = function() print('ping') end}}"},
    {NULL, NULL}};

/* reset() with a value it cannot store changes nothing. */
static void storage_reset_is_atomic(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = world(&log, review_files);
  mb_vm_start(vm);
  assert_prints(&log, "global[g.lua]:\tfalse\tb: function is not serializable\n"
                      "global[g.lua]:\t42\tnil\n");
  mb_vm_free(vm);
}

/* A storage section a load cannot read is reported and written back as it
 * was, not replaced by an empty one. */
static void unreadable_storage_is_kept(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = world(&log, review_files);
  mb_vm_start(vm);
  char *data;
  size_t size;
  assert_int_equal(mb_vm_save_memory(vm, NULL, 0, &data, &size), MB_OK);
  mb_save *save;
  assert_int_equal(mb_save_new(NULL, NULL, &save), MB_OK);
  assert_int_equal(mb_save_read_memory(save, data, size), MB_OK);
  assert_int_equal(mb_save_put(save, "storage", "global", "S", "\x05", 1), MB_OK);
  void *bad;
  size_t bad_size;
  assert_int_equal(mb_save_write_memory(save, &bad, &bad_size), MB_OK);
  mb_vm *vm2 = world(&log, review_files);
  mbt_log_clear(&log);
  assert_int_equal(mb_vm_load_memory(vm2, bad, bad_size, NULL, NULL), MB_OK);
  assert_true(mbt_log_has(&log, "storage:global[S]: the storage section cannot be read; its data is kept"));
  char *again;
  size_t again_size;
  assert_int_equal(mb_vm_save_memory(vm2, NULL, 0, &again, &again_size), MB_OK);
  mb_save_clear(save);
  assert_int_equal(mb_save_read_memory(save, again, again_size), MB_OK);
  size_t at;
  mb_save_section sec;
  assert_int_equal(mb_save_find(save, "storage", "global", "S", &at), MB_OK);
  mb_save_section_at(save, at, &sec);
  assert_int_equal(sec.size, 1);
  assert_memory_equal(sec.payload, "\x05", 1);
  mb_save_release(save, bad, bad_size);
  mb_save_free(save);
  mb_vm_release(vm, data, size);
  mb_vm_release(vm2, again, again_size);
  mb_vm_free(vm);
  mb_vm_free(vm2);
  mbt_log_clear(&log);
}

static char *reload_data;
static size_t reload_size;
static void load_on_event(void *ud, mb_vm *vm, const char *name, const void *data,
                          size_t size) {
  (void)ud;
  (void)name;
  (void)data;
  (void)size;
  assert_int_equal(mb_vm_load_memory(vm, reload_data, reload_size, NULL, NULL), MB_OK);
}

/* A host handler may load a save while events are being delivered. */
static void host_handler_may_load(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = world(&log, review_files);
  mb_vm_start(vm);
  assert_int_equal(mb_vm_save_memory(vm, NULL, 0, &reload_data, &reload_size), MB_OK);
  assert_int_equal(mb_vm_on_global_event(vm, "Ping", load_on_event, NULL), MB_OK);
  mb_vm_send_global_event(vm, "Ping", "\x81\xa1x\x01", 4);
  mb_vm_send_global_event(vm, "Ping", NULL, 0);
  step(vm, 2, 0.1);
  assert_true(mbt_log_has(&log, "ping"));
  mb_vm_release(vm, reload_data, reload_size);
  mb_vm_free(vm);
  mbt_log_clear(&log);
}

/* Damages section (kind, c, path) of a save of one NPC, loads it into a new
 * VM (which must log `logged` and `also`), saves again after a few frames
 * and checks the damaged bytes are back, still failing their checksum, for
 * whoever repairs them. */
static void damaged_section_written_back(const char *kind, const char *c,
                                         const char *path, const char *logged,
                                         const char *also) {
  mbt_log log = {0};
  mb_vm *vm = world(&log, save_files);
  object(vm, "npc", "NPC", 1);
  mb_vm_start(vm);
  step(vm, 2, 0.1);
  char *data;
  size_t size;
  assert_int_equal(mb_vm_save_memory(vm, NULL, 0, &data, &size), MB_OK);
  mb_save *save;
  assert_int_equal(mb_save_new(NULL, NULL, &save), MB_OK);
  assert_int_equal(mb_save_read_memory(save, data, size), MB_OK);
  size_t at;
  mb_save_section sec;
  assert_int_equal(mb_save_find(save, kind, c, path, &at), MB_OK);
  mb_save_section_at(save, at, &sec);
  char copy[256];
  assert_true(sec.size <= sizeof copy);
  memcpy(copy, sec.payload, sec.size);
  size_t n = sec.size;
  assert_int_equal(mb_save_put_raw(save, kind, c, path, copy, n, sec.checksum ^ 1), MB_OK);
  void *bad;
  size_t bad_size;
  assert_int_equal(mb_save_write_memory(save, &bad, &bad_size), MB_OK);
  mb_vm *vm2 = world(&log, save_files);
  object(vm2, "npc", "NPC", 1);
  mbt_log_clear(&log);
  assert_int_equal(mb_vm_load_memory(vm2, bad, bad_size, NULL, NULL), MB_OK);
  assert_true(mbt_log_has(&log, logged));
  assert_true(mbt_log_has(&log, also));
  step(vm2, 3, 0.1); /* the live state moves on */
  char *again;
  size_t again_size;
  assert_int_equal(mb_vm_save_memory(vm2, NULL, 0, &again, &again_size), MB_OK);
  mb_save_clear(save);
  assert_int_equal(mb_save_read_memory(save, again, again_size), MB_OK);
  assert_int_equal(mb_save_find(save, kind, c, path, &at), MB_OK);
  mb_save_section_at(save, at, &sec);
  assert_false(sec.checksum_ok);
  assert_int_equal(sec.size, n);
  assert_memory_equal(sec.payload, copy, n);
  mb_save_release(save, bad, bad_size);
  mb_save_free(save);
  mb_vm_release(vm, data, size);
  mb_vm_release(vm2, again, again_size);
  mb_vm_free(vm);
  mb_vm_free(vm2);
  mbt_log_clear(&log);
}

/* A damaged container list: its scripts come back from their own sections. */
static void damaged_container_list_loses_nothing(void **state) {
  (void)state;
  damaged_section_written_back("container", "npc", "",
                               "container:npc[]: checksum mismatch; its data is kept",
                               "npc[n.lua]:\tn load\t20");
}

/* A damaged clock: the clock restarts at 0 and the scripts load. */
static void damaged_clock_loses_nothing(void **state) {
  (void)state;
  damaged_section_written_back("vm", "", "clock",
                               "checksum mismatch, the clock starts at 0",
                               "npc[n.lua]:\tn load\t20");
}

/* Table keys behind a read-only view are views too, and still find their
 * values (found in review: they were handed out writable). */
static const file key_files[] = {
    {"test.omwscripts", "CUSTOM: owner.lua\nCUSTOM: reader.lua\n"},
    {"owner.lua", "local key = {name = 'k'}\n"
                  "return {interfaceName = 'Keys', interface = {[key] = 'value'},\n"
                  "  eventHandlers = {Check = function() print('owner sees', key.name) end}}"},
    {"reader.lua", "local I = require('engine.interfaces')\n"
                   "return {eventHandlers = {Try = function()\n"
                   "  for k, v in pairs(I.Keys) do\n"
                   "    print(k.name, v, I.Keys[k], pcall(function() k.name = 'changed' end))\n"
                   "  end end}}"},
    {NULL, NULL}};

static void interface_table_keys_are_read_only(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = world(&log, key_files);
  object(vm, "a", "NPC", 1);
  mb_vm_start(vm);
  mb_vm_add_script(vm, "a", "owner.lua", NULL, 0);
  mb_vm_add_script(vm, "a", "reader.lua", NULL, 0);
  mb_vm_send_event(vm, "a", "Try", NULL, 0);
  step(vm, 1, 0.1);
  mb_vm_send_event(vm, "a", "Check", NULL, 0);
  step(vm, 1, 0.1);
  assert_prints(&log, "a[reader.lua]:\tk\tvalue\tvalue\tfalse\treader.lua:4: attempt to modify a read-only table\n"
                      "a[owner.lua]:\towner sees\tk\n");
  mb_vm_free(vm);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(autoattach_and_handler_order),
      cmocka_unit_test(custom_scripts_and_refusals),
      cmocka_unit_test(failing_scripts_are_isolated),
      cmocka_unit_test(manifest_errors),
      cmocka_unit_test(packages_and_visibility),
      cmocka_unit_test(local_scripts_change_only_their_object),
      cmocka_unit_test(save_then_load_continues),
      cmocka_unit_test(unapplied_data_is_kept),
      cmocka_unit_test(unserializable_onsave_keeps_previous_data),
      cmocka_unit_test(hot_reload_is_stable),
      cmocka_unit_test(events_order_and_stop),
      cmocka_unit_test(events_wait_for_inactive_objects),
      cmocka_unit_test(host_receives_global_events),
      cmocka_unit_test(timers_wait_for_inactive_objects),
      cmocka_unit_test(timers_survive_save_and_load),
      cmocka_unit_test(removing_a_script_cancels_its_timers),
      cmocka_unit_test(missing_timer_callback_is_kept),
      cmocka_unit_test(interface_override_chain),
      cmocka_unit_test(interface_table_keys_are_read_only),
      cmocka_unit_test(storage_sections),
      cmocka_unit_test(script_metatables_never_run_in_the_host),
      cmocka_unit_test(objects_in_another_local_realm),
      cmocka_unit_test(callbacks_of_removed_scripts_are_logged_no_ops),
      cmocka_unit_test(a_full_realm_never_takes_the_host_down),
      cmocka_unit_test(storage_reset_is_atomic),
      cmocka_unit_test(unreadable_storage_is_kept),
      cmocka_unit_test(host_handler_may_load),
      cmocka_unit_test(damaged_container_list_loses_nothing),
      cmocka_unit_test(damaged_clock_loses_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
