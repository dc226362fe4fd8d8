/* bare-echo: the smallest correct echo server on an I/O completion port, the bench's
 * reference point. Steps 04 to 07 are measured against it: whatever they cost beyond it
 * is the price of what they add (AcceptEx, frames, the leak registry, the shutdown drain).
 *
 *   bare-echo [--port N] [--seconds N] [--threads N]
 *
 * What it keeps, and why it is still correct:
 *   - two worker threads on one completion port (--threads);
 *   - one context per connection, with one OVERLAPPED: a connection has one operation in
 *     flight at a time (receive, then send back what arrived, then receive again), so
 *     the OVERLAPPED and the buffer are never in the kernel's hands twice;
 *   - every call that fails at once (any error but WSA_IO_PENDING) is treated as the end
 *     of the connection right there, because no completion will ever come for it (the
 *     lesson of chapter 6);
 *   - a post and the close of a connection's socket never overlap (the connection's
 *     lock), so an operation never starts on a handle value Windows has given to
 *     something else.
 * What it leaves out: AcceptEx (a plain accept() on its own thread), frames (it echoes
 * bytes, so a framed client gets its frames back as sent), statistics, fault plans.
 */
#include <winsock2.h>
#include <windows.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "tutorial/cli.h"
#include "tutorial/errors.h"
#include "tutorial/net.h"
#include "tutorial/stop.h"

enum { BUFFER_SIZE = 16384, DRAIN_MS = 5000 }; /* step 04's buffer size */

typedef struct connection {
    OVERLAPPED overlapped; /* first: a completion's OVERLAPPED* is the connection itself */
    SRWLOCK lock;          /* held to start an operation on socket, and to close it     */
    SOCKET socket;         /* INVALID_SOCKET once closed                                */
    bool sending;          /* what the operation in flight is                           */
    DWORD filled, sent;    /* bytes received into buffer; bytes of them sent back       */
    struct connection *prev, *next; /* every open connection, for the shutdown         */
    char buffer[BUFFER_SIZE];
} connection;

static struct {
    HANDLE port;
    SOCKET listener;
    SRWLOCK list_lock;
    connection list; /* sentinel */
    volatile LONG stopping, live, served;
    HANDLE drained;  /* set when stopping and the last connection is freed */
} echo;

/* ---- a connection's life ------------------------------------------------------------ */

static void close_socket(connection *c)
{
    AcquireSRWLockExclusive(&c->lock);
    if (c->socket != INVALID_SOCKET)
        closesocket(c->socket); /* aborts an operation in flight: its completion still comes */
    c->socket = INVALID_SOCKET;
    ReleaseSRWLockExclusive(&c->lock);
}

/* Only when no operation is in flight: after its completion, or after a failed start. */
static void free_connection(connection *c)
{
    close_socket(c);
    AcquireSRWLockExclusive(&echo.list_lock);
    c->prev->next = c->next;
    c->next->prev = c->prev;
    ReleaseSRWLockExclusive(&echo.list_lock);
    free(c);
    if (InterlockedDecrement(&echo.live) == 0 && echo.stopping)
        SetEvent(echo.drained);
}

/* Starts the next operation: the rest of the echo when some is unsent, else a receive.
 * False when it failed at once: no completion will come, the caller frees. */
static bool start_next(connection *c)
{
    ZeroMemory(&c->overlapped, sizeof c->overlapped);
    DWORD flags = 0;
    int answer = SOCKET_ERROR;
    int error = WSAENOTSOCK; /* what a closed socket would answer */
    AcquireSRWLockShared(&c->lock);
    if (c->socket != INVALID_SOCKET) {
        c->sending = c->sent < c->filled;
        WSABUF buffer;
        if (c->sending) {
            buffer.buf = c->buffer + c->sent;
            buffer.len = c->filled - c->sent;
            answer = WSASend(c->socket, &buffer, 1, NULL, 0, &c->overlapped, NULL);
        } else {
            buffer.buf = c->buffer;
            buffer.len = BUFFER_SIZE;
            answer = WSARecv(c->socket, &buffer, 1, NULL, &flags, &c->overlapped, NULL);
        }
        error = answer == 0 ? 0 : WSAGetLastError();
    }
    ReleaseSRWLockShared(&c->lock);
    return answer == 0 || error == WSA_IO_PENDING;
}

/* snippet:begin bare_completion */
static void on_completion(connection *c, BOOL ok, DWORD bytes)
{
    if (!ok || bytes == 0) { /* reset, orderly close, or aborted by the shutdown */
        free_connection(c);
        return;
    }
    if (c->sending) {
        c->sent += bytes;
    } else {
        c->filled = bytes; /* echo what arrived, however much that is */
        c->sent = 0;
    }
    if (c->sent == c->filled)
        c->filled = c->sent = 0; /* all of it went back: receive again */
    if (echo.stopping || !start_next(c))
        free_connection(c);
}
/* snippet:end bare_completion */

