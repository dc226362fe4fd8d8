#include "server.h"

#include <mswsock.h>
#include <stdbool.h>
#include <stdlib.h>

#include "tutorial/errors.h"
#include "tutorial/fault_plan.h"
#include "tutorial/net.h"

enum { IO_BUFFER_SIZE = 16384 };

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

/* ---- the outcome seam ---------------------------------------------------------------- */

/* snippet:begin outcome_seam */
/* Every call that starts an operation asks the fault plan (tutorial/fault_plan.h) what to
 * report, and every I/O packet a worker dequeues passes through packet_outcome. This seam
 * exists so that tests, and a learner with --faults, can drive the outcomes Windows can
 * produce and Wine does not, or not on demand: a receive that fails at once with
 * WSAECONNRESET, a packet that carries ERROR_CONNECTION_ABORTED or ERROR_NETNAME_DELETED,
 * an AcceptEx that fails at once because its client is gone. With no plan set, it changes
 * nothing. */
static fault_outcome plan_call(const char *operation)
{
    fault_outcome planned = fault_plan_take(operation);
    fault_plan_pause(planned); /* "delay": sleep, then make the real call */
    return planned;
}

/* "fail": the call is not made; it fails at once with the plan's error, as Windows can,
 * and no packet will come. */
static bool fails_at_once(fault_outcome planned)
{
    if (planned.kind != FAULT_FAIL)
        return false;
    WSASetLastError((int)planned.value);
    return true;
}

/* What the caller is told about a call: done at once (true), or not (false, the error in
 * WSAGetLastError). "now" and "pending" swap the two answers of a call that started. Both
 * still get a packet, since this server does not set FILE_SKIP_COMPLETION_PORT_ON_SUCCESS,
 * and the worker handles it the same way. A call that really failed at once stays failed:
 * no packet will come for it, whatever the plan says. */
static bool reported(fault_outcome planned, bool done)
{
    if (planned.kind == FAULT_FAIL)
        return false; /* not made: fails_at_once has set the error */
    bool started = done || WSAGetLastError() == WSA_IO_PENDING;
    if (started && planned.kind == FAULT_PENDING) {
        WSASetLastError(WSA_IO_PENDING);
        return false;
    }
    return done || (started && planned.kind == FAULT_NOW);
}

/* The completion side: a dequeued I/O packet as the plan wants it. "error:E" makes it a
 * failure with E and 0 bytes, "eof" a success with 0 bytes. */
static void packet_outcome(const char *operation, DWORD *bytes, DWORD *error)
{
    fault_outcome planned = plan_call(operation);
    if (planned.kind == FAULT_FAIL || planned.kind == FAULT_EOF) {
        *bytes = 0;
        *error = planned.kind == FAULT_FAIL ? planned.value : ERROR_SUCCESS;
    }
}
/* snippet:end outcome_seam */

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
    /* Any other error: the operation never started and NO packet will ever come. The
     * caller still owns the context and must clean up now. */
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
    fault_outcome planned = plan_call("receive");
    bool done = !fails_at_once(planned) &&
                WSARecv(ctx->connection->socket, &buffer, 1, NULL, &flags, &ctx->overlapped,
                        NULL) == 0;
    return started(ctx->connection->owner, reported(planned, done));
}
/* snippet:end post_receive */

static bool post_send(io_context *ctx)
{
    ZeroMemory(&ctx->overlapped, sizeof ctx->overlapped);
    ctx->operation = OP_SEND;
    WSABUF buffer = {ctx->filled - ctx->sent, ctx->buffer + ctx->sent};
    fault_outcome planned = plan_call("send");
    bool done = !fails_at_once(planned) &&
                WSASend(ctx->connection->socket, &buffer, 1, NULL, 0, &ctx->overlapped,
                        NULL) == 0;
    return started(ctx->connection->owner, reported(planned, done));
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
    fault_outcome planned = plan_call("accept");
    /* Receive length 0: complete as soon as a client connects, even a silent one.
     * AcceptEx returns a BOOL: FALSE on failure, never SOCKET_ERROR. TRUE (allowed, not
     * promised, when a client was already waiting) still queues a packet, like pending. */
    bool done = !fails_at_once(planned) &&
                srv->accept_ex(srv->listener, ctx->accepted, ctx->buffer, 0, ADDRESS_LENGTH,
                               ADDRESS_LENGTH, &bytes, &ctx->overlapped) != FALSE;
    done = reported(planned, done);
    int error = done ? 0 : WSAGetLastError();
    if (done || error == ERROR_IO_PENDING)
        return 0;
    InterlockedIncrement(&srv->failed_at_once);
    if (error != WSAECONNRESET)
        report_error("AcceptEx", (DWORD)error);
    return error;
}
/* snippet:end start_accept */

/* snippet:begin post_accept */
/* Posts one AcceptEx with a socket made for the next client. Returns false when nothing
 * started (the server is stopping, or the call failed at once): no completion will come
 * and the caller frees the context. */
static bool post_accept(server *srv, io_context *ctx)
{
    for (;;) {
        ZeroMemory(&ctx->overlapped, sizeof ctx->overlapped);
        ctx->operation = OP_ACCEPT;
        /* AcceptEx does not create the socket: we make it now, before a client comes. */
        ctx->accepted = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
                                   WSA_FLAG_OVERLAPPED);
        if (ctx->accepted == INVALID_SOCKET) {
            report_error("WSASocket", (DWORD)WSAGetLastError());
            return false;
        }
        int error = WSAENOTSOCK; /* the listener is closed: the server is stopping */
        EnterCriticalSection(&srv->lock); /* server_stop closes the listener under it */
        if (srv->listener != INVALID_SOCKET)
            error = start_accept(srv, ctx);
        LeaveCriticalSection(&srv->lock);
        if (error == 0)
            return true;
        closesocket(ctx->accepted);
        ctx->accepted = INVALID_SOCKET;
        /* Microsoft's AcceptEx page: WSAECONNRESET means a client connected, then reset
         * before we took it. That client is gone, the listener is fine: try again. */
        if (error != WSAECONNRESET)
            return false;
    }
}
/* snippet:end post_accept */

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
 * context, so the number of accepts outstanding stays the same. */
