/* Exercise 06.3: context_complete and context_dispose of step 06 as the incident's library
 * has them, copied out of src/async_socket.c so you can fix them here without touching the
 * step's own code. */
#ifndef CONTEXT_FLAGS_H
#define CONTEXT_FLAGS_H

#include "async_socket.h"

/* The completion's side, what a worker does with every packet it dequeues: the operation
 * of context is over (error: its result). Returns true when dispose had come first and the
 * context was freed now: the caller must not touch it again. */
bool flags_complete(io_context *context, DWORD error);

/* Dispose's side, for one context: frees it now when no operation is in flight, else leaves
 * the free to that operation's completion. */
void flags_dispose(io_context *context);

#endif
