#include "server.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "tutorial/errors.h"
#include "tutorial/net.h"

enum {
    IO_BUFFER_SIZE = 16384,
    ACCEPT_RECHECK_MS = 100, /* the listener looks at the backlog at least this often  */
    ACCEPT_BACKOFF_MS = 10,  /* after accept() failed: the first wait before a retry  */
    ACCEPT_BACKOFF_MAX_MS = 1000,
    DRAIN_MS = 5000          /* how long server_stop waits for the packets still owed */
};

#ifndef ERROR_HANDLES_CLOSED
#define ERROR_HANDLES_CLOSED 676L /* in the Windows SDK's winerror.h, not in mingw-w64's */
#endif

/* The completion key of the packets server_stop posts to end the workers. Sockets are
 * associated with key 0, so a packet with this key and no OVERLAPPED is never I/O. */
#define QUIT_KEY ((ULONG_PTR)1)

typedef enum { OP_RECEIVE, OP_SEND } io_operation;

typedef struct connection connection;

/* snippet:begin io_context */
/* One operation in flight on a connection. The kernel holds &overlapped from the moment
 * WSARecv/WSASend is called (not from its "pending" return: the operation may complete,
 * and its packet be queued, before the call even returns) until a worker dequeues the
 * completion packet; the context may be reused or freed only after that. A call that
 * fails at once (any error but WSA_IO_PENDING) queues no packet: the caller still owns
 * the context. */
typedef struct io_context {
    OVERLAPPED overlapped;    /* handed to the kernel; CONTAINING_RECORD finds us again */
    io_operation operation;   /* what the completion means                            */
    connection *connection;   /* whose socket the operation runs on                   */
    DWORD filled;             /* bytes received into buffer, to echo                  */
    DWORD sent;               /* bytes of those already sent back                     */
    char buffer[IO_BUFFER_SIZE];
} io_context;
/* snippet:end io_context */

struct connection {
    SOCKET socket;            /* INVALID_SOCKET once closed; guarded by server.lock */
    server *owner;
    connection *prev, *next;  /* the server's list of open connections             */
};

struct server {
    HANDLE port;              /* the completion port every socket is associated with */
    SOCKET listener;          /* non-blocking; FD_ACCEPT signals accept_event         */
    unsigned short bound_port;
    HANDLE listener_thread;
    HANDLE accept_event;      /* a client waits in the backlog                        */
    HANDLE stop_event;        /* server_stop: the listener thread ends                */
    LONG accept_failures;     /* accept() failures in a row (the listener thread's)  */
    HANDLE *workers;
    int worker_count;

    /* Guards the connection list and every connection's socket: an operation is posted
     * and a socket is closed only while holding it (see post_next). */
    CRITICAL_SECTION lock;
    connection *connections;

    volatile LONG stopping;   /* set once by server_stop                            */
    HANDLE drained;           /* set when stopping and the last context is freed     */

    volatile LONG accepted, closed, live_contexts, aborted, failed_at_once;
    volatile LONG64 bytes_echoed;
};

static bool is_stopping(server *srv)
{
    return InterlockedCompareExchange(&srv->stopping, 0, 0) != 0;
}

/* ---- contexts ------------------------------------------------------------------------ */

/* snippet:begin contexts */
static io_context *context_new(connection *conn)
{
    io_context *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL)
        return NULL;
    ctx->connection = conn;
    InterlockedIncrement(&conn->owner->live_contexts);
    return ctx;
}

/* Frees a context whose last operation has completed (or never started). During
 * shutdown, freeing the last one wakes server_stop. */
static void context_free(server *srv, io_context *ctx)
{
    free(ctx);
    if (InterlockedDecrement(&srv->live_contexts) == 0 && is_stopping(srv))
        SetEvent(srv->drained);
}
/* snippet:end contexts */

/* ---- posting operations -------------------------------------------------------------- */

/* snippet:begin started */
/* Returns true when the operation started: pending, or already done. Either way its
 * completion packet is on its way to the port and the context belongs to the kernel. */
static bool started(server *srv, bool done)
{
    if (done)
        return true; /* done at once, yet its packet is queued: the worker handles it */
    int error = WSAGetLastError();
    if (error == WSA_IO_PENDING)
        return true;
    /* Any other error: the operation never started and NO packet will ever come (for a
     * TCP socket: a datagram's WSAEMSGSIZE is a warning that still queues one). The caller
     * still owns the context and must clean up now. */
    InterlockedIncrement(&srv->failed_at_once);
    return false;
}
/* snippet:end started */

