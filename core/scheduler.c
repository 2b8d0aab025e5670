/* Events and timers: what is delivered at the start of a frame.
 *
 * Events are serialized when sent and delivered at the start of the next
 * frame, in send order, global events in the global realm's turn and object
 * events in their object's realm's turn. Events for an inactive object stay
 * queued, in place, until it is active.
 *
 * Timers live in one min-heap per realm and clock, ordered by (due, seq).
 * A due timer of an inactive object waits; activation puts it back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "core/vm.h"

/* ---- events -------------------------------------------------------------------- */

/* Most events reuse a few names: keep one copy of each (up to a bound, so
 * a script inventing names cannot grow this without end). */
#define MAX_INTERNED_NAMES 4096

static char *event_name(mb_vm *vm, const char *name, int *owned) {
  char *s = mb__map_get(&vm->event_names, name);
  *owned = 0;
  if (s) return s;
  s = mb__vm_strdup(vm, name);
  if (!s) return NULL;
  if (vm->event_names.count < MAX_INTERNED_NAMES && strlen(name) <= 128 &&
      mb__map_put(&vm->event_names, s, s) == MB_OK)
    return s;
  *owned = 1;
  return s;
}

static void event_free(mb_vm *vm, mb__event *e) {
  mb__vm_strfree(vm, e->target);
  if (e->name_owned) mb__vm_strfree(vm, e->name);
  if (e->data.data) mb__vm_alloc(vm, e->data.data, e->data_cap, 0);
}

mb_status mb__event_queue(mb_vm *vm, const char *target, const char *name,
                          mb__bytes *data, size_t data_cap) {
  if (vm->nevents == vm->cap_events) {
    size_t cap = vm->cap_events ? vm->cap_events * 2 : 64;
    mb__event *a = mb__vm_alloc(vm, vm->events, vm->cap_events * sizeof *a,
                                cap * sizeof *a);
    if (!a) return MB_ENOMEM;
    vm->events = a;
    vm->cap_events = cap;
  }
  mb__event e = {NULL, NULL, 0, {NULL, 0}, 0};
  e.name = event_name(vm, name, &e.name_owned);
  if (target) e.target = mb__vm_strdup(vm, target);
  if (!e.name || (target && !e.target)) {
    event_free(vm, &e);
    return MB_ENOMEM;
  }
  e.data = *data; /* the event owns the bytes from now on */
  e.data_cap = data_cap;
  data->data = NULL;
  data->size = 0;
  vm->events[vm->nevents++] = e;
  return MB_OK;
}

mb_status mb__event_send(mb_vm *vm, const char *target, const char *name,
                         const void *data, size_t size) {
  mb__bytes copy = {NULL, 0};
  if (mb__bytes_copy(vm, &copy, data, size) != MB_OK) return MB_ENOMEM;
  mb_status st = mb__event_queue(vm, target, name, &copy, copy.size);
  if (copy.data) mb__vm_alloc(vm, copy.data, copy.size, 0);
  return st;
}

/* Deliver one event to a container: handlers in reverse load order, all
 * seeing the same decoded value; a handler returning false stops the rest. */
/* Deliver one event to a container; runs inside the protected pass of
 * deliver_events (its pushes may fail when the realm is full). */
static void deliver_to(lua_State *L, mb_vm *vm, mb__container *c,
                       const mb__event *e) {
  int top = lua_gettop(L);
  if (e->data.size) {
    if (mb_decode(L, e->data.data, e->data.size, NULL) != MB_OK) {
      mb__vm_script_error(vm, "event '%s' for %s: %s", e->name, c->id,
                          lua_tostring(L, -1));
      lua_settop(L, top);
      return;
    }
  } else {
    lua_pushnil(L);
  }
  /* the keys once, as Lua strings; raw lookups run no script code here */
  lua_pushliteral(L, "eventHandlers");
  lua_pushstring(L, e->name);
  int value = top + 1, section = top + 2, name = top + 3;
  char what[128]; /* names the handler in error messages */
  snprintf(what, sizeof what, "event handler '%s'", e->name);
  for (size_t i = c->nscripts; i-- > 0;) {
    if (i >= c->nscripts) continue; /* a handler removed scripts */
    mb__instance *inst = c->scripts[i];
    lua_rawgeti(L, LUA_REGISTRYINDEX, inst->table_ref);
    lua_pushvalue(L, section);
    lua_rawget(L, -2);
    if (!lua_istable(L, -1)) {
      lua_settop(L, name);
      continue;
    }
    lua_pushvalue(L, name);
    lua_rawget(L, -2);
    if (!lua_isfunction(L, -1)) {
      lua_settop(L, name);
      continue;
    }
    lua_replace(L, name + 1);
    lua_settop(L, name + 1);
    lua_pushvalue(L, value);
    mb_status st = mb__instance_call(vm, inst, 1, 1, what);
    int stop = st == MB_OK && lua_isboolean(L, -1) && !lua_toboolean(L, -1);
    lua_settop(L, name);
    if (inst->doomed && !inst->running) mb__instance_free(vm, inst);
    if (stop) break;
  }
  lua_settop(L, top);
}


