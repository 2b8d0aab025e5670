/* JIT and budget figures: three typical script workloads (table-heavy
 * update, string building, math loop) run
 *   - in a moonbox realm with the JIT off (the default for untrusted code),
 *   - in a moonbox realm with the JIT on (opt-in, budgets best-effort),
 *   - in a bare LuaJIT state (JIT off) without and with a count hook like
 *     the realm's (every 1000 instructions), which isolates the cost of the
 *     budget machinery from the cost of the sandbox's wrappers.
 * Prints medians of CPU time and ratios; it is not a test.
 *
 *   bench_jit [runs]      (default 5 runs per figure) */
#define _POSIX_C_SOURCE 200809L
#include <lauxlib.h>
#include <lua.h>
#include <luajit.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"
#include "moonbox.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct workload {
  const char *name;
  const char *src;
} workload;

static const workload workloads[] = {
    {"table-heavy update",
     "local objs = {}\n"
     "for i = 1, 1000 do objs[i] = {x = i, y = 0, vx = 1, vy = 2, tags = {}} end\n"
     "for frame = 1, 400 do\n"
     "  for i = 1, #objs do\n"
     "    local o = objs[i]\n"
     "    o.x = o.x + o.vx * 0.016 o.y = o.y + o.vy * 0.016\n"
     "    if o.x > 100 then o.x = 0 end\n"
     "    o.tags[#o.tags % 4 + 1] = frame\n"
     "  end\n"
     "end\n"},
    {"string building",
     "for r = 1, 150 do\n"
     "  local parts = {}\n"
     "  for i = 1, 500 do\n"
     "    parts[#parts + 1] = string.format('%d:%s', i, tostring(i * 2)) .. ','\n"
     "  end\n"
     "  local s = table.concat(parts):upper()\n"
     "end\n"},
    {"math loop",
     "local s = 0\n"
     "for i = 1, 3000000 do s = s + math.sin(i) * math.sqrt(i) + i % 3 end\n"},
};
#define NWORK (sizeof workloads / sizeof *workloads)

/* One run of `w` in a fresh moonbox VM; CPU seconds of the exec only. */
static double run_moonbox(const workload *w, mb_jit_policy jit) {
  mb_config cfg;
  mb_config_init(&cfg);
  cfg.limits.jit = jit;
  cfg.limits.instruction_budget = 0; /* the hook still runs: see below */
  cfg.limits.deadline_ms = 0;
  mb_vm *vm = NULL;
  if (mb_vm_new(&cfg, &vm) != MB_OK) exit(1);
  mb_vm_mount_file(vm, "w.lua", w->src, strlen(w->src));
  double t0 = now();
  mb_status st = mb_vm_exec_file(vm, "w.lua");
  double t = now() - t0;
  if (st != MB_OK) {
    fprintf(stderr, "%s: %s\n", w->name, mb_vm_error(vm));
    exit(1);
  }
  mb_vm_free(vm);
  return t;
}

/* What the realm's hook does every 1000 instructions, minus raising. */
static long hook_calls;
static void count_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  (void)L;
  hook_calls++;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts); /* the deadline check */
}

static double run_bare(const workload *w, int hooked) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);
  if (luaL_loadbuffer(L, w->src, strlen(w->src), "=w")) exit(1);
  if (hooked) lua_sethook(L, count_hook, LUA_MASKCOUNT, 1000);
  double t0 = now();
  if (lua_pcall(L, 0, 0, 0)) {
    fprintf(stderr, "%s: %s\n", w->name, lua_tostring(L, -1));
    exit(1);
  }
  double t = now() - t0;
  lua_close(L);
  return t;
}

int main(int argc, char **argv) {
  int runs = argc > 1 ? atoi(argv[1]) : 5;
  if (runs < 1) runs = 1;
  double *v = malloc(sizeof *v * (size_t)runs);
  printf("%-20s %10s %10s %9s %10s %10s %9s %9s\n", "workload", "jit off", "jit on",
         "off/on", "bare", "bare+hook", "hook", "sandbox");
  for (size_t i = 0; i < NWORK; i++) {
    const workload *w = &workloads[i];
    double off, on, bare, hooked;
    for (int r = 0; r < runs; r++) v[r] = run_moonbox(w, MB_JIT_OFF);
    off = bench_median(v, runs);
    for (int r = 0; r < runs; r++) v[r] = run_moonbox(w, MB_JIT_ON);
    on = bench_median(v, runs);
    for (int r = 0; r < runs; r++) v[r] = run_bare(w, 0);
    bare = bench_median(v, runs);
    for (int r = 0; r < runs; r++) v[r] = run_bare(w, 1);
    hooked = bench_median(v, runs);
    /* hook: bare+hook / bare, the budget machinery alone;
     * sandbox: moonbox JIT off / bare+hook, the wrappers and allocator */
    printf("%-20s %8.1fms %8.1fms %8.2fx %8.1fms %8.1fms %8.3fx %8.3fx\n", w->name,
           off * 1e3, on * 1e3, off / on, bare * 1e3, hooked * 1e3, hooked / bare,
           off / hooked);
  }
  printf("(median CPU time of %d runs; jit off/on > 1 means the JIT is faster)\n", runs);
  free(v);
  return 0;
}
