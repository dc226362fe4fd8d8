/* Exercise 07.1: your prediction. Replace each answer, then ./tutorial check 07.1 */
#ifndef PREDICTION_07_1_H
#define PREDICTION_07_1_H

/* Step 07's socket code built with PUBLISHED_FIX_SLIP: the fix as first published, whose
 * receive path completes the SEND context instead of its own.
 *
 * Part 1. Eight connections, nothing in flight on any of them.
 * - A. On four, the server calls shutdown(SD_RECEIVE); async_socket_receive then fails at
 *   once with WSAESHUTDOWN, and the server disposes the socket.
 * - B. On two, the client has reset the connection and the reset has arrived: the server's
 *   async_socket_send fails at once with WSAECONNRESET, and it disposes the socket.
 * - C. On two, the client has reset the connection too. The server's receive fails at
 *   once with WSAECONNRESET (the incident); it does not dispose yet, sends a reply, which
 *   fails at once with WSAECONNRESET too, and then disposes the socket.
 * The leak report lists what is still allocated. */

/* How many contexts does it list whose operation is a receive (op=receive)? */
#define PREDICTED_LEAKED_RECEIVE_CONTEXTS (-1)

/* How many whose operation is a send (op=send)? */
#define PREDICTED_LEAKED_SEND_CONTEXTS (-1)

/* How many socket objects? */
#define PREDICTED_LEAKED_SOCKETS (-1)

/* Part 2. A ninth connection, whose client reads nothing: the server's sends fill the
 * connection until a WSASend has to wait (it is pending, the kernel owns its buffer). Now
 * its receive fails at once in the same way. If the server disposed this socket right now,
 * would dispose free the SEND context at once (1), or leave it to the send's completion (0)? */
#define PREDICTED_SEND_CONTEXT_FREED_AT_ONCE (-1)

#endif
