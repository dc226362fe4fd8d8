#include "server.h"

#include <mswsock.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "extension.h"
#include "tutorial/errors.h"
#include "tutorial/net.h"

enum {
    IO_BUFFER_SIZE = 16384,
    ACCEPT_TRIES_AT_ONCE = 4, /* AcceptEx tries in a row while clients reset in the backlog */
    REFILL_FIRST_MS = 10,     /* the first pause before posting missing accepts again     */
    REFILL_MAX_MS = 1000,     /* the longest, however long the failures last             */
    DRAIN_MS = 5000           /* how long server_stop waits for the packets still owed   */
};

/* snippet:begin address_length */
/* AcceptEx writes both addresses into the buffer it is given, each in a slot at least 16
 * bytes larger than the largest address of the protocol (Microsoft's AcceptEx page). */
enum { ADDRESS_LENGTH = sizeof(struct sockaddr_in) + 16 };
/* snippet:end address_length */

#ifndef ERROR_HANDLES_CLOSED
#define ERROR_HANDLES_CLOSED 676L /* in the Windows SDK's winerror.h, not in mingw-w64's */
#endif

/* The completion key of the packets server_stop posts to end the workers. Sockets are
 * associated with key 0, so a packet with this key and no OVERLAPPED is never I/O. */
#define QUIT_KEY ((ULONG_PTR)1)

typedef enum { OP_ACCEPT, OP_RECEIVE, OP_SEND } io_operation;

typedef struct connection connection;

/* snippet:begin io_context */
/* One operation in flight on a connection, or an accept. The kernel holds &overlapped
 * from the moment WSARecv/WSASend/AcceptEx is called (not from its "pending" return: the
 * operation may complete, and its packet be queued, before the call even returns) until a
 * worker dequeues the completion packet; the context may be reused or freed only after
 * that. A call that fails at once (any error but WSA_IO_PENDING) queues no packet: the
 * caller still owns the context. */
typedef struct io_context {
    OVERLAPPED overlapped;    /* handed to the kernel; CONTAINING_RECORD finds us again */
    io_operation operation;   /* what the completion means                            */
    connection *connection;   /* whose socket the operation runs on (NULL: OP_ACCEPT) */
    SOCKET accepted;          /* OP_ACCEPT: the socket made ahead for the next client */
    DWORD filled;             /* bytes received into buffer, to echo                  */
    DWORD sent;               /* bytes of those already sent back                     */
    char buffer[IO_BUFFER_SIZE]; /* OP_ACCEPT: AcceptEx writes the two addresses here */
} io_context;
/* snippet:end io_context */

struct connection {
    SOCKET socket;            /* INVALID_SOCKET once closed; guarded by server.lock */
    server *owner;
    connection *prev, *next;  /* the server's list of open connections             */
};

struct server {
    HANDLE port;              /* the completion port every socket is associated with */
    SOCKET listener;          /* guarded by lock once the AcceptEx calls are posted  */
    unsigned short bound_port;
    LPFN_ACCEPTEX accept_ex;  /* Winsock extensions, looked up with WSAIoctl          */
    LPFN_GETACCEPTEXSOCKADDRS get_accept_ex_sockaddrs;
    HANDLE *workers;
    int worker_count;

    /* Guards the connection list, every connection's socket and the listening socket:
     * an operation is posted and a socket is closed only while holding it (see
     * post_next and post_accept). */
    CRITICAL_SECTION lock;
    connection *connections;

    volatile LONG stopping;   /* set once by server_stop                            */
    HANDLE drained;           /* set when stopping and the last context is freed     */

    /* The accept pool: the slots whose AcceptEx could not be posted, and the timer that
     * posts them again (see lose_accept_slot). */
    volatile LONG accepts_missing;
    bool refill_armed;            /* the timer is set and has not fired (lock)      */
    PTP_TIMER refill_timer;
    DWORD refill_ms;              /* the next pause (lock)                          */
    LONG refill_failures;         /* failed rounds in a row (lock)                  */

    volatile LONG accepted, closed, live_contexts, aborted, failed_at_once, last_peer_port;
    volatile LONG64 bytes_echoed;
};

static bool is_stopping(server *srv)
{
    return InterlockedCompareExchange(&srv->stopping, 0, 0) != 0;
}

/* ---- contexts ------------------------------------------------------------------------ */

