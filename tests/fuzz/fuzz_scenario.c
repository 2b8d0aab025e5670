/* Fuzz the scenario reader: any bytes give a checked scenario or a clear
 * error naming the entry, never a crash; accepted entries are in frame
 * order and every event payload is msgpack the VM accepts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_error_t je;
  json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
  if (!root) return 0;
  scenario sc;
  char err[1024];
  if (scenario_from_json(&sc, root, err, sizeof err) == 0) {
    mb_config cfg;
    mb_config_init(&cfg);
    mb_vm *vm = NULL;
    if (mb_vm_new(&cfg, &vm) != MB_OK) abort();
    for (size_t i = 0; i < sc.n; i++) {
      if (i && sc.e[i].frame < sc.e[i - 1].frame) abort();
      if (sc.e[i].frame < 1) abort();
      if (sc.e[i].kind == SC_GLOBAL_EVENT &&
          mb_vm_send_global_event(vm, sc.e[i].name, sc.e[i].data, sc.e[i].size) != MB_OK)
        abort(); /* the reader let through data the VM refuses */
    }
    mb_vm_free(vm);
    scenario_free(&sc);
  } else if (strncmp(err, "entry ", 6) != 0 && strncmp(err, "a scenario", 10) != 0) {
    abort(); /* every refusal names the entry or the shape */
  }
  json_decref(root);
  return 0;
}