/* snippet:begin post_receive */
static bool post_receive(io_context *ctx)
{
    ZeroMemory(&ctx->overlapped, sizeof ctx->overlapped);
    ctx->operation = OP_RECEIVE;
    /* The WSABUF may live on the stack: Winsock copies it before WSARecv returns. The
     * bytes it points to must stay put until the completion arrives. */
    WSABUF buffer = {(ULONG)sizeof ctx->buffer, ctx->buffer};
    DWORD flags = 0;
    bool done = WSARecv(ctx->connection->socket, &buffer, 1, NULL, &flags, &ctx->overlapped,
                        NULL) == 0;
    return started(ctx->connection->owner, done);
}
/* snippet:end post_receive */

static bool post_send(io_context *ctx)
{
    ZeroMemory(&ctx->overlapped, sizeof ctx->overlapped);
    ctx->operation = OP_SEND;
    WSABUF buffer = {ctx->filled - ctx->sent, ctx->buffer + ctx->sent};
    bool done = WSASend(ctx->connection->socket, &buffer, 1, NULL, 0, &ctx->overlapped,
                        NULL) == 0;
    return started(ctx->connection->owner, done);
}

/* snippet:begin post_next */
/* Starts the operation ctx->operation names. Returns false when nothing started (the
 * connection is closed, or the call failed at once): then no completion will come and
 * the caller must free the context itself. */
static bool post_next(io_context *ctx)
{
    server *srv = ctx->connection->owner;
    bool ok = false;
    /* server_stop closes sockets under the same lock, so an operation is either posted
     * before the close (and the close aborts it) or not posted at all. */
    EnterCriticalSection(&srv->lock);
    if (ctx->connection->socket != INVALID_SOCKET)
        ok = ctx->operation == OP_RECEIVE ? post_receive(ctx) : post_send(ctx);
    LeaveCriticalSection(&srv->lock);
    return ok;
}
/* snippet:end post_next */

/* ---- connections --------------------------------------------------------------------- */

/* snippet:begin end_connection */
/* Unlinks the connection, closes its socket (unless server_stop already did) and frees
 * it. Its context is freed separately, by whoever owns it at that moment. */
static void close_connection(connection *conn)
{
    server *srv = conn->owner;
    EnterCriticalSection(&srv->lock);
    if (conn->prev != NULL)
        conn->prev->next = conn->next;
    else
        srv->connections = conn->next;
    if (conn->next != NULL)
        conn->next->prev = conn->prev;
    if (conn->socket != INVALID_SOCKET)
        closesocket(conn->socket);
    LeaveCriticalSection(&srv->lock);
    InterlockedIncrement(&srv->closed);
    free(conn);
}

/* The end of a connection whose context has nothing pending. */
static void end_connection(io_context *ctx)
{
    server *srv = ctx->connection->owner;
    close_connection(ctx->connection);
    context_free(srv, ctx); /* last: it may wake server_stop */
}
/* snippet:end end_connection */

/* Adds the connection to the list unless the server is stopping. */
static bool register_connection(server *srv, connection *conn)
{
    bool added = false;
    EnterCriticalSection(&srv->lock);
    if (!is_stopping(srv)) {
        conn->next = srv->connections;
        if (conn->next != NULL)
            conn->next->prev = conn;
        srv->connections = conn;
        added = true;
    }
    LeaveCriticalSection(&srv->lock);
    return added;
}

/* A socket accept() returns inherits the listener's WSAEventSelect and its non-blocking
 * mode, which the connection needs neither of (overlapped calls ignore the mode), and like
 * every handle it would be inherited by a child process the program starts: a server's
 * sockets are its own (libuv does the same). */
static void make_plain(SOCKET s)
{
    u_long blocking = 0;
    WSAEventSelect(s, NULL, 0);
    ioctlsocket(s, FIONBIO, &blocking);
    SetHandleInformation((HANDLE)s, HANDLE_FLAG_INHERIT, 0);
}

/* snippet:begin start_connection */
/* Takes over an accepted socket: associates it with the port, then posts its first
 * receive. From here on, only the workers touch the connection. */
static void start_connection(server *srv, SOCKET s)
{
    connection *conn = calloc(1, sizeof *conn);
    if (conn == NULL) {
        closesocket(s);
        return;
    }
    make_plain(s);
    conn->socket = s;
    conn->owner = srv;
    /* Key 0 for every socket: the worker finds the connection through the context. */
    if (CreateIoCompletionPort((HANDLE)s, srv->port, 0, 0) == NULL ||
        !register_connection(srv, conn)) {
        closesocket(s);
        free(conn);
        return;
    }
    InterlockedIncrement(&srv->accepted);
    io_context *ctx = context_new(conn);
    if (ctx == NULL) {
        close_connection(conn);
        return;
    }
    ctx->operation = OP_RECEIVE;
    if (!post_next(ctx))
        end_connection(ctx); /* failed at once: no packet will come, clean up here */
}
/* snippet:end start_connection */

