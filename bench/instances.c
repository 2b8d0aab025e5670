/* Instance figures: the time and memory of 10,000 instances of a small local
 * script in one VM, against the same 10,000 objects without a script.
 * Prints medians (and min/max) over several runs; it is not a test.
 *
 *   bench_instances [runs] [count]     (default 7 runs of 10,000)
 *
 * Bytes are what the VM asked of its allocator (a counting allocator sees
 * every byte of the VM, Lua's included), after a full collection of every
 * realm, so garbage left by the attach does not count (the raw figure, before
 * that collection, is printed too). Times are wall clock (CLOCK_MONOTONIC). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lua.h>

#include "bench/bench.h"
#include "moonbox.h"

static int errors_seen;
static void on_log(void *ud, mb_log_level level, const char *msg) {
  (void)ud;
  if (level >= MB_LOG_WARN && errors_seen++ < 5) fprintf(stderr, "log: %s\n", msg);
}

static const char *const script =
    "return { engineHandlers = { onUpdate = function(dt) end } }";
static const char *const manifest = "NPC: npc.lua\n";

static mb_vm *new_vm(counter *c) {
  mb_config cfg;
  mb_config_init(&cfg);
  cfg.alloc = count_alloc;
  cfg.alloc_ud = c;
  cfg.log = on_log;
  mb_vm *vm = NULL;
  if (mb_vm_new(&cfg, &vm) != MB_OK) {
    fprintf(stderr, "mb_vm_new failed\n");
    exit(1);
  }
  if (mb_vm_mount_file(vm, "npc.lua", script, strlen(script)) != MB_OK ||
      mb_vm_mount_file(vm, "test.omwscripts", manifest, strlen(manifest)) != MB_OK ||
      mb_vm_register_type(vm, "NPC") != MB_OK ||
      mb_vm_register_type(vm, "BARE") != MB_OK ||
      mb_vm_add_manifest(vm, "test.omwscripts") != MB_OK) {
    fprintf(stderr, "setup failed: %s\n", mb_vm_error(vm));
    exit(1);
  }
  return vm;
}

/* Create `n` objects of `type` (ids "<prefix><i>") after the start; return
 * seconds, and bytes added (after a full GC) and before it in *raw. */
static double last_blocks; /* live blocks added by the last create_objects */

static double create_objects(mb_vm *vm, counter *c, const char *type,
                             const char *prefix, int n, double *bytes,
                             double *raw) {
  char id[64];
  full_gc(vm);
  size_t before = c->bytes;
  long blocks0 = c->blocks;
  double t0 = bench_now();
  for (int i = 0; i < n; i++) {
    snprintf(id, sizeof id, "%s%d", prefix, i);
    mb_object_desc d = {id, type, "cell", {0, 0, 0}, 1, NULL};
    if (mb_vm_create_object(vm, &d) != MB_OK) {
      fprintf(stderr, "create_object failed: %s\n", mb_vm_error(vm));
      exit(1);
    }
  }
  double t = bench_now() - t0;
  *raw = (double)(c->bytes - before);
  full_gc(vm);
  *bytes = (double)(c->bytes - before);
  last_blocks = (double)(c->blocks - blocks0) / n;
  return t;
}

/* Every allocator call of one more attach (after 1,000 warm-up objects),
 * to show where an instance's bytes go. */
static void trace_one(void) {
  counter c = {0};
  mb_vm *vm = new_vm(&c);
  mb_vm_start(vm);
  double b, raw;
  create_objects(vm, &c, "NPC", "warm_", 1000, &b, &raw);
  size_t before = c.bytes;
  c.trace = 1;
  mb_object_desc d = {"traced", "NPC", "cell", {0, 0, 0}, 1, NULL};
  mb_vm_create_object(vm, &d);
  c.trace = 0;
  size_t raw1 = c.bytes - before;
  full_gc(vm);
  printf("\nallocator calls of one object+script attach (bytes +grow/-free), "
         "raw %zu, live after GC %zu:\n ",
         raw1, c.bytes - before);
  for (size_t i = 0; i < c.nlog; i++) printf(" %+ld", c.log[i]);
  printf("\n");
  mb_vm_free(vm);
}

