/* Manifests: `.omwscripts` lists of scripts with flags, in load order.
 *
 * One line per script: `FLAGS: path.lua`. Flags are separated by spaces
 * and/or commas; full-line `#` comments and blank lines are skipped; CRLF
 * is accepted; paths are normalised as VFS paths (sandbox/vfs.h). Flags:
 * GLOBAL, CUSTOM, PLAYER and the object type names the host registered
 * (NPC, CONTAINER, …). GLOBAL combined with another flag is an error. A
 * script listed twice (in one file or across files) keeps its last
 * position and the union of its flags. Errors name file and line:
 * `mods/a.omwscripts:4: unknown flag 'NCP'`. A file with errors adds
 * nothing (parsing is atomic per file). */
#ifndef MB_CORE_MANIFEST_H
#define MB_CORE_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "moonbox.h"

#define MB__FLAG_GLOBAL ((uint64_t)1 << 0)
#define MB__FLAG_CUSTOM ((uint64_t)1 << 1)
#define MB__FLAG_PLAYER ((uint64_t)1 << 2)
/* Object type i (0-based index into the host's type list) is bit 3 + i. */
#define MB__FLAG_TYPE(i) ((uint64_t)1 << (3 + (i)))
#define MB__MAX_TYPES 60

typedef struct mb__manifest_entry {
  char *path;     /* normalised VFS path, owned by the manifest */
  uint64_t flags; /* MB__FLAG_* */
} mb__manifest_entry;

typedef struct mb__manifest mb__manifest;

mb__manifest *mb__manifest_new(mb_alloc_fn alloc, void *alloc_ud);
void mb__manifest_free(mb__manifest *m);

/* Parse one file's text and merge it after what was parsed before.
 * `type_names` (`ntypes` ≤ MB__MAX_TYPES, upper case) are the object type
 * flags the host accepts; flag matching is exact (case-sensitive), as in
 * OpenMW. On error returns MB_ECORRUPT (MB_ENOMEM) and leaves the manifest
 * as it was. */
mb_status mb__manifest_parse(mb__manifest *m, const char *file_name,
                             const char *text, size_t len,
                             const char *const *type_names, size_t ntypes,
                             char *err, size_t errsize);

/* Entries in load order. */
size_t mb__manifest_count(const mb__manifest *m);
const mb__manifest_entry *mb__manifest_at(const mb__manifest *m, size_t i);
/* The entry for normalised `path`, or NULL. */
const mb__manifest_entry *mb__manifest_find(const mb__manifest *m,
                                            const char *path);

#endif
