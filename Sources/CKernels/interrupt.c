#include "ckernels.h"
#include <stdatomic.h>

/* The process-wide interrupt request (Ctrl-C in the REPL or a notebook's interrupt). A signal
   handler may set it: a lock-free atomic int is async-signal-safe. */
static atomic_int dode_interrupt_flag = 0;

void dode_interrupt_request(void) { atomic_store(&dode_interrupt_flag, 1); }
int dode_interrupt_pending(void) { return atomic_load_explicit(&dode_interrupt_flag, memory_order_relaxed); }
int dode_interrupt_take(void) { return atomic_exchange(&dode_interrupt_flag, 0); }
void dode_interrupt_clear(void) { atomic_store(&dode_interrupt_flag, 0); }