/* snippet:begin listener */
/* Accepts every client waiting in the backlog (the listener is non-blocking). Returns
 * false when accept() failed for a reason that does not pass by itself, such as no free
 * handle or no memory: trying again at once would only spin. */
static bool accept_waiting_clients(server *srv)
{
    for (;;) {
        SOCKET s = accept(srv->listener, NULL, NULL);
        if (s != INVALID_SOCKET) {
            start_connection(srv, s);
            continue;
        }
        int error = WSAGetLastError();
        if (error == WSAEWOULDBLOCK)
            return true; /* the backlog is empty */
        if (error == WSAECONNRESET)
            continue; /* that client reset while it waited: take the next */
        if (srv->accept_failures++ == 0) /* once per run of failures, not once per try */
            report_error("accept (retrying, more slowly each time)", (DWORD)error);
        return false;
    }
}

/* The listener thread waits for a client in the backlog (FD_ACCEPT) or for server_stop,
 * never inside accept(): server_stop then ends it with an event, and closes the listener
 * only once the thread is gone (closing a socket under another thread's blocked call is
 * what Microsoft's closesocket page forbids). The wait also ends every ACCEPT_RECHECK_MS,
 * because Wine 8 can lose an FD_ACCEPT (chapter 2). After accept() failed, the thread backs
 * off, ACCEPT_BACKOFF_MS at first, twice as long after each failure up to
 * ACCEPT_BACKOFF_MAX_MS, and only server_stop cuts that wait short: the client that could
 * not be taken still signals FD_ACCEPT, and waiting on it would spin. */
static DWORD WINAPI listen_for_clients(void *argument)
{
    server *srv = argument;
    HANDLE events[2] = {srv->stop_event, srv->accept_event};
    DWORD backoff_ms = 0; /* 0: accepting normally */
    for (;;) {
        DWORD count = backoff_ms > 0 ? 1 : 2;
        DWORD wait_ms = backoff_ms > 0 ? backoff_ms : ACCEPT_RECHECK_MS;
        if (WaitForMultipleObjects(count, events, FALSE, wait_ms) == WAIT_OBJECT_0)
            return 0; /* server_stop */
        if (!accept_waiting_clients(srv)) {
            backoff_ms = backoff_ms == 0 ? ACCEPT_BACKOFF_MS : backoff_ms * 2;
            if (backoff_ms > ACCEPT_BACKOFF_MAX_MS)
                backoff_ms = ACCEPT_BACKOFF_MAX_MS;
        } else if (backoff_ms > 0) {
            fprintf(stderr, "accepting again after %ld failed tries\n", srv->accept_failures);
            srv->accept_failures = 0;
            backoff_ms = 0;
        }
    }
}
/* snippet:end listener */

/* ---- the workers --------------------------------------------------------------------- */

/* snippet:begin on_received_sent */
/* Received `bytes`: echo them. Returns false when the client has closed its side. */
static bool on_received(io_context *ctx, DWORD bytes)
{
    if (bytes == 0)
        return false; /* an orderly end: the client sends nothing more */
    ctx->filled = bytes;
    ctx->sent = 0;
    ctx->operation = OP_SEND;
    return true;
}

/* Sent `bytes` of the echo: send the rest, or receive again. */
static bool on_sent(io_context *ctx, DWORD bytes)
{
    InterlockedExchangeAdd64(&ctx->connection->owner->bytes_echoed, bytes);
    ctx->sent += bytes;
    ctx->operation = ctx->sent < ctx->filled ? OP_SEND : OP_RECEIVE;
    return true;
}
/* snippet:end on_received_sent */

/* Did the operation end because the server closed its socket or cancelled the I/O?
 * CancelIoEx gives ERROR_OPERATION_ABORTED. A close gives, on Windows,
 * ERROR_CONNECTION_ABORTED (Windows XP gave ERROR_NETNAME_DELETED, the code a peer's reset
 * gives too, hence "while stopping"), and under Wine 8 ERROR_HANDLES_CLOSED or
 * ERROR_OPERATION_ABORTED. */
