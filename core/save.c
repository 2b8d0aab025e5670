/* Saving, loading, hot reload and the state hash.
 *
 * Sections (kind, container, path):
 *   ("vm", "", "clock")          {simulation=, game=, timescale=}
 *   ("container", <id>, "")      the attached scripts: {{path, initData}, …}
 *   ("script", <id>, <path>)     the onSave() result of one instance
 *   ("host", "", "world")        the host's own bytes
 * plus whatever the scheduler adds. Sections that cannot be applied on load
 * stay in vm->kept and are written back on the next save. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <xxhash.h>

#include "core/storage.h"
#include "core/vm.h"

#define HOST_KIND "host"
#define HOST_PATH "world"

/* ---- small helpers --------------------------------------------------------- */

static mb_status new_save(mb_vm *vm, mb_save **out) {
  mb_status st = mb_save_new(mb__vm_alloc_cb, vm, out);
  return st == MB_OK ? st : mb__vm_fail(vm, st, "out of memory");
}

/* Encode the value on top of L's stack into section (kind, c, path), then
 * pop it. `root` names the value in error messages. */
static mb_status put_top(mb_vm *vm, mb_save *save, lua_State *L,
                         const char *kind, const char *c, const char *path,
                         const char *root, char *err, size_t errsize) {
  mb_codec_options opt;
  mb_codec_options_init(&opt);
  opt.root_name = root;
  void *data = NULL;
  size_t size = 0;
  mb_status st = mb_encode(L, -1, &opt, mb__vm_alloc_cb, vm, &data, &size);
  if (st != MB_OK) {
    snprintf(err, errsize, "%s", lua_tostring(L, -1));
    lua_pop(L, 2);
    return st;
  }
  lua_pop(L, 1);
  st = mb_save_put(save, kind, c, path, data, size);
  mb__vm_alloc(vm, data, size, 0);
  if (st != MB_OK) snprintf(err, errsize, "%s", mb_save_error(save));
  return st;
}

/* ---- writing ------------------------------------------------------------------ */

typedef struct build_ctx {
  mb_vm *vm;
  mb_save *save;
  const mb__container *c; /* for container_protected */
  mb_status status;
  char err[1024];
} build_ctx;

static int clock_protected(lua_State *L) {
  build_ctx *b = lua_touserdata(L, 1);
  lua_createtable(L, 0, 3);
  lua_pushnumber(L, b->vm->sim_time);
  lua_setfield(L, -2, "simulation");
  lua_pushnumber(L, b->vm->game_time);
  lua_setfield(L, -2, "game");
  lua_pushnumber(L, b->vm->timescale);
  lua_setfield(L, -2, "timescale");
  b->status = put_top(b->vm, b->save, L, "vm", "", "clock", "clock", b->err,
                      sizeof b->err);
  return 0;
}

static int container_protected(lua_State *L) {
  build_ctx *b = lua_touserdata(L, 1);
  const mb__container *c = b->c;
  lua_createtable(L, (int)c->nscripts, 0);
  for (size_t i = 0; i < c->nscripts; i++) {
    const mb__instance *inst = c->scripts[i];
    /* {path, rng, initData}: math.random goes on where it was */
    lua_createtable(L, 3, 0);
    lua_pushstring(L, inst->path);
    lua_rawseti(L, -2, 1);
    char rng[32];
    mb__rng_bytes(inst, rng);
    lua_pushlstring(L, rng, sizeof rng);
    lua_rawseti(L, -2, 2);
    if (inst->init_data.size) {
      lua_pushlstring(L, inst->init_data.data, inst->init_data.size);
      lua_rawseti(L, -2, 3);
    }
    lua_rawseti(L, -2, (int)i + 1);
  }
  b->status = put_top(b->vm, b->save, L, "container", c->id, "", "scripts",
                      b->err, sizeof b->err);
  return 0;
}

