/* Open addressing with linear probing and backward-shift deletion: no
 * tombstones, so lookups stay short however many objects come and go. */
#include "core/map.h"

#include <string.h>

#include <xxhash.h>

void mb__map_init(mb__map *m, mb_alloc_fn alloc, void *alloc_ud) {
  memset(m, 0, sizeof *m);
  m->alloc = alloc;
  m->alloc_ud = alloc_ud;
}

void mb__map_free(mb__map *m) {
  if (m->slots) m->alloc(m->alloc_ud, m->slots, m->cap * sizeof *m->slots, 0);
  m->slots = NULL;
  m->cap = m->count = 0;
}

static uint64_t hash_key(const char *key) {
  return XXH3_64bits(key, strlen(key));
}

static size_t find_slot(const mb__map *m, const char *key, uint64_t h) {
  size_t mask = m->cap - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const mb__map_slot *s = &m->slots[i];
    if (!s->key || (s->hash == h && strcmp(s->key, key) == 0)) return i;
  }
}

void *mb__map_get(const mb__map *m, const char *key) {
  if (!m->cap) return NULL;
  const mb__map_slot *s = &m->slots[find_slot(m, key, hash_key(key))];
  return s->key ? s->value : NULL;
}

static mb_status grow(mb__map *m) {
  size_t cap = m->cap ? m->cap * 2 : 16;
  mb__map_slot *slots = m->alloc(m->alloc_ud, NULL, 0, cap * sizeof *slots);
  if (!slots) return MB_ENOMEM;
  memset(slots, 0, cap * sizeof *slots);
  mb__map old = *m;
  m->slots = slots;
  m->cap = cap;
  for (size_t i = 0; i < old.cap; i++) {
    if (old.slots[i].key)
      m->slots[find_slot(m, old.slots[i].key, old.slots[i].hash)] =
          old.slots[i];
  }
  if (old.slots)
    m->alloc(m->alloc_ud, old.slots, old.cap * sizeof *old.slots, 0);
  return MB_OK;
}

mb_status mb__map_put(mb__map *m, const char *key, void *value) {
  /* keep the load under 3/4 */
  if ((m->count + 1) * 4 > m->cap * 3 && grow(m) != MB_OK) return MB_ENOMEM;
  uint64_t h = hash_key(key);
  mb__map_slot *s = &m->slots[find_slot(m, key, h)];
  if (!s->key) m->count++;
  s->key = key;
  s->value = value;
  s->hash = h;
  return MB_OK;
}

void *mb__map_remove(mb__map *m, const char *key) {
  if (!m->cap) return NULL;
  size_t mask = m->cap - 1;
  size_t i = find_slot(m, key, hash_key(key));
  if (!m->slots[i].key) return NULL;
  void *value = m->slots[i].value;
  /* shift back later entries of the same probe run */
  for (size_t j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
    size_t home = m->slots[j].hash & mask;
    int movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
    if (movable) {
      m->slots[i] = m->slots[j];
      i = j;
    }
  }
  m->slots[i].key = NULL;
  m->count--;
  return value;
}
