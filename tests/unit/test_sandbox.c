/* Sandbox hardening through the public API: the escape suite
 * (tests/escape/ *.lua, one attack a file, run next to a sentinel script),
 * the runaway shapes (tests/runaway/ *.lua, each stopped by an instruction
 * budget and by a deadline, the next call running normally), budget
 * reports, interrupts from another thread, the JIT policy and memory
 * limits. Prints the deadline-to-stop figures of the runaway shapes. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "moonbox.h"
#include "tests/unit/testutil.h"

#define ESCAPE_DIR MB_SOURCE_DIR "/tests/escape"
#define RUNAWAY_DIR MB_SOURCE_DIR "/tests/runaway"

/* Small budgets keep the suite fast: a runaway shape stops in
 * milliseconds. */
#define RUNAWAY_BUDGET 1000000u
#define RUNAWAY_DEADLINE_MS 20u

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.lua files directly in `dir`, sorted; NULL-terminated. */
static char **lua_files(const char *dir, size_t *count) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  char **names = NULL;
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (len < 5 || strcmp(e->d_name + len - 4, ".lua") != 0) continue;
    names = realloc(names, (n + 2) * sizeof *names);
    names[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof *names, cmp_names);
  names[n] = NULL;
  *count = n;
  return names;
}

static void free_names(char **names) {
  for (size_t i = 0; names[i]; i++) free(names[i]);
  free(names);
}

/* The text after "-- <key>: " in file `path`, or `dflt`. */
static void header(const char *path, const char *key, char *out, size_t size,
                   const char *dflt) {
  snprintf(out, size, "%s", dflt);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char line[512], prefix[64];
  snprintf(prefix, sizeof prefix, "-- %s: ", key);
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, prefix, strlen(prefix)) == 0) {
      line[strcspn(line, "\r\n")] = 0;
      snprintf(out, size, "%s", line + strlen(prefix));
      break;
    }
  }
  fclose(f);
}

static size_t count_of(const mbt_log *log, const char *needle) {
  size_t n = 0;
  for (const char *p = log->text; p && (p = strstr(p, needle)); p++) n++;
  return n;
}

static mb_vm *vm_with(mbt_log *log, uint64_t budget, uint32_t deadline_ms,
                      size_t memory) {
  mb_config cfg;
  mb_config_init(&cfg);
  cfg.log = mbt_log_fn;
  cfg.log_ud = log;
  cfg.limits.instruction_budget = budget;
  cfg.limits.deadline_ms = deadline_ms;
  cfg.limits.memory_limit = memory;
  mb_vm *vm = NULL;
  assert_int_equal(mb_vm_new(&cfg, &vm), MB_OK);
  return vm;
}

/* ---- the escape suite ---------------------------------------------------- */

static void escape_suite(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = vm_with(&log, 20000000u, 5000u, (size_t)64 << 20);
  assert_int_equal(mb_vm_mount_dir(vm, ESCAPE_DIR), MB_OK);
  assert_int_equal(mb_vm_add_manifest(vm, "support/escape.omwscripts"), MB_OK);
  assert_int_equal(mb_vm_start(vm), MB_OK);
  assert_int_equal(mb_vm_update(vm, 0.1), MB_OK);
  assert_int_equal(count_of(&log, "sentinel ok"), 1);

  size_t n;
  char **names = lua_files(ESCAPE_DIR, &n);
  assert_true(n >= 15);
  int failures = 0;
  for (size_t i = 0; i < n; i++) {
    char path[512], want[32];
    snprintf(path, sizeof path, "%s/%s", ESCAPE_DIR, names[i]);
    header(path, "status", want, sizeof want, "ok");
    mbt_log_clear(&log);
    mb_status st = mb_vm_exec_file(vm, names[i]);
    const char *got = st == MB_OK ? "ok" : st == MB_EBUDGET ? "budget"
                                         : st == MB_ERROR   ? "error"
                                                            : mb_status_name(st);
    if (strcmp(got, want) != 0) {
      fprintf(stderr, "escape %s: status %s, expected %s\n%s\n", names[i], got,
              want, mb_vm_error(vm));
      failures++;
    }
    /* Other scripts see nothing changed, and frames go on. */
    assert_int_equal(mb_vm_update(vm, 0.1), MB_OK);
    if (count_of(&log, "sentinel ok") != 1 || mbt_log_has(&log, "sentinel BAD") ||
        mbt_log_has(&log, "ESCAPED") || mbt_log_has(&log, "host ran")) {
      fprintf(stderr, "escape %s: other scripts were affected\n%s\n", names[i],
              log.text ? log.text : "");
      failures++;
    }
  }
  printf("escape suite: %zu cases\n", n);
  free_names(names);
  mb_vm_free(vm);
  mbt_log_clear(&log);
  assert_int_equal(failures, 0);
}