/* One instance: its onSave() result, or the data it keeps. */
static mb_status save_instance(mb_vm *vm, mb_save *save, mb__instance *inst) {
  const char *cid = inst->container->id;
  if (inst->keep) return MB_OK; /* vm->kept holds its section */
  lua_State *L = mb__realm_lua(vm->realms[inst->container->realm]);
  int top = lua_gettop(L);
  char err[1024];
  mb_status st = MB_OK;
  if (mb__instance_handler(vm, inst, "onSave")) {
    st = mb__instance_call(vm, inst, 0, 1, "onSave");
    if (st == MB_OK) {
      void *data = NULL;
      size_t size = 0;
      mb_codec_options opt;
      mb_codec_options_init(&opt);
      opt.root_name = "data";
      st = mb_encode(L, -1, &opt, mb__vm_alloc_cb, vm, &data, &size);
      if (st != MB_OK) {
        mb__vm_script_error(vm, "%s onSave failed: %s", inst->label,
                            lua_tostring(L, -1));
      } else {
        mb__bytes_copy(vm, &inst->kept, data, size); /* the last good data */
        st = mb_save_put(save, "script", cid, inst->path, data, size);
        mb__vm_alloc(vm, data, size, 0);
        lua_settop(L, top);
        return st == MB_OK ? st : mb__vm_fail(vm, st, "%s", mb_save_error(save));
      }
    }
  } else {
    /* no onSave: the instance is still in the save, with nil data */
    lua_pushnil(L);
    st = put_top(vm, save, L, "script", cid, inst->path, "data", err, sizeof err);
    lua_settop(L, top);
    return st;
  }
  lua_settop(L, top);
  if (inst->doomed) return MB_OK;
  /* onSave failed: write what it had before */
  static const char nil_byte = (char)0xc0;
  return mb_save_put(save, "script", cid, inst->path,
                     inst->kept.size ? inst->kept.data : &nil_byte,
                     inst->kept.size ? inst->kept.size : 1);
}

static mb_status save_container(mb_vm *vm, mb_save *save, mb__container *c) {
  build_ctx b = {vm, save, c, MB_OK, ""};
  mb_status st = mb__realm_pcall_trusted(vm->realms[c->realm],
                                         container_protected, &b);
  if (st == MB_OK) st = b.status;
  if (st != MB_OK) return mb__vm_fail(vm, st, "saving %s: %s", c->id, b.err);
  for (size_t i = 0; i < c->nscripts; i++) {
    mb__instance *inst = c->scripts[i];
    st = save_instance(vm, save, inst);
    int gone = i >= c->nscripts || c->scripts[i] != inst; /* its onSave removed it */
    if (inst->doomed && !inst->running) mb__instance_free(vm, inst);
    if (gone) i--;
    if (st != MB_OK) return st;
  }
  return MB_OK;
}

static mb_status build_save(mb_vm *vm, mb_save *save, const void *host,
                            size_t host_size, int for_hash) {
  if (vm->state != MB__RUNNING)
    return mb__vm_fail(vm, MB_EINVAL, "save: the VM has not started");
  char created_by[64];
  snprintf(created_by, sizeof created_by, "moonbox %s", mb_version());
  mb_status st = mb_save_set_str(save, MB_SAVE_FIELD_CREATED_BY, created_by);
  if (st == MB_OK) st = mb_save_set_uint(save, MB_SAVE_FIELD_VM_SEED, vm->cfg.seed);
  if (st == MB_OK) st = mb_save_set_float(save, MB_SAVE_FIELD_VM_TIME, vm->sim_time);
  /* the hash is of the state, never of when it was taken */
  if (st == MB_OK && !for_hash)
    st = mb_save_set_int(save, MB_SAVE_FIELD_CREATED_AT, (int64_t)time(NULL));
  if (st != MB_OK) return mb__vm_fail(vm, st, "%s", mb_save_error(save));

  build_ctx b = {vm, save, NULL, MB_OK, ""};
  st = mb__realm_pcall_trusted(vm->realms[0], clock_protected, &b);
  if (st == MB_OK) st = b.status;
  if (st != MB_OK) return mb__vm_fail(vm, st, "saving the clock: %s", b.err);

  st = save_container(vm, save, &vm->global);
  for (size_t i = 0; st == MB_OK && i < vm->nby_seq; i++) {
    if (vm->by_seq[i]) st = save_container(vm, save, &vm->by_seq[i]->container);
  }
  if (st == MB_OK) st = mb__vm_save_scheduler(vm, save);
  if (st == MB_OK) st = mb__storage_save(vm, save);
  if (st == MB_OK && host)
    st = mb_save_put(save, HOST_KIND, "", HOST_PATH, host, host_size);
  /* what could not be applied goes back where it was */
  for (size_t i = 0; st == MB_OK && vm->kept && i < mb_save_section_count(vm->kept); i++) {
    mb_save_section s;
    size_t at;
    mb_save_section_at(vm->kept, i, &s);
    if (mb_save_find(save, s.kind, s.container, s.path, &at) == MB_OK) {
      /* live data wins, but an empty storage section a load could not
       * fill must not replace the kept one */
      mb_save_section live;
      mb_save_section_at(save, at, &live);
      int empty = live.size == 1 && ((const unsigned char *)live.payload)[0] == 0x80;
      /* A damaged container list or clock goes back as it was: the live
       * list is rebuilt from the script sections on every load anyway, the
       * live clock restarted at 0, and only the damaged bytes could still
       * tell initData, random state or the time. */
      int damaged = !s.checksum_ok && (!strcmp(s.kind, "container") ||
                                       !strcmp(s.kind, "vm"));
      if (!(!strcmp(s.kind, "storage") && empty) && !damaged) continue;
    }
    st = mb_save_put_raw(save, s.kind, s.container, s.path, s.payload, s.size,
                         s.checksum);
  }
  if (st != MB_OK && !*mb_vm_error(vm))
    mb__vm_fail(vm, st, "%s", mb_save_error(save));
  return st;
}