typedef struct events_pass {
  mb_vm *vm;
  int r;
} events_pass;

/* One protected pass over the due events of realm r: a realm at its
 * memory limit fails the pass, never the process, and the event in flight
 * is held by the VM so that it is freed even then. */
static int deliver_events_protected(lua_State *L) {
  events_pass *p = lua_touserdata(L, 1);
  mb_vm *vm = p->vm;
  int r = p->r;
  for (size_t i = 0; i < vm->due_events; i++) {
    mb__event *e = &vm->events[i];
    if (!e->name) continue; /* delivered */
    if (!e->target && r != 0) continue;
    if (e->target) {
      mb__object *o = mb__vm_object(vm, e->target);
      if (o && (o->container.realm != r || !o->active)) continue; /* waits */
    }
    /* Taken out of the queue first: handlers may queue more events (and
     * move the array), and a host handler may even load a save, which
     * clears the queue. */
    mb__event *ev = &vm->in_flight;
    *ev = *e;
    memset(e, 0, sizeof *e);
    if (!ev->target) {
      deliver_to(L, vm, &vm->global, ev);
      for (size_t h = 0; h < vm->nhost_handlers; h++) {
        if (strcmp(vm->host_handlers[h].name, ev->name) == 0)
          vm->host_handlers[h].fn(vm->host_handlers[h].ud, vm, ev->name,
                                  ev->data.data, ev->data.size);
      }
    } else {
      mb__object *o = mb__vm_object(vm, ev->target);
      if (o)
        deliver_to(L, vm, &o->container, ev);
      else
        mb__vm_log(vm, MB_LOG_WARN, "event '%s' for object '%s' dropped: the object was removed",
                   ev->name, ev->target);
    }
    event_free(vm, ev);
    memset(ev, 0, sizeof *ev);
    if (i >= vm->due_events) break; /* a load cleared the queue */
  }
  return 0;
}

static void deliver_events(mb_vm *vm, int r) {
  events_pass p = {vm, r};
  mb__realm *realm = vm->realms[r];
  if (mb__realm_protect(realm, deliver_events_protected, &p, 0, 0) != MB_OK) {
    mb__vm_script_error(vm, "delivering events: %s", mb__realm_error(realm));
    event_free(vm, &vm->in_flight); /* the one it failed on is lost */
    memset(&vm->in_flight, 0, sizeof vm->in_flight);
  }
}

/* Drop delivered events, keeping the order of the rest. */
static void compact_events(mb_vm *vm) {
  size_t out = 0;
  for (size_t i = 0; i < vm->nevents; i++) {
    if (vm->events[i].name) vm->events[out++] = vm->events[i];
  }
  vm->nevents = out;
}

/* ---- timers -------------------------------------------------------------------- */

