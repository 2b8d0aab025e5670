/* A growable byte buffer whose memory comes from an mb_alloc_fn.
 *
 * The buffer is plain C memory owned by whoever holds the struct; code that
 * may raise a Lua error while writing into it runs in protected mode and the
 * owner frees the buffer afterwards, so an error can never leak it. */
#ifndef MB_SERIALIZER_BUFFER_H
#define MB_SERIALIZER_BUFFER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "moonbox.h"

typedef struct mb__buf {
  uint8_t *data;     /* NULL until the first write */
  size_t len;        /* bytes written */
  size_t cap;        /* bytes allocated (the osize given back to alloc) */
  mb_alloc_fn alloc; /* never NULL after mb__buf_init */
  void *ud;
} mb__buf;

/* `alloc` NULL selects mb_default_alloc. */
void mb__buf_init(mb__buf *b, mb_alloc_fn alloc, void *ud);
/* Releases the memory; the buffer is empty and reusable afterwards. */
void mb__buf_free(mb__buf *b);
/* Makes room for `extra` more bytes. 0 on success, -1 when out of memory
 * (the buffer is unchanged). */
int mb__buf_grow(mb__buf *b, size_t extra);

static inline int mb__buf_reserve(mb__buf *b, size_t extra) {
  return (b->cap - b->len >= extra) ? 0 : mb__buf_grow(b, extra);
}

static inline int mb__buf_append(mb__buf *b, const void *p, size_t n) {
  if (mb__buf_reserve(b, n)) return -1;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

/* Hands the bytes over: shrinks the block to exactly `len` bytes (so the
 * caller frees it with alloc(ud, p, len, 0)) and empties the buffer.
 * Returns NULL for an empty buffer or when the shrink failed (then the
 * buffer keeps its bytes). */
void *mb__buf_detach(mb__buf *b, size_t *len);

#endif