mb_status mb_vm_save(mb_vm *vm, const char *path, const void *host,
                     size_t host_size) {
  if (!path) return mb__vm_fail(vm, MB_EINVAL, "save: path is NULL");
  mb_save *save;
  mb_status st = new_save(vm, &save);
  if (st != MB_OK) return st;
  st = build_save(vm, save, host, host_size, 0);
  if (st == MB_OK) {
    st = mb_save_write_file(save, path);
    if (st != MB_OK) mb__vm_fail(vm, st, "%s", mb_save_error(save));
  }
  mb_save_free(save);
  return st;
}

/* Serialize the state into a VM-owned buffer (size + 1 bytes, NUL at the
 * end, released with mb_vm_release). */
static mb_status save_to_memory(mb_vm *vm, const void *host, size_t host_size,
                                int for_hash, char **data, size_t *size) {
  mb_save *save;
  mb_status st = new_save(vm, &save);
  if (st != MB_OK) return st;
  st = build_save(vm, save, host, host_size, for_hash);
  void *bytes = NULL;
  size_t n = 0;
  if (st == MB_OK) st = mb_save_write_memory(save, &bytes, &n);
  if (st == MB_OK) {
    *data = mb__vm_alloc(vm, NULL, 0, n + 1);
    if (*data) {
      memcpy(*data, bytes, n);
      (*data)[n] = 0;
      *size = n;
    } else {
      st = mb__vm_fail(vm, MB_ENOMEM, "out of memory");
    }
    mb_save_release(save, bytes, n);
  } else if (!*mb_vm_error(vm)) {
    mb__vm_fail(vm, st, "%s", mb_save_error(save));
  }
  mb_save_free(save);
  return st;
}

mb_status mb_vm_save_memory(mb_vm *vm, const void *host, size_t host_size,
                            char **data, size_t *size) {
  if (!data || !size) return mb__vm_fail(vm, MB_EINVAL, "save: NULL argument");
  return save_to_memory(vm, host, host_size, 0, data, size);
}

mb_status mb_vm_state_hash(mb_vm *vm, const void *host, size_t host_size,
                           uint64_t *hash) {
  char *data = NULL;
  size_t size = 0;
  mb_status st = save_to_memory(vm, host, host_size, 1, &data, &size);
  if (st != MB_OK) return st;
  *hash = XXH3_64bits(data, size);
  mb_vm_release(vm, data, size);
  return MB_OK;
}

