/* Fuzz the command's world readers: world.json (as the host section of a
 * save, msgpack) and world.json text. Invariant: a clear error or a world,
 * never a crash, and whatever world came in dumps back to bytes that read
 * the same. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/msgpack_json.h"
#include "cli/world.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static mb_vm *new_vm(void) {
  mb_config cfg;
  mb_config_init(&cfg);
  mb_vm *vm = NULL;
  if (mb_vm_new(&cfg, &vm) != MB_OK || cli_register_types(vm) != 0) abort();
  return vm;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* 1. the bytes as a save's host section (msgpack) */
  mb_vm *vm = new_vm();
  cli_world w;
  memset(&w, 0, sizeof w);
  if (cli_world_host_load(&w, vm, data, size) == MB_OK) {
    size_t len;
    char *bytes = cli_world_dump(&w, vm, &len);
    /* what we wrote reads back into the same world */
    mb_vm *vm2 = new_vm();
    cli_world w2;
    memset(&w2, 0, sizeof w2);
    if (cli_world_host_load(&w2, vm2, bytes, len) != MB_OK) abort();
    size_t len2;
    char *bytes2 = cli_world_dump(&w2, vm2, &len2);
    if (len != len2 || memcmp(bytes, bytes2, len) != 0) abort();
    free(bytes);
    free(bytes2);
    cli_world_free(&w2);
    mb_vm_free(vm2);
  }
  cli_world_free(&w);
  mb_vm_free(vm);
  /* 2. the bytes as JSON text, through the JSON -> msgpack -> JSON path */
  json_error_t je;
  json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
  if (root) {
    char *mp = NULL, err[256];
    size_t n = 0;
    if (cli_json_to_msgpack(root, &mp, &n, err, sizeof err) == 0) {
      json_t *back = cli_msgpack_to_json(mp, n);
      if (!back) abort();
      json_decref(back);
      free(mp);
    }
    json_decref(root);
  }
  return 0;
}
