/* Helpers shared by the benchmark programs: a clock and medians. */
#ifndef MB_BENCH_BENCH_H
#define MB_BENCH_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lua.h>

#include "core/vm.h" /* a full GC of each realm before counting */

/* Wall-clock seconds (monotonic). */
static inline double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline int bench_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

typedef struct stat3 {
  double med, min, max;
} stat3;

/* Median, minimum and maximum of n > 0 values (left unchanged). */
static inline stat3 summary(const double *in, int n) {
  double *v = malloc((size_t)n * sizeof *v);
  if (!v) abort();
  memcpy(v, in, (size_t)n * sizeof *v);
  qsort(v, (size_t)n, sizeof *v, bench_cmp);
  stat3 s = {v[n / 2], v[0], v[n - 1]};
  free(v);
  return s;
}

static inline double bench_median(const double *v, int n) {
  return summary(v, n).med;
}

/* One line: label, median, unit, [min .. max]. */
static inline void row(const char *label, const double *v, int n,
                       const char *unit) {
  stat3 s = summary(v, n);
  printf("  %-48s %12.3f %-4s [%.3f .. %.3f]\n", label, s.med, unit, s.min,
         s.max);
}

/* ---- memory: a counting allocator and a full collection ------------------ */

/* Counting allocator: a size header per block, so the count is exact
 * whatever osize the caller passes. */
typedef struct counter {
  size_t bytes, peak, calls;
  long blocks;         /* live blocks */
  int trace;           /* record every allocation (for one attach) */
  size_t nlog;
  long log[256];       /* size change of each call */
} counter;

static inline void *count_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  counter *c = ud;
  size_t *old = ptr ? (size_t *)ptr - 2 : NULL;
  size_t before = old ? old[0] : 0;
  (void)osize;
  if (c->trace && c->nlog < 256) c->log[c->nlog++] = (long)nsize - (long)before;
  if (nsize == 0) {
    if (old) {
      c->bytes -= before;
      c->blocks--;
      free(old);
    }
    return NULL;
  }
  size_t *blk = realloc(old, nsize + 2 * sizeof(size_t));
  if (!blk) return NULL;
  c->calls++;
  if (!old) c->blocks++;
  c->bytes = c->bytes - before + nsize;
  if (c->bytes > c->peak) c->peak = c->bytes;
  blk[0] = nsize;
  return blk + 2;
}

static inline void full_gc(mb_vm *vm) {
  for (size_t r = 0; r < vm->nrealms; r++) {
    lua_State *L = mb__realm_lua(vm->realms[r]);
    lua_gc(L, LUA_GCCOLLECT, 0);
    lua_gc(L, LUA_GCCOLLECT, 0);
  }
}

#endif
