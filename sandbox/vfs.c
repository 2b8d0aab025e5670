/* Virtual filesystem: read-only layers of host directories and in-memory
 * files, searched newest first. See vfs.h for the contract.
 *
 * Confinement: a directory mount keeps one fd on its root and every lookup
 * walks down from it one segment at a time with openat(O_NOFOLLOW) and
 * fstatat(AT_SYMLINK_NOFOLLOW). Symbolic links are never followed, not even
 * ones pointing inside the mount: a link in a mod's folder could point
 * anywhere on the host, and checking where it lands is racy. Normalised
 * paths have no `..`, no `/` prefix and no `:`, so a segment can only name
 * an entry of the directory it is looked up in.
 *
 * Case-insensitivity: normalised paths are lower case. Each segment is
 * first tried as is; when that name does not exist the directory is
 * scanned for names equal ignoring ASCII case, and the byte-wise smallest
 * match wins so that the result does not depend on readdir order. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE

#include "sandbox/vfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/alloc.h"

/* Scripts are text; anything bigger is a mistake or an attack. */
#define MAX_FILE_SIZE ((size_t)64 << 20)
/* Longest path quoted in a message; longer ones end in "...". */
#define SHOWN_MAX 200
/* Longest name of one directory entry (NAME_MAX on Linux). */
#define SEG_MAX 255

/* One mount. Directory layers have dirfd >= 0 and `path` is the host path
 * (for messages); memory layers have dirfd == -1, `path` is the normalised
 * VFS path and `data` the copied contents (NULL when empty). */
typedef struct layer {
  int dirfd;
  char *path;
  size_t path_size; /* bytes allocated for `path` */
  char *data;
  size_t size;
} layer;

struct mb__vfs {
  mb_alloc_fn alloc;
  void *alloc_ud;
  layer *layers; /* oldest first */
  size_t n, cap;
};

/* ---- memory ------------------------------------------------------------ */

/* `n` must be > 0: a zero-size request means "free" to the allocator. */
static void *vfs_alloc(mb__vfs *v, size_t n) {
  return v->alloc(v->alloc_ud, NULL, 0, n);
}

static void vfs_dealloc(mb__vfs *v, void *p, size_t n) {
  if (p) v->alloc(v->alloc_ud, p, n, 0);
}

/* ---- messages ---------------------------------------------------------- */

/* Appends to the caller's buffer, truncating safely; err may be NULL. */
typedef struct msgbuf {
  char *buf;
  size_t size, len;
} msgbuf;

static void msg_init(msgbuf *m, char *err, size_t errsize) {
  m->buf = err && errsize ? err : NULL;
  m->size = m->buf ? errsize : 0;
  m->len = 0;
  if (m->buf) m->buf[0] = '\0';
}

static void msg_putc(msgbuf *m, char c) {
  if (m->buf && m->len + 1 < m->size) {
    m->buf[m->len++] = c;
    m->buf[m->len] = '\0';
  }
}

static void msg_puts(msgbuf *m, const char *s) {
  while (*s)
    msg_putc(m, *s++);
}

/* 'path' with NUL shown as \0 and other control bytes as \xHH, so that the
 * message stays one printable line. */
static void msg_quoted(msgbuf *m, const char *p, size_t len) {
  static const char hex[] = "0123456789abcdef";
  msg_putc(m, '\'');
  for (size_t i = 0; i < len && i < SHOWN_MAX; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c == 0) {
      msg_puts(m, "\\0");
    } else if (c < 0x20 || c == 0x7f) {
      msg_puts(m, "\\x");
      msg_putc(m, hex[c >> 4]);
      msg_putc(m, hex[c & 15]);
    } else {
      msg_putc(m, (char)c);
    }
  }
  if (len > SHOWN_MAX) msg_puts(m, "...");
  msg_putc(m, '\'');
}

