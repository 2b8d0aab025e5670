/* Event and timer figures. Prints medians (and min/max) over several runs;
 * it is not a test.
 *
 *   bench_events [runs] [frames]     (default 7 runs, 20 frames per run)
 *
 * (1) Events per second, end to end, from 1,000 local scripts to one global
 *     handler: each local script's onUpdate calls
 *     core.sendGlobalEvent('Hit', {id = 'npc_1', x = 1.5, tags = {'a', 'b'}})
 *     K times (serialize + queue); the next frame delivers them (decode +
 *     call of the global script's eventHandlers.Hit, which counts them). In
 *     the steady state every frame does both halves for 1,000 * K events.
 *     Events/s = events delivered during the timed frames / their wall time
 *     (the 1,000 onUpdate calls that send are included). The global script
 *     prints its count once per frame; the bench reads it from the log to
 *     check every event arrived.
 * (2) Timers: a global script creates N reliable timers
 *     (async:newSimulationTimer(delay, cb, i), cb registered with
 *     async:registerTimerCallback at load) in one onUpdate, then one frame
 *     fires them all. Then the same N pending timers are saved
 *     (mb_vm_save_memory) and loaded into a fresh VM (mb_vm_load_memory),
 *     and that VM fires them (count checked).
 *
 * All VMs use the default configuration (printed). Times are wall clock
 * (CLOCK_MONOTONIC); per-frame figures are medians of single frames, which
 * keeps a preempted frame out of the figure. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"
#include "moonbox.h"

/* The log: remembers the last number a script printed, shows errors. */
typedef struct logstate {
  double last; /* the last printed number */
  int warnings;
} logstate;

static void on_log(void *ud, mb_log_level level, const char *msg) {
  logstate *ls = ud;
  if (level == MB_LOG_PRINT) {
    const char *tab = strrchr(msg, '\t');
    if (tab) ls->last = atof(tab + 1);
  } else if (level >= MB_LOG_WARN) {
    if (ls->warnings++ < 5) fprintf(stderr, "log: %s\n", msg);
  }
}

static mb_vm *new_vm(logstate *ls) {
  mb_config cfg;
  mb_config_init(&cfg);
  cfg.log = on_log;
  cfg.log_ud = ls;
  mb_vm *vm = NULL;
  if (mb_vm_new(&cfg, &vm) != MB_OK) {
    fprintf(stderr, "mb_vm_new failed\n");
    exit(1);
  }
  return vm;
}

static void mount(mb_vm *vm, const char *path, const char *text) {
  if (mb_vm_mount_file(vm, path, text, strlen(text)) != MB_OK) {
    fprintf(stderr, "mount %s failed: %s\n", path, mb_vm_error(vm));
    exit(1);
  }
}

static void check(mb_vm *vm, mb_status st, const char *what) {
  if (st != MB_OK) {
    fprintf(stderr, "%s failed: %s\n", what, mb_vm_error(vm));
    exit(1);
  }
}

/* ---- (1) events ------------------------------------------------------------ */

static const char *const sender_fmt =
    "local core = require('engine.core')\n"
    "local payload = {id = 'npc_1', x = 1.5, tags = {'a', 'b'}}\n"
    "local send = core.sendGlobalEvent\n"
    "return { engineHandlers = { onUpdate = function(dt)\n"
    "  for i = 1, %d do send('Hit', payload) end\n"
    "end } }\n";

static const char *const receiver_src =
    "local n = 0\n"
    "return {\n"
    "  eventHandlers = { Hit = function(e) n = n + 1 end },\n"
    "  engineHandlers = { onUpdate = function(dt) print(n) end },\n"
    "}\n";

#define SENDERS 1000