static int before(const mb__timer *a, const mb__timer *b) {
  return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static mb_status heap_push(mb_vm *vm, mb__heap *h, mb__timer *t) {
  if (h->n == h->cap) {
    size_t cap = h->cap ? h->cap * 2 : 64;
    mb__timer **a = mb__vm_alloc(vm, h->items, h->cap * sizeof *a, cap * sizeof *a);
    if (!a) return MB_ENOMEM;
    h->items = a;
    h->cap = cap;
  }
  size_t i = h->n++;
  while (i > 0 && before(t, h->items[(i - 1) / 2])) {
    h->items[i] = h->items[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  h->items[i] = t;
  return MB_OK;
}

static mb__timer *heap_pop(mb__heap *h) {
  mb__timer *top = h->items[0], *last = h->items[--h->n];
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= h->n) break;
    if (c + 1 < h->n && before(h->items[c + 1], h->items[c])) c++;
    if (!before(h->items[c], last)) break;
    h->items[i] = h->items[c];
    i = c;
  }
  if (h->n) h->items[i] = last;
  return top;
}

void mb__timer_free(mb_vm *vm, mb__timer *t) {
  if (!t) return;
  if (t->fn_ref != LUA_NOREF && t->realm < (int)vm->nrealms)
    luaL_unref(mb__realm_lua(vm->realms[t->realm]), LUA_REGISTRYINDEX, t->fn_ref);
  mb__vm_strfree(vm, t->container);
  mb__vm_strfree(vm, t->path);
  mb__vm_strfree(vm, t->callback);
  if (t->arg.data) mb__vm_alloc(vm, t->arg.data, t->arg.size, 0);
  mb__vm_alloc(vm, t, sizeof *t, 0);
}

mb_status mb__timer_add(mb_vm *vm, mb__timer *t) {
  t->seq = vm->next_timer_seq++;
  mb_status st = heap_push(vm, &vm->timers[t->realm][t->game], t);
  if (st != MB_OK) mb__timer_free(vm, t);
  return st;
}

static mb_status list_push(mb_vm *vm, mb__timer ***list, size_t *n, size_t *cap,
                           mb__timer *t) {
  if (*n == *cap) {
    size_t c = *cap ? *cap * 2 : 16;
    mb__timer **a = mb__vm_alloc(vm, *list, *cap * sizeof *a, c * sizeof *a);
    if (!a) return MB_ENOMEM;
    *list = a;
    *cap = c;
  }
  (*list)[(*n)++] = t;
  return MB_OK;
}

mb__instance *mb__instance_find(mb_vm *vm, const char *container,
                                const char *path, uint64_t uid) {
  mb__container *c = mb__vm_container(vm, container);
  mb__instance *inst = c ? mb__container_find(c, path) : NULL;
  return inst && inst->uid == uid ? inst : NULL;
}

void mb__timers_wake(mb_vm *vm, const char *id) {
  size_t out = 0;
  for (size_t i = 0; i < vm->nwaiting; i++) {
    mb__timer *t = vm->waiting[i];
    if (strcmp(t->container, id) == 0) {
      if (heap_push(vm, &vm->timers[t->realm][t->game], t) != MB_OK)
        mb__timer_free(vm, t);
    } else {
      vm->waiting[out++] = t;
    }
  }
  vm->nwaiting = out;
}

typedef struct firing {
  mb_vm *vm;
  mb__timer *t;
  mb__instance *inst;
} firing;

/* The Lua side of firing a timer; the timer is freed or kept here. */
static int fire_protected(lua_State *L) {
  firing *f = lua_touserdata(L, 1);
  mb_vm *vm = f->vm;
  mb__timer *t = f->t;
  mb__instance *inst = f->inst;
  int top = lua_gettop(L);
  int nargs = 0;
  if (t->callback) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, inst->callbacks_ref);
    if (lua_istable(L, -1)) lua_getfield(L, -1, t->callback);
    if (!lua_isfunction(L, -1)) {
      lua_settop(L, top);
      mb__vm_script_error(vm,
                          "%s: timer callback '%s' is not registered; the timer "
                          "is kept for the next save",
                          inst->label, t->callback);
      if (list_push(vm, &vm->lost, &vm->nlost, &vm->cap_lost, t) != MB_OK)
        mb__timer_free(vm, t);
      f->t = NULL;
      return 0;
    }
    if (t->arg.size) {
      if (mb_decode(L, t->arg.data, t->arg.size, NULL) != MB_OK) {
        mb__vm_script_error(vm, "%s timer '%s': %s", inst->label, t->callback,
                            lua_tostring(L, -1));
        lua_settop(L, top);
        return 0;
      }
    } else {
      lua_pushnil(L);
    }
    nargs = 1;
  } else {
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->fn_ref);
  }
  char what[128];
  snprintf(what, sizeof what, "timer '%s'", t->callback ? t->callback : "(unsavable)");
  mb__timer_free(vm, t);
  f->t = NULL;
  mb__instance_call(vm, inst, nargs, 0, what);
  lua_settop(L, top);
  if (inst->doomed && !inst->running) mb__instance_free(vm, inst);
  return 0;
}