/* "<prefix> '<path>': <reason>" */
static void set_error(char *err, size_t errsize, const char *prefix,
                      const char *path, size_t len, const char *reason) {
  msgbuf m;
  msg_init(&m, err, errsize);
  msg_puts(&m, prefix);
  msg_putc(&m, ' ');
  msg_quoted(&m, path ? path : "", path ? len : 0);
  msg_puts(&m, ": ");
  msg_puts(&m, reason);
}

/* ---- normalisation ----------------------------------------------------- */

static int is_sep(char c) {
  return c == '/' || c == '\\';
}

static int is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char lower(char c) {
  return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* `allow_root`: "" and "." are accepted and mean the root (mb__vfs_list). */
static mb_status normalize(const char *path, size_t len, char *out,
                           size_t outsize, int allow_root, char *err,
                           size_t errsize) {
  const char *why = NULL;
  mb_status status = MB_EDENIED;
  size_t o = 0;
  if (!path) len = 0;
  if (outsize) out[0] = '\0';
  if (len && memchr(path, '\0', len)) {
    why = "NUL bytes are not allowed";
  } else if (len == 0) {
    if (!allow_root) why = "empty path";
  } else if (is_sep(path[0])) {
    why = "absolute paths are not allowed";
  } else if (len >= 2 && is_alpha(path[0]) && path[1] == ':') {
    why = "absolute paths are not allowed"; /* a drive letter, C:x */
  } else {
    size_t i = 0;
    while (i < len && !why) {
      size_t s = i;
      while (i < len && !is_sep(path[i]))
        i++;
      size_t n = i - s;
      if (i < len) i++; /* the separator */
      if (n == 0 || (n == 1 && path[s] == '.')) continue;
      if (n == 2 && path[s] == '.' && path[s + 1] == '.') {
        why = "'..' segments are not allowed";
      } else if (memchr(path + s, ':', n)) {
        why = "':' is not allowed (drive letters and streams)";
      } else if (o + (o ? 1 : 0) + n + 1 > outsize) {
        why = "path too long";
        status = MB_EINVAL;
      } else {
        if (o) out[o++] = '/';
        for (size_t k = 0; k < n; k++)
          out[o++] = lower(path[s + k]);
      }
    }
    if (!why && is_sep(path[len - 1])) {
      why = "empty segment";
    } else if (!why && o == 0 && !allow_root) {
      why = "empty path";
    }
  }
  if (!why && outsize == 0) {
    why = "path too long";
    status = MB_EINVAL;
  }
  if (why) {
    if (outsize) out[0] = '\0';
    set_error(err, errsize, "bad path", path, len, why);
    return status;
  }
  out[o] = '\0';
  if (err && errsize) err[0] = '\0';
  return MB_OK;
}

mb_status mb__vfs_normalize(const char *path, size_t len, char *out,
                            size_t outsize, char *err, size_t errsize) {
  return normalize(path, len, out, outsize, 0, err, errsize);
}

/* A normalised C string: short paths (nearly all) stay on the stack, so
 * lookups and refusals need no allocation. */
typedef struct normpath {
  char *s;
  size_t size; /* bytes allocated for `s`, 0 when it is `local` */
  char local[256];
} normpath;

static mb_status norm_get(mb__vfs *v, const char *path, int allow_root,
                          normpath *np, char *err, size_t errsize) {
  size_t len = path ? strlen(path) : 0;
  np->s = np->local;
  np->size = 0;
  mb_status st = normalize(path, len, np->local, sizeof np->local, allow_root,
                           err, errsize);
  if (st != MB_EINVAL) return st; /* MB_EINVAL: only "too long" */
  char *buf = vfs_alloc(v, len + 1);
  if (!buf) {
    set_error(err, errsize, "cannot look up", path, len, "out of memory");
    return MB_ENOMEM;
  }
  st = normalize(path, len, buf, len + 1, allow_root, err, errsize);
  if (st != MB_OK) {
    vfs_dealloc(v, buf, len + 1);
    return st;
  }
  np->s = buf;
  np->size = len + 1;
  return MB_OK;
}

static void norm_done(mb__vfs *v, normpath *np) {
  if (np->size) vfs_dealloc(v, np->s, np->size);
  np->size = 0;
}

/* ---- lifetime ---------------------------------------------------------- */

mb__vfs *mb__vfs_new(mb_alloc_fn alloc, void *alloc_ud) {
  mb__vfs *v = mb__alloc_object(&alloc, &alloc_ud, sizeof *v);
  if (!v) return NULL;
  v->alloc = alloc;
  v->alloc_ud = alloc_ud;
  return v;
}

static void layer_free(mb__vfs *v, layer *l) {
  if (l->dirfd >= 0) close(l->dirfd);
  vfs_dealloc(v, l->path, l->path_size);
  vfs_dealloc(v, l->data, l->size);
}

void mb__vfs_free(mb__vfs *v) {
  if (!v) return;
  for (size_t i = 0; i < v->n; i++)
    layer_free(v, &v->layers[i]);
  vfs_dealloc(v, v->layers, v->cap * sizeof *v->layers);
  vfs_dealloc(v, v, sizeof *v);
}

/* Room for one more layer. */
static int reserve_layer(mb__vfs *v) {
  if (v->n < v->cap) return 1;
  size_t ncap = v->cap ? v->cap * 2 : 4;
  if (ncap > ((size_t)-1) / sizeof *v->layers) return 0;
  layer *nl = v->alloc(v->alloc_ud, v->layers, v->cap * sizeof *v->layers,
                       ncap * sizeof *v->layers);
  if (!nl) return 0;
  v->layers = nl;
  v->cap = ncap;
  return 1;
}

/* ---- mounting ---------------------------------------------------------- */

mb_status mb__vfs_mount_dir(mb__vfs *v, const char *dir, char *err,
                            size_t errsize) {
  size_t len = dir ? strlen(dir) : 0;
  if (!v || !dir || !*dir) {
    set_error(err, errsize, "cannot mount", dir, len, "no directory given");
    return MB_EINVAL;
  }
  if (!reserve_layer(v)) {
    set_error(err, errsize, "cannot mount", dir, len, "out of memory");
    return MB_ENOMEM;
  }
  char *copy = vfs_alloc(v, len + 1);
  if (!copy) {
    set_error(err, errsize, "cannot mount", dir, len, "out of memory");
    return MB_ENOMEM;
  }
  memcpy(copy, dir, len + 1);
  /* The host chose this path, so it may go through links; O_RDONLY (not
   * O_PATH) because lookups list the directory for case-insensitivity. */
  int fd;
  do {
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    int e = errno;
    vfs_dealloc(v, copy, len + 1);
    set_error(err, errsize, "cannot mount", dir, len,
              e == ENOTDIR ? "not a directory" : strerror(e));
    return e == ENOENT ? MB_ENOTFOUND : e == ENOTDIR ? MB_EINVAL : MB_EIO;
  }
  layer *l = &v->layers[v->n++];
  memset(l, 0, sizeof *l);
  l->dirfd = fd;
  l->path = copy;
  l->path_size = len + 1;
  if (err && errsize) err[0] = '\0';
  return MB_OK;
}

mb_status mb__vfs_mount_file(mb__vfs *v, const char *path, const void *data,
                             size_t size, char *err, size_t errsize) {
  size_t len = path ? strlen(path) : 0;
  if (!v || (!data && size)) {
    set_error(err, errsize, "cannot mount", path, len, "no data given");
    return MB_EINVAL;
  }
  if (size > MAX_FILE_SIZE) {
    set_error(err, errsize, "cannot mount", path, len,
              "file too large (limit 64 MiB)");
    return MB_EINVAL;
  }
  normpath np;
  mb_status st = norm_get(v, path, 0, &np, err, errsize);
  if (st != MB_OK) return st;
  size_t norm_size = strlen(np.s) + 1;
  char *norm = vfs_alloc(v, norm_size); /* kept exactly sized */
  if (norm) memcpy(norm, np.s, norm_size);
  norm_done(v, &np);
  char *copy = NULL;
  if (!norm) goto oom;
  if (size) {
    copy = vfs_alloc(v, size);
    if (!copy) goto oom;
    memcpy(copy, data, size);
  }
  if (!reserve_layer(v)) goto oom;
  /* A later mount of the same path replaces the earlier one: it would
   * shadow it anyway, so drop it to free its memory. */
  for (size_t i = 0; i < v->n; i++) {
    layer *old = &v->layers[i];
    if (old->dirfd < 0 && strcmp(old->path, norm) == 0) {
      layer_free(v, old);
      memmove(old, old + 1, (v->n - i - 1) * sizeof *old);
      v->n--;
      break; /* there is never more than one */
    }
  }
  layer *l = &v->layers[v->n++];
  l->dirfd = -1;
  l->path = norm;
  l->path_size = norm_size;
  l->data = copy;
  l->size = size;
  if (err && errsize) err[0] = '\0';
  return MB_OK;
oom:
  vfs_dealloc(v, copy, size);
  vfs_dealloc(v, norm, norm_size);
  set_error(err, errsize, "cannot mount", path, len, "out of memory");
  return MB_ENOMEM;
}

/* ---- directory lookups ------------------------------------------------- */

static int ascii_caseeq(const char *a, const char *b) {
  for (; *a && *b; a++, b++)
    if (lower(*a) != lower(*b)) return 0;
  return *a == *b;
}

static int has_alpha(const char *s) {
  for (; *s; s++)
    if (is_alpha(*s)) return 1;
  return 0;
}

/* Find the entry of `dirfd` matching lower-case `seg` (see the top of the
 * file) without following it: on success its real name is in `name` and
 * its lstat in `st`. Returns 0 or an errno value (ENOENT: no such entry). */
static int resolve_name(int dirfd, const char *seg, char name[SEG_MAX + 1],
                        struct stat *st) {
  if (fstatat(dirfd, seg, st, AT_SYMLINK_NOFOLLOW) == 0) {
    strcpy(name, seg);
    return 0;
  }
  if (errno != ENOENT) return errno;
  if (!has_alpha(seg)) return ENOENT;
  /* A fresh open of the directory: its own read offset, and closedir()
   * closes it without touching `dirfd`. */
  int dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return errno;
  DIR *d = fdopendir(dfd);
  if (!d) {
    int e = errno;
    close(dfd);
    return e;
  }
  int found = 0, e = 0;
  for (;;) {
    errno = 0;
    struct dirent *ent = readdir(d);
    if (!ent) {
      e = errno;
      break;
    }
    if (strlen(ent->d_name) > SEG_MAX || !ascii_caseeq(ent->d_name, seg))
      continue;
    if (!found || strcmp(ent->d_name, name) < 0) {
      strcpy(name, ent->d_name);
      found = 1;
    }
  }
  closedir(d);
  if (e) return e;
  if (!found) return ENOENT;
  if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) != 0) return errno;
  return 0;
}

