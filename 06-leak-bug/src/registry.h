/* Leak accounting. Every context and socket object registers itself when it is created and
 * unregisters when it is freed, so whatever is still registered at shutdown has leaked. The
 * report groups what is left the way a dump analysis would ("3 x context op=receive ..."). */
#ifndef REGISTRY_H
#define REGISTRY_H

#include <stddef.h>
#include <stdio.h>
#include <windows.h>

typedef enum { TRACKED_CONTEXT, TRACKED_SOCKET } tracked_kind;

/* Embedded in every tracked object: a node of the registry's list. */
typedef struct tracked {
    struct tracked *prev, *next;
    tracked_kind kind;
    size_t bytes;
} tracked;

void registry_add(tracked *node, tracked_kind kind, size_t bytes);
void registry_remove(tracked *node);

typedef struct registry_totals {
    long contexts;             /* live io_context objects                           */
    long sockets;              /* live async_socket objects                         */
    size_t context_bytes;      /* their bytes, buffers included                     */
    long disposed_in_progress; /* contexts disposed but still waiting for a completion */
} registry_totals;

void registry_get_totals(registry_totals *totals);

/* Prints the live objects grouped by state; the last line is exactly
 * "leaked: N contexts, B bytes". */
void registry_print_report(FILE *out);

#endif
