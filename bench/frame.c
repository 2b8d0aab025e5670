/* Frame figures: 10,000 NPC objects, each with one local script whose
 * onUpdate adds dt to a counter. Prints medians (and min/max) over several
 * runs; it is not a test.
 *
 *   bench_frame [runs] [count] [frames]   (default 7 runs, 10,000, 20 frames)
 *
 * (1) Frame time against a reference: the same number of Lua functions
 *     called from a plain Lua loop with pcall, in the same VM, the same
 *     realm ("local") and the same limits (budget, JIT policy). The
 *     reference is one local script on one REF object whose onUpdate runs
 *     `for i = 1, #fns do pcall(fns[i], dt) end` over `count` closures, each
 *     adding dt to its own upvalue. Every figure is the time of a frame with
 *     the measured objects active MINUS the time of a frame with every
 *     object inactive (same VM, same objects): what is left is the cost of
 *     the onUpdate calls, and for the reference the one engine call around
 *     the loop (under a microsecond) plus the loop itself.
 * (2) Memory per idle instance of that script: allocator bytes (after a full
 *     GC) of `count` NPC objects with the script minus `count` objects of a
 *     type without scripts.
 * (3) Save and load of `count` instances whose onSave returns
 *     {count = n, name = 'npc_' .. i}: mb_vm_save_memory, then
 *     mb_vm_load_memory into a fresh VM holding the same objects. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lua.h>

#include "bench/bench.h"
#include "moonbox.h"

static int logged;
static void on_log(void *ud, mb_log_level level, const char *msg) {
  (void)ud;
  if (level >= MB_LOG_WARN && logged++ < 5) fprintf(stderr, "log: %s\n", msg);
}

static const char *const npc_src =
    "local self = require('engine.self')\n"
    "local count = 0\n"
    "return { engineHandlers = {\n"
    "  onUpdate = function(dt) count = count + dt end,\n"
    "  onSave = function() return { count = count, name = self.id } end,\n"
    "  onLoad = function(data) if data then count = data.count end end,\n"
    "} }\n";

/* %d: the number of functions */
static const char *const ref_fmt =
    "local fns = {}\n"
    "for i = 1, %d do local c = 0; fns[i] = function(dt) c = c + dt end end\n"
    "return { engineHandlers = { onUpdate = function(dt)\n"
    "  for i = 1, #fns do %s end\n"
    "end } }\n";

static const char *const manifest =
    "NPC: npc.lua\nREF: ref.lua\nREFD: refd.lua\n";

static mb_vm *new_vm(counter *c, int n, const mb_realm_limits *limits) {
  mb_config cfg;
  mb_config_init(&cfg);
  if (c) {
    cfg.alloc = count_alloc;
    cfg.alloc_ud = c;
  }
  if (limits) cfg.limits = *limits;
  cfg.log = on_log;
  mb_vm *vm = NULL;
  if (mb_vm_new(&cfg, &vm) != MB_OK) {
    fprintf(stderr, "mb_vm_new failed\n");
    exit(1);
  }
  char ref[1024], refd[1024];
  snprintf(ref, sizeof ref, ref_fmt, n, "pcall(fns[i], dt)");
  snprintf(refd, sizeof refd, ref_fmt, n, "fns[i](dt)");
  static const char *const types[] = {"NPC", "REF", "REFD", "BARE", NULL};
  if (mb_vm_mount_file(vm, "npc.lua", npc_src, strlen(npc_src)) != MB_OK ||
      mb_vm_mount_file(vm, "ref.lua", ref, strlen(ref)) != MB_OK ||
      mb_vm_mount_file(vm, "refd.lua", refd, strlen(refd)) != MB_OK ||
      mb_vm_mount_file(vm, "test.omwscripts", manifest, strlen(manifest)) != MB_OK) {
    fprintf(stderr, "mount failed: %s\n", mb_vm_error(vm));
    exit(1);
  }
  for (int i = 0; types[i]; i++) mb_vm_register_type(vm, types[i]);
  if (mb_vm_add_manifest(vm, "test.omwscripts") != MB_OK) {
    fprintf(stderr, "manifest failed: %s\n", mb_vm_error(vm));
    exit(1);
  }
  return vm;
}

static void create(mb_vm *vm, const char *type, const char *prefix, int n,
                   int active) {
  char id[64];
  for (int i = 1; i <= n; i++) {
    snprintf(id, sizeof id, "%s%d", prefix, i);
    mb_object_desc d = {id, type, "cell", {0, 0, 0}, active, NULL};
    if (mb_vm_create_object(vm, &d) != MB_OK) {
      fprintf(stderr, "create_object failed: %s\n", mb_vm_error(vm));
      exit(1);
    }
  }
}

static void set_active(mb_vm *vm, const char *prefix, int n, int active) {
  char id[64];
  for (int i = 1; i <= n; i++) {
    snprintf(id, sizeof id, "%s%d", prefix, i);
    mb_vm_set_active(vm, id, active);
  }
}

