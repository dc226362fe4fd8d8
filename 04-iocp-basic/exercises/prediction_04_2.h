/* Exercise 04.2: your prediction. Replace each -1, then ./tutorial check 04.2 */
#ifndef PREDICTION_04_2_H
#define PREDICTION_04_2_H

/* A socket is associated with a completion port, and a WSARecv on it is pending. The client
 * sends 5 bytes: the receive finishes, and its packet is queued on the port. Nobody has
 * dequeued it yet when the program calls CancelIoEx on the socket, then closesocket.
 * Only then does a thread call GetQueuedCompletionStatus. */

/* What does that call return for the receive: 1 for TRUE, 0 for FALSE? */
#define PREDICTED_GQCS_RETURNS (-1)

/* And how many bytes does it report? */
#define PREDICTED_BYTES (-1)

#endif
