/* The LuaLS stubs in docs/lua never lie.
 *
 * The stubs are parsed (a small line parser for the shapes they use:
 * `---@meta engine.<pkg>`, `-- context: ...`, `---@class`/`---@enum` bound
 * to the `local X = {` that follows, `---@field name`, `function X.f(` /
 * `function X:f(`, `X.f =` and fields inside `local X = {`). The
 * declarations are mounted as a Lua file and a probe runs as a global, a
 * local and a player script through the public API. For every documented
 * class it checks both ways: each declared function is a function and each
 * declared field is not nil on the real value, and each member the real
 * value has (pairs on tables, the methods behind __index on userdata) is
 * declared. Each package stub says where it is available; require must
 * succeed exactly there. The packages the library registers
 * (api/register.c) and the package stubs must be the same set. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lauxlib.h>
#include <lua.h>

#include "moonbox.h"
#include "tests/unit/testutil.h"

#define STUB_DIR MB_SOURCE_DIR "/docs/lua"
#define MAX_DECLS 512
#define MAX_PKGS 32
#define MAX_VARS 32

typedef struct decl {
  char cls[64];
  char name[64];
  int is_fn;
} decl;

typedef struct pkg {
  char name[64];
  char contexts[64];
} pkg;

typedef struct stubs {
  decl decls[MAX_DECLS];
  size_t ndecls;
  char classes[MAX_DECLS][64]; /* every class bound to a table */
  size_t nclasses;
  pkg pkgs[MAX_PKGS];
  size_t npkgs;
} stubs;

/* ---- small text helpers ------------------------------------------------ */

static char *read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
    free(s);
    s = NULL;
  }
  if (s) s[n] = 0;
  fclose(f);
  return s;
}

static int is_ident(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_';
}

/* Copy the identifier at s into out; returns its length (0: none). */
static size_t ident(const char *s, char *out, size_t size) {
  size_t n = 0;
  while (is_ident(s[n]) && n + 1 < size) n++;
  memcpy(out, s, n);
  out[n] = 0;
  return n;
}

/* Copy the token at s (up to blank or ':') into out. */
static void token(const char *s, char *out, size_t size) {
  size_t n = 0;
  while (s[n] && s[n] != ' ' && s[n] != '\t' && s[n] != ':' && n + 1 < size)
    n++;
  memcpy(out, s, n);
  out[n] = 0;
}

static const char *skip_blank(const char *s) {
  while (*s == ' ' || *s == '\t') s++;
  return s;
}

static int starts(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- the stub parser ---------------------------------------------------- */

typedef struct var {
  char name[64];
  char cls[64];
} var;

static void add_decl(stubs *st, const char *cls, const char *name, int is_fn) {
  assert_true(st->ndecls < MAX_DECLS);
  decl *d = &st->decls[st->ndecls++];
  snprintf(d->cls, sizeof d->cls, "%s", cls);
  snprintf(d->name, sizeof d->name, "%s", name);
  d->is_fn = is_fn;
}

static void add_class(stubs *st, const char *cls) {
  for (size_t i = 0; i < st->nclasses; i++)
    if (!strcmp(st->classes[i], cls)) return;
  snprintf(st->classes[st->nclasses++], 64, "%s", cls);
}

static const char *class_of(const var *vars, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(vars[i].name, name)) return vars[i].cls;
  return NULL;
}