static void fire(mb_vm *vm, mb__timer *t) {
  mb__instance *inst = mb__instance_find(vm, t->container, t->path, t->uid);
  if (!inst) { /* its script was removed: the timer went with it */
    mb__timer_free(vm, t);
    return;
  }
  const mb__container *c = inst->container;
  if (c->object && !c->object->active) {
    if (list_push(vm, &vm->waiting, &vm->nwaiting, &vm->cap_waiting, t) != MB_OK)
      mb__timer_free(vm, t);
    return;
  }
  firing f = {vm, t, inst};
  mb__realm *realm = vm->realms[t->realm];
  if (mb__realm_protect(realm, fire_protected, &f, 0, 0) != MB_OK)
    mb__vm_script_error(vm, "%s timer: %s", inst->label, mb__realm_error(realm));
  if (f.t) mb__timer_free(vm, f.t); /* not consumed: it failed before */
}

/* Fire the timers of realm r that were due when this pass began, in (due,
 * seq) order; timers they create wait for the next frame. */
static void fire_timers(mb_vm *vm, int r, int game) {
  mb__heap *h = &vm->timers[r][game];
  double now = game ? vm->game_time : vm->sim_time;
  uint64_t limit = vm->next_timer_seq;
  mb__timer **batch = NULL;
  size_t n = 0, cap = 0;
  while (h->n && h->items[0]->due <= now) {
    mb__timer *t = heap_pop(h);
    if (t->seq >= limit || list_push(vm, &batch, &n, &cap, t) != MB_OK) {
      heap_push(vm, h, t); /* cannot fail: it just left */
      break;
    }
  }
  for (size_t i = 0; i < n; i++) fire(vm, batch[i]);
  if (batch) mb__vm_alloc(vm, batch, cap * sizeof *batch, 0);
}

void mb__vm_deliver(mb_vm *vm, int r) {
  if (r == 0) vm->due_events = vm->nevents; /* the frame begins */
  deliver_events(vm, r);
  fire_timers(vm, r, 0);
  fire_timers(vm, r, 1);
  if (r == (int)vm->nrealms - 1) {
    compact_events(vm);
    vm->due_events = 0;
  }
}

/* ---- save and load --------------------------------------------------------------- */

typedef struct sched_ctx {
  mb_vm *vm;
  mb_save *save;
  const void *payload;
  size_t size;
  mb_status status;
  char err[512];
} sched_ctx;

static int cmp_timers(const void *a, const void *b) {
  const mb__timer *x = *(mb__timer *const *)a, *y = *(mb__timer *const *)b;
  if (x->game != y->game) return x->game - y->game;
  return before(x, y) ? -1 : before(y, x) ? 1 : 0;
}

static void push_timer(lua_State *L, const mb__timer *t, int k) {
  lua_createtable(L, 0, 6);
  lua_pushstring(L, t->container);
  lua_setfield(L, -2, "container");
  lua_pushstring(L, t->path);
  lua_setfield(L, -2, "path");
  lua_pushstring(L, t->game ? "game" : "simulation");
  lua_setfield(L, -2, "clock");
  lua_pushnumber(L, t->due);
  lua_setfield(L, -2, "due");
  lua_pushstring(L, t->callback);
  lua_setfield(L, -2, "callback");
  if (t->arg.size) {
    lua_pushlstring(L, t->arg.data, t->arg.size);
    lua_setfield(L, -2, "arg");
  }
  lua_rawseti(L, -2, k);
}