static bool was_aborted(server *srv, DWORD error)
{
    return error == ERROR_OPERATION_ABORTED || error == ERROR_CONNECTION_ABORTED ||
           error == ERROR_HANDLES_CLOSED || (error == ERROR_NETNAME_DELETED && is_stopping(srv));
}

/* snippet:begin on_completion */
/* One dequeued packet: the operation on ctx has finished, the context is ours again. */
static void on_completion(server *srv, io_context *ctx, DWORD bytes, DWORD error)
{
    if (was_aborted(srv, error))
        InterlockedIncrement(&srv->aborted);
    bool keep = error == ERROR_SUCCESS &&
                (ctx->operation == OP_RECEIVE ? on_received(ctx, bytes) : on_sent(ctx, bytes));
    if (!keep || !post_next(ctx))
        end_connection(ctx); /* frees ctx: nothing is pending on it any more */
}
/* snippet:end on_completion */

/* snippet:begin worker */
static DWORD WINAPI run_worker(void *argument)
{
    server *srv = argument;
    for (;;) {
        DWORD bytes = 0;
        ULONG_PTR key = 0;
        OVERLAPPED *overlapped = NULL;
        BOOL ok = GetQueuedCompletionStatus(srv->port, &bytes, &key, &overlapped, INFINITE);
        if (overlapped == NULL) {
            /* No I/O behind this return: our quit packet, or the port itself failed. */
            if (!ok)
                report_error("GetQueuedCompletionStatus", GetLastError());
            return key == QUIT_KEY ? 0 : 1;
        }
        /* TRUE: the I/O succeeded. FALSE with an OVERLAPPED: the I/O failed, and
         * GetLastError says why. Either way the operation is over. */
        DWORD error = ok ? ERROR_SUCCESS : GetLastError();
        io_context *ctx = CONTAINING_RECORD(overlapped, io_context, overlapped);
        on_completion(srv, ctx, bytes, error);
    }
}
/* snippet:end worker */

/* ---- start and stop ------------------------------------------------------------------ */

static int default_thread_count(void)
{
    SYSTEM_INFO info;
    GetSystemInfo(&info);
    return (int)info.dwNumberOfProcessors;
}

static void free_server(server *srv)
{
    if (srv->listener != INVALID_SOCKET)
        closesocket(srv->listener);
    if (srv->port != NULL)
        CloseHandle(srv->port);
    if (srv->drained != NULL)
        CloseHandle(srv->drained);
    if (srv->accept_event != NULL)
        CloseHandle(srv->accept_event);
    if (srv->stop_event != NULL)
        CloseHandle(srv->stop_event);
    DeleteCriticalSection(&srv->lock);
    free(srv->workers);
    free(srv);
}

static bool start_workers(server *srv, int count)
{
    srv->workers = calloc((size_t)count, sizeof *srv->workers);
    if (srv->workers == NULL)
        return false;
    for (int i = 0; i < count; i++) {
        srv->workers[i] = CreateThread(NULL, 0, run_worker, srv, 0, NULL);
        if (srv->workers[i] == NULL) {
            report_error("CreateThread (worker)", GetLastError());
            return false;
        }
        srv->worker_count++;
    }
    return true;
}

/* snippet:begin stop_workers */
/* Posts one quit packet per worker; each worker takes one and ends. A worker whose packet
 * is missing would wait on the port for ever, and server_stop with it, so a post that
 * fails is tried again, after a pause that doubles each time (Microsoft's page does not
 * say when PostQueuedCompletionStatus fails; libuv treats a failure as fatal instead). */
static void post_quit(server *srv)
{
    DWORD pause_ms = 10;
    while (!PostQueuedCompletionStatus(srv->port, 0, QUIT_KEY, NULL)) {
        if (pause_ms == 10)
            report_error("PostQueuedCompletionStatus (retrying)", GetLastError());
        Sleep(pause_ms);
        pause_ms = pause_ms < 1000 ? pause_ms * 2 : 1000;
    }
}

static void stop_workers(server *srv)
{
    for (int i = 0; i < srv->worker_count; i++)
        post_quit(srv);
    for (int i = 0; i < srv->worker_count; i++) {
        WaitForSingleObject(srv->workers[i], INFINITE);
        CloseHandle(srv->workers[i]);
    }
    srv->worker_count = 0;
}
/* snippet:end stop_workers */

