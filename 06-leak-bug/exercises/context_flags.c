/* Exercise 06.3 (find the bug): a context's two facts, "in progress" and "disposed", handled
 * as the incident's library handles its two flags (AsyncIO's Overlapped.cs): each side looks
 * at one fact and changes the other, in two steps. On one thread that is right. On a server
 * whose workers run a completion while another thread disposes the same socket, it is not.
 * Fix it here. */
#include "context_flags.h"

#include <stdlib.h>

/* context_free of src/async_socket.c (static there): the context goes, and with it its
 * reference on the socket object. */
static void free_context(io_context *context)
{
    async_socket *owner = context->owner;
    registry_remove(&context->node);
    free(context->buffer);
    free(context);
    async_socket_release(owner);
}

bool flags_complete(io_context *context, DWORD error)
{
    context->last_error = error;
    InterlockedAnd(&context->state, ~CONTEXT_IN_PROGRESS); /* the operation is over */
    if (context_state(context) & CONTEXT_DISPOSED) {      /* did dispose come first? */
        free_context(context); /* yes: it left the free to us */
        return true;
    }
    return false;
}

void flags_dispose(io_context *context)
{
    if (!(context_state(context) & CONTEXT_IN_PROGRESS)) { /* is an operation in flight? */
        free_context(context); /* no: nobody else will touch it */
        return;
    }
    InterlockedOr(&context->state, CONTEXT_DISPOSED); /* yes: its completion frees it */
}