static int put_list(lua_State *L, sched_ctx *s, const char *kind) {
  mb_codec_options opt;
  mb_codec_options_init(&opt);
  opt.root_name = kind;
  void *data = NULL;
  size_t size = 0;
  s->status = mb_encode(L, -1, &opt, mb__vm_alloc_cb, s->vm, &data, &size);
  if (s->status != MB_OK) {
    snprintf(s->err, sizeof s->err, "%s", lua_tostring(L, -1));
    return 0;
  }
  s->status = mb_save_put(s->save, kind, "", "pending", data, size);
  mb__vm_alloc(s->vm, data, size, 0);
  return 0;
}

static int save_protected(lua_State *L) {
  sched_ctx *s = lua_touserdata(L, 1);
  mb_vm *vm = s->vm;
  /* events, in send order */
  lua_createtable(L, (int)vm->nevents, 0);
  int k = 0;
  for (size_t i = 0; i < vm->nevents; i++) {
    const mb__event *e = &vm->events[i];
    if (!e->name) continue;
    lua_createtable(L, 0, 3);
    if (e->target) {
      lua_pushstring(L, e->target);
      lua_setfield(L, -2, "target");
    }
    lua_pushstring(L, e->name);
    lua_setfield(L, -2, "name");
    if (e->data.size) {
      lua_pushlstring(L, e->data.data, e->data.size);
      lua_setfield(L, -2, "data");
    }
    lua_rawseti(L, -2, ++k);
  }
  if (k) put_list(L, s, "events");
  lua_pop(L, 1);
  if (s->status != MB_OK) return 0;

  /* savable timers, in firing order; sequence numbers are not saved */
  size_t total = vm->nwaiting + vm->nlost;
  for (size_t r = 0; r < vm->nrealms; r++)
    total += vm->timers[r][0].n + vm->timers[r][1].n;
  mb__timer **all = lua_newuserdata(L, (total + 1) * sizeof *all);
  size_t n = 0;
  /* timers of removed scripts are dead, not lost: leave them out */
  for (size_t r = 0; r < vm->nrealms; r++) {
    for (int g = 0; g < 2; g++) {
      for (size_t i = 0; i < vm->timers[r][g].n; i++) {
        mb__timer *t = vm->timers[r][g].items[i];
        if (mb__instance_find(vm, t->container, t->path, t->uid)) all[n++] = t;
      }
    }
  }
  for (size_t i = 0; i < vm->nwaiting; i++) {
    mb__timer *t = vm->waiting[i];
    if (mb__instance_find(vm, t->container, t->path, t->uid)) all[n++] = t;
  }
  for (size_t i = 0; i < vm->nlost; i++) all[n++] = vm->lost[i];
  qsort(all, n, sizeof *all, cmp_timers);
  lua_createtable(L, (int)n, 0);
  k = 0;
  for (size_t i = 0; i < n; i++) {
    if (all[i]->callback) push_timer(L, all[i], ++k);
  }
  if (k) put_list(L, s, "timers");
  return 0;
}

mb_status mb__vm_save_scheduler(mb_vm *vm, mb_save *save) {
  sched_ctx s = {vm, save, NULL, 0, MB_OK, ""};
  mb_status st = mb__realm_pcall_trusted(vm->realms[0], save_protected, &s);
  if (st == MB_OK) st = s.status;
  if (st != MB_OK) mb__vm_fail(vm, st, "saving events and timers: %s", s.err);
  return st;
}

static const char *field_str(lua_State *L, int t, const char *k) {
  lua_getfield(L, t, k);
  const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
  lua_pop(L, 1); /* the table still holds the string */
  return s;
}

static int load_events(lua_State *L) {
  sched_ctx *s = lua_touserdata(L, 1);
  if (mb_decode(L, s->payload, s->size, NULL) != MB_OK || !lua_istable(L, -1)) {
    snprintf(s->err, sizeof s->err, "not a list of events");
    return 0;
  }
  for (int i = 1;; i++) {
    lua_rawgeti(L, 2, i);
    if (!lua_istable(L, -1)) break;
    const char *name = field_str(L, -1, "name");
    const char *target = field_str(L, -1, "target");
    size_t size = 0;
    lua_getfield(L, -1, "data");
    const char *data = lua_tolstring(L, -1, &size);
    if (name) mb__event_send(s->vm, target, name, data, data ? size : 0);
    lua_pop(L, 2);
  }
  return 0;
}