static void on_accepted(server *srv, io_context *ctx, DWORD error)
{
    if (error == ERROR_SUCCESS) {
        take_accepted_socket(srv, ctx);
    } else {
        /* Aborted (server_stop closed the listener) or the client left first. */
        closesocket(ctx->accepted);
        ctx->accepted = INVALID_SOCKET;
    }
    if (!post_accept(srv, ctx))
        context_free(srv, ctx); /* nothing pending on it: this accept ends here */
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

/* The fault plan's name for the packet of an operation. */
static const char *completion_name(io_operation operation)
{
    switch (operation) {
    case OP_ACCEPT: return "accept-done";
    case OP_RECEIVE: return "receive-done";
    case OP_SEND: return "send-done";
    }
    return "unknown-done";
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
        packet_outcome(completion_name(ctx->operation), &bytes,
                       &error); /* the seam: what a test wants this packet to say */
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
/* Posts one quit packet (the "post" operation of the fault plan can fail it). */
static bool post_quit(server *srv)
{
    fault_outcome planned = plan_call("post");
    return !fails_at_once(planned) &&
           PostQueuedCompletionStatus(srv->port, 0, QUIT_KEY, NULL) != FALSE;
}

/* Posts one quit packet per worker; each worker takes one and ends. A worker whose packet
 * is missing would wait on the port forever, and server_stop with it, so a failed post is
 * tried again: PostQueuedCompletionStatus fails only when the system cannot allocate the
 * packet, a shortage that passes. (libuv treats that failure as fatal instead.) */
static void stop_workers(server *srv)
{
    for (int i = 0; i < srv->worker_count; i++) {
        while (!post_quit(srv)) {
            report_error("PostQueuedCompletionStatus", GetLastError());
            Sleep(10);
        }
    }
    for (int i = 0; i < srv->worker_count; i++) {
        WaitForSingleObject(srv->workers[i], INFINITE);
        CloseHandle(srv->workers[i]);
    }
    srv->worker_count = 0;
}
/* snippet:end stop_workers */

/* snippet:begin load_extension */
/* AcceptEx and GetAcceptExSockaddrs are Microsoft extensions to Winsock: the provider
 * behind the socket hands out their addresses. */
static bool load_extension(SOCKET s, GUID id, void *function, size_t size)
{
    DWORD bytes = 0;
    if (WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof id, function,
                 (DWORD)size, &bytes, NULL, NULL) != 0) {
        report_error("WSAIoctl (SIO_GET_EXTENSION_FUNCTION_POINTER)", (DWORD)WSAGetLastError());
        return false;
    }
    return true;
}
/* snippet:end load_extension */

static bool load_extensions(server *srv)
{
    GUID accept_ex = WSAID_ACCEPTEX, get_sockaddrs = WSAID_GETACCEPTEXSOCKADDRS;
    return load_extension(srv->listener, accept_ex, &srv->accept_ex, sizeof srv->accept_ex) &&
           load_extension(srv->listener, get_sockaddrs, &srv->get_accept_ex_sockaddrs,
                          sizeof srv->get_accept_ex_sockaddrs);
}

/* Posts the first `count` AcceptEx calls, each with its own context. */
static bool post_accepts(server *srv, int count)
{
    for (int i = 0; i < count; i++) {
        io_context *ctx = context_new(srv, NULL);
        if (ctx == NULL)
            return false;
        if (!post_accept(srv, ctx)) {
            context_free(srv, ctx);
            return false;
        }
    }
    return true;
}

server *server_start(const server_config *config)
{
    server *srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return NULL;
    InitializeCriticalSection(&srv->lock);
    srv->listener = INVALID_SOCKET;
    int threads = config->threads > 0 ? config->threads : default_thread_count();
    int accepts = config->accepts > 0 ? config->accepts : SERVER_DEFAULT_ACCEPTS;

    /* snippet:begin create_port */
    /* A new port, not yet tied to any handle. The last argument is the port's
     * concurrency value: 0 lets as many threads run at once as there are processors. */
    srv->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    /* snippet:end create_port */
    srv->drained = CreateEventA(NULL, TRUE, FALSE, NULL);
    if (srv->port == NULL || srv->drained == NULL) {
        report_error("CreateIoCompletionPort", GetLastError());
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
     *    AcceptEx. Their contexts are freed by the workers, when the aborts arrive. */
    EnterCriticalSection(&srv->lock);
    InterlockedExchange(&srv->stopping, 1);
    closesocket(srv->listener);
    srv->listener = INVALID_SOCKET;
    LeaveCriticalSection(&srv->lock);

    /* 2. Abort what is pending, then wait for the workers to dequeue every completion
     *    and free every context. Freeing anything earlier would let the kernel write into
     *    freed memory when a late completion arrives. */
    close_all_connections(srv);
    if (InterlockedCompareExchange(&srv->live_contexts, 0, 0) == 0)
        SetEvent(srv->drained);
    WaitForSingleObject(srv->drained, INFINITE);

    /* 3. Only now end the workers: one quit packet each. */
    stop_workers(srv);
    server_read_counters(srv, final);
    free_server(srv);
}
/* snippet:end server_stop */
