/* Storage sections: named key → serialized value maps shared by the
 * scripts of all realms (values cross realms only as bytes). */
#ifndef MB_CORE_STORAGE_H
#define MB_CORE_STORAGE_H

#include "core/vm.h"

enum { MB__LIFE_PERSISTENT = 0, MB__LIFE_GAME_SESSION = 1, MB__LIFE_TEMPORARY = 2 };

typedef struct mb__storage_entry {
  char *key;
  mb__bytes value;
} mb__storage_entry;

typedef struct mb__subscriber {
  int realm;
  int ref; /* the async:callback object in that realm's registry */
} mb__subscriber;

typedef struct mb__section {
  char *name;
  int player;   /* a playerSection */
  int lifetime;
  mb__storage_entry *entries; /* sorted by key */
  size_t n, cap;
  mb__subscriber *subs;
  size_t nsubs, capsubs;
} mb__section;

/* The section (created empty when `create`), or NULL. */
mb__section *mb__storage_section(mb_vm *vm, const char *name, int player,
                                 int create);
const mb__bytes *mb__storage_get(const mb__section *s, const char *key);
/* Set `key` to `size` bytes (size 0: remove it). */
mb_status mb__storage_set(mb_vm *vm, mb__section *s, const char *key,
                          const void *data, size_t size);
void mb__storage_clear(mb_vm *vm, mb__section *s);
mb_status mb__storage_subscribe(mb_vm *vm, mb__section *s, int realm, int ref);

/* Save GameSession sections; load replaces them and clears Temporary ones
 * (Persistent ones stay). */
mb_status mb__storage_save(mb_vm *vm, mb_save *save);
void mb__storage_load(mb_vm *vm, mb_save *save, unsigned char *applied);
void mb__storage_free(mb_vm *vm);

#endif