server *server_start(const server_config *config)
{
    server *srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return NULL;
    InitializeCriticalSection(&srv->lock);
    srv->listener = INVALID_SOCKET;
    int threads = config->threads > 0 ? config->threads : default_thread_count();

    /* snippet:begin create_port */
    /* A new port, not yet tied to any handle. The last argument is the port's
     * concurrency value: 0 lets as many threads run at once as there are processors. */
    srv->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    /* snippet:end create_port */
    if (srv->port == NULL) {
        report_error("CreateIoCompletionPort", GetLastError());
        free_server(srv);
        return NULL;
    }
    srv->drained = CreateEventA(NULL, TRUE, FALSE, NULL);
    if (srv->drained == NULL) {
        report_error("CreateEvent", GetLastError());
        free_server(srv);
        return NULL;
    }
    srv->listener = net_listen_loopback(config->port, &srv->bound_port);
    if (srv->listener == INVALID_SOCKET || !start_workers(srv, threads)) {
        stop_workers(srv);
        free_server(srv);
        return NULL;
    }
    /* The listener signals accept_event when a client waits in its backlog. */
    srv->accept_event = CreateEventA(NULL, FALSE, FALSE, NULL);
    srv->stop_event = CreateEventA(NULL, TRUE, FALSE, NULL);
    if (srv->accept_event == NULL || srv->stop_event == NULL ||
        WSAEventSelect(srv->listener, srv->accept_event, FD_ACCEPT) != 0) {
        report_error("WSAEventSelect", (DWORD)WSAGetLastError());
        stop_workers(srv);
        free_server(srv);
        return NULL;
    }
    srv->listener_thread = CreateThread(NULL, 0, listen_for_clients, srv, 0, NULL);
    if (srv->listener_thread == NULL) {
        report_error("CreateThread (listener)", GetLastError());
        stop_workers(srv);
        free_server(srv);
        return NULL;
    }
    return srv;
}

unsigned short server_port(const server *srv)
{
    return srv->bound_port;
}

int server_worker_count(const server *srv)
{
    return srv->worker_count;
}

void server_read_counters(server *srv, server_counters *counters)
{
    counters->accepted = InterlockedCompareExchange(&srv->accepted, 0, 0);
    counters->closed = InterlockedCompareExchange(&srv->closed, 0, 0);
    counters->live_contexts = InterlockedCompareExchange(&srv->live_contexts, 0, 0);
    counters->aborted = InterlockedCompareExchange(&srv->aborted, 0, 0);
    counters->failed_at_once = InterlockedCompareExchange(&srv->failed_at_once, 0, 0);
    counters->bytes_echoed = InterlockedCompareExchange64(&srv->bytes_echoed, 0, 0);
}

/* snippet:begin close_all */
/* Closes every open socket. A pending receive or send on it then completes with an error
 * (on Windows ERROR_CONNECTION_ABORTED, on Windows XP ERROR_NETNAME_DELETED; under Wine 8
 * ERROR_HANDLES_CLOSED or
 * ERROR_OPERATION_ABORTED), and the worker that dequeues that packet frees the context. */
static void close_all_connections(server *srv)
{
    EnterCriticalSection(&srv->lock);
    for (connection *conn = srv->connections; conn != NULL; conn = conn->next) {
        closesocket(conn->socket);
        conn->socket = INVALID_SOCKET;
    }
    LeaveCriticalSection(&srv->lock);
}
/* snippet:end close_all */

/* snippet:begin server_stop */
void server_stop(server *srv, server_counters *final)
{
    /* 1. No new connections: the listener thread ends on stop_event. Only then is the
     *    listening socket closed, with no other thread inside a call on it. */
    InterlockedExchange(&srv->stopping, 1);
    SetEvent(srv->stop_event);
    WaitForSingleObject(srv->listener_thread, INFINITE);
    CloseHandle(srv->listener_thread);
    closesocket(srv->listener);
    srv->listener = INVALID_SOCKET;

    /* 2. Abort what is pending, then wait for the workers to dequeue every completion
     *    and free every context. Freeing anything earlier would let the kernel write into
     *    freed memory when a late completion arrives. The wait is bounded: a context whose
     *    packet never comes stays allocated (live_contexts says how many), and the server
     *    still stops. */
    close_all_connections(srv);
    if (InterlockedCompareExchange(&srv->live_contexts, 0, 0) == 0)
        SetEvent(srv->drained);
    if (WaitForSingleObject(srv->drained, DRAIN_MS) == WAIT_TIMEOUT)
        fprintf(stderr, "server_stop: %ld contexts still wait for a completion after %d ms; "
                        "they stay allocated\n",
                InterlockedCompareExchange(&srv->live_contexts, 0, 0), DRAIN_MS);

    /* 3. Only now end the workers: one quit packet each. */
    stop_workers(srv);
    server_read_counters(srv, final);
    free_server(srv);
}
/* snippet:end server_stop */
