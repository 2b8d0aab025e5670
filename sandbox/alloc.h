/* Allocation helpers shared by the modules that take an mb_alloc_fn. */
#ifndef MB_SANDBOX_ALLOC_H
#define MB_SANDBOX_ALLOC_H

#include <stddef.h>

#include "moonbox.h"

/* For a constructor given (*alloc, *ud): a NULL *alloc becomes
 * mb_default_alloc (and *ud NULL), and the object's `size` bytes come from
 * it, zeroed. NULL when out of memory. */
void *mb__alloc_object(mb_alloc_fn *alloc, void **ud, size_t size);

#endif
