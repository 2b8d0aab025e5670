/* The environment builder, through the public API: isolation between
 * instances, read-only libraries, per-instance random, print, budgets and
 * out-of-memory behaviour. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "moonbox.h"
#include "tests/unit/testutil.h"

static void mount(mb_vm *vm, const char *path, const char *src) {
  assert_int_equal(mb_vm_mount_file(vm, path, src, strlen(src)), MB_OK);
}

/* Run `src` as file `path` and return the status. */
static mb_status run(mb_vm *vm, const char *path, const char *src) {
  mount(vm, path, src);
  return mb_vm_exec_file(vm, path);
}

static void globals_are_per_instance(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = mbt_vm(&log, NULL);
  assert_non_null(vm);
  mount(vm, "a.lua", "print(counter) counter = (counter or 0) + 1");
  assert_int_equal(mb_vm_exec_file(vm, "a.lua"), MB_OK);
  assert_int_equal(mb_vm_exec_file(vm, "a.lua"), MB_OK);
  /* both instances start from nothing */
  assert_string_equal(log.text, "print|global[a.lua]:\tnil\n"
                                "print|global[a.lua]:\tnil\n");
  mb_vm_free(vm);
  mbt_log_clear(&log);
}

static void library_writes_fail_and_change_nothing(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = mbt_vm(&log, NULL);
  assert_int_equal(
      run(vm, "w.lua",
          "print(pcall(function() string.evil = print end))\n"
          "print(pcall(rawset, math, 'pi', 3))\n"
          "print(pcall(setmetatable, table, {}))\n"),
      MB_OK);
  assert_true(mbt_log_has(&log, "false\tw.lua:1: attempt to modify a read-only table"));
  assert_true(mbt_log_has(&log, "false\tattempt to modify a read-only table"));
  assert_true(mbt_log_has(&log, "cannot change a protected metatable"));
  mbt_log_clear(&log);
  assert_int_equal(run(vm, "r.lua", "print(string.evil, math.pi == 3, "
                                    "getmetatable(table))"),
                   MB_OK);
  assert_string_equal(log.text, "print|global[r.lua]:\tnil\tfalse\tfalse\n");
  mb_vm_free(vm);
  mbt_log_clear(&log);
}

static void string_metatable_is_locked(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = mbt_vm(&log, NULL);
  assert_int_equal(run(vm, "s.lua",
                       "print(getmetatable('x'), ('x').dump, ('%d'):format(7))\n"
                       "local ok = pcall(function() ('x').upper = nil end)\n"
                       "print(ok, ('x'):upper())\n"),
                   MB_OK);
  assert_string_equal(log.text, "print|global[s.lua]:\tfalse\tnil\t7\n"
                                "print|global[s.lua]:\tfalse\tX\n");
  mb_vm_free(vm);
  mbt_log_clear(&log);
}

/* Same VM seed and identity: same sequence. Other identity or seed:
 * another sequence. */
static char *random_line(uint64_t seed, const char *path) {
  mbt_log log = {0};
  mb_config cfg;
  mb_config_init(&cfg);
  cfg.log = mbt_log_fn;
  cfg.log_ud = &log;
  cfg.seed = seed;
  mb_vm *vm = NULL;
  assert_int_equal(mb_vm_new(&cfg, &vm), MB_OK);
  assert_int_equal(run(vm, path,
                       "local t = {} for i = 1, 8 do t[i] = math.random(1, 1e9) end\n"
                       "local r = math.random() assert(r >= 0 and r < 1)\n"
                       "print(table.concat(t, ','))"),
                   MB_OK);
  mb_vm_free(vm);
  char *line = strchr(log.text, '\t') + 1;
  memmove(log.text, line, strlen(line) + 1);
  return log.text;
}

static void random_is_per_instance_and_seeded(void **state) {
  (void)state;
  char *a = random_line(1, "x.lua");
  char *b = random_line(1, "x.lua");
  char *c = random_line(1, "y.lua");
  char *d = random_line(2, "x.lua");
  assert_string_equal(a, b);
  assert_string_not_equal(a, c);
  assert_string_not_equal(a, d);
  free(a);
  free(b);
  free(c);
  free(d);
}

static void random_checks_arguments(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = mbt_vm(&log, NULL);
  assert_int_equal(run(vm, "r.lua",
                       "print(pcall(function() local v = math.random(0) return v end))\n"
                       "print(pcall(function() local v = math.random(5, 1) return v end))\n"
                       "for i = 1, 100 do local v = math.random(3, 4)\n"
                       "  assert(v == 3 or v == 4) end\n"
                       "print(math.random(7, 7))"),
                   MB_OK);
  assert_true(mbt_log_has(&log, "bad argument #1 to 'random' (interval is empty)"));
  assert_true(mbt_log_has(&log, "bad argument #2 to 'random' (interval is empty)"));
  assert_true(mbt_log_has(&log, "print|global[r.lua]:\t7\n"));
  mb_vm_free(vm);
  mbt_log_clear(&log);
}