/* Seconds per frame: the median of `frames` single frames (a frame in
 * which the process was preempted does not move the median). */
static double frames_time(mb_vm *vm, int frames) {
  double *t = malloc((size_t)frames * sizeof *t);
  mb_vm_update(vm, 1.0 / 60); /* warm */
  for (int f = 0; f < frames; f++) {
    double t0 = bench_now();
    mb_vm_update(vm, 1.0 / 60);
    t[f] = bench_now() - t0;
  }
  stat3 s = summary(t, frames);
  free(t);
  return s.med;
}

static void print_limits(const char *what, const mb_realm_limits *l) {
  printf("%s: instruction budget %llu per handler call%s, deadline %u ms, "
         "JIT %s, memory limit %zu MiB per realm\n",
         what, (unsigned long long)l->instruction_budget,
         l->instruction_budget ? "" : " (none)", l->deadline_ms,
         l->jit == MB_JIT_ON ? "on" : "off (interpreter)", l->memory_limit >> 20);
}

/* (1) frame time and ratio; returns the median ratio. */
static double frame_figures(int runs, int n, int frames,
                            const mb_realm_limits *limits, const char *title) {
  mb_vm *vm = new_vm(NULL, n, limits);
  create(vm, "NPC", "npc_", n, 0);
  create(vm, "REF", "ref_", 1, 0);
  create(vm, "REFD", "refd_", 1, 0);
  if (mb_vm_start(vm) != MB_OK) {
    fprintf(stderr, "start failed: %s\n", mb_vm_error(vm));
    exit(1);
  }
  uint64_t errors0 = mb_vm_script_errors(vm);
  double *base = calloc((size_t)runs, sizeof(double));
  double *eng = calloc((size_t)runs, sizeof(double));
  double *ref = calloc((size_t)runs, sizeof(double));
  double *refd = calloc((size_t)runs, sizeof(double));
  double *ratio = calloc((size_t)runs, sizeof(double));
  double *ratiod = calloc((size_t)runs, sizeof(double));
  double *percall = calloc((size_t)runs, sizeof(double));
  for (int r = 0; r < runs; r++) {
    base[r] = frames_time(vm, frames);
    set_active(vm, "npc_", n, 1);
    eng[r] = frames_time(vm, frames) - base[r];
    set_active(vm, "npc_", n, 0);
    set_active(vm, "ref_", 1, 1);
    ref[r] = frames_time(vm, frames) - base[r];
    set_active(vm, "ref_", 1, 0);
    set_active(vm, "refd_", 1, 1);
    refd[r] = frames_time(vm, frames) - base[r];
    set_active(vm, "refd_", 1, 0);
    ratio[r] = eng[r] / ref[r];
    ratiod[r] = eng[r] / refd[r];
    percall[r] = eng[r] * 1e9 / n;
    base[r] *= 1e3, eng[r] *= 1e3, ref[r] *= 1e3, refd[r] *= 1e3;
  }
  printf("\n(1) frame time, %s\n", title);
  print_limits("    limits", limits);
  row("frame, every object inactive (subtracted below)", base, runs, "ms");
  row("10k local scripts' onUpdate (engine calls)", eng, runs, "ms");
  row("reference: one onUpdate, Lua loop with pcall", ref, runs, "ms");
  row("reference: one onUpdate, Lua loop, direct calls", refd, runs, "ms");
  row("engine per onUpdate call", percall, runs, "ns");
  row("ratio engine / pcall loop   (goal <= 2)", ratio, runs, "x");
  row("ratio engine / direct loop  (information)", ratiod, runs, "x");
  uint64_t errs = mb_vm_script_errors(vm) - errors0;
  if (errs) printf("  WARNING: %llu script errors during the frames\n", (unsigned long long)errs);
  stat3 s = summary(ratio, runs);
  free(base), free(eng), free(ref), free(refd), free(ratio), free(ratiod), free(percall);
  mb_vm_free(vm);
  return s.med;
}

