/* Exercise 06.1: your prediction. Replace each answer, then ./tutorial check 06.1 */
#ifndef PREDICTION_06_1_H
#define PREDICTION_06_1_H

/* Eleven connections, each wrapped as one of step 06's async_socket objects (an IN context
 * for receives, an OUT context for sends) on one completion port. The client of nine of
 * them has reset its connection, and the reset has arrived:
 *
 * - A. On four, the server sends a reply: async_socket_send fails at once with
 *   WSAECONNRESET, and the server disposes the socket.
 * - B. On three, the server starts a receive: async_socket_receive fails at once with
 *   WSAECONNRESET (the incident), and the server disposes the socket.
 * - C. On two, the server sends a reply, which fails at once; it does not dispose yet, and
 *   starts a receive, which fails at once too; then it disposes the socket.
 * - D. The last two are healthy: a receive is pending on each (their clients send nothing),
 *   and the idle timeout disposes them. Their aborted receives come back through the port
 *   and are handed to context_complete, as the workers do.
 *
 * Then the leak report (registry_print_report) lists what is still allocated. */

/* How many contexts does it list whose operation is a receive (op=receive)? */
#define PREDICTED_LEAKED_RECEIVE_CONTEXTS (-1)

/* How many contexts whose operation is a send (op=send)? */
#define PREDICTED_LEAKED_SEND_CONTEXTS (-1)

/* How many socket objects? */
#define PREDICTED_LEAKED_SOCKETS (-1)

#endif
