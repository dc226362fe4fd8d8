/* Exercise 03.2 (find the bug): an echo worker. Other threads hand it connected sockets;
 * its one thread echoes every byte back with completion routines, as step03-server does.
 * It has a bug: a socket handed over is never echoed. Fix it in buggy_echo_worker.c. */
#ifndef BUGGY_ECHO_WORKER_H
#define BUGGY_ECHO_WORKER_H

#include <stdbool.h>
#include <winsock2.h>

typedef struct echo_worker echo_worker;

/* Starts the worker's thread. Returns NULL on failure. */
echo_worker *echo_worker_start(void);

/* Hands a connected socket to the worker, from any thread. The worker echoes what
 * arrives on it until the peer closes its side, then closes it. Returns false (and
 * closes s) if it could not. */
bool echo_worker_adopt(echo_worker *w, SOCKET s);

/* Clients the worker holds now, and bytes it has echoed so far. */
long echo_worker_clients(echo_worker *w);
long long echo_worker_bytes_echoed(echo_worker *w);

/* Stops the worker: it cancels each client's operation, frees the client in that
 * operation's routine, and ends. Then frees the worker. */
void echo_worker_stop(echo_worker *w);

#endif
