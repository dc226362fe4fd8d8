/* Exercise 06.1: your prediction. Replace each answer, then ./tutorial check 06.1 */
#ifndef PREDICTION_06_1_H
#define PREDICTION_06_1_H

/* Five connections, each wrapped as one of step 06's async_socket objects (an IN and an
 * OUT context) on one completion port:
 *
 * - On three of them the client has reset the connection, and the reset has arrived. The
 *   server tries to send a reply on each: async_socket_send fails at once with
 *   WSAECONNRESET, and the server disposes the socket.
 * - On the other two a receive is pending (their clients send nothing), and the idle
 *   timeout disposes them. Their aborted receives come back through the port and are
 *   handed to context_complete, as the workers do.
 *
 * Then the leak report (registry_print_report) lists what is still allocated. */

/* How many contexts does it list? */
#define PREDICTED_LEAKED_CONTEXTS (-1)

/* How many socket objects? */
#define PREDICTED_LEAKED_SOCKETS (-1)

/* Which operation do the leaked contexts show: OP_ACCEPT, OP_RECEIVE or OP_SEND?
 * (Leave OP_NONE if you predict that no context leaks.) */
#define PREDICTED_OPERATION OP_NONE

#endif