static void failing_script_reports_and_vm_goes_on(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = mbt_vm(&log, NULL);
  assert_int_equal(run(vm, "bad.lua", "local t = nil\nreturn t.x"), MB_ERROR);
  assert_non_null(strstr(mb_vm_error(vm), "global[bad.lua] failed: bad.lua:2: "
                                          "attempt to index local 't'"));
  assert_non_null(strstr(mb_vm_error(vm), "stack traceback:"));
  assert_int_equal(run(vm, "good.lua", "print('fine')"), MB_OK);
  assert_true(mbt_log_has(&log, "global[good.lua]:\tfine"));
  /* an error object that is not a string: no __tostring runs in the host */
  assert_int_equal(
      run(vm, "obj.lua",
          "error(setmetatable({}, {__tostring = function() while true do end end}))"),
      MB_ERROR);
  assert_non_null(strstr(mb_vm_error(vm), "(error object is a table value)"));
  mb_vm_free(vm);
  mbt_log_clear(&log);
}

static void bad_paths_are_refused(void **state) {
  (void)state;
  mb_vm *vm = mbt_vm(NULL, NULL);
  assert_int_equal(mb_vm_exec_file(vm, "../etc/passwd"), MB_EDENIED);
  assert_non_null(strstr(mb_vm_error(vm), "'..' segments are not allowed"));
  assert_int_equal(mb_vm_exec_file(vm, "/etc/passwd"), MB_EDENIED);
  assert_int_equal(mb_vm_exec_file(vm, "missing.lua"), MB_ENOTFOUND);
  const char bytecode[] = "\x1bLJ\x02junk";
  assert_int_equal(mb_vm_mount_file(vm, "b.lua", bytecode, sizeof bytecode - 1),
                   MB_OK);
  assert_int_equal(mb_vm_exec_file(vm, "b.lua"), MB_ECORRUPT);
  assert_non_null(strstr(mb_vm_error(vm), "bytecode is not allowed"));
  mb_vm_free(vm);
}

static void runaway_loops_stop_within_budget(void **state) {
  (void)state;
  mb_config cfg;
  mb_config_init(&cfg);
  cfg.limits.instruction_budget = 200000;
  cfg.limits.deadline_ms = 0;
  mbt_log log = {0};
  cfg.log = mbt_log_fn;
  cfg.log_ud = &log;
  mb_vm *vm = NULL;
  assert_int_equal(mb_vm_new(&cfg, &vm), MB_OK);
  static const char *const shapes[] = {
      "while true do end",
      "repeat until false",
      "for i = 1, math.huge do end",
      "while true do pcall(function() while true do end end) end",
      "while true do pcall(error, 'x') end",
      "local function f() return f() end f()",
      "while true do xpcall(function() while true do end end, "
      "function() while true do end end) end",
      "local co = coroutine.wrap(function() while true do end end) "
      "while true do pcall(co) end",
      "while true do coroutine.resume(coroutine.create(function() "
      "while true do end end)) end",
      "while true do pcall(string.rep, 'x', 100) end",
  };
  for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
    char name[32];
    snprintf(name, sizeof name, "loop%zu.lua", i);
    assert_int_equal(run(vm, name, shapes[i]), MB_EBUDGET);
    assert_non_null(strstr(mb_vm_error(vm), "instruction budget exceeded"));
    /* the next call runs normally */
    assert_int_equal(run(vm, "after.lua", "local n = 0 for i = 1, 1000 do n = n + i end"),
                     MB_OK);
  }
  mb_vm_free(vm);
  mbt_log_clear(&log);
}

static void interrupt_stops_only_a_running_call(void **state) {
  (void)state;
  mb_vm *vm = mbt_vm(NULL, NULL);
  mb_vm_interrupt(vm); /* nothing runs: dropped */
  assert_int_equal(run(vm, "ok.lua", "local x = 1"), MB_OK);
  mb_vm_free(vm);
}