mb_status mb_vm_state_digest(mb_vm *vm, const void *host, size_t host_size,
                             mb_digest_fn fn, void *ud) {
  if (!fn) return mb__vm_fail(vm, MB_EINVAL, "digest: no callback");
  mb_save *save;
  mb_status st = new_save(vm, &save);
  if (st != MB_OK) return st;
  st = build_save(vm, save, host, host_size, 1);
  for (size_t i = 0; st == MB_OK && i < mb_save_section_count(save); i++) {
    mb_save_section s;
    char label[512];
    mb_save_section_at(save, i, &s);
    mb_save_section_label(save, i, label, sizeof label);
    fn(ud, label, XXH3_64bits(s.payload, s.size));
  }
  mb_save_free(save);
  return st;
}

/* ---- reading ------------------------------------------------------------------ */

/* Keep section `i` of `from` for the next save, and say why once. */
static void keep_section(mb_vm *vm, mb_save *from, size_t i, const char *why) {
  mb_save_section s;
  if (mb_save_section_at(from, i, &s) != MB_OK) return;
  if (!vm->kept && mb_save_new(mb__vm_alloc_cb, vm, &vm->kept) != MB_OK) return;
  mb_save_put_raw(vm->kept, s.kind, s.container, s.path, s.payload, s.size,
                  s.checksum);
  if (why) {
    char label[512];
    mb_save_section_label(from, i, label, sizeof label);
    mb__vm_log(vm, MB_LOG_WARN, "%s: %s; its data is kept for the next save",
               label, why);
  }
}

typedef struct load_ctx {
  mb_save *save;
  unsigned char *applied; /* one flag per section */
} load_ctx;

/* Section (kind, c, path) if present; marks it applied. Returns its index
 * or SIZE_MAX. */
static size_t take(load_ctx *lc, const char *kind, const char *c,
                   const char *path) {
  size_t i;
  if (mb_save_find(lc->save, kind, c, path, &i) != MB_OK) return SIZE_MAX;
  lc->applied[i] = 1;
  return i;
}

/* Start `path` in `c` from its saved section (onLoad), or with onInit when
 * the section is missing. A damaged section is kept and the script starts
 * fresh. */
static void start_saved(mb_vm *vm, load_ctx *lc, mb__container *c,
                        const char *path, const mb__bytes *init,
                        const mb__bytes *rng) {
  size_t i = take(lc, "script", c->id, path);
  mb_save_section s;
  vm->start_rng = rng; /* the next instance continues this sequence */
  if (i == SIZE_MAX || mb_save_section_at(lc->save, i, &s) != MB_OK) {
    mb__script_start(vm, c, path, init, NULL);
    vm->start_rng = NULL;
    return;
  }
  if (!s.checksum_ok) {
    keep_section(vm, lc->save, i, "checksum mismatch, the script starts fresh");
    vm->start_rng = NULL;
    mb__script_start(vm, c, path, init, NULL);
    mb__instance *inst = mb__container_find(c, path);
    if (inst) inst->keep = 1;
    return;
  }
  mb__bytes saved = {(char *)s.payload, s.size};
  mb__script_start(vm, c, path, init, &saved);
  vm->start_rng = NULL;
  mb__instance *inst = mb__container_find(c, path);
  if (!inst) {
    keep_section(vm, lc->save, i, "the script did not start");
  } else if (inst->keep) {
    keep_section(vm, lc->save, i, "onLoad failed");
  } else {
    mb__bytes_copy(vm, &inst->kept, s.payload, s.size);
  }
}

typedef struct decode_ctx {
  mb_vm *vm;
  load_ctx *lc;
  mb__object *o;
  const void *payload;
  size_t size;
  char err[512];
} decode_ctx;

