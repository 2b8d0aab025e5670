/* Script fuzzer: the input is Lua source, run as a global script in a
 * fresh VM next to a sentinel script. Whatever the source does, the run
 * must end (a budget stops it, and a stop is always reported as
 * MB_EBUDGET with its reason), the sentinel's globals, upvalues, libraries
 * and the string metatable must be untouched, and the VM must go on
 * running frames. Any violation aborts, so libFuzzer (or ASan) reports it.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "moonbox.h"

/* Small budgets keep executions fast; the deadline is a backstop that the
 * instruction budget should always beat. */
#define FUZZ_BUDGET 200000u
#define FUZZ_DEADLINE_MS 500u
#define FUZZ_MEMORY ((size_t)24 << 20)
/* A call may overrun its deadline by this much before it counts as a
 * budget that was exceeded unnoticed. */
#define FUZZ_SLACK_NS 1500000000u

static const char manifest[] = "GLOBAL: sentinel.lua\n";

/* Fingerprints everything another script could try to change, once at
 * start and again on every frame. */
static const char sentinel[] =
    "secret = 'S3CR3T'\n"
    "local hidden = {value = 42}\n"
    "local function surface()\n"
    "  local out = {}\n"
    "  for _, name in ipairs({'string', 'table', 'math', 'os', 'coroutine', 'bit'}) do\n"
    "    local keys = {}\n"
    "    for k, v in pairs(_G[name]) do keys[#keys + 1] = k .. '=' .. tostring(v) end\n"
    "    table.sort(keys)\n"
    "    out[#out + 1] = name .. ':' .. table.concat(keys, ',')\n"
    "  end\n"
    "  local keys = {}\n"
    "  for k, v in pairs(_G) do keys[#keys + 1] = tostring(k) .. '=' .. type(v) end\n"
    "  table.sort(keys)\n"
    "  out[#out + 1] = table.concat(keys, ',')\n"
    "  out[#out + 1] = tostring(getmetatable('')) .. ('abc'):upper() .. ('%d'):format(5)\n"
    "  out[#out + 1] = tostring(rawget(string, 'upper')) .. tostring(#string)\n"
    "  return table.concat(out, '\\n')\n"
    "end\n"
    "local base = surface()\n"
    "return {engineHandlers = {onUpdate = function()\n"
    "  local ok = secret == 'S3CR3T' and hidden.value == 42 and surface() == base\n"
    "  print(ok and 'sentinel ok' or 'sentinel BAD')\n"
    "end}}\n";

typedef struct log_buf {
  int sentinel_ok, sentinel_bad;
} log_buf;

static void on_log(void *ud, mb_log_level level, const char *msg) {
  log_buf *b = ud;
  (void)level;
  /* only the sentinel's own print lines: the fuzzed script may print the
   * same words after its own prefix */
  if (strcmp(msg, "global[sentinel.lua]:\tsentinel ok") == 0) b->sentinel_ok++;
  if (strcmp(msg, "global[sentinel.lua]:\tsentinel BAD") == 0) b->sentinel_bad++;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void fail(const char *what, const char *detail) {
  fprintf(stderr, "fuzz_script: %s\n%s\n", what, detail ? detail : "");
  abort();
}

static void fail_input(const char *what, const uint8_t *data, size_t size) {
  fprintf(stderr, "fuzz_script: %s\n%.*s\n", what, (int)size, (const char *)data);
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0; /* long inputs only slow the search down */
  log_buf log = {0, 0};
  mb_config cfg;
  mb_config_init(&cfg);
  cfg.log = on_log;
  cfg.log_ud = &log;
  cfg.limits.instruction_budget = FUZZ_BUDGET;
  cfg.limits.deadline_ms = FUZZ_DEADLINE_MS;
  cfg.limits.memory_limit = FUZZ_MEMORY;
  mb_vm *vm = NULL;
  if (mb_vm_new(&cfg, &vm) != MB_OK) fail("mb_vm_new failed", NULL);
  if (mb_vm_mount_file(vm, "s.omwscripts", manifest, sizeof manifest - 1) ||
      mb_vm_mount_file(vm, "sentinel.lua", sentinel, sizeof sentinel - 1) ||
      mb_vm_mount_file(vm, "fuzz.lua", data, size) ||
      mb_vm_add_manifest(vm, "s.omwscripts") || mb_vm_start(vm))
    fail("setting up the world failed", mb_vm_error(vm));

  uint64_t t0 = now_ns();
  mb_status st = mb_vm_exec_file(vm, "fuzz.lua");
  uint64_t spent = now_ns() - t0;
  if (spent > (uint64_t)FUZZ_DEADLINE_MS * 1000000u + FUZZ_SLACK_NS)
    fail("the script ran past its deadline unnoticed", mb_vm_error(vm));
  const char *err = mb_vm_error(vm);
  switch (st) {
  case MB_OK:
  case MB_ERROR:
  case MB_ENOMEM:
  case MB_ECORRUPT: /* syntax errors */
  case MB_EINVAL:
    break;
  case MB_EBUDGET:
    if (!strstr(err, "instruction budget exceeded") &&
        !strstr(err, "deadline exceeded") && !strstr(err, "stack overflow"))
      fail("a budget stop without its reason", err);
    break;
  default:
    fail("unexpected status", err);
  }
  /* The next frame runs, and the sentinel saw nothing change. */
  if (mb_vm_update(vm, 0.1) != MB_OK) fail("the next frame failed", mb_vm_error(vm));
  if (log.sentinel_bad || log.sentinel_ok != 1)
    fail_input("the sentinel was disturbed", data, size);
  mb_vm_free(vm);
  return 0;
}