/* Open directory `p` (`plen` bytes of a normalised path, "" = the root)
 * below `root`. Returns 0 with *out set, ENOENT when it is not there (or
 * is not a directory), ELOOP when a segment is a symbolic link, or another
 * errno value. */
static int walk_dirs(int root, const char *p, size_t plen, int *out) {
  int cur = openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cur < 0) return errno;
  size_t i = 0;
  while (i < plen) {
    size_t s = i;
    while (i < plen && p[i] != '/')
      i++;
    size_t n = i - s;
    if (i < plen) i++;
    char seg[SEG_MAX + 1], name[SEG_MAX + 1];
    struct stat st;
    int e;
    if (n > SEG_MAX) {
      e = ENOENT;
    } else {
      memcpy(seg, p + s, n);
      seg[n] = '\0';
      e = resolve_name(cur, seg, name, &st);
      if (!e && S_ISLNK(st.st_mode)) e = ELOOP;
      if (!e && !S_ISDIR(st.st_mode)) e = ENOENT;
    }
    if (!e) {
      int next =
          openat(cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (next < 0)
        e = errno == ENOTDIR ? ENOENT : errno;
      else {
        close(cur);
        cur = next;
      }
    }
    if (e) {
      close(cur);
      return e == ENAMETOOLONG ? ENOENT : e;
    }
  }
  *out = cur;
  return 0;
}