/* Attach the scripts listed in an object's container section. */
static int attach_listed(lua_State *L) {
  decode_ctx *d = lua_touserdata(L, 1);
  if (mb_decode(L, d->payload, d->size, NULL) != MB_OK || !lua_istable(L, -1)) {
    snprintf(d->err, sizeof d->err, "%s", lua_isstring(L, -1) ? lua_tostring(L, -1)
                                                            : "not a list");
    return 0;
  }
  int list = lua_gettop(L);
  for (int k = 1;; k++) {
    lua_rawgeti(L, list, k);
    if (!lua_istable(L, -1)) break;
    lua_rawgeti(L, -1, 1);
    lua_rawgeti(L, -2, 3);
    lua_rawgeti(L, -3, 2);
    const char *path = lua_tostring(L, -3);
    size_t n = 0, rn = 0;
    const char *init = lua_tolstring(L, -2, &n);
    const char *rng = lua_tolstring(L, -1, &rn);
    mb__bytes rb = {(char *)rng, rn};
    if (path) {
      char err[512];
      mb__container *c = &d->o->container;
      if (mb__container_find(c, path)) {
        /* listed twice: the first one wins */
      } else if (!mb__script_allowed(d->vm, c, path, err, sizeof err)) {
        size_t i = take(d->lc, "script", c->id, path);
        if (i != SIZE_MAX) keep_section(d->vm, d->lc->save, i, err);
      } else {
        mb__bytes ib = {(char *)init, n};
        start_saved(d->vm, d->lc, c, path, init ? &ib : NULL, rng ? &rb : NULL);
        if (!mb__vm_object(d->vm, c->id)) return 0;
      }
    }
    lua_pop(L, 4);
  }
  return 0;
}

static void load_object(mb_vm *vm, load_ctx *lc, mb__object *o) {
  size_t ci = take(lc, "container", o->container.id, "");
  mb_save_section s;
  o->started = 1;
  if (ci == SIZE_MAX || mb_save_section_at(lc->save, ci, &s) != MB_OK) {
    mb__object_autoattach(vm, o); /* new since the save */
  } else if (!s.checksum_ok) {
    keep_section(vm, lc->save, ci, "checksum mismatch");
  } else {
    decode_ctx d = {vm, lc, o, s.payload, s.size, ""};
    mb__realm_pcall_trusted(vm->realms[o->container.realm], attach_listed, &d);
    if (d.err[0]) keep_section(vm, lc->save, ci, d.err);
  }
}

typedef struct rng_ctx {
  const void *payload;
  size_t size;
  const char *path;
  char *out;
  int found;
} rng_ctx;

static int find_rng(lua_State *L) {
  rng_ctx *r = lua_touserdata(L, 1);
  if (mb_decode(L, r->payload, r->size, NULL) != MB_OK || !lua_istable(L, -1)) return 0;
  for (int k = 1;; k++) {
    lua_rawgeti(L, 2, k);
    if (!lua_istable(L, -1)) return 0;
    lua_rawgeti(L, -1, 1);
    lua_rawgeti(L, -2, 2);
    size_t n = 0;
    const char *path = lua_tostring(L, -2), *rng = lua_tolstring(L, -1, &n);
    if (path && rng && n == 32 && strcmp(path, r->path) == 0) {
      memcpy(r->out, rng, 32);
      r->found = 1;
      return 0;
    }
    lua_pop(L, 3);
  }
}

/* The saved math.random state of global script `path`, if any. */
static int global_rng(mb_vm *vm, mb_save *save, size_t i, const char *path,
                      char out[32]) {
  mb_save_section s;
  if (mb_save_section_at(save, i, &s) != MB_OK || !s.checksum_ok) return 0;
  rng_ctx r = {s.payload, s.size, path, out, 0};
  mb__realm_pcall_trusted(vm->realms[0], find_rng, &r);
  return r.found;
}

/* Script sections that no container list names: their data is attachment
 * enough (a list that lost an entry must not lose the data). One sweep
 * after every object is loaded keeps the load linear. */
static void attach_unlisted(mb_vm *vm, load_ctx *lc) {
  for (size_t i = 0; i < mb_save_section_count(lc->save); i++) {
    mb_save_section sec;
    if (lc->applied[i] || mb_save_section_at(lc->save, i, &sec) != MB_OK ||
        strcmp(sec.kind, "script") != 0)
      continue;
    mb__object *o = mb__vm_object(vm, sec.container);
    char err[512], path[256];
    if (!o || mb__container_find(&o->container, sec.path) ||
        !mb__script_allowed(vm, &o->container, sec.path, err, sizeof err))
      continue;
    snprintf(path, sizeof path, "%s", sec.path);
    start_saved(vm, lc, &o->container, path, NULL, NULL);
  }
}

