/* Helpers shared by the cmocka programs. */
#ifndef MB_TESTS_TESTUTIL_H
#define MB_TESTS_TESTUTIL_H

#include <stddef.h>

#include "moonbox.h"

/* A log callback that appends "<level>|<msg>\n" to a growing buffer. */
typedef struct mbt_log {
  char *text;
  size_t len, cap;
} mbt_log;
void mbt_log_fn(void *ud, mb_log_level level, const char *msg);
void mbt_log_clear(mbt_log *log);
/* 1 when some record contains `needle`. */
int mbt_log_has(const mbt_log *log, const char *needle);

/* An allocator that fails once `fail_after` more allocations happened
 * (-1: never) or when `limit` bytes would be exceeded (0: no limit). */
typedef struct mbt_alloc {
  long fail_after;
  size_t limit;
  size_t bytes;
  size_t peak;
  size_t calls;
} mbt_alloc;
void *mbt_alloc_fn(void *ud, void *ptr, size_t osize, size_t nsize);

/* A VM with the test log and allocator attached (either may be NULL). */
mb_vm *mbt_vm(mbt_log *log, mbt_alloc *alloc);

#endif