/* What one layer says about a path. */
enum { L_NONE, L_FILE, L_FAIL, L_FAIL_HARD };

/* Why the lookup failed so far: the newest layer's reason wins. */
typedef struct reason {
  char *err;
  size_t errsize;
  const char *shown; /* the caller's path */
  mb_status status;  /* MB_OK while no reason is recorded */
} reason;

static void give_reason(reason *r, mb_status status, const char *why,
                        const layer *l) {
  if (r->status != MB_OK) return;
  r->status = status;
  msgbuf m;
  msg_init(&m, r->err, r->errsize);
  msg_puts(&m, "cannot read ");
  msg_quoted(&m, r->shown, strlen(r->shown));
  if (l) {
    msg_puts(&m, " in mount ");
    msg_quoted(&m, l->path, strlen(l->path));
  }
  msg_puts(&m, ": ");
  msg_puts(&m, why);
}

/* Look `norm` up in directory layer `l`. L_FILE: a regular file; when
 * `fd` is non-NULL it is opened into *fd and its fstat is in *st. */
static int dir_lookup(const layer *l, const char *norm, int *fd,
                      struct stat *st, reason *r) {
  const char *slash = strrchr(norm, '/');
  const char *leaf = slash ? slash + 1 : norm;
  int dfd;
  int e = walk_dirs(l->dirfd, norm, slash ? (size_t)(slash - norm) : 0, &dfd);
  if (e == ENOENT) return L_NONE;
  if (e == ELOOP) {
    give_reason(r, MB_EDENIED, "symbolic links are not followed", l);
    return L_FAIL;
  }
  if (e) {
    give_reason(r, MB_EIO, strerror(e), l);
    return L_FAIL;
  }
  char name[SEG_MAX + 1];
  int result = L_FILE;
  e = strlen(leaf) > SEG_MAX ? ENOENT : resolve_name(dfd, leaf, name, st);
  if (e == ENOENT || e == ENAMETOOLONG) {
    result = L_NONE;
  } else if (e) {
    give_reason(r, MB_EIO, strerror(e), l);
    result = L_FAIL;
  } else if (S_ISLNK(st->st_mode)) {
    give_reason(r, MB_EDENIED, "symbolic links are not followed", l);
    result = L_FAIL;
  } else if (S_ISDIR(st->st_mode)) {
    give_reason(r, MB_ENOTFOUND, "is a directory, not a file", l);
    result = L_FAIL;
  } else if (!S_ISREG(st->st_mode)) {
    give_reason(r, MB_EDENIED, "not a regular file", l);
    result = L_FAIL;
  } else if (fd) {
    /* O_NOFOLLOW and O_NONBLOCK: the entry may have been swapped for a
     * link or a FIFO since the fstatat; the fstat below rechecks. */
    int f;
    do {
      f = openat(dfd, name,
                 O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    } while (f < 0 && errno == EINTR);
    if (f < 0) {
      e = errno;
      if (e == ENOENT) {
        result = L_NONE;
      } else {
        give_reason(
            r, e == ELOOP ? MB_EDENIED : MB_EIO,
            e == ELOOP ? "symbolic links are not followed" : strerror(e), l);
        result = L_FAIL_HARD;
      }
    } else if (fstat(f, st) != 0 || !S_ISREG(st->st_mode)) {
      give_reason(r, MB_EDENIED, "not a regular file", l);
      close(f);
      result = L_FAIL_HARD;
    } else {
      *fd = f;
    }
  }
  close(dfd);
  return result;
}

/* The newest layer holding `norm` as a regular file: either *mem or (when
 * `fd` is non-NULL) an open *fd with fstat *st. Entries that are not
 * regular files (links, directories, devices) do not shadow older layers;
 * if no layer has a file, the newest such entry explains why. */
typedef struct found {
  const layer *mem;
  int fd;
  struct stat st;
} found;

static mb_status find(mb__vfs *v, const char *norm, found *f, int want_fd,
                      reason *r) {
  f->mem = NULL;
  f->fd = -1;
  for (size_t i = v->n; i-- > 0;) {
    const layer *l = &v->layers[i];
    if (l->dirfd < 0) {
      if (strcmp(l->path, norm) == 0) {
        f->mem = l;
        return MB_OK;
      }
      continue;
    }
    int res = dir_lookup(l, norm, want_fd ? &f->fd : NULL, &f->st, r);
    if (res == L_FILE) return MB_OK;
    if (res == L_FAIL_HARD) return r->status;
  }
  if (r->status == MB_OK) give_reason(r, MB_ENOTFOUND, "no such file", NULL);
  return r->status;
}

/* ---- reading ----------------------------------------------------------- */

/* Read all of `fd` (fstat size `hint`) into an exactly sized buffer with a
 * NUL after the data. The size is only a hint: the file may change while
 * we read it, and procfs-like files report 0. */
static mb_status read_fd(mb__vfs *v, int fd, size_t hint, char **data,
                         size_t *size, reason *r) {
  if (hint > MAX_FILE_SIZE) {
    give_reason(r, MB_EINVAL, "file too large (limit 64 MiB)", NULL);
    return MB_EINVAL;
  }
  size_t cap = hint + 1, got = 0;
  char *buf = vfs_alloc(v, cap);
  if (!buf) goto oom;
  for (;;) {
    char extra;
    char *dst = buf + got;
    size_t want = cap - 1 - got;
    if (want == 0) { /* full: probe for more before growing */
      dst = &extra;
      want = 1;
    }
    ssize_t n = read(fd, dst, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      vfs_dealloc(v, buf, cap);
      give_reason(r, MB_EIO, strerror(e), NULL);
      return MB_EIO;
    }
    if (n == 0) break;
    if (dst == &extra) {
      if (got + 1 > MAX_FILE_SIZE) {
        vfs_dealloc(v, buf, cap);
        give_reason(r, MB_EINVAL, "file too large (limit 64 MiB)", NULL);
        return MB_EINVAL;
      }
      size_t ncap = cap < 4096 ? 4096 : cap * 2;
      if (ncap > MAX_FILE_SIZE + 1) ncap = MAX_FILE_SIZE + 1;
      char *nb = v->alloc(v->alloc_ud, buf, cap, ncap);
      if (!nb) goto oom;
      buf = nb;
      cap = ncap;
      buf[got] = extra;
    }
    got += (size_t)n;
  }
  if (got + 1 != cap) { /* release() frees got + 1 bytes */
    char *nb = v->alloc(v->alloc_ud, buf, cap, got + 1);
    if (!nb) goto oom;
    buf = nb;
  }
  buf[got] = '\0';
  *data = buf;
  *size = got;
  return MB_OK;
oom:
  vfs_dealloc(v, buf, cap);
  give_reason(r, MB_ENOMEM, "out of memory", NULL);
  return MB_ENOMEM;
}

mb_status mb__vfs_read(mb__vfs *v, const char *path, char **data, size_t *size,
                       char *err, size_t errsize) {
  *data = NULL;
  *size = 0;
  if (!v || !path) {
    set_error(err, errsize, "cannot read", path, 0, "no path given");
    return MB_EINVAL;
  }
  normpath np;
  mb_status st = norm_get(v, path, 0, &np, err, errsize);
  if (st != MB_OK) return st;
  reason r = {err, errsize, path, MB_OK};
  found f;
  st = find(v, np.s, &f, 1, &r);
  norm_done(v, &np);
  if (st != MB_OK) return st;
  r.status = MB_OK; /* newer layers' non-files no longer matter */
  if (f.mem) {
    char *buf = vfs_alloc(v, f.mem->size + 1);
    if (!buf) {
      give_reason(&r, MB_ENOMEM, "out of memory", NULL);
      return MB_ENOMEM;
    }
    if (f.mem->size) memcpy(buf, f.mem->data, f.mem->size);
    buf[f.mem->size] = '\0';
    *data = buf;
    *size = f.mem->size;
  } else {
    st = read_fd(v, f.fd, (size_t)f.st.st_size, data, size, &r);
    close(f.fd);
    if (st != MB_OK) return st;
  }
  if (err && errsize) err[0] = '\0';
  return MB_OK;
}

void mb__vfs_release(mb__vfs *v, char *data, size_t size) {
  if (v && data) vfs_dealloc(v, data, size + 1);
}

int mb__vfs_exists(mb__vfs *v, const char *path) {
  if (!v || !path) return 0;
  normpath np;
  if (norm_get(v, path, 0, &np, NULL, 0) != MB_OK) return 0;
  reason r = {NULL, 0, path, MB_OK};
  found f;
  mb_status st = find(v, np.s, &f, 0, &r);
  norm_done(v, &np);
  return st == MB_OK;
}

/* ---- listing ----------------------------------------------------------- */

/* Candidate names: normalised paths, each allocated with strlen + 1. */
typedef struct name_list {
  char **names;
  size_t n, cap;
} name_list;

static void names_free(mb__vfs *v, name_list *nl) {
  for (size_t i = 0; i < nl->n; i++)
    vfs_dealloc(v, nl->names[i], strlen(nl->names[i]) + 1);
  vfs_dealloc(v, nl->names, nl->cap * sizeof *nl->names);
}

/* Add "<dir>/<leaf>" (just <leaf> at the root), leaf lower-cased. */
static int names_add(mb__vfs *v, name_list *nl, const char *dir,
                     const char *leaf, size_t leaflen) {
  if (nl->n == nl->cap) {
    size_t ncap = nl->cap ? nl->cap * 2 : 16;
    char **nn = v->alloc(v->alloc_ud, nl->names, nl->cap * sizeof *nn,
                         ncap * sizeof *nn);
    if (!nn) return 0;
    nl->names = nn;
    nl->cap = ncap;
  }
  size_t dlen = strlen(dir);
  size_t size = dlen + (dlen ? 1 : 0) + leaflen + 1;
  char *s = vfs_alloc(v, size);
  if (!s) return 0;
  memcpy(s, dir, dlen);
  size_t o = dlen;
  if (dlen) s[o++] = '/';
  for (size_t i = 0; i < leaflen; i++)
    s[o++] = lower(leaf[i]);
  s[o] = '\0';
  nl->names[nl->n++] = s;
  return 1;
}

static int ends_with(const char *s, size_t n, const char *suffix, size_t slen) {
  if (slen > n) return 0;
  for (size_t i = 0; i < slen; i++)
    if (lower(s[n - slen + i]) != lower(suffix[i])) return 0;
  return 1;
}

/* A host directory entry that a normalised path can name. */
static int usable_leaf(const char *name) {
  if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) return 0;
  for (; *name; name++)
    if (*name == '\\' || *name == ':') return 0;
  return 1;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collect the candidates of one directory layer. */
static mb_status list_dir_layer(mb__vfs *v, const layer *l, const char *dir,
                                const char *suffix, size_t slen, name_list *nl,
                                char *err, size_t errsize) {
  int dfd;
  int e = walk_dirs(l->dirfd, dir, strlen(dir), &dfd);
  if (e == ENOENT || e == ELOOP) return MB_OK; /* nothing listable here */
  DIR *d = NULL;
  if (!e) {
    d = fdopendir(dfd);
    if (!d) {
      e = errno;
      close(dfd);
    }
  }
  mb_status st = MB_OK;
  while (!e) {
    errno = 0;
    struct dirent *ent = readdir(d);
    if (!ent) {
      e = errno;
      break;
    }
    size_t n = strlen(ent->d_name);
    if (!usable_leaf(ent->d_name) || !ends_with(ent->d_name, n, suffix, slen))
      continue;
    if (!names_add(v, nl, dir, ent->d_name, n)) {
      st = MB_ENOMEM;
      set_error(err, errsize, "cannot list", dir, strlen(dir), "out of memory");
      break;
    }
  }
  if (d) closedir(d);
  if (st == MB_OK && e) {
    msgbuf m;
    msg_init(&m, err, errsize);
    msg_puts(&m, "cannot list ");
    msg_quoted(&m, dir, strlen(dir));
    msg_puts(&m, " in mount ");
    msg_quoted(&m, l->path, strlen(l->path));
    msg_puts(&m, ": ");
    msg_puts(&m, strerror(e));
    st = MB_EIO;
  }
  return st;
}

mb_status mb__vfs_list(mb__vfs *v, const char *dir, const char *suffix,
                       mb__vfs_list_fn fn, void *ud, char *err,
                       size_t errsize) {
  if (!v || !fn) {
    set_error(err, errsize, "cannot list", dir, dir ? strlen(dir) : 0,
              "no callback given");
    return MB_EINVAL;
  }
  if (!suffix) suffix = "";
  size_t slen = strlen(suffix);
  normpath np;
  mb_status st = norm_get(v, dir, 1, &np, err, errsize);
  if (st != MB_OK) return st;
  const char *norm = np.s;
  size_t dlen = strlen(norm);
  name_list nl = {NULL, 0, 0};
  for (size_t i = 0; i < v->n && st == MB_OK; i++) {
    const layer *l = &v->layers[i];
    if (l->dirfd >= 0) {
      st = list_dir_layer(v, l, norm, suffix, slen, &nl, err, errsize);
      continue;
    }
    /* A memory file directly inside `norm`. */
    const char *leaf = l->path;
    if (dlen) {
      if (strncmp(l->path, norm, dlen) != 0 || l->path[dlen] != '/') continue;
      leaf += dlen + 1;
    }
    size_t n = strlen(leaf);
    if (strchr(leaf, '/') || !ends_with(leaf, n, suffix, slen)) continue;
    if (!names_add(v, &nl, norm, leaf, n)) {
      set_error(err, errsize, "cannot list", dir, strlen(dir), "out of memory");
      st = MB_ENOMEM;
    }
  }
  if (st == MB_OK && nl.n) qsort(nl.names, nl.n, sizeof *nl.names, cmp_names);
  /* Report a name only if reading it would find a regular file, so that
   * list and read agree (links, directories, case duplicates). */
  for (size_t i = 0; st == MB_OK && i < nl.n; i++) {
    if (i && strcmp(nl.names[i], nl.names[i - 1]) == 0) continue;
    reason r = {NULL, 0, nl.names[i], MB_OK};
    found f;
    if (find(v, nl.names[i], &f, 0, &r) == MB_OK) fn(ud, nl.names[i]);
  }
  names_free(v, &nl);
  norm_done(v, &np);
  if (st == MB_OK && err && errsize) err[0] = '\0';
  return st;
}
