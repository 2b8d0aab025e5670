#include "serializer/buffer.h"

#include <stdlib.h>

void mb__buf_init(mb__buf *b, mb_alloc_fn alloc, void *ud) {
  b->data = NULL;
  b->len = b->cap = 0;
  b->alloc = alloc ? alloc : mb_default_alloc;
  b->ud = alloc ? ud : NULL;
}

void mb__buf_free(mb__buf *b) {
  if (b->data) b->alloc(b->ud, b->data, b->cap, 0);
  b->data = NULL;
  b->len = b->cap = 0;
}

int mb__buf_grow(mb__buf *b, size_t extra) {
  if (extra > SIZE_MAX / 2 - b->len) return -1;
  size_t need = b->len + extra;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need)
    cap *= 2;
  void *p = b->alloc(b->ud, b->data, b->cap, cap);
  if (!p) return -1;
  b->data = p;
  b->cap = cap;
  return 0;
}

void *mb__buf_detach(mb__buf *b, size_t *len) {
  *len = 0;
  if (!b->data || b->len == 0) {
    mb__buf_free(b);
    return NULL;
  }
  void *p = b->data;
  if (b->cap != b->len) {
    p = b->alloc(b->ud, b->data, b->cap, b->len);
    if (!p) return NULL;
  }
  *len = b->len;
  b->data = NULL;
  b->len = b->cap = 0;
  return p;
}