int main(int argc, char **argv) {
  int runs = argc > 1 ? atoi(argv[1]) : 7;
  int n = argc > 2 ? atoi(argv[2]) : 10000;
  if (runs < 1) runs = 1;
  if (n < 1) n = 1;
  mb_config def;
  mb_config_init(&def);
  printf("moonbox %s: bench_instances, %d objects, %d runs (medians, [min..max])\n",
         mb_version(), n, runs);
  printf("config: defaults: instruction budget %llu per call, deadline %u ms, "
         "JIT %s, memory limit %zu MiB per realm\n",
         (unsigned long long)def.limits.instruction_budget, def.limits.deadline_ms,
         def.limits.jit == MB_JIT_ON ? "on" : "off", def.limits.memory_limit >> 20);
  printf("script: %s\n\n", script);

  double *bare_us = calloc((size_t)runs, sizeof(double));
  double *bare_b = calloc((size_t)runs, sizeof(double));
  double *bare_raw = calloc((size_t)runs, sizeof(double));
  double *inst_us = calloc((size_t)runs, sizeof(double));
  double *inst_b = calloc((size_t)runs, sizeof(double));
  double *inst_raw = calloc((size_t)runs, sizeof(double));
  double *start_us = calloc((size_t)runs, sizeof(double));
  double *start_b = calloc((size_t)runs, sizeof(double));
  double *update_us = calloc((size_t)runs, sizeof(double));
  double *local_b = calloc((size_t)runs, sizeof(double));
  double *diff_us = calloc((size_t)runs, sizeof(double));
  double *diff_b = calloc((size_t)runs, sizeof(double));
  double *bare_blk = calloc((size_t)runs, sizeof(double));
  double *inst_blk = calloc((size_t)runs, sizeof(double));
  double base_vm = 0;

  for (int r = 0; r < runs; r++) {
    /* (1) objects created after the start: each attaches at once. */
    counter c = {0};
    mb_vm *vm = new_vm(&c);
    if (mb_vm_start(vm) != MB_OK) {
      fprintf(stderr, "start failed: %s\n", mb_vm_error(vm));
      return 1;
    }
    full_gc(vm);
    base_vm = (double)c.bytes;
    double b, raw;
    double t = create_objects(vm, &c, "BARE", "bare_", n, &b, &raw);
    bare_us[r] = t * 1e6 / n;
    bare_b[r] = b / n;
    bare_raw[r] = raw / n;
    bare_blk[r] = last_blocks;
    size_t local0 = mb_vm_realm_memory(vm, "local");
    t = create_objects(vm, &c, "NPC", "npc_", n, &b, &raw);
    local_b[r] = (double)(mb_vm_realm_memory(vm, "local") - local0) / n;
    inst_us[r] = t * 1e6 / n;
    inst_b[r] = b / n;
    inst_raw[r] = raw / n;
    inst_blk[r] = last_blocks;
    diff_us[r] = inst_us[r] - bare_us[r];
    diff_b[r] = inst_b[r] - bare_b[r];
    /* one frame over them, to see the instances are live */
    double t0 = bench_now();
    mb_vm_update(vm, 1.0 / 60);
    update_us[r] = (bench_now() - t0) * 1e6 / n;
    mb_vm_free(vm);

    /* (2) objects created before the start, then mb_vm_start attaches. */
    counter c2 = {0};
    mb_vm *vm2 = new_vm(&c2);
    char id[64];
    for (int i = 0; i < n; i++) {
      snprintf(id, sizeof id, "npc_%d", i);
      mb_object_desc d = {id, "NPC", "cell", {0, 0, 0}, 1, NULL};
      mb_vm_create_object(vm2, &d);
    }
    full_gc(vm2);
    size_t before = c2.bytes;
    t0 = bench_now();
    if (mb_vm_start(vm2) != MB_OK) {
      fprintf(stderr, "start failed: %s\n", mb_vm_error(vm2));
      return 1;
    }
    start_us[r] = (bench_now() - t0) * 1e6 / n;
    full_gc(vm2);
    start_b[r] = (double)(c2.bytes - before) / n;
    mb_vm_free(vm2);
  }

  stat3 s;
  printf("VM after start, no objects: %.0f bytes\n\n", base_vm);
  printf("%-52s %10s %22s\n", "figure (per object)", "median", "[min..max]");
#define ROW(label, arr, fmt)                                                   \
  s = summary(arr, runs);                                                      \
  printf("%-52s " fmt " [" fmt ".." fmt "]\n", label, s.med, s.min, s.max)
  ROW("object without script: create, us", bare_us, "%10.2f");
  ROW("object without script: bytes (after GC)", bare_b, "%10.0f");
  ROW("object without script: bytes (raw, before GC)", bare_raw, "%10.0f");
  ROW("object + script instance: create+attach, us", inst_us, "%10.2f");
  ROW("object + script instance: bytes (after GC)", inst_b, "%10.0f");
  ROW("object + script instance: bytes (raw, before GC)", inst_raw, "%10.0f");
  ROW("  of which in the 'local' realm's Lua state", local_b, "%10.0f");
  ROW("object without script: live allocator blocks", bare_blk, "%10.1f");
  ROW("object + script instance: live allocator blocks", inst_blk, "%10.1f");
  ROW("script instance alone (difference): us", diff_us, "%10.2f");
  ROW("script instance alone (difference): bytes", diff_b, "%10.0f");
  ROW("attach in mb_vm_start (objects made before): us", start_us, "%10.2f");
  ROW("attach in mb_vm_start: bytes (after GC)", start_b, "%10.0f");
  ROW("one frame (empty onUpdate each): us per instance", update_us, "%10.3f");
#undef ROW
  stat3 tu = summary(inst_us, runs), tb = summary(inst_b, runs);
  printf("\ngoal: <= 2048 bytes and <= 20 us per instance (object + script):\n"
         "  bytes %.0f -> %s, time %.2f us -> %s\n",
         tb.med, tb.med <= 2048 ? "PASS" : "FAIL", tu.med,
         tu.med <= 20 ? "PASS" : "FAIL");
  stat3 db = summary(diff_b, runs), du = summary(diff_us, runs);
  printf("  script instance alone: bytes %.0f -> %s, time %.2f us -> %s\n", db.med,
         db.med <= 2048 ? "PASS" : "FAIL", du.med, du.med <= 20 ? "PASS" : "FAIL");
  trace_one();
  if (errors_seen) printf("warning: %d warnings/errors were logged\n", errors_seen);
  free(bare_us), free(bare_b), free(bare_raw), free(inst_us), free(inst_b);
  free(inst_raw), free(start_us), free(start_b), free(update_us), free(local_b);
  free(diff_us), free(diff_b), free(bare_blk), free(inst_blk);
  return 0;
}