static int load_timers(lua_State *L) {
  sched_ctx *s = lua_touserdata(L, 1);
  mb_vm *vm = s->vm;
  if (mb_decode(L, s->payload, s->size, NULL) != MB_OK || !lua_istable(L, -1)) {
    snprintf(s->err, sizeof s->err, "not a list of timers");
    return 0;
  }
  for (int i = 1;; i++) {
    lua_rawgeti(L, 2, i);
    if (!lua_istable(L, -1)) break;
    int e = lua_gettop(L);
    const char *c = field_str(L, e, "container"), *path = field_str(L, e, "path"),
               *clock = field_str(L, e, "clock"), *cb = field_str(L, e, "callback");
    lua_getfield(L, e, "due");
    double due = lua_tonumber(L, -1);
    size_t size = 0;
    lua_getfield(L, e, "arg");
    const char *arg = lua_tolstring(L, -1, &size);
    if (!c || !path || !clock || !cb) {
      lua_settop(L, e - 1);
      continue;
    }
    mb__timer *t = mb__vm_alloc(vm, NULL, 0, sizeof *t);
    if (!t) return luaL_error(L, "not enough memory");
    memset(t, 0, sizeof *t);
    t->fn_ref = LUA_NOREF;
    t->due = due;
    t->game = strcmp(clock, "game") == 0;
    t->container = mb__vm_strdup(vm, c);
    t->path = mb__vm_strdup(vm, path);
    t->callback = mb__vm_strdup(vm, cb);
    mb__container *owner = mb__vm_container(vm, c);
    mb__instance *inst = owner ? mb__container_find(owner, path) : NULL;
    if (!t->container || !t->path || !t->callback ||
        mb__bytes_copy(vm, &t->arg, arg, arg ? size : 0) != MB_OK) {
      mb__timer_free(vm, t);
      return luaL_error(L, "not enough memory");
    }
    t->seq = vm->next_timer_seq++;
    if (inst) {
      t->uid = inst->uid;
      t->realm = owner->realm;
      if (heap_push(vm, &vm->timers[t->realm][t->game], t) != MB_OK)
        mb__timer_free(vm, t);
    } else {
      /* its script is not running: keep the timer for the next save */
      mb__vm_log(vm, MB_LOG_WARN,
                 "%s[%s]: timer '%s' has no running script; it is kept for "
                 "the next save",
                 c, path, cb);
      if (list_push(vm, &vm->lost, &vm->nlost, &vm->cap_lost, t) != MB_OK)
        mb__timer_free(vm, t);
    }
    lua_settop(L, e - 1);
  }
  return 0;
}

void mb__vm_load_scheduler(mb_vm *vm, mb_save *save, unsigned char *applied) {
  static const char *const kinds[] = {"events", "timers"};
  static const lua_CFunction loaders[] = {load_events, load_timers};
  for (int k = 0; k < 2; k++) {
    size_t i;
    mb_save_section sec;
    if (mb_save_find(save, kinds[k], "", "pending", &i) != MB_OK ||
        mb_save_section_at(save, i, &sec) != MB_OK || !sec.checksum_ok)
      continue; /* a damaged list is kept by the caller */
    sched_ctx s = {vm, save, sec.payload, sec.size, MB_OK, ""};
    if (mb__realm_pcall_trusted(vm->realms[0], loaders[k], &s) != MB_OK ||
        s.err[0]) {
      mb__vm_log(vm, MB_LOG_WARN, "pending %s: %s", kinds[k],
                 s.err[0] ? s.err : mb_vm_error(vm));
      continue;
    }
    applied[i] = 1;
  }
}

void mb__vm_clear_scheduler(mb_vm *vm) {
  for (size_t i = 0; i < vm->nevents; i++) event_free(vm, &vm->events[i]);
  vm->nevents = vm->due_events = 0;
  for (size_t r = 0; r < MB__MAX_REALMS; r++) {
    for (int g = 0; g < 2; g++) {
      mb__heap *h = &vm->timers[r][g];
      for (size_t i = 0; i < h->n; i++) mb__timer_free(vm, h->items[i]);
      h->n = 0;
    }
  }
  for (size_t i = 0; i < vm->nwaiting; i++) mb__timer_free(vm, vm->waiting[i]);
  for (size_t i = 0; i < vm->nlost; i++) mb__timer_free(vm, vm->lost[i]);
  vm->nwaiting = vm->nlost = 0;
}