/* Returns events per second (median over runs) for K sends per script. */
static double events_run(int runs, int frames, int k, int verbose) {
  logstate ls = {0, 0};
  mb_vm *vm = new_vm(&ls);
  char sender[1024];
  snprintf(sender, sizeof sender, sender_fmt, k);
  mount(vm, "sender.lua", sender);
  mount(vm, "receiver.lua", receiver_src);
  mount(vm, "test.omwscripts", "GLOBAL: receiver.lua\nNPC: sender.lua\n");
  check(vm, mb_vm_register_type(vm, "NPC"), "register_type");
  check(vm, mb_vm_add_manifest(vm, "test.omwscripts"), "add_manifest");
  char id[32];
  for (int i = 1; i <= SENDERS; i++) {
    snprintf(id, sizeof id, "npc_%d", i);
    mb_object_desc d = {id, "NPC", "cell", {0, 0, 0}, 1, NULL};
    check(vm, mb_vm_create_object(vm, &d), "create_object");
  }
  check(vm, mb_vm_start(vm), "start");
  /* two frames to reach the steady state: frame 1 sends, frame 2 delivers */
  mb_vm_update(vm, 1.0 / 60);
  mb_vm_update(vm, 1.0 / 60);
  double per_frame = (double)SENDERS * k;
  double *eps = calloc((size_t)runs, sizeof(double));
  double *frame_ms = calloc((size_t)runs, sizeof(double));
  double *ns_per = calloc((size_t)runs, sizeof(double));
  double *ft = calloc((size_t)frames, sizeof(double));
  double expected = 0, got = 0;
  for (int r = 0; r < runs; r++) {
    double before = ls.last; /* printed during the last frame: count so far */
    for (int f = 0; f < frames; f++) {
      double t0 = bench_now();
      mb_vm_update(vm, 1.0 / 60);
      ft[f] = bench_now() - t0;
    }
    /* the receiver prints in its onUpdate, after this frame's deliveries */
    expected += per_frame * frames;
    got += ls.last - before;
    stat3 s = summary(ft, frames);
    frame_ms[r] = s.med * 1e3;
    eps[r] = per_frame / s.med;
    ns_per[r] = s.med * 1e9 / per_frame;
  }
  if (verbose) {
    printf("\n(1) events, %d local scripts x K = %d sends per frame = %.0f "
           "events per frame\n", SENDERS, k, per_frame);
    row("frame time (send + deliver, steady state)", frame_ms, runs, "ms");
    row("end-to-end cost per event", ns_per, runs, "ns");
    row("events per second", eps, runs, "ev/s");
    printf("  delivered %.0f of %.0f events sent in the timed frames%s\n", got,
           expected, got == expected ? " (all)" : "  <-- MISSING EVENTS");
  }
  uint64_t errors = mb_vm_script_errors(vm);
  if (errors) printf("  WARNING: %llu script errors\n", (unsigned long long)errors);
  stat3 s = summary(eps, runs);
  free(eps), free(frame_ms), free(ns_per), free(ft);
  mb_vm_free(vm);
  return s.med;
}

/* ---- (2) timers ------------------------------------------------------------ */

/* Timers are created on the first onUpdate after a 'go' flag, with delays
 * spread over (0, 1] seconds; one frame with dt = 1 fires them all. */
static const char *const timer_fmt =
    "local async = require('engine.async')\n"
    "local fired = 0\n"
    "local cb = async:registerTimerCallback('t', function(arg) fired = fired + 1 end)\n"
    "local created = false\n"
    "return { engineHandlers = {\n"
    "  onUpdate = function(dt)\n"
    "    if not created then created = true\n"
    "      for i = 1, %d do async:newSimulationTimer((i %% 1000 + 1) * 0.001, cb, i) end\n"
    "    end\n"
    "    print(fired)\n"
    "  end,\n"
    "  onLoad = function() created = true end,\n"
    "} }\n";

static mb_vm *timer_vm(logstate *ls, int n) {
  mb_vm *vm = new_vm(ls);
  char src[2048];
  snprintf(src, sizeof src, timer_fmt, n);
  mount(vm, "timers.lua", src);
  mount(vm, "test.omwscripts", "GLOBAL: timers.lua\n");
  check(vm, mb_vm_add_manifest(vm, "test.omwscripts"), "add_manifest");
  return vm;
}

