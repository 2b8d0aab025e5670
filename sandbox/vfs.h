/* Virtual filesystem: read-only mounts of host directories and in-memory
 * files; later mounts shadow earlier ones. Scripts see nothing else.
 *
 * Paths are normalised before any lookup: `\` becomes `/`, repeated
 * slashes collapse, `.` segments are dropped, ASCII letters fold to lower
 * case (lookups are case-insensitive, as modders on Windows expect).
 * Refused with a clear reason: empty paths, absolute paths (`/x`, `C:x`),
 * `..` segments, NUL bytes, a trailing slash (empty last segment).
 * Nothing outside the mounts is ever opened: directory lookups walk one
 * segment at a time below the mount with openat(O_NOFOLLOW), so symbolic
 * links are not followed. */
#ifndef MB_SANDBOX_VFS_H
#define MB_SANDBOX_VFS_H

#include <stddef.h>

#include "moonbox.h"

typedef struct mb__vfs mb__vfs;

/* Messages are written to `err` (`errsize` bytes, always NUL-terminated
 * when errsize > 0) and name the path and the reason, e.g.
 * "bad path '../x': '..' segments are not allowed". */

/* A new empty VFS allocating through `alloc` (realloc semantics). */
mb__vfs *mb__vfs_new(mb_alloc_fn alloc, void *alloc_ud);
void mb__vfs_free(mb__vfs *vfs);

/* Normalise `path` (`len` bytes, may contain NUL: refused) into `out`
 * (`outsize` bytes). MB_OK, MB_EDENIED for a refused path, MB_EINVAL when
 * `out` is too small. */
mb_status mb__vfs_normalize(const char *path, size_t len, char *out,
                            size_t outsize, char *err, size_t errsize);

/* Mount host directory `dir` (must exist and be a directory). */
mb_status mb__vfs_mount_dir(mb__vfs *vfs, const char *dir, char *err,
                            size_t errsize);

/* Mount one in-memory file (`data` copied) at VFS path `path`. */
mb_status mb__vfs_mount_file(mb__vfs *vfs, const char *path,
                             const void *data, size_t size, char *err,
                             size_t errsize);

/* Read a whole file. `*data` is allocated with the VFS allocator,
 * NUL-terminated at data[size]; free it with mb__vfs_release(). The newest
 * mount holding the path wins. MB_ENOTFOUND, MB_EDENIED, MB_EIO, MB_ENOMEM. */
mb_status mb__vfs_read(mb__vfs *vfs, const char *path, char **data,
                       size_t *size, char *err, size_t errsize);
void mb__vfs_release(mb__vfs *vfs, char *data, size_t size);

/* 1 when `path` names a regular file in some mount, else 0 (also for
 * refused paths). */
int mb__vfs_exists(mb__vfs *vfs, const char *path);

/* Call `fn` once for each file directly inside VFS directory `dir` ("" is
 * the root) whose normalised name ends with `suffix`, over all mounts,
 * each name once (newest mount wins), in byte order of the normalised
 * name. `name` is the normalised path of the file relative to the VFS root. */
typedef void (*mb__vfs_list_fn)(void *ud, const char *name);
mb_status mb__vfs_list(mb__vfs *vfs, const char *dir, const char *suffix,
                       mb__vfs_list_fn fn, void *ud, char *err,
                       size_t errsize);

#endif