void mb__vm_free_scheduler(mb_vm *vm) {
  mb__vm_clear_scheduler(vm);
  for (size_t i = 0; i < vm->event_names.cap; i++) {
    if (vm->event_names.slots[i].key)
      mb__vm_strfree(vm, vm->event_names.slots[i].value);
  }
  mb__map_free(&vm->event_names);
  if (vm->events) mb__vm_alloc(vm, vm->events, vm->cap_events * sizeof *vm->events, 0);
  for (size_t r = 0; r < MB__MAX_REALMS; r++) {
    for (int g = 0; g < 2; g++) {
      mb__heap *h = &vm->timers[r][g];
      if (h->items) mb__vm_alloc(vm, h->items, h->cap * sizeof *h->items, 0);
    }
  }
  if (vm->waiting) mb__vm_alloc(vm, vm->waiting, vm->cap_waiting * sizeof *vm->waiting, 0);
  if (vm->lost) mb__vm_alloc(vm, vm->lost, vm->cap_lost * sizeof *vm->lost, 0);
  for (size_t i = 0; i < vm->nhost_handlers; i++)
    mb__vm_strfree(vm, vm->host_handlers[i].name);
  if (vm->host_handlers)
    mb__vm_alloc(vm, vm->host_handlers, vm->nhost_handlers * sizeof *vm->host_handlers, 0);
}

/* ---- the host's side ------------------------------------------------------------- */

/* Host payloads must be values scripts could have sent. */
static mb_status check_payload(mb_vm *vm, const void *data, size_t size) {
  if (!data || !size) return MB_OK;
  lua_State *L = mb__realm_lua(vm->realms[0]);
  mb_status st = mb_decode(L, data, size, NULL);
  if (st != MB_OK) mb__vm_fail(vm, st, "event data: %s", lua_tostring(L, -1));
  lua_pop(L, 1);
  return st;
}

mb_status mb_vm_send_global_event(mb_vm *vm, const char *name, const void *data,
                                  size_t size) {
  if (!name || !*name) return mb__vm_fail(vm, MB_EINVAL, "event name is empty");
  mb_status st = check_payload(vm, data, size);
  if (st != MB_OK) return st;
  st = mb__event_send(vm, NULL, name, data, size);
  return st == MB_OK ? st : mb__vm_fail(vm, st, "out of memory");
}

mb_status mb_vm_send_event(mb_vm *vm, const char *id, const char *name,
                           const void *data, size_t size) {
  if (!name || !*name) return mb__vm_fail(vm, MB_EINVAL, "event name is empty");
  if (!id || !mb__vm_object(vm, id))
    return mb__vm_fail(vm, MB_ENOTFOUND, "no object '%s'", id ? id : "");
  mb_status st = check_payload(vm, data, size);
  if (st != MB_OK) return st;
  st = mb__event_send(vm, id, name, data, size);
  return st == MB_OK ? st : mb__vm_fail(vm, st, "out of memory");
}

mb_status mb_vm_on_global_event(mb_vm *vm, const char *name, mb_event_fn fn,
                                void *ud) {
  if (!name || !fn) return mb__vm_fail(vm, MB_EINVAL, "on_global_event: NULL argument");
  /* the name first: a grown array must always match its count */
  char *copy = mb__vm_strdup(vm, name);
  if (!copy) return mb__vm_fail(vm, MB_ENOMEM, "out of memory");
  struct host_handler *a =
      mb__vm_alloc(vm, vm->host_handlers, vm->nhost_handlers * sizeof *a,
                   (vm->nhost_handlers + 1) * sizeof *a);
  if (!a) {
    mb__vm_strfree(vm, copy);
    return mb__vm_fail(vm, MB_ENOMEM, "out of memory");
  }
  vm->host_handlers = a;
  a[vm->nhost_handlers].name = copy;
  a[vm->nhost_handlers].fn = fn;
  a[vm->nhost_handlers].ud = ud;
  vm->nhost_handlers++;
  return MB_OK;
}
