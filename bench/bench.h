/* Helpers shared by the benchmark programs: a clock and medians. */
#ifndef MB_BENCH_BENCH_H
#define MB_BENCH_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

#endif