static void parse_stub(stubs *st, const char *file, char *text) {
  var vars[MAX_VARS];
  size_t nvars = 0;
  char pending[64] = "", block[64] = "";
  pkg *p = NULL;
  for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
    size_t len = strlen(line);
    if (len && line[len - 1] == '\r') line[--len] = 0;
    char a[64], b[64];
    if (block[0]) { /* fields of `local X = {` */
      const char *s = skip_blank(line);
      if (*s == '}') {
        block[0] = 0;
      } else if (s != line && ident(s, a, sizeof a) &&
                 *skip_blank(s + strlen(a)) == '=') {
        add_decl(st, class_of(vars, nvars, block), a, 0);
      }
      continue;
    }
    if (starts(line, "---@meta ")) {
      token(line + 9, a, sizeof a);
      if (starts(a, "engine.")) {
        assert_true(st->npkgs < MAX_PKGS);
        p = &st->pkgs[st->npkgs++];
        snprintf(p->name, sizeof p->name, "%s", a + 7);
        snprintf(p->contexts, sizeof p->contexts, " ");
      }
      continue;
    }
    if (starts(line, "-- context:")) {
      if (!p) fail_msg("%s: '-- context:' without '---@meta engine.<name>'", file);
      snprintf(p->contexts, sizeof p->contexts, " %s ", skip_blank(line + 11));
      continue;
    }
    if (starts(line, "---@class ") || starts(line, "---@enum ")) {
      token(skip_blank(strchr(line, ' ')), pending, sizeof pending);
      continue;
    }
    if (starts(line, "---@field ")) {
      if (pending[0] && ident(line + 10, a, sizeof a)) add_decl(st, pending, a, 0);
      continue;
    }
    if (starts(line, "---")) continue; /* other annotations keep the class */
    if (starts(line, "--")) continue;
    const char *s = line;
    int is_local = starts(s, "local ");
    if (is_local) s += 6;
    if (pending[0] && ident(s, a, sizeof a)) {
      /* `local X`, `local X = {...}` or `X = {` binds the class to X */
      const char *rest = skip_blank(s + strlen(a));
      if ((is_local && (*rest == 0 || *rest == '=')) || starts(rest, "= {")) {
        assert_true(nvars < MAX_VARS);
        snprintf(vars[nvars].name, 64, "%s", a);
        snprintf(vars[nvars].cls, 64, "%s", pending);
        nvars++;
        add_class(st, pending);
        if (starts(rest, "= {") && !strchr(rest, '}'))
          snprintf(block, sizeof block, "%s", a);
        pending[0] = 0;
        continue;
      }
    }
    pending[0] = 0;
    if (starts(line, "function ")) {
      size_t n = ident(line + 9, a, sizeof a);
      char sep = line[9 + n];
      if (n && (sep == '.' || sep == ':') && ident(line + 10 + n, b, sizeof b)) {
        const char *cls = class_of(vars, nvars, a);
        if (!cls) fail_msg("%s: function %s%c%s of an undeclared table", file, a, sep, b);
        add_decl(st, cls, b, 1);
      }
      continue;
    }
    size_t n = ident(line, a, sizeof a);
    if (n && line[n] == '.' && ident(line + n + 1, b, sizeof b) &&
        *skip_blank(line + n + 1 + strlen(b)) == '=') {
      const char *cls = class_of(vars, nvars, a);
      if (cls) add_decl(st, cls, b, 0);
    }
  }
}

static int by_name(const void *x, const void *y) {
  return strcmp(*(char *const *)x, *(char *const *)y);
}

static void load_stubs(stubs *st) {
  memset(st, 0, sizeof *st);
  DIR *d = opendir(STUB_DIR);
  if (!d) fail_msg("cannot open %s", STUB_DIR);
  char *names[64];
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (e->d_name[0] == '.' || len < 5 || strcmp(e->d_name + len - 4, ".lua")) continue;
    assert_true(n < 64);
    names[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof *names, by_name);
  for (size_t i = 0; i < n; i++) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", STUB_DIR, names[i]);
    char *text = read_text(path);
    if (!text) fail_msg("cannot read %s", path);
    parse_stub(st, names[i], text);
    free(text);
    free(names[i]);
  }
}

/* ---- the probe ---------------------------------------------------------- */

/* members(v): for a userdata, the names behind its metatable's __index (a
 * table, or the table in upvalue 1 of an __index function) — what the
 * script cannot list itself, since metatables are hidden from it. */
static int probe_members(lua_State *L) {
  lua_settop(L, 1);
  lua_newtable(L);
  int n = 0;
  if (lua_type(L, 1) == LUA_TUSERDATA && lua_getmetatable(L, 1)) {
    lua_getfield(L, -1, "__index");
    if (lua_isfunction(L, -1)) {
      if (!lua_getupvalue(L, -1, 1)) lua_pushnil(L);
      lua_replace(L, -2);
    }
    if (lua_istable(L, -1)) {
      lua_pushnil(L);
      while (lua_next(L, -2)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING) {
          lua_pushvalue(L, -1);
          lua_rawseti(L, 2, ++n);
        }
      }
    }
  }
  lua_settop(L, 2);
  return 1;
}

