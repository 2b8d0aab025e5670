/* Events and timers: what is delivered at the start of a frame. */
#include "core/vm.h"

void mb__vm_deliver(mb_vm *vm, int r) {
  (void)vm;
  (void)r;
}

mb_status mb__vm_save_scheduler(mb_vm *vm, mb_save *save) {
  (void)vm;
  (void)save;
  return MB_OK;
}

void mb__vm_load_scheduler(mb_vm *vm, mb_save *save, unsigned char *applied) {
  (void)vm;
  (void)save;
  (void)applied;
}

void mb__vm_clear_scheduler(mb_vm *vm) {
  (void)vm;
}