/* ---- runaway shapes ------------------------------------------------------ */

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static const char after_src[] = "local n = 0 for i = 1, 1000 do n = n + i end\n"
                                "assert(n == 500500) print('after ok')";

/* Run every shape in `vm`; `kind` is the message expected unless the file
 * says "-- stops: <message>". Records the time each took in `ns`. */
static int run_shapes(mb_vm *vm, mbt_log *log, char **names, size_t n,
                      const char *kind, uint64_t *ns, int *is_kind) {
  int failures = 0;
  for (size_t i = 0; i < n; i++) {
    char path[512], stops[64], label[300];
    snprintf(path, sizeof path, "%s/%s", RUNAWAY_DIR, names[i]);
    header(path, "stops", stops, sizeof stops, kind);
    snprintf(label, sizeof label, "global[%s] failed: %s", names[i], stops);
    uint64_t t0 = now_ns();
    mb_status st = mb_vm_exec_file(vm, names[i]);
    ns[i] = now_ns() - t0;
    is_kind[i] = strcmp(stops, kind) == 0;
    if (st != MB_EBUDGET || !strstr(mb_vm_error(vm), label)) {
      fprintf(stderr, "runaway %s (%s): status %s\n%s\n", names[i], kind,
              mb_status_name(st), mb_vm_error(vm));
      failures++;
    }
    mbt_log_clear(log);
    if (mb_vm_exec_file(vm, "after.lua") != MB_OK || !mbt_log_has(log, "after ok")) {
      fprintf(stderr, "runaway %s: the next call failed: %s\n", names[i],
              mb_vm_error(vm));
      failures++;
    }
  }
  return failures;
}

static void runaway_shapes(void **state) {
  (void)state;
  size_t n;
  char **names = lua_files(RUNAWAY_DIR, &n);
  assert_true(n >= 20);
  uint64_t *ns = calloc(n, sizeof *ns);
  int *is_kind = calloc(n, sizeof *is_kind);
  mbt_log log = {0};
  int failures = 0;

  /* 1. an instruction budget, no deadline */
  mb_vm *vm = vm_with(&log, RUNAWAY_BUDGET, 0, (size_t)64 << 20);
  assert_int_equal(mb_vm_mount_dir(vm, RUNAWAY_DIR), MB_OK);
  assert_int_equal(mb_vm_mount_file(vm, "after.lua", after_src, sizeof after_src - 1),
                   MB_OK);
  failures += run_shapes(vm, &log, names, n, "instruction budget exceeded", ns, is_kind);
  uint64_t budget_max = 0;
  size_t slowest = 0;
  for (size_t i = 0; i < n; i++)
    if (ns[i] > budget_max) budget_max = ns[i], slowest = i;
  mb_vm_free(vm);

  /* 2. a deadline, no instruction budget: how long after the deadline
   * does each shape stop? */
  vm = vm_with(&log, 0, RUNAWAY_DEADLINE_MS, (size_t)64 << 20);
  assert_int_equal(mb_vm_mount_dir(vm, RUNAWAY_DIR), MB_OK);
  assert_int_equal(mb_vm_mount_file(vm, "after.lua", after_src, sizeof after_src - 1),
                   MB_OK);
  failures += run_shapes(vm, &log, names, n, "deadline exceeded", ns, is_kind);
  mb_vm_free(vm);
  uint64_t *late = calloc(n, sizeof *late);
  size_t m = 0;
  const uint64_t deadline_ns = (uint64_t)RUNAWAY_DEADLINE_MS * 1000000u;
  for (size_t i = 0; i < n; i++) {
    printf("  %-28s %8.3f ms after the deadline\n", names[i],
           ((double)ns[i] - (double)deadline_ns) / 1e6);
    if (is_kind[i]) late[m++] = ns[i] > deadline_ns ? ns[i] - deadline_ns : 0;
  }
  qsort(late, m, sizeof *late, cmp_u64);
  printf("runaway shapes: %zu; budget of %u instructions: slowest stop %.2f ms (%s)\n",
         n, RUNAWAY_BUDGET, (double)budget_max / 1e6, names[slowest]);
  printf("deadline to stop (%zu shapes stopped by a %u ms deadline): "
         "median %.3f ms, max %.3f ms\n",
         m, RUNAWAY_DEADLINE_MS, m ? (double)late[m / 2] / 1e6 : 0.0,
         m ? (double)late[m - 1] / 1e6 : 0.0);
  /* generous: a loaded test machine, sanitizers */
  assert_true(m == 0 || late[m - 1] < 2000000000u);
  free(late);
  free(ns);
  free(is_kind);
  free_names(names);
  mbt_log_clear(&log);
  assert_int_equal(failures, 0);
}