/* snippet:begin contexts */
static io_context *context_new(server *srv, connection *conn)
{
    io_context *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL)
        return NULL;
    ctx->connection = conn;
    ctx->accepted = INVALID_SOCKET;
    InterlockedIncrement(&srv->live_contexts);
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

/* snippet:begin start_accept */
/* Calls AcceptEx on the listening socket (the caller holds the lock and has checked that
 * the listener is open). Returns 0 when a packet will come, else the error. */
static int start_accept(server *srv, io_context *ctx)
{
    DWORD bytes = 0;
    /* Receive length 0: complete as soon as a client connects, even a silent one.
     * AcceptEx returns a BOOL: FALSE on failure, never SOCKET_ERROR. TRUE (allowed, not
     * promised, when a client was already waiting) still queues a packet, like pending. */
    if (srv->accept_ex(srv->listener, ctx->accepted, ctx->buffer, 0, ADDRESS_LENGTH,
                       ADDRESS_LENGTH, &bytes, &ctx->overlapped))
        return 0;
    int error = WSAGetLastError();
    if (error == ERROR_IO_PENDING)
        return 0;
    InterlockedIncrement(&srv->failed_at_once); /* no packet will come for it */
    return error;
}
/* snippet:end start_accept */

/* snippet:begin post_accept */
/* Posts one AcceptEx with a socket made for the next client. Returns 0 when a packet will
 * come; otherwise nothing started, no completion will come, and the caller still owns
 * ctx. */
static int post_accept(server *srv, io_context *ctx)
{
    int error = 0;
    for (int tries = 0; tries < ACCEPT_TRIES_AT_ONCE; tries++) {
        ZeroMemory(&ctx->overlapped, sizeof ctx->overlapped);
        ctx->operation = OP_ACCEPT;
        /* AcceptEx does not create the socket: we make it now, before a client comes.
         * No child process the program starts inherits it. */
        ctx->accepted = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
                                   WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
        if (ctx->accepted == INVALID_SOCKET)
            return WSAGetLastError();
        error = WSAENOTSOCK; /* the listener is closed: the server is stopping */
        EnterCriticalSection(&srv->lock); /* server_stop closes the listener under it */
        if (srv->listener != INVALID_SOCKET)
            error = start_accept(srv, ctx);
        LeaveCriticalSection(&srv->lock);
        if (error == 0)
            return 0;
        closesocket(ctx->accepted);
        ctx->accepted = INVALID_SOCKET;
        /* Microsoft's AcceptEx page: WSAECONNRESET means a client connected, then reset
         * before we took it. That client is gone, the listener is fine: try again, a few
         * times, then leave the rest to the pool's timer. */
        if (error != WSAECONNRESET)
            break;
    }
    return error;
}
/* snippet:end post_accept */

/* A new context and its AcceptEx; 0, or the error after freeing the context. */
static int post_new_accept(server *srv)
{
    io_context *ctx = context_new(srv, NULL);
    if (ctx == NULL)
        return ERROR_NOT_ENOUGH_MEMORY;
    int error = post_accept(srv, ctx);
    if (error != 0)
        context_free(srv, ctx); /* nothing started on it: it is still ours */
    return error;
}

/* snippet:begin accept_pool */
/* Sets the pool's timer to go off after refill_ms, unless it is set already or the server
 * is stopping. Under the lock server_stop closes the listener with: a timer set before
 * that is cancelled by server_stop, and none is set after it. */
static void arm_refill(server *srv)
{
    EnterCriticalSection(&srv->lock);
    if (!srv->refill_armed && srv->listener != INVALID_SOCKET) {
        srv->refill_armed = true;
        ULARGE_INTEGER due;
        due.QuadPart = (ULONGLONG)(-(LONGLONG)srv->refill_ms * 10000); /* relative, 100 ns */
        FILETIME when = {due.LowPart, due.HighPart};
        SetThreadpoolTimer(srv->refill_timer, &when, 0, 0);
    }
    LeaveCriticalSection(&srv->lock);
}

/* An AcceptEx that could not be posted leaves its slot empty, and no packet will ever
 * come to fill it again: a run of immediate failures (clients that reset in the backlog,
 * no free handle, no memory) would otherwise leave the server listening with no accept
 * outstanding, deaf to every client. So the slot is counted as missing, and the pool's
 * timer posts it again: after REFILL_FIRST_MS, then after twice as long each time the
 * posts keep failing, up to REFILL_MAX_MS. */
