/* Serializer figures: encode/decode throughput of the strict codec against
 * LuaJIT's string.buffer in the same run, and the share of checksums in
 * save time. Prints medians; it is not a test.
 *
 * Both codecs run in the same state, twice: in a plain luaL_newstate
 * state (LuaJIT's own allocator), and in a moonbox realm (its counting
 * allocator over malloc, JIT off), where the product decodes saves and
 * events. Decoding is mostly table and string creation, so the allocator
 * shows in both codecs' figures; so do the page faults of memory the
 * allocator gave back to the kernel at the collection before each run
 * (LuaJIT's allocator does, for whichever codec it happens to): their
 * average per decode is printed.
 *
 *   bench_serializer [runs]      (default 11 runs per figure)
 *
 * "Values" are Lua values: every boolean, number, string and table counts
 * one (keys not counted); the msgpack object count (keys included) is
 * printed alongside. */
#define _POSIX_C_SOURCE 200809L
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>
#include <xxhash.h>

#include "bench/bench.h"

#include "sandbox/realm.h"
#include "serializer/codec.h"
#include "serializer/savefile.h"

/* CPU time of this thread: the figures do not depend on what else the
 * machine runs (wall time is printed for the file write only). */
static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *setup_src =
    "sb = require('string.buffer')\n"
    "function count(v)\n"
    "  if type(v) ~= 'table' then return 1, 0 end\n"
    "  local n, k, e = 1, 0, 0\n"
    "  for key, x in pairs(v) do local a, b = count(x) n = n + a k = k + b "
    "e = e + 1 end\n"
    "  if e == 0 or e ~= #v then k = k + e end -- map keys are objects too\n"
    "  return n, k\n"
    "end\n"
    "workloads = {}\n"
    "do local t = {}\n"
    "  for i = 1, 10000 do t[i] = {id = i, name = 'npc_' .. i, hp = 100.5,\n"
    "    pos = {x = 1, y = 2, z = 3}, flags = {true, false},\n"
    "    inv = {'a', 'b', 'c'}} end\n"
    "  workloads[1] = t end\n"
    "do local t = {}\n"
    "  for i = 1, 1000000 do t[i] = (i % 2 == 0) and i or i * 0.25 end\n"
    "  workloads[2] = t end\n"
    "do local function gen(d, seed)\n"
    "    if d == 0 then return {enabled = seed % 2 == 0, name = 'option' .. "
    "seed,\n"
    "      value = seed * 1.5, level = seed % 7, tags = {'x', 'y', 'z'},\n"
    "      range = {min = 0, max = 100}} end\n"
    "    local t = {}\n"
    "    for i = 1, 5 do t['section_' .. i] = gen(d - 1, seed * 5 + i) end\n"
    "    t.version = d; t.title = 'level ' .. d\n"
    "    return t end\n"
    "  workloads[3] = gen(5, 1) end\n"
    "names = {'(a) 10k records', '(b) 1M numbers', '(c) config tree'}\n";

typedef struct times {
  double *enc, *dec, *sbe, *sbd;
} times;

