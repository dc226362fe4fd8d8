/* Exercise 04.2: your prediction. Replace each -1, then ./tutorial check 04.2
 * The first prediction you check is kept (with its time) in .progress/, right or wrong.
 *
 * A socket is associated with a completion port, and TWO receives are pending on it, posted
 * one after the other, each with a 64-byte buffer. The client sends n bytes (n is drawn
 * anew for every run, from 1 to 32): the first receive finishes with them, and its packet is
 * queued on the port. Nobody has dequeued anything yet when the program calls
 * CancelIoEx(socket, NULL) (every operation on the socket), then closesocket. Only then
 * does a thread call GetQueuedCompletionStatus, again and again, until no packet comes
 * within half a second. */

/* 1. How many packets does that thread dequeue for the socket? */
#define PREDICTED_PACKETS (-1)

/* 2. The first receive's packet. What does GetQueuedCompletionStatus return for it: 1 for
 *    TRUE, 0 for FALSE? And how many bytes does it report, as an expression of n, for
 *    example (n), (n - 1) or 0? */
#define PREDICTED_FIRST_RETURNS (-1)
#define PREDICTED_FIRST_BYTES(n) (-1)

/* 3. The second receive's packet (write -1 in all three if you predicted one packet).
 *    What does GetQueuedCompletionStatus return for it, which error does GetLastError give
 *    after it (0 when it returned TRUE; a number, or a name from winerror.h such as
 *    ERROR_NETNAME_DELETED), and how many bytes does it report? */
#define PREDICTED_SECOND_RETURNS (-1)
#define PREDICTED_SECOND_ERROR (-1)
#define PREDICTED_SECOND_BYTES (-1)