static void lose_accept_slot(server *srv)
{
    InterlockedIncrement(&srv->accepts_missing);
    arm_refill(srv);
}

/* After a round of the pool's timer: the first pause again when every missing accept was
 * posted, else the next round twice as late, reported once per run of failures. Under the
 * lock: a worker's arm_refill reads the pause, and two rounds may run at once. */
static void end_round(server *srv, int error)
{
    EnterCriticalSection(&srv->lock);
    if (error == 0) {
        if (srv->refill_failures > 0)
            fprintf(stderr, "accepting again after %ld failed rounds\n", srv->refill_failures);
        srv->refill_failures = 0;
        srv->refill_ms = REFILL_FIRST_MS;
    } else {
        if (srv->refill_failures++ == 0)
            report_error("posting an accept (trying again later, more slowly each time)",
                         (DWORD)error);
        srv->refill_ms = srv->refill_ms * 2 > REFILL_MAX_MS ? REFILL_MAX_MS : srv->refill_ms * 2;
        arm_refill(srv); /* the lock is a critical section: taking it again is allowed */
    }
    LeaveCriticalSection(&srv->lock);
}

/* The pool's timer: posts the missing accepts, on a thread of the system's pool. Each one
 * is tried once a round; while some keep failing, the next round comes twice as late. */
static void CALLBACK refill_accepts(PTP_CALLBACK_INSTANCE instance, void *argument,
                                    PTP_TIMER timer)
{
    (void)instance, (void)timer;
    server *srv = argument;
    EnterCriticalSection(&srv->lock);
    srv->refill_armed = false;
    LeaveCriticalSection(&srv->lock);
    LONG missing = InterlockedCompareExchange(&srv->accepts_missing, 0, 0);
    int error = 0;
    for (LONG i = 0; i < missing && !is_stopping(srv); i++) {
        int failed = post_new_accept(srv);
        if (failed == 0)
            InterlockedDecrement(&srv->accepts_missing);
        else
            error = failed;
    }
    if (!is_stopping(srv)) /* else the listener is closed: nothing is missing any more */
        end_round(srv, error);
}
/* snippet:end accept_pool */

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
    io_context *ctx = context_new(srv, conn);
    if (ctx == NULL) {
        close_connection(conn);
        return;
    }
    ctx->operation = OP_RECEIVE;
    if (!post_next(ctx))
        end_connection(ctx); /* failed at once: no packet will come, clean up here */
}
/* snippet:end start_connection */

/* snippet:begin take_accepted_socket */
/* The steps after an AcceptEx completes: give the new socket the listening socket's
 * properties, read the addresses AcceptEx wrote, and hand the socket to the port. */
static void take_accepted_socket(server *srv, io_context *ctx)
{
    SOCKET s = ctx->accepted;
    ctx->accepted = INVALID_SOCKET;
    EnterCriticalSection(&srv->lock);
    /* Without this, getpeername, shutdown and others fail on the accepted socket. */
    bool updated = srv->listener != INVALID_SOCKET &&
                   setsockopt(s, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT,
                              (const char *)&srv->listener, sizeof srv->listener) == 0;
    LeaveCriticalSection(&srv->lock);
    if (!updated) {
        closesocket(s);
        return;
    }
    struct sockaddr *local = NULL, *remote = NULL;
    int local_length = 0, remote_length = 0;
    srv->get_accept_ex_sockaddrs(ctx->buffer, 0, ADDRESS_LENGTH, ADDRESS_LENGTH, &local,
                                 &local_length, &remote, &remote_length);
    if (remote->sa_family == AF_INET)
        InterlockedExchange(&srv->last_peer_port,
                            ntohs(((struct sockaddr_in *)remote)->sin_port));
    start_connection(srv, s);
}
/* snippet:end take_accepted_socket */

/* snippet:begin on_accepted */
/* An AcceptEx completed: take the client, then post the next AcceptEx with the same
 * context, so the number of accepts outstanding stays the same. If that post fails, the
 * accept pool posts one later (lose_accept_slot). */
