/* A string-keyed hash map of pointers. Keys are borrowed: they must live as
 * long as their entry (usually the key is a field of the value). */
#ifndef MB_CORE_MAP_H
#define MB_CORE_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "moonbox.h"

typedef struct mb__map_slot {
  const char *key; /* NULL: empty */
  void *value;
  uint64_t hash;
} mb__map_slot;

typedef struct mb__map {
  mb__map_slot *slots;
  size_t cap; /* a power of two, or 0 */
  size_t count;
  mb_alloc_fn alloc;
  void *alloc_ud;
} mb__map;

void mb__map_init(mb__map *m, mb_alloc_fn alloc, void *alloc_ud);
void mb__map_free(mb__map *m);
void *mb__map_get(const mb__map *m, const char *key);
/* Insert or replace. MB_ENOMEM leaves the map as it was. */
mb_status mb__map_put(mb__map *m, const char *key, void *value);
/* Remove and return the value (NULL if absent). */
void *mb__map_remove(mb__map *m, const char *key);

#endif