/* Page faults so far: fresh memory from the kernel costs CPU time too. */
static long page_faults(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

/* CPU time of calling the function at `fn` with the value at `arg`, after
 * a full collection; adds the page faults it took to *faults. Both codecs
 * are called this way, as a script would call them. The result is left on
 * top of the stack. */
static double time_call(lua_State *L, int fn, int arg, long *faults) {
  lua_gc(L, LUA_GCCOLLECT, 0);
  lua_pushvalue(L, fn);
  lua_pushvalue(L, arg);
  long f0 = page_faults();
  double t0 = now();
  if (lua_pcall(L, 1, 1, 0)) {
    fprintf(stderr, "bench: %s\n", lua_tostring(L, -1));
    exit(1);
  }
  double t = now() - t0;
  *faults += page_faults() - f0;
  return t;
}

/* A codec under test in its own state: the workloads, and its encode and
 * decode functions at stack slots enc and dec. */
typedef struct side {
  lua_State *L;
  int enc, dec;
} side;

/* Prepares `L` (standard libraries open) with the workloads and either our
 * codec or string.buffer. */
static int side_init(side *s, lua_State *L, int ours) {
  s->L = L;
  if (luaL_dostring(L, setup_src)) {
    fprintf(stderr, "setup: %s\n", lua_tostring(L, -1));
    return 1;
  }
  if (ours) {
    lua_pushcfunction(L, mb__lua_encode);
    lua_pushcfunction(L, mb__lua_decode);
  } else {
    lua_getglobal(L, "sb");
    lua_getfield(L, -1, "encode");
    lua_getfield(L, -2, "decode");
  }
  s->dec = lua_gettop(L);
  s->enc = s->dec - 1;
  return 0;
}

/* Times one encode and one decode of workload w on side s; returns the
 * encoded size. */
static size_t time_side(side *s, int w, double *te, double *td, long *faults) {
  lua_State *L = s->L;
  long ignored = 0;
  lua_settop(L, s->dec);
  lua_getglobal(L, "workloads");
  lua_rawgeti(L, -1, w);
  int v = lua_gettop(L);
  *te = time_call(L, s->enc, v, &ignored);
  size_t bytes = lua_objlen(L, -1);
  *td = time_call(L, s->dec, v + 1, faults);
  lua_settop(L, s->dec);
  return bytes;
}

/* Prints one line per workload. Each codec runs in its own state, made the
 * same way (`ours` and `sb`), through the same calls: LuaJIT's allocator
 * keeps its own history per state, so neither codec inherits the other's
 * freed or returned memory. The runs alternate between the two. */
static int codec_figures(lua_State *ours, lua_State *sb, int runs,
                         const times *t) {
  side us, them;
  if (side_init(&us, ours, 1) || side_init(&them, sb, 0)) return 1;
  printf("%-18s %9s %9s %8s | %9s %9s | %9s %9s | %6s %6s | %13s\n", "workload",
         "values", "objects", "bytes", "enc M/s", "dec M/s", "sb enc", "sb dec",
         "enc x", "dec x", "faults/decode");
  for (int w = 1; w <= 3; w++) {
    lua_getglobal(ours, "workloads");
    lua_rawgeti(ours, -1, w);
    lua_getglobal(ours, "count");
    lua_insert(ours, -2);
    lua_call(ours, 1, 2);
    double values = lua_tonumber(ours, -2), keys = lua_tonumber(ours, -1);
    size_t bytes = 0;
    long fd = 0, fsd = 0, ignored = 0;
    for (int r = -1; r < runs; r++) { /* run -1 warms up */
      double te, td, tse, tsd;
      bytes = time_side(&us, w, &te, &td, r < 0 ? &ignored : &fd);
      time_side(&them, w, &tse, &tsd, r < 0 ? &ignored : &fsd);
      if (r < 0) continue;
      t->enc[r] = te;
      t->dec[r] = td;
      t->sbe[r] = tse;
      t->sbd[r] = tsd;
    }
    double me = bench_median(t->enc, runs), md = bench_median(t->dec, runs);
    double se = bench_median(t->sbe, runs), sd = bench_median(t->sbd, runs);
    lua_getglobal(ours, "names");
    lua_rawgeti(ours, -1, w);
    printf("%-18s %9.0f %9.0f %8zu | %9.1f %9.1f | %9.1f %9.1f | %6.2f %6.2f"
           " | %6ld %6ld\n",
           lua_tostring(ours, -1), values, values + keys, bytes,
           values / me / 1e6, values / md / 1e6, values / se / 1e6,
           values / sd / 1e6, se / me, sd / md, fd / runs, fsd / runs);
    lua_settop(ours, us.dec);
  }
  return 0;
}

int main(int argc, char **argv) {
  int runs = argc > 1 ? atoi(argv[1]) : 11;
  if (runs < 1 || runs > 1000) runs = 11;
  times t = {malloc(sizeof(double) * (size_t)runs),
             malloc(sizeof(double) * (size_t)runs),
             malloc(sizeof(double) * (size_t)runs),
             malloc(sizeof(double) * (size_t)runs)};
  printf("serializer bench: %d runs per figure, medians of thread CPU time;\n"
         "M/s = million Lua values per second (values: every boolean, number,"
         "\nstring and table; 'objects' also counts map keys)\n",
         runs);

  lua_State *L = luaL_newstate(), *L2 = luaL_newstate();
  luaL_openlibs(L);
  luaL_openlibs(L2);
  printf("\nin plain LuaJIT states (LuaJIT's own allocator, JIT on):\n");
  if (codec_figures(L, L2, runs, &t)) return 1;
  lua_close(L2);

  mb_realm_limits limits = {(size_t)4 << 30, MB_DEFAULT_INSTRUCTION_BUDGET,
                            MB_DEFAULT_DEADLINE_MS, MB_JIT_OFF};
  mb__realm *r1 = mb__realm_new("ours", &limits, NULL, NULL);
  mb__realm *r2 = mb__realm_new("sb", &limits, NULL, NULL);
  if (!r1 || !r2) return 1;
  luaL_openlibs(mb__realm_lua(r1));
  luaL_openlibs(mb__realm_lua(r2));
  printf("\nin moonbox realms (counting allocator over malloc, JIT off):\n");
  if (codec_figures(mb__realm_lua(r1), mb__realm_lua(r2), runs, &t)) return 1;
  mb__realm_free(r1);
  mb__realm_free(r2);
  printf("\n(enc x / dec x: string.buffer time / our time; > 1 means we "
         "are faster)\n");

  /* Save time: workload (a) split into 100 script sections, encoded and
   * put into a save written to memory and to a file; the checksum share is
   * the time XXH3 takes over the same payloads. */
  double *t_save = t.enc, *t_sum = t.dec, *t_file = t.sbe;
  char path[] = "/tmp/mb_bench_save_XXXXXX";
  int fd = mkstemp(path);
  if (fd >= 0) close(fd);
  size_t total = 0;
  for (int r = 0; r < runs; r++) {
    mb_save *s;
    mb_save_new(NULL, NULL, &s);
    double t0 = now();
    lua_getglobal(L, "workloads");
    lua_rawgeti(L, -1, 1);
    for (int k = 0; k < 100; k++) {
      lua_createtable(L, 100, 0);
      for (int i = 1; i <= 100; i++) {
        lua_rawgeti(L, -2, k * 100 + i);
        lua_rawseti(L, -2, i);
      }
      void *p;
      size_t n;
      mb_encode(L, -1, NULL, NULL, NULL, &p, &n);
      char script[64];
      snprintf(script, sizeof script, "scripts/s%03d.lua", k);
      mb_save_put(s, "script", "global", script, p, n);
      free(p);
      lua_pop(L, 1);
    }
    lua_pop(L, 2);
    void *img;
    size_t in;
    mb_save_write_memory(s, &img, &in);
    t_save[r] = now() - t0;
    total = in;
    mb_save_release(s, img, in);
    t0 = bench_now();
    mb_save_write_file(s, path);
    t_file[r] = bench_now() - t0 + t_save[r];
    t0 = now();
    uint64_t acc = 0;
    for (size_t i = 0; i < mb_save_section_count(s); i++) {
      mb_save_section x;
      mb_save_section_at(s, i, &x);
      acc ^= XXH3_64bits(x.payload, x.size);
    }
    t_sum[r] = now() - t0; /* what mb_save_put spends hashing */
    if (acc == 42) puts("");
    mb_save_free(s);
  }
  unlink(path);
  double ms = bench_median(t_save, runs), cs = bench_median(t_sum, runs),
         fs = bench_median(t_file, runs);
  printf("\nsave of (a) as 100 sections, %zu bytes: encode+build %.2f ms, "
         "+ atomic file write %.2f ms;\n  checksums %.3f ms = "
         "%.2f%% of in-memory save time, %.2f%% with the file write\n",
         total, ms * 1e3, fs * 1e3, cs * 1e3, 100 * cs / ms, 100 * cs / fs);
  lua_close(L);
  free(t.enc);
  free(t.dec);
  free(t.sbe);
  free(t.sbd);
  return 0;
}