static void on_accepted(server *srv, io_context *ctx, DWORD error)
{
    if (error == ERROR_SUCCESS) {
        take_accepted_socket(srv, ctx);
    } else {
        /* Aborted (server_stop closed the listener) or the client left first. */
        closesocket(ctx->accepted);
        ctx->accepted = INVALID_SOCKET;
    }
    if (post_accept(srv, ctx) == 0)
        return; /* the same context waits for the next client */
    context_free(srv, ctx); /* nothing pending on it: this accept ends here */
    if (!is_stopping(srv))
        lose_accept_slot(srv); /* and the pool's timer posts one in its place */
}
/* snippet:end on_accepted */

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
 * Closing the listener ends its AcceptEx calls with ERROR_OPERATION_ABORTED. Closing a
 * connection's socket ends its receive, on Windows, with ERROR_CONNECTION_ABORTED (Windows
 * XP gave ERROR_NETNAME_DELETED, the code a peer's reset gives too, hence "while
 * stopping"), and under Wine 8 with ERROR_HANDLES_CLOSED or ERROR_OPERATION_ABORTED. */
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
    if (ctx->operation == OP_ACCEPT) {
        on_accepted(srv, ctx, error);
        return;
    }
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
    if (srv->refill_timer != NULL)
        CloseThreadpoolTimer(srv->refill_timer);
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

static bool load_extensions(server *srv)
{
    GUID accept_ex = WSAID_ACCEPTEX, get_sockaddrs = WSAID_GETACCEPTEXSOCKADDRS;
    return load_extension(srv->listener, accept_ex, &srv->accept_ex, sizeof srv->accept_ex) &&
           load_extension(srv->listener, get_sockaddrs, &srv->get_accept_ex_sockaddrs,
                          sizeof srv->get_accept_ex_sockaddrs);
}

/* Posts the first `count` AcceptEx calls, each with its own context. One that fails
 * leaves its slot to the pool's timer; when not one can be posted, the server cannot
 * accept anybody, and server_start fails with that error. */
static bool post_accepts(server *srv, int count)
{
    int error = 0, posted = 0;
    for (int i = 0; i < count; i++) {
        int failed = post_new_accept(srv);
        if (failed == 0) {
            posted++;
        } else {
            error = failed;
            InterlockedIncrement(&srv->accepts_missing);
        }
    }
    if (posted == 0) {
        report_error("AcceptEx (not one could be posted)", (DWORD)error);
        return false;
    }
    if (srv->accepts_missing > 0)
        arm_refill(srv);
    return true;
}

server *server_start(const server_config *config)
{
    server *srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return NULL;
    InitializeCriticalSection(&srv->lock);
    srv->listener = INVALID_SOCKET;
    srv->refill_ms = REFILL_FIRST_MS;
    int threads = config->threads > 0 ? config->threads : default_thread_count();
    int accepts = config->accepts > 0 ? config->accepts : SERVER_DEFAULT_ACCEPTS;

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
    srv->refill_timer = CreateThreadpoolTimer(refill_accepts, srv, NULL);
    if (srv->drained == NULL || srv->refill_timer == NULL) {
        report_error("CreateEvent/CreateThreadpoolTimer", GetLastError());
        free_server(srv);
        return NULL;
    }
    srv->listener = net_listen_loopback(config->port, &srv->bound_port);
    /* AcceptEx completes on the port of the LISTENING socket: associate it too. */
    if (srv->listener == INVALID_SOCKET || !load_extensions(srv) ||
        CreateIoCompletionPort((HANDLE)srv->listener, srv->port, 0, 0) == NULL ||
        !start_workers(srv, threads)) {
        stop_workers(srv);
        free_server(srv);
        return NULL;
    }
    if (!post_accepts(srv, accepts)) {
        server_counters ignored; /* the accepts already posted must complete first */
        server_stop(srv, &ignored);
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
    counters->last_peer_port = InterlockedCompareExchange(&srv->last_peer_port, 0, 0);
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
    /* 1. No new connections: closing the listening socket aborts every outstanding
     *    AcceptEx (their contexts are freed by the workers, when the aborts arrive), and
     *    the accept pool's timer is stopped, its callback finished if it was running. */
    EnterCriticalSection(&srv->lock);
    InterlockedExchange(&srv->stopping, 1);
    closesocket(srv->listener);
    srv->listener = INVALID_SOCKET;
    LeaveCriticalSection(&srv->lock);
    SetThreadpoolTimer(srv->refill_timer, NULL, 0, 0);
    WaitForThreadpoolTimerCallbacks(srv->refill_timer, TRUE);

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
