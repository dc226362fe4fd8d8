/* Exercise 07.1: your prediction. Replace each answer, then ./tutorial check 07.1 */
#ifndef PREDICTION_07_1_H
#define PREDICTION_07_1_H

/* Step 07's socket code built with PUBLISHED_FIX_SLIP: the fix as first published, whose
 * receive path completes the SEND context instead of its own.
 *
 * Part 1. Three connections, nothing in flight on any of them. On each, the server calls
 * shutdown(SD_RECEIVE); async_socket_receive then fails at once with WSAESHUTDOWN, and the
 * server disposes the socket. The leak report lists what is still allocated. */

/* How many contexts does it list? */
#define PREDICTED_LEAKED_CONTEXTS (-1)

/* Which operation do they show: OP_ACCEPT, OP_RECEIVE or OP_SEND?
 * (Leave OP_NONE if you predict that no context leaks.) */
#define PREDICTED_OPERATION OP_NONE

/* Part 2. A fourth connection, whose client reads nothing: the server's sends fill the
 * connection until a WSASend has to wait (it is pending, the kernel owns its buffer). Now
 * its receive fails at once in the same way. If the server disposed this socket right now,
 * would dispose free the SEND context at once (1), or leave it to the send's completion (0)? */
#define PREDICTED_SEND_CONTEXT_FREED_AT_ONCE (-1)

#endif