static DWORD WINAPI worker(void *unused)
{
    (void)unused;
    for (;;) {
        DWORD bytes = 0;
        ULONG_PTR key = 0;
        OVERLAPPED *overlapped = NULL;
        BOOL ok = GetQueuedCompletionStatus(echo.port, &bytes, &key, &overlapped, INFINITE);
        if (overlapped == NULL)
            return 0; /* the quit packet main posts (or the port failed) */
        on_completion((connection *)overlapped, ok, bytes);
    }
}

/* ---- accepting, and the shutdown ---------------------------------------------------- */

static void adopt(SOCKET s)
{
    connection *c = calloc(1, sizeof *c);
    if (c == NULL || CreateIoCompletionPort((HANDLE)s, echo.port, 0, 0) == NULL) {
        free(c);
        closesocket(s);
        return;
    }
    InitializeSRWLock(&c->lock);
    c->socket = s;
    InterlockedIncrement(&echo.live);
    InterlockedIncrement(&echo.served);
    AcquireSRWLockExclusive(&echo.list_lock);
    c->next = &echo.list;
    c->prev = echo.list.prev;
    echo.list.prev->next = c;
    echo.list.prev = c;
    ReleaseSRWLockExclusive(&echo.list_lock);
    if (!start_next(c)) /* the first receive */
        free_connection(c);
}

static DWORD WINAPI acceptor(void *unused)
{
    (void)unused;
    for (;;) {
        SOCKET s = accept(echo.listener, NULL, NULL);
        if (s == INVALID_SOCKET) {
            int error = WSAGetLastError();
            if (echo.stopping)
                return 0; /* main closed the listener */
            if (error == WSAECONNRESET)
                continue; /* the client reset while in the backlog */
            report_error("bare-echo: accept", (DWORD)error);
            return 1;
        }
        adopt(s);
    }
}

/* Closes every open connection: each one's operation in flight completes, aborted, and
 * its worker frees it. Waits (bounded) until the last one is freed. */
static bool drain(void)
{
    AcquireSRWLockExclusive(&echo.list_lock);
    for (connection *c = echo.list.next; c != &echo.list; c = c->next)
        close_socket(c);
    ReleaseSRWLockExclusive(&echo.list_lock);
    return echo.live == 0 || WaitForSingleObject(echo.drained, DRAIN_MS) == WAIT_OBJECT_0;
}

int main(int argc, char **argv)
{
    server_args args = {7010, 0};
    int threads = 2;
    const cli_option options[] = {
        CLI_SERVER_OPTIONS(&args),
        {"--threads", CLI_INT, "N", 1, 64, &threads, "worker threads (default 2)"},
    };
    const cli_program program = {"bare-echo",
                                 "the smallest correct echo server on a completion port",
                                 options, sizeof options / sizeof options[0]};
    cli_result parsed = cli_parse(&program, argc, argv);
    if (parsed != CLI_OK)
        return cli_exit_status(parsed);
    if (!net_startup())
        return 1;
    stop_event(); /* the Ctrl-C handler, before anything can be interrupted */

    unsigned short port = 0;
    echo.list.next = echo.list.prev = &echo.list;
    InitializeSRWLock(&echo.list_lock);
    echo.drained = CreateEventW(NULL, TRUE, FALSE, NULL);
    echo.port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, (DWORD)threads);
    echo.listener = net_listen_loopback((unsigned short)args.port, &port);
    if (echo.drained == NULL || echo.port == NULL || echo.listener == INVALID_SOCKET) {
        report_error("bare-echo: starting", GetLastError());
        return 1;
    }
    HANDLE *workers = calloc((size_t)threads + 1, sizeof *workers);
    if (workers == NULL)
        return 1;
    for (int i = 0; i < threads; i++)
        workers[i] = CreateThread(NULL, 0, worker, NULL, 0, NULL);
    workers[threads] = CreateThread(NULL, 0, acceptor, NULL, 0, NULL);
    for (int i = 0; i <= threads; i++) {
        if (workers[i] == NULL) {
            report_error("bare-echo: CreateThread", GetLastError());
            return 1;
        }
    }
    cli_announce_listening(port);

    stop_wait(args.seconds);
    InterlockedExchange(&echo.stopping, 1);
    closesocket(echo.listener); /* ends the acceptor's accept(): no connection comes after */
    WaitForSingleObject(workers[threads], INFINITE);
    bool drained = drain();
    for (int i = 0; i < threads; i++)
        PostQueuedCompletionStatus(echo.port, 0, 0, NULL); /* one quit packet per worker */
    WaitForMultipleObjects((DWORD)threads, workers, TRUE, DRAIN_MS);
    printf("served: connections=%ld live_at_exit=%ld\n", (long)echo.served, (long)echo.live);
    WSACleanup();
    return drained ? 0 : 1;
}