static int read_clock(lua_State *L) {
  decode_ctx *d = lua_touserdata(L, 1);
  if (mb_decode(L, d->payload, d->size, NULL) != MB_OK || !lua_istable(L, -1)) {
    snprintf(d->err, sizeof d->err, "bad clock section");
    return 0;
  }
  lua_getfield(L, -1, "simulation");
  lua_getfield(L, -2, "game");
  lua_getfield(L, -3, "timescale");
  if (lua_isnumber(L, -3)) d->vm->sim_time = lua_tonumber(L, -3);
  if (lua_isnumber(L, -2)) d->vm->game_time = lua_tonumber(L, -2);
  if (lua_isnumber(L, -1)) d->vm->timescale = lua_tonumber(L, -1);
  return 0;
}

/* Stop every script (no handler runs) and forget pending state. */
static void tear_down(mb_vm *vm) {
  mb__container_clear(vm, &vm->global);
  for (size_t i = 0; i < vm->nby_seq; i++) {
    if (vm->by_seq[i]) {
      mb__container_clear(vm, &vm->by_seq[i]->container);
      vm->by_seq[i]->started = 0;
    }
  }
  mb__vm_clear_scheduler(vm);
  mb__console_drop(vm, NULL);
  mb_save_free(vm->kept);
  vm->kept = NULL;
  vm->state = MB__NEW;
}

static mb_status load_save(mb_vm *vm, mb_save *save, mb_load_host_fn host,
                           void *ud) {
  size_t n = mb_save_section_count(save);
  load_ctx lc = {save, mb__vm_alloc(vm, NULL, 0, n + 1)};
  if (!lc.applied) return mb__vm_fail(vm, MB_ENOMEM, "out of memory");
  memset(lc.applied, 0, n + 1);
  mb_status st = MB_OK;
  size_t hi = take(&lc, HOST_KIND, "", HOST_PATH);
  if (host) {
    mb_save_section s = {0};
    if (hi != SIZE_MAX) mb_save_section_at(save, hi, &s);
    if (hi != SIZE_MAX && !s.checksum_ok) {
      st = mb__vm_fail(vm, MB_ECORRUPT, "the host section is damaged (checksum mismatch)");
    } else {
      /* objects the host creates now get their scripts from the save, not
       * onInit: the VM counts as not started during the callback */
      mb__vm_state was = vm->state;
      vm->state = MB__NEW;
      st = host(ud, vm, hi == SIZE_MAX ? NULL : s.payload, s.size);
      vm->state = was;
    }
    if (st != MB_OK) {
      mb__vm_alloc(vm, lc.applied, n + 1, 0);
      if (!*mb_vm_error(vm)) mb__vm_fail(vm, st, "the host refused the save");
      return st;
    }
  } else if (hi != SIZE_MAX) {
    lc.applied[hi] = 0; /* not ours to apply: keep it */
  }
  tear_down(vm);

  size_t clock = take(&lc, "vm", "", "clock");
  mb_save_section s;
  if (clock != SIZE_MAX && mb_save_section_at(save, clock, &s) == MB_OK) {
    decode_ctx d = {vm, &lc, NULL, s.payload, s.size, ""};
    if (!s.checksum_ok)
      keep_section(vm, save, clock, "checksum mismatch, the clock starts at 0");
    else
      mb__realm_pcall_trusted(vm->realms[0], read_clock, &d);
  }
  /* storage first: onLoad handlers may read it */
  mb__storage_load(vm, save, lc.applied);
  vm->state = MB__RUNNING;
  size_t gi = take(&lc, "container", "global", "");
  for (size_t i = 0; i < mb__manifest_count(vm->manifest); i++) {
    const mb__manifest_entry *e = mb__manifest_at(vm->manifest, i);
    if (!(e->flags & MB__FLAG_GLOBAL)) continue;
    char rng[32];
    mb__bytes rb = {rng, sizeof rng};
    int has = gi != SIZE_MAX && global_rng(vm, save, gi, e->path, rng);
    start_saved(vm, &lc, &vm->global, e->path, NULL, has ? &rb : NULL);
  }
  for (size_t i = 0; i < vm->nby_seq; i++) {
    if (vm->by_seq[i]) load_object(vm, &lc, vm->by_seq[i]);
  }
  attach_unlisted(vm, &lc);
  mb__vm_load_scheduler(vm, save, lc.applied);
  /* everything left over is kept, with its reason */
  for (size_t i = 0; i < n; i++) {
    if (lc.applied[i]) continue;
    mb_save_section sec;
    mb_save_section_at(save, i, &sec);
    const char *why = NULL;
    char buf[300];
    if (!sec.checksum_ok) {
      why = "checksum mismatch";
    } else if (!strcmp(sec.kind, "storage")) {
      why = "the storage section cannot be read";
    } else if (!strcmp(sec.kind, "script") || !strcmp(sec.kind, "container")) {
      if (strcmp(sec.container, "global") && !mb__vm_object(vm, sec.container)) {
        snprintf(buf, sizeof buf, "object '%s' does not exist", sec.container);
        why = buf;
      } else if (!mb__manifest_find(vm->manifest, sec.path)) {
        why = "the script is not in any manifest";
      } else {
        why = "the script may not be attached there";
      }
    }
    keep_section(vm, save, i, why);
  }
  mb__vm_alloc(vm, lc.applied, n + 1, 0);
  return MB_OK;
}