int main(int argc, char **argv) {
  int runs = argc > 1 ? atoi(argv[1]) : 7;
  int n = argc > 2 ? atoi(argv[2]) : 10000;
  int frames = argc > 3 ? atoi(argv[3]) : 20;
  if (runs < 1) runs = 1;
  if (n < 1) n = 1;
  if (frames < 1) frames = 1;
  mb_config def;
  mb_config_init(&def);
  printf("moonbox %s: bench_frame, %d objects, %d runs of %d frames "
         "(medians [min .. max])\n", mb_version(), n, runs, frames);
  print_limits("config (defaults)", &def.limits);
  printf("local script:\n%s", npc_src);
  printf("method: frame time with the measured objects active minus frame time "
         "with all inactive, same VM and realm;\n        reference = one script "
         "looping over %d closures (`pcall(fns[i], dt)`), its own object only "
         "active;\n        each figure is the median of single frames; the "
         "sandbox's pcall is the one scripts get.\n", n);

  double ratio = frame_figures(runs, n, frames, &def.limits, "default limits");
  mb_realm_limits trusted = def.limits;
  trusted.jit = MB_JIT_ON;
  trusted.instruction_budget = 0;
  trusted.deadline_ms = 0;
  frame_figures(runs, n, frames, &trusted,
                "information only: trusted realm (JIT on, no budget, no deadline)");

  /* (2) memory per idle instance */
  double *inst_b = calloc((size_t)runs, sizeof(double));
  double *lua_b = calloc((size_t)runs, sizeof(double));
  double *obj_b = calloc((size_t)runs, sizeof(double));
  for (int r = 0; r < runs; r++) {
    counter c = {0};
    mb_vm *vm = new_vm(&c, 1, NULL);
    mb_vm_start(vm);
    full_gc(vm);
    size_t b0 = c.bytes;
    create(vm, "BARE", "bare_", n, 1);
    full_gc(vm);
    size_t b1 = c.bytes;
    size_t l1 = mb_vm_realm_memory(vm, "local");
    create(vm, "NPC", "npc_", n, 1);
    mb_vm_update(vm, 1.0 / 60);
    full_gc(vm);
    obj_b[r] = (double)(b1 - b0) / n;
    inst_b[r] = ((double)(c.bytes - b1) - (double)(b1 - b0)) / n;
    lua_b[r] = (double)(mb_vm_realm_memory(vm, "local") - l1) / n;
    mb_vm_free(vm);
  }
  printf("\n(2) memory per idle instance of the local script above (after a full GC)\n");
  row("object without script, bytes", obj_b, runs, "B");
  row("script instance (object with it minus without)", inst_b, runs, "B");
  row("  of which in the 'local' realm's Lua state", lua_b, runs, "B");
  stat3 mem = summary(inst_b, runs);
  printf("  its own data (one number upvalue, the `self` handle it requires) is "
         "included;\n  see bench_instances for the minimal script.\n");

  /* (3) save and load */
  counter c = {0};
  mb_vm *vm = new_vm(&c, 1, NULL);
  create(vm, "NPC", "npc_", n, 1);
  mb_vm_start(vm);
  for (int f = 0; f < 3; f++) mb_vm_update(vm, 1.0 / 60);
  double *save_ms = calloc((size_t)runs, sizeof(double));
  double *load_ms = calloc((size_t)runs, sizeof(double));
  char *data = NULL;
  size_t size = 0;
  for (int r = 0; r < runs; r++) {
    if (data) mb_vm_release(vm, data, size);
    double t0 = bench_now();
    if (mb_vm_save_memory(vm, NULL, 0, &data, &size) != MB_OK) {
      fprintf(stderr, "save failed: %s\n", mb_vm_error(vm));
      return 1;
    }
    save_ms[r] = (bench_now() - t0) * 1e3;
  }
  uint64_t load_errors = 0;
  for (int r = 0; r < runs; r++) {
    mb_vm *vm2 = new_vm(NULL, 1, NULL);
    create(vm2, "NPC", "npc_", n, 1);
    double t0 = bench_now();
    mb_status st = mb_vm_load_memory(vm2, data, size, NULL, NULL);
    load_ms[r] = (bench_now() - t0) * 1e3;
    if (st != MB_OK) {
      fprintf(stderr, "load failed: %s\n", mb_vm_error(vm2));
      return 1;
    }
    load_errors += mb_vm_script_errors(vm2);
    mb_vm_free(vm2);
  }
  printf("\n(3) save + load of %d instances, onSave = {count = n, name = 'npc_'..i}\n", n);
  printf("  save size: %zu bytes (%.1f per instance)\n", size, (double)size / n);
  row("mb_vm_save_memory", save_ms, runs, "ms");
  row("mb_vm_load_memory (fresh VM, same objects)", load_ms, runs, "ms");
  stat3 sv = summary(save_ms, runs), ld = summary(load_ms, runs);
  printf("  per instance: save %.2f us, load %.2f us\n", sv.med * 1e3 / n,
         ld.med * 1e3 / n);
  if (load_errors) printf("  WARNING: %llu script errors during the loads\n",
                          (unsigned long long)load_errors);
  mb_vm_release(vm, data, size);
  mb_vm_free(vm);

  printf("\ngoals: frame ratio %.2f (<= 2): %s; idle instance %.0f bytes "
         "(<= 2048): %s\n", ratio, ratio <= 2 ? "PASS" : "FAIL", mem.med,
         mem.med <= 2048 ? "PASS" : "FAIL");
  if (logged) printf("warning: %d warnings/errors were logged (first 5 on stderr)\n", logged);
  free(inst_b), free(lua_b), free(obj_b), free(save_ms), free(load_ms);
  return 0;
}
