/* The default allocator, shared by every module that takes an mb_alloc_fn. */
#include <stdlib.h>
#include <string.h>

#include "sandbox/alloc.h"

void *mb_default_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  (void)osize;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  /* A new block is most calls: malloc skips realloc's checks. */
  return ptr ? realloc(ptr, nsize) : malloc(nsize);
}

void *mb__alloc_object(mb_alloc_fn *alloc, void **ud, size_t size) {
  if (!*alloc) {
    *alloc = mb_default_alloc;
    *ud = NULL;
  }
  void *p = (*alloc)(*ud, NULL, 0, size);
  if (p) memset(p, 0, size);
  return p;
}