static void memory_limit_fails_the_call_only(void **state) {
  (void)state;
  mb_config cfg;
  mb_config_init(&cfg);
  cfg.limits.memory_limit = 8u << 20;
  mbt_log log = {0};
  cfg.log = mbt_log_fn;
  cfg.log_ud = &log;
  mb_vm *vm = NULL;
  assert_int_equal(mb_vm_new(&cfg, &vm), MB_OK);
  assert_int_equal(run(vm, "hog.lua",
                       "local t = {} for i = 1, 1e8 do t[i] = {i} end"),
                   MB_ENOMEM);
  assert_non_null(strstr(mb_vm_error(vm), "not enough memory"));
  /* a script that catches it cannot keep the memory, and the realm works */
  assert_int_equal(run(vm, "catch.lua",
                       "local ok, e = pcall(function() local t = {} "
                       "for i = 1, 1e8 do t[i] = i end end)\n"
                       "print(ok, e)"),
                   MB_OK);
  assert_true(mbt_log_has(&log, "false\tnot enough memory"));
  assert_int_equal(run(vm, "fine.lua", "local t = {} for i = 1, 1000 do t[i] = i end print(#t)"),
                   MB_OK);
  assert_true(mbt_log_has(&log, "global[fine.lua]:\t1000"));
  mb_vm_free(vm);
  mbt_log_clear(&log);
}

/* Every allocation of mb_vm_new and of a first script may fail: the result
 * is MB_ENOMEM or success, never a crash or a leak (ASan checks). */
static void failing_allocator_sweep(void **state) {
  (void)state;
  for (long k = 0;; k++) {
    mbt_alloc a = {k, 0, 0, 0, 0};
    mb_config cfg;
    mb_config_init(&cfg);
    cfg.alloc = mbt_alloc_fn;
    cfg.alloc_ud = &a;
    mb_vm *vm = NULL;
    mb_status st = mb_vm_new(&cfg, &vm);
    if (st != MB_OK) {
      assert_int_equal(st, MB_ENOMEM);
      assert_null(vm);
      assert_int_equal(a.bytes, 0);
      continue;
    }
    /* The VM came up: now it must survive failures while running. */
    a.fail_after = -1;
    mount(vm, "x.lua", "local t = {} for i = 1, 100 do t[i] = 'v' .. i end print(#t)");
    for (long j = 0; j < 200; j++) {
      a.fail_after = j;
      st = mb_vm_exec_file(vm, "x.lua");
      a.fail_after = -1;
      assert_true(st == MB_OK || st == MB_ENOMEM || st == MB_ERROR);
    }
    a.fail_after = -1;
    assert_int_equal(mb_vm_exec_file(vm, "x.lua"), MB_OK);
    mb_vm_free(vm);
    assert_int_equal(a.bytes, 0);
    break;
  }
}

static void memory_is_accounted(void **state) {
  (void)state;
  mbt_alloc a = {-1, 0, 0, 0, 0};
  mb_vm *vm = mbt_vm(NULL, &a);
  assert_non_null(vm);
  /* everything the VM holds went through the host allocator */
  assert_true(mb_vm_memory(vm) > 0);
  assert_true(mb_vm_memory(vm) <= a.bytes);
  mb_vm_free(vm);
  assert_int_equal(a.bytes, 0);
}

/* Limits are per realm: a tight global realm stops a loop that the local
 * realm, left with the defaults, would let run longer. */
static void limits_are_per_realm(void **state) {
  (void)state;
  mb_vm *vm = mbt_vm(NULL, NULL);
  mb_realm_limits tight = {8u << 20, 20000, 0, MB_JIT_OFF};
  assert_int_equal(mb_vm_set_realm_limits(vm, "global", &tight), MB_OK);
  assert_int_equal(mb_vm_set_realm_limits(vm, "nowhere", &tight), MB_ENOTFOUND);
  assert_int_equal(run(vm, "n.lua", "local n = 0 for i = 1, 1e5 do n = n + i end"),
                   MB_EBUDGET);
  mb_realm_limits roomy = {8u << 20, 0, 0, MB_JIT_ON};
  assert_int_equal(mb_vm_set_realm_limits(vm, "global", &roomy), MB_OK);
  assert_int_equal(run(vm, "n.lua", "local n = 0 for i = 1, 1e5 do n = n + i end"), MB_OK);
  mb_vm_free(vm);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(globals_are_per_instance),
      cmocka_unit_test(library_writes_fail_and_change_nothing),
      cmocka_unit_test(string_metatable_is_locked),
      cmocka_unit_test(random_is_per_instance_and_seeded),
      cmocka_unit_test(random_checks_arguments),
      cmocka_unit_test(failing_script_reports_and_vm_goes_on),
      cmocka_unit_test(bad_paths_are_refused),
      cmocka_unit_test(runaway_loops_stop_within_budget),
      cmocka_unit_test(interrupt_stops_only_a_running_call),
      cmocka_unit_test(memory_limit_fails_the_call_only),
      cmocka_unit_test(failing_allocator_sweep),
      cmocka_unit_test(memory_is_accounted),
      cmocka_unit_test(limits_are_per_realm),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