/* ---- reports and frames -------------------------------------------------- */

static void budget_error_is_reported_and_frame_goes_on(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = vm_with(&log, RUNAWAY_BUDGET, 0, 0);
  static const char manifest[] = "GLOBAL: loop.lua\nGLOBAL: fine.lua\n";
  static const char loop[] =
      "local n = 0\n"
      "return {engineHandlers = {onUpdate = function()\n"
      "  n = n + 1\n"
      "  if n == 1 then while true do pcall(function() while true do end end) end end\n"
      "  print('loop frame', n)\n"
      "end}}\n";
  static const char fine[] =
      "return {engineHandlers = {onUpdate = function() print('fine') end}}\n";
  assert_int_equal(mb_vm_mount_file(vm, "m.omwscripts", manifest, sizeof manifest - 1), MB_OK);
  assert_int_equal(mb_vm_mount_file(vm, "loop.lua", loop, sizeof loop - 1), MB_OK);
  assert_int_equal(mb_vm_mount_file(vm, "fine.lua", fine, sizeof fine - 1), MB_OK);
  assert_int_equal(mb_vm_add_manifest(vm, "m.omwscripts"), MB_OK);
  assert_int_equal(mb_vm_start(vm), MB_OK);
  assert_int_equal(mb_vm_update(vm, 0.1), MB_OK);
  /* named container, script and handler, with the traceback of the stop */
  assert_true(mbt_log_has(&log, "global[loop.lua] onUpdate failed: "
                                "instruction budget exceeded\nstack traceback:"));
  assert_true(mbt_log_has(&log, "loop.lua:4:"));
  assert_true(mbt_log_has(&log, "global[fine.lua]:\tfine"));
  mbt_log_clear(&log);
  assert_int_equal(mb_vm_update(vm, 0.1), MB_OK);
  assert_true(mbt_log_has(&log, "global[loop.lua]:\tloop frame\t2"));
  assert_true(mbt_log_has(&log, "global[fine.lua]:\tfine"));
  mb_vm_free(vm);
  mbt_log_clear(&log);
}

static void caught_stack_overflow_is_sticky(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = vm_with(&log, 0, 0, 0); /* nothing but the overflow stops it */
  static const char src[] = "local function f() while true do pcall(f) end end f()";
  assert_int_equal(mb_vm_mount_file(vm, "r.lua", src, sizeof src - 1), MB_OK);
  assert_int_equal(mb_vm_exec_file(vm, "r.lua"), MB_EBUDGET);
  assert_non_null(strstr(mb_vm_error(vm), "global[r.lua] failed: stack overflow"));
  /* an ordinary overflow that is not caught stays an ordinary error */
  static const char deep[] = "local function f(n) return 1 + f(n + 1) end f(1)";
  assert_int_equal(mb_vm_mount_file(vm, "d.lua", deep, sizeof deep - 1), MB_OK);
  assert_int_equal(mb_vm_exec_file(vm, "d.lua"), MB_ERROR);
  assert_non_null(strstr(mb_vm_error(vm), "stack overflow"));
  /* "C stack overflow" from the C-depth guard stays catchable */
  static const char c[] = "local function f() return coroutine.wrap(f)() end\n"
                          "print(pcall(f))";
  assert_int_equal(mb_vm_mount_file(vm, "c.lua", c, sizeof c - 1), MB_OK);
  assert_int_equal(mb_vm_exec_file(vm, "c.lua"), MB_OK);
  assert_true(mbt_log_has(&log, "false\tC stack overflow"));
  mb_vm_free(vm);
  mbt_log_clear(&log);
}

/* ---- interrupts ---------------------------------------------------------- */

typedef struct interrupter {
  mb_vm *vm;
  unsigned delay_ms;
} interrupter;

static void *interrupt_later(void *arg) {
  interrupter *it = arg;
  struct timespec ts = {0, (long)it->delay_ms * 1000000L};
  nanosleep(&ts, NULL);
  mb_vm_interrupt(it->vm);
  return NULL;
}

