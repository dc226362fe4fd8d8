/* Exercise 08.1: your prediction. Replace each answer, then ./tutorial check 08.1 */
#ifndef PREDICTION_08_1_H
#define PREDICTION_08_1_H

/* The send queue of edu_cpp_IOCP as the tutorial has it (src/edu_iocp_send.c, the build
 * without the fix): a message is sent at once only when the queue was empty, and the
 * packet of a send frees the head and sends the next.
 *
 * Part 1. A client queues three 2-byte messages, "ab", "cd", "ef", one after the other,
 * before the worker runs. The first WSASend starts; the SECOND WSASend call of the client
 * fails at once with WSAENOBUFS; every other call would succeed. Then the worker handles
 * every send packet that comes, until none comes for a while. */

/* How many send packets does the worker handle? */
#define PREDICTED_SEND_PACKETS (-1)

/* How many bytes does the peer receive? */
#define PREDICTED_BYTES_RECEIVED (-1)

/* How many messages are still in the queue at the end? */
#define PREDICTED_STILL_QUEUED (-1)

/* Part 2. The same three messages on a new client, but now the FIRST WSASend call fails
 * at once. Then a fourth message, "gh", is queued after the worker has run. How many bytes
 * does the peer receive in all? */
#define PREDICTED_BYTES_WHEN_THE_FIRST_FAILS (-1)

#endif