static mb_status read_failed(mb_vm *vm, mb_save *save, mb_status st) {
  mb_status out = st == MB_ENOMEM ? st
                  : mb_save_get_state(save) == MB_SAVE_UNREADABLE
                      ? (st == MB_ENOTFOUND ? st : MB_EIO)
                      : MB_ECORRUPT;
  mb__vm_fail(vm, out, "%s", mb_save_error(save));
  mb_save_free(save);
  return out;
}

mb_status mb_vm_load(mb_vm *vm, const char *path, mb_load_host_fn host,
                     void *ud) {
  if (!path) return mb__vm_fail(vm, MB_EINVAL, "load: path is NULL");
  mb_save *save;
  mb_status st = new_save(vm, &save);
  if (st != MB_OK) return st;
  st = mb_save_read_file(save, path);
  if (st != MB_OK) return read_failed(vm, save, st);
  st = load_save(vm, save, host, ud);
  mb_save_free(save);
  return st;
}

mb_status mb_vm_load_memory(mb_vm *vm, const void *data, size_t size,
                            mb_load_host_fn host, void *ud) {
  if (!data) return mb__vm_fail(vm, MB_EINVAL, "load: data is NULL");
  mb_save *save;
  mb_status st = new_save(vm, &save);
  if (st != MB_OK) return st;
  st = mb_save_read_memory(save, data, size);
  if (st != MB_OK) return read_failed(vm, save, st);
  st = load_save(vm, save, host, ud);
  mb_save_free(save);
  return st;
}

/* ---- hot reload ------------------------------------------------------------------ */

mb_status mb_vm_reload(mb_vm *vm) {
  if (vm->state != MB__RUNNING)
    return mb__vm_fail(vm, MB_EINVAL, "reload: the VM has not started");
  /* Read the manifests first: if they are broken, nothing changes. */
  mb__manifest *fresh = mb__manifest_new(mb__vm_alloc_cb, vm);
  if (!fresh) return mb__vm_fail(vm, MB_ENOMEM, "out of memory");
  mb__manifest *old = vm->manifest;
  vm->manifest = fresh;
  for (size_t i = 0; i < vm->nmanifests; i++) {
    char *text;
    size_t size;
    mb_status st = mb_vm_read_file(vm, vm->manifest_paths[i], &text, &size);
    if (st == MB_OK) {
      st = mb__manifest_add_text(vm, vm->manifest_paths[i], text, size);
      mb_vm_release(vm, text, size);
    }
    if (st != MB_OK) {
      vm->manifest = old;
      mb__manifest_free(fresh);
      return st;
    }
  }
  vm->manifest = old;
  char *data = NULL;
  size_t size = 0;
  mb_status st = save_to_memory(vm, NULL, 0, 0, &data, &size);
  if (st != MB_OK) {
    mb__manifest_free(fresh);
    return st;
  }
  tear_down(vm); /* instances refer to the old manifest's order */
  vm->manifest = fresh;
  mb__manifest_free(old);
  for (size_t r = 0; r < vm->nrealms; r++)
    mb__sandbox_clear_chunks(mb__realm_lua(vm->realms[r]));
  st = mb_vm_load_memory(vm, data, size, NULL, NULL);
  mb_vm_release(vm, data, size);
  return st;
}
