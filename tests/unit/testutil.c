#include "tests/unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const level_names[] = {"debug", "info", "print", "warn",
                                          "error"};

void mbt_log_fn(void *ud, mb_log_level level, const char *msg) {
  mbt_log *log = ud;
  const char *name = level_names[level];
  size_t need = log->len + strlen(name) + strlen(msg) + 3;
  if (need > log->cap) {
    log->cap = need * 2;
    log->text = realloc(log->text, log->cap);
  }
  log->len += (size_t)sprintf(log->text + log->len, "%s|%s\n", name, msg);
}

void mbt_log_clear(mbt_log *log) {
  free(log->text);
  memset(log, 0, sizeof *log);
}

int mbt_log_has(const mbt_log *log, const char *needle) {
  return log->text && strstr(log->text, needle) != NULL;
}

/* Sizes are tracked in a header so the limit is exact. */
void *mbt_alloc_fn(void *ud, void *ptr, size_t osize, size_t nsize) {
  mbt_alloc *a = ud;
  size_t *old = ptr ? (size_t *)ptr - 2 : NULL;
  size_t before = old ? old[0] : 0;
  (void)osize;
  if (nsize == 0) {
    if (old) {
      a->bytes -= before;
      free(old);
    }
    return NULL;
  }
  a->calls++;
  if (a->fail_after == 0) return NULL;
  if (a->limit && nsize > before && a->bytes + nsize - before > a->limit)
    return NULL;
  if (a->fail_after > 0) a->fail_after--;
  size_t *blk = realloc(old, nsize + 2 * sizeof(size_t));
  if (!blk) return NULL;
  a->bytes = a->bytes - before + nsize;
  if (a->bytes > a->peak) a->peak = a->bytes;
  blk[0] = nsize;
  return blk + 2;
}

mb_vm *mbt_vm(mbt_log *log, mbt_alloc *alloc) {
  mb_config cfg;
  mb_config_init(&cfg);
  if (log) {
    cfg.log = mbt_log_fn;
    cfg.log_ud = log;
  }
  if (alloc) {
    cfg.alloc = mbt_alloc_fn;
    cfg.alloc_ud = alloc;
  }
  mb_vm *vm = NULL;
  if (mb_vm_new(&cfg, &vm) != MB_OK) return NULL;
  return vm;
}
