/* Serializer figures: encode/decode throughput of the strict codec against
 * LuaJIT's string.buffer in the same run, and the share of checksums in
 * save time. Prints medians; it is not a test.
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
#include <unistd.h>
#include <xxhash.h>

#include "bench/bench.h"

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

int main(int argc, char **argv) {
  int runs = argc > 1 ? atoi(argv[1]) : 11;
  if (runs < 1 || runs > 1000) runs = 11;
  double *t_enc = malloc(sizeof(double) * (size_t)runs);
  double *t_dec = malloc(sizeof(double) * (size_t)runs);
  double *t_sbe = malloc(sizeof(double) * (size_t)runs);
  double *t_sbd = malloc(sizeof(double) * (size_t)runs);
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  if (luaL_dostring(L, setup_src)) {
    fprintf(stderr, "setup: %s\n", lua_tostring(L, -1));
    return 1;
  }
  printf("serializer bench: %d runs per figure, medians of thread CPU time;\n"
         "M/s = million Lua values per second (values: every boolean, number,"
         "\nstring and table; 'objects' also counts map keys)\n\n",
         runs);
  printf("%-18s %9s %9s %8s | %9s %9s | %9s %9s | %6s %6s\n", "workload",
         "values", "objects", "bytes", "enc M/s", "dec M/s", "sb enc", "sb dec",
         "enc x", "dec x");
  for (int w = 1; w <= 3; w++) {
    lua_getglobal(L, "workloads");
    lua_rawgeti(L, -1, w);
    int v = lua_gettop(L);
    lua_getglobal(L, "count");
    lua_pushvalue(L, v);
    lua_call(L, 1, 2);
    double values = lua_tonumber(L, -2), keys = lua_tonumber(L, -1);
    lua_pop(L, 2);
    size_t bytes = 0;
    for (int r = 0; r < runs; r++) {
      lua_gc(L, LUA_GCCOLLECT, 0);
      double t0 = now();
      if (mb_encode_string(L, v, NULL) != MB_OK) {
        fprintf(stderr, "encode: %s\n", lua_tostring(L, -1));
        return 1;
      }
      t_enc[r] = now() - t0;
      size_t n;
      const char *s = lua_tolstring(L, -1, &n);
      bytes = n;
      lua_gc(L, LUA_GCCOLLECT, 0);
      t0 = now();
      if (mb_decode(L, s, n, NULL) != MB_OK) {
        fprintf(stderr, "decode: %s\n", lua_tostring(L, -1));
        return 1;
      }
      t_dec[r] = now() - t0;
      lua_pop(L, 2);
      /* string.buffer, same value, same state */
      lua_gc(L, LUA_GCCOLLECT, 0);
      lua_getglobal(L, "sb");
      lua_getfield(L, -1, "encode");
      lua_pushvalue(L, v);
      t0 = now();
      lua_call(L, 1, 1);
      t_sbe[r] = now() - t0;
      lua_getfield(L, -2, "decode");
      lua_pushvalue(L, -2);
      lua_gc(L, LUA_GCCOLLECT, 0);
      t0 = now();
      lua_call(L, 1, 1);
      t_sbd[r] = now() - t0;
      lua_pop(L, 3);
    }
    double me = bench_median(t_enc, runs), md = bench_median(t_dec, runs);
    double se = bench_median(t_sbe, runs), sd = bench_median(t_sbd, runs);
    lua_getglobal(L, "names");
    lua_rawgeti(L, -1, w);
    printf("%-18s %9.0f %9.0f %8zu | %9.1f %9.1f | %9.1f %9.1f | %6.2f %6.2f\n",
           lua_tostring(L, -1), values, values + keys, bytes, values / me / 1e6,
           values / md / 1e6, values / se / 1e6, values / sd / 1e6, se / me,
           sd / md);
    lua_pop(L, 4);
  }
  printf("\n(enc x / dec x: string.buffer time / our time; > 1 means we "
         "are faster)\n");

  /* Save time: workload (a) split into 100 script sections, encoded and
   * put into a save written to memory and to a file; the checksum share is
   * the time XXH3 takes over the same payloads. */
  double *t_save = t_enc, *t_sum = t_dec, *t_file = t_sbe;
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
  free(t_enc);
  free(t_dec);
  free(t_sbe);
  free(t_sbd);
  return 0;
}