static int open_probe(struct lua_State *L, void *ud) {
  (void)ud;
  lua_newtable(L);
  lua_pushcfunction(L, probe_members);
  lua_setfield(L, -2, "members");
  return 1;
}

static const char probe_source[] =
    "local D = require('stubs.decl')\n"
    "local P = require('engine.stubs_probe')\n"
    "return function(ctx)\n"
    "  local function out(...) print(table.concat({...}, ' ')) end\n"
    "  for _, p in ipairs(D.packages) do\n"
    "    local ok, err = pcall(require, 'engine.' .. p.name)\n"
    "    local want = p.contexts:find(' ' .. ctx .. ' ', 1, true) ~= nil\n"
    "    if ok ~= want then\n"
    "      out('LIE', ctx, 'engine.' .. p.name, ok and 'is available but not documented here'\n"
    "          or ('is documented but fails: ' .. tostring(err)))\n"
    "    end\n"
    "  end\n"
    "  local util = require('engine.util')\n"
    "  local storage = require('engine.storage')\n"
    "  local G = ctx == 'global'\n"
    "  local get = {\n"
    "    ['engine.core'] = function() return require('engine.core') end,\n"
    "    ['engine.util'] = function() return util end,\n"
    "    ['engine.async'] = function() return require('engine.async') end,\n"
    "    ['engine.interfaces'] = function() return require('engine.interfaces') end,\n"
    "    ['engine.storage'] = function() return storage end,\n"
    "    ['engine.LifeTime'] = function() return storage.LIFE_TIME end,\n"
    "    ['engine.StorageSection'] = function() return storage.globalSection('stubs') end,\n"
    "    ['engine.world'] = G and function() return require('engine.world') end or false,\n"
    "    ['engine.Object'] = function()\n"
    "      if G then return require('engine.world').getObjectById('npc') end\n"
    "      return require('engine.self') end,\n"
    "    ['engine.Vector2'] = function() return util.vector2(1, 2) end,\n"
    "    ['engine.Vector3'] = function() return util.vector3(1, 2, 3) end,\n"
    "    ['sandbox.os'] = function() return os end,\n"
    "  }\n"
    "  local function members(v)\n"
    "    local names = {}\n"
    "    if type(v) == 'table' then\n"
    "      for k in pairs(v) do names[#names + 1] = tostring(k) end\n"
    "    else\n"
    "      for _, k in ipairs(P.members(v)) do names[#names + 1] = k end\n"
    "    end\n"
    "    table.sort(names)\n"
    "    return names\n"
    "  end\n"
    "  for _, cls in ipairs(D.classes) do\n"
    "    local getter = get[cls]\n"
    "    if getter == nil then\n"
    "      out('NOPROBE', cls)\n"
    "    elseif getter then\n"
    "      local v = getter()\n"
    "      local declared, count = {}, 0\n"
    "      for _, m in ipairs(D.members[cls] or {}) do\n"
    "        declared[m[1]] = true\n"
    "        count = count + 1\n"
    "        local x = v[m[1]]\n"
    "        if m[2] and type(x) ~= 'function' then\n"
    "          out('LIE', ctx, cls .. '.' .. m[1], 'is declared as a function but is a ' .. type(x))\n"
    "        elseif x == nil then\n"
    "          out('LIE', ctx, cls .. '.' .. m[1], 'is declared but nil')\n"
    "        end\n"
    "      end\n"
    "      for _, k in ipairs(members(v)) do\n"
    "        if not declared[k] then out('LIE', ctx, cls .. '.' .. k, 'exists but is not declared') end\n"
    "      end\n"
    "      out('CHECKED', ctx, cls, tostring(count))\n"
    "    end\n"
    "  end\n"
    "end\n";

