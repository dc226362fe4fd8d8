/* .NET's SocketAsyncEventArgs on Windows, reduced: a reusable operation object with one
 * preallocated OVERLAPPED. Disposing it while an operation is in flight only marks it;
 * the operation's completion does the real dispose. The socket is in skip mode
 * (FILE_SKIP_COMPLETION_PORT_ON_SUCCESS), as .NET sets it: a send done at once queues no
 * packet, and its completion runs on the calling thread. */
#ifndef DOTNET_SAEA_H
#define DOTNET_SAEA_H

#include <winsock2.h>
#include <windows.h>

#include <stdbool.h>

typedef struct saea_overlapped { /* .NET: the PreAllocatedOverlapped */
    OVERLAPPED overlapped;
    bool in_use; /* handed to the kernel (.NET: a NativeOverlapped allocated from it) */
} saea_overlapped;

typedef struct saea saea;
struct saea {
    SOCKET socket;
    saea_overlapped *preallocated;
    volatile LONG operating; /* 1 while an operation is in flight */
    bool dispose_called;
    DWORD bytes;
    void (*in_flight_hook)(saea *e); /* a test's stand-in for another thread's Dispose */
};

/* An operation object for s (which this also puts in skip mode). */
saea *saea_new(SOCKET s);

/* Starts a send. True: pending, its packet will complete it (saea_on_packet). False:
 * done at once, completed here; *error says how it ended. */
bool saea_send(saea *e, const char *data, DWORD size, DWORD *error);

/* Completes the operation of a dequeued packet. */
void saea_on_packet(saea *e, DWORD bytes, DWORD error);

/* Frees everything now, or, with an operation in flight, when it completes. */
void saea_dispose(saea *e);

#endif