static void timers_run(int runs, int n) {
  double *create_ms = calloc((size_t)runs, sizeof(double));
  double *fire_ms = calloc((size_t)runs, sizeof(double));
  double *save_ms = calloc((size_t)runs, sizeof(double));
  double *load_ms = calloc((size_t)runs, sizeof(double));
  double *fire2_ms = calloc((size_t)runs, sizeof(double));
  double *empty_ms = calloc((size_t)runs, sizeof(double));
  size_t save_size = 0;
  int bad = 0;
  for (int r = 0; r < runs; r++) {
    logstate ls = {0, 0};
    mb_vm *vm = timer_vm(&ls, n);
    check(vm, mb_vm_start(vm), "start");
    double t0 = bench_now();
    mb_vm_update(vm, 0); /* paused frame: creates the timers, none is due */
    create_ms[r] = (bench_now() - t0) * 1e3;
    /* the pending timers: save, then load into a fresh VM */
    char *data = NULL;
    size_t size = 0;
    t0 = bench_now();
    check(vm, mb_vm_save_memory(vm, NULL, 0, &data, &size), "save_memory");
    save_ms[r] = (bench_now() - t0) * 1e3;
    save_size = size;
    logstate ls2 = {0, 0};
    mb_vm *vm2 = timer_vm(&ls2, n);
    t0 = bench_now();
    check(vm2, mb_vm_load_memory(vm2, data, size, NULL, NULL), "load_memory");
    load_ms[r] = (bench_now() - t0) * 1e3;
    mb_vm_release(vm, data, size);
    /* fire them all in the original VM ... */
    t0 = bench_now();
    mb_vm_update(vm, 1.0);
    fire_ms[r] = (bench_now() - t0) * 1e3;
    t0 = bench_now();
    mb_vm_update(vm, 1.0);
    empty_ms[r] = (bench_now() - t0) * 1e3;
    if (ls.last != n) bad++;
    /* ... and in the loaded one */
    t0 = bench_now();
    mb_vm_update(vm2, 1.0);
    fire2_ms[r] = (bench_now() - t0) * 1e3;
    if (ls2.last != n) bad++;
    if (ls.warnings || ls2.warnings || mb_vm_script_errors(vm) || mb_vm_script_errors(vm2))
      bad++;
    mb_vm_free(vm);
    mb_vm_free(vm2);
  }
  printf("\n(2) %d reliable timers (async:newSimulationTimer(delay, cb, i)) in "
         "one global script\n", n);
  row("create all (one onUpdate)", create_ms, runs, "ms");
  row("fire all (one frame)", fire_ms, runs, "ms");
  row("  next frame, nothing due (subtract)", empty_ms, runs, "ms");
  row("save_memory with them pending", save_ms, runs, "ms");
  printf("  save size: %zu bytes (%.1f per timer)\n", save_size,
         (double)save_size / n);
  row("load_memory into a fresh VM", load_ms, runs, "ms");
  row("fire all in the loaded VM (one frame)", fire2_ms, runs, "ms");
  stat3 c = summary(create_ms, runs), f = summary(fire_ms, runs);
  printf("  per timer: create %.2f us, fire %.2f us; created+fired %.0f timers/s\n",
         c.med * 1e3 / n, f.med * 1e3 / n, n / ((c.med + f.med) * 1e-3));
  printf("  every timer fired (original and loaded VM), no errors: %s\n",
         bad ? "NO  <-- see the log above" : "yes");
  free(create_ms), free(fire_ms), free(save_ms), free(load_ms), free(fire2_ms),
      free(empty_ms);
}

int main(int argc, char **argv) {
  int runs = argc > 1 ? atoi(argv[1]) : 7;
  int frames = argc > 2 ? atoi(argv[2]) : 20;
  int ntimers = argc > 3 ? atoi(argv[3]) : 100000;
  if (runs < 1) runs = 1;
  if (frames < 1) frames = 1;
  if (ntimers < 1) ntimers = 1;
  mb_config def;
  mb_config_init(&def);
  printf("moonbox %s: bench_events, %d runs (medians [min .. max])\n", mb_version(),
         runs);
  printf("config (defaults, every VM): instruction budget %llu per handler call, "
         "deadline %u ms, JIT %s, memory limit %zu MiB per realm\n",
         (unsigned long long)def.limits.instruction_budget, def.limits.deadline_ms,
         def.limits.jit == MB_JIT_ON ? "on" : "off (interpreter)",
         def.limits.memory_limit >> 20);
  printf("payload: {id = 'npc_1', x = 1.5, tags = {'a', 'b'}}\n");

  double main_eps = events_run(runs, frames, 10, 1);
  printf("\n  other K (events per second, median):");
  static const int ks[] = {1, 100};
  for (int i = 0; i < 2; i++) {
    double e = events_run(runs, frames > 5 ? frames / 2 : frames, ks[i], 0);
    printf("  K=%d: %.0f", ks[i], e);
  }
  printf("\n");

  timers_run(runs, ntimers);

  printf("\ngoal: >= 1,000,000 events per second end to end (K = 10): %.0f -> %s\n",
         main_eps, main_eps >= 1e6 ? "PASS" : "FAIL");
  return 0;
}