/* Lua source of the declarations (extra: one more "cls name fn" decl). */
static char *decl_source(const stubs *st, const char *extra_cls,
                         const char *extra_name) {
  size_t cap = 65536, len = 0;
  char *s = malloc(cap);
  len += (size_t)snprintf(s + len, cap - len, "return {\npackages = {\n");
  for (size_t i = 0; i < st->npkgs; i++)
    len += (size_t)snprintf(s + len, cap - len, "  {name = '%s', contexts = '%s'},\n",
                            st->pkgs[i].name, st->pkgs[i].contexts);
  len += (size_t)snprintf(s + len, cap - len, "},\nclasses = {\n");
  for (size_t i = 0; i < st->nclasses; i++)
    len += (size_t)snprintf(s + len, cap - len, "  '%s',\n", st->classes[i]);
  len += (size_t)snprintf(s + len, cap - len, "},\nmembers = {\n");
  for (size_t i = 0; i < st->nclasses; i++) {
    len += (size_t)snprintf(s + len, cap - len, "  ['%s'] = {\n", st->classes[i]);
    for (size_t k = 0; k < st->ndecls; k++) {
      if (strcmp(st->decls[k].cls, st->classes[i])) continue;
      len += (size_t)snprintf(s + len, cap - len, "    {'%s', %s},\n", st->decls[k].name,
                              st->decls[k].is_fn ? "true" : "false");
    }
    if (extra_cls && !strcmp(extra_cls, st->classes[i]))
      len += (size_t)snprintf(s + len, cap - len, "    {'%s', true},\n", extra_name);
    len += (size_t)snprintf(s + len, cap - len, "  },\n");
  }
  len += (size_t)snprintf(s + len, cap - len, "}}\n");
  assert_true(len < cap);
  return s;
}

static void mount(mb_vm *vm, const char *path, const char *text) {
  assert_int_equal(mb_vm_mount_file(vm, path, text, strlen(text)), MB_OK);
}

/* Run the probe in the three contexts; returns the log (caller frees). */
static mbt_log run_probe(const stubs *st, const char *extra_cls,
                         const char *extra_name) {
  mbt_log log = {0};
  mb_vm *vm = mbt_vm(&log, NULL);
  assert_non_null(vm);
  char *decls = decl_source(st, extra_cls, extra_name);
  mount(vm, "stubs/decl.lua", decls);
  free(decls);
  mount(vm, "stubs/probe.lua", probe_source);
  mount(vm, "stubs/g.lua", "require('stubs.probe')('global') return {}");
  mount(vm, "stubs/l.lua", "require('stubs.probe')('local') return {}");
  mount(vm, "stubs/p.lua", "require('stubs.probe')('player') return {}");
  mount(vm, "stubs.omwscripts",
        "GLOBAL: stubs/g.lua\nNPC: stubs/l.lua\nPLAYER: stubs/p.lua\n");
  assert_int_equal(mb_vm_register_type(vm, "NPC"), MB_OK);
  assert_int_equal(mb_vm_register_type(vm, "PLAYER"), MB_OK);
  assert_int_equal(mb_vm_register_package(vm, "stubs_probe", MB_VISIBLE_EVERYWHERE,
                                          open_probe, NULL),
                   MB_OK);
  assert_int_equal(mb_vm_add_manifest(vm, "stubs.omwscripts"), MB_OK);
  mb_object_desc npc = {"npc", "NPC", "cell", {0, 0, 0}, 1, NULL};
  mb_object_desc player = {"player", "PLAYER", "cell", {0, 0, 0}, 1, NULL};
  assert_int_equal(mb_vm_create_object(vm, &npc), MB_OK);
  assert_int_equal(mb_vm_create_object(vm, &player), MB_OK);
  assert_int_equal(mb_vm_start(vm), MB_OK);
  if (mb_vm_script_errors(vm) != 0) {
    print_error("%s", log.text ? log.text : "");
    fail_msg("the probe failed");
  }
  mb_vm_free(vm);
  return log;
}

/* ---- tests -------------------------------------------------------------- */