static void interrupt_from_another_thread(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = vm_with(&log, 0, 0, 0); /* no budget, no deadline */
  static const char src[] = "while true do end";
  static const char heavy[] = "local s = ('x'):rep(2^20)\n"
                              "while true do local t = {} for i = 1, 64 do t[i] = s end\n"
                              "  local r = table.concat(t) end";
  assert_int_equal(mb_vm_mount_file(vm, "spin.lua", src, sizeof src - 1), MB_OK);
  assert_int_equal(mb_vm_mount_file(vm, "heavy.lua", heavy, sizeof heavy - 1), MB_OK);
  assert_int_equal(mb_vm_mount_file(vm, "ok.lua", after_src, sizeof after_src - 1), MB_OK);
  const char *files[] = {"spin.lua", "heavy.lua"};
  for (int i = 0; i < 2; i++) {
    interrupter it = {vm, 50};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, interrupt_later, &it), 0);
    uint64_t t0 = now_ns();
    mb_status st = mb_vm_exec_file(vm, files[i]);
    if (st != MB_EBUDGET) fprintf(stderr, "%s: %s\n", files[i], mb_vm_error(vm));
    assert_int_equal(st, MB_EBUDGET);
    uint64_t spent = now_ns() - t0;
    pthread_join(th, NULL);
    char want[64];
    snprintf(want, sizeof want, "global[%s] failed: interrupted", files[i]);
    assert_non_null(strstr(mb_vm_error(vm), want));
    assert_true(spent < 2000000000u);
    /* the next call works */
    mbt_log_clear(&log);
    assert_int_equal(mb_vm_exec_file(vm, "ok.lua"), MB_OK);
    assert_true(mbt_log_has(&log, "after ok"));
  }
  mb_vm_free(vm);
  mbt_log_clear(&log);
}

/* ---- JIT policy and memory ---------------------------------------------- */

static void jit_on_realm_works(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_config cfg;
  mb_config_init(&cfg);
  cfg.log = mbt_log_fn;
  cfg.log_ud = &log;
  cfg.limits.jit = MB_JIT_ON;
  mb_vm *vm = NULL;
  assert_int_equal(mb_vm_new(&cfg, &vm), MB_OK);
  static const char src[] =
      "local s = 0 for i = 1, 1e6 do s = s + i % 7 end\n"
      "local t = {} for i = 1, 1000 do t[#t + 1] = tostring(i) end\n"
      "print(s, #table.concat(t))";
  assert_int_equal(mb_vm_mount_file(vm, "j.lua", src, sizeof src - 1), MB_OK);
  assert_int_equal(mb_vm_exec_file(vm, "j.lua"), MB_OK);
  assert_true(mbt_log_has(&log, "global[j.lua]:\t2999998\t2893"));
  mb_vm_free(vm);
  mbt_log_clear(&log);
}

static void memory_limit_spares_other_scripts_and_saving(void **state) {
  (void)state;
  mbt_log log = {0};
  mb_vm *vm = vm_with(&log, 0, 0, (size_t)16 << 20);
  static const char manifest[] = "GLOBAL: hog.lua\nGLOBAL: keeper.lua\n";
  static const char hog[] =
      "return {engineHandlers = {onUpdate = function()\n"
      "  local t = {} for i = 1, 1e8 do t[i] = ('x'):rep(64) .. i end\n"
      "end}}\n";
  static const char keeper[] =
      "local n = 0\n"
      "return {engineHandlers = {onUpdate = function() n = n + 1 print('keeper', n) end,\n"
      "  onSave = function() return {n = n} end}}\n";
  assert_int_equal(mb_vm_mount_file(vm, "m.omwscripts", manifest, sizeof manifest - 1), MB_OK);
  assert_int_equal(mb_vm_mount_file(vm, "hog.lua", hog, sizeof hog - 1), MB_OK);
  assert_int_equal(mb_vm_mount_file(vm, "keeper.lua", keeper, sizeof keeper - 1), MB_OK);
  assert_int_equal(mb_vm_add_manifest(vm, "m.omwscripts"), MB_OK);
  assert_int_equal(mb_vm_start(vm), MB_OK);
  for (int i = 0; i < 3; i++) assert_int_equal(mb_vm_update(vm, 0.1), MB_OK);
  assert_true(mbt_log_has(&log, "global[hog.lua] onUpdate failed: not enough memory"));
  assert_true(mbt_log_has(&log, "global[keeper.lua]:\tkeeper\t3"));
  char *data = NULL;
  size_t size = 0;
  assert_int_equal(mb_vm_save_memory(vm, NULL, 0, &data, &size), MB_OK);
  assert_true(size > 0);
  mb_vm_release(vm, data, size);
  mb_vm_free(vm);
  mbt_log_clear(&log);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(escape_suite),
      cmocka_unit_test(runaway_shapes),
      cmocka_unit_test(budget_error_is_reported_and_frame_goes_on),
      cmocka_unit_test(caught_stack_overflow_is_sticky),
      cmocka_unit_test(interrupt_from_another_thread),
      cmocka_unit_test(jit_on_realm_works),
      cmocka_unit_test(memory_limit_spares_other_scripts_and_saving),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
