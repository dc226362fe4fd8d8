/* Exercise 05.2 (find the bug): an acceptor keeps AcceptEx calls posted on a listening
 * socket, the way step05-server does, and counts what happens to them. Whoever owns the
 * completion port dequeues the packets and hands each one to acceptor_on_packet. When
 * AcceptEx fails at once, the acceptor does not notice. Fix it in buggy_acceptor.c. */
#ifndef BUGGY_ACCEPTOR_H
#define BUGGY_ACCEPTOR_H

#include <winsock2.h>
#include <windows.h>

#include <stdbool.h>

typedef struct acceptor_counters {
    LONG pending;        /* AcceptEx calls posted whose packet has not come yet     */
    LONG failed_at_once; /* AcceptEx calls that failed at once (reported on stderr) */
    LONG accepted;       /* packets of AcceptEx calls that succeeded                */
    LONG live_contexts;  /* contexts allocated and not yet freed                    */
} acceptor_counters;

typedef struct acceptor acceptor;

/* An acceptor for listener, which the caller has associated with port; NULL after
 * reporting an error. The caller keeps owning listener (and closes it). */
acceptor *acceptor_new(SOCKET listener);

/* Posts one AcceptEx that will make `accepted` (an overlapped TCP socket the caller has
 * just created for the next client) the connection; the acceptor owns that socket from
 * here on. Returns true when the AcceptEx's packet will come; false when it failed at
 * once: then the failure has been counted and reported, and its context and socket freed. */
bool acceptor_post(acceptor *a, SOCKET accepted);

/* One packet dequeued for an accept: its OVERLAPPED and what GetQueuedCompletionStatus
 * returned. Closes the accepted socket (this acceptor only counts) and frees the context. */
void acceptor_on_packet(acceptor *a, OVERLAPPED *overlapped, BOOL ok);

void acceptor_read_counters(const acceptor *a, acceptor_counters *counters);

/* Frees the acceptor; every context must have been freed already. */
void acceptor_free(acceptor *a);

#endif