static void stubs_cover_every_registered_package(void **state) {
  (void)state;
  stubs *st = malloc(sizeof *st);
  load_stubs(st);
  char *reg = read_text(MB_SOURCE_DIR "/api/register.c");
  assert_non_null(reg);
  /* the rows of the builtins table: {"name", MB_VISIBLE_... */
  size_t found = 0;
  for (const char *p = strstr(reg, "{\""); p; p = strstr(p + 1, "{\"")) {
    char name[32];
    ident(p + 2, name, sizeof name);
    if (strncmp(p + 2 + strlen(name), "\", MB_VISIBLE", 13)) continue;
    int has = 0;
    for (size_t i = 0; i < st->npkgs; i++) has |= !strcmp(st->pkgs[i].name, name);
    if (!has) fail_msg("package engine.%s has no docs/lua/%s.lua with '---@meta engine.%s'",
                       name, name, name);
    found++;
  }
  assert_true(found >= 7);
  /* and no stub documents a package that does not exist */
  for (size_t i = 0; i < st->npkgs; i++) {
    char needle[64];
    snprintf(needle, sizeof needle, "{\"%s\", MB_VISIBLE", st->pkgs[i].name);
    if (!strstr(reg, needle))
      fail_msg("docs/lua documents engine.%s, which the library does not register",
               st->pkgs[i].name);
    if (!strcmp(st->pkgs[i].contexts, " "))
      fail_msg("docs/lua/%s.lua: no '-- context:' line", st->pkgs[i].name);
  }
  assert_int_equal(found, st->npkgs);
  free(reg);
  free(st);
}

static void stubs_match_the_real_packages(void **state) {
  (void)state;
  stubs *st = malloc(sizeof *st);
  load_stubs(st);
  assert_true(st->nclasses >= 10);
  mbt_log log = run_probe(st, NULL, NULL);
  const char *text = log.text ? log.text : "";
  if (getenv("MB_STUBS_VERBOSE")) print_message("%s", text);
  if (strstr(text, "LIE") || strstr(text, "NOPROBE")) {
    print_error("%s", text);
    fail_msg("docs/lua disagrees with the library (lines with LIE / NOPROBE above)");
  }
  /* the probe really looked, in every context */
  static const char *const seen[] = {
      "CHECKED global engine.core 4",   "CHECKED local engine.core 4",
      "CHECKED player engine.core 4",   "CHECKED global engine.world ",
      "CHECKED global engine.Object ",  "CHECKED local engine.Object ",
      "CHECKED player engine.Object ",  "CHECKED local engine.async 6",
      "CHECKED player engine.StorageSection 7", "CHECKED global engine.Vector3 ",
      "CHECKED global engine.LifeTime 3", "CHECKED local sandbox.os 3",
      NULL};
  for (int i = 0; seen[i]; i++) {
    if (!strstr(text, seen[i])) {
      print_error("%s", text);
      fail_msg("missing probe line '%s'", seen[i]);
    }
  }
  assert_null(strstr(text, "CHECKED local engine.world"));
  mbt_log_clear(&log);
  free(st);
}

/* The check is not vacuous: a declared function that does not exist, and
 * a member that is not declared, are both reported. */
static void a_lie_is_caught(void **state) {
  (void)state;
  stubs *st = malloc(sizeof *st);
  load_stubs(st);
  mbt_log log = run_probe(st, "engine.core", "teleport");
  assert_true(mbt_log_has(&log, "LIE global engine.core.teleport is declared as a "
                                "function but is a nil"));
  mbt_log_clear(&log);
  /* forget a real method of the object handle */
  size_t out = 0;
  for (size_t i = 0; i < st->ndecls; i++) {
    if (strcmp(st->decls[i].cls, "engine.Object") || strcmp(st->decls[i].name, "isValid"))
      st->decls[out++] = st->decls[i];
  }
  assert_int_equal(out, st->ndecls - 1);
  st->ndecls = out;
  log = run_probe(st, NULL, NULL);
  assert_true(mbt_log_has(&log, "LIE local engine.Object.isValid exists but is not declared"));
  mbt_log_clear(&log);
  free(st);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(stubs_cover_every_registered_package),
      cmocka_unit_test(stubs_match_the_real_packages),
      cmocka_unit_test(a_lie_is_caught),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
