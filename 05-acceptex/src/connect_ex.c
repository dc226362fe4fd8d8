#include "connect_ex.h"

#include <mswsock.h>
#include <stdlib.h>

#include "extension.h"
#include "tutorial/errors.h"

struct connector {
    HANDLE port;                      /* every socket of this connector completes here */
    LPFN_CONNECTEX connect_ex;        /* Winsock extensions, looked up with WSAIoctl    */
    LPFN_DISCONNECTEX disconnect_ex;
    volatile LONG live_contexts;
};

/* One ConnectEx or DisconnectEx in flight. The kernel holds &overlapped from the call
 * until connector_wait dequeues its packet; only then is the context freed. A call that
 * fails at once queues no packet: the context is still the caller's, to free at once. */
typedef struct connect_context {
    OVERLAPPED overlapped;
    connector_operation operation;
    SOCKET socket;
} connect_context;

static connect_context *context_new(connector *c, connector_operation operation, SOCKET s)
{
    connect_context *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL)
        return NULL;
    ctx->operation = operation;
    ctx->socket = s;
    InterlockedIncrement(&c->live_contexts);
    return ctx;
}

static void context_free(connector *c, connect_context *ctx)
{
    free(ctx);
    InterlockedDecrement(&c->live_contexts);
}

/* ConnectEx and DisconnectEx come from the provider behind a socket, as AcceptEx does. The
 * pointers belong to the provider, not to the socket: a TCP/IPv4 socket made only to ask
 * serves every TCP/IPv4 socket of the connector, and is closed once they are known. */
static bool load_extensions(connector *c)
{
    SOCKET probe = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
                              WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (probe == INVALID_SOCKET) {
        report_error("WSASocketW", (DWORD)WSAGetLastError());
        return false;
    }
    GUID connect_ex = WSAID_CONNECTEX, disconnect_ex = WSAID_DISCONNECTEX;
    bool loaded = load_extension(probe, connect_ex, &c->connect_ex, sizeof c->connect_ex) &&
                  load_extension(probe, disconnect_ex, &c->disconnect_ex,
                                 sizeof c->disconnect_ex);
    closesocket(probe);
    return loaded;
}

connector *connector_create(void)
{
    connector *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    if (c->port == NULL) {
        report_error("CreateIoCompletionPort", GetLastError());
        free(c);
        return NULL;
    }
    if (!load_extensions(c)) {
        CloseHandle(c->port);
        free(c);
        return NULL;
    }
    return c;
}

/* snippet:begin bind_to_any_port */
/* connect() binds an unbound socket itself; ConnectEx does not, and fails at once with
 * WSAEINVAL on one. Any local address and port 0: the system picks both, as connect()
 * would have. */
static bool bind_to_any_port(SOCKET s)
{
    struct sockaddr_in any = {0};
    any.sin_family = AF_INET;
    any.sin_addr.s_addr = htonl(INADDR_ANY);
    any.sin_port = 0;
    if (bind(s, (struct sockaddr *)&any, sizeof any) != 0) {
        report_error("bind", (DWORD)WSAGetLastError());
        return false;
    }
    return true;
}
/* snippet:end bind_to_any_port */

SOCKET connector_new_socket(connector *c)
{
    SOCKET s = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
                          WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET) {
        report_error("WSASocketW", (DWORD)WSAGetLastError());
        return INVALID_SOCKET;
    }
    if (!bind_to_any_port(s)) {
        closesocket(s);
        return INVALID_SOCKET;
    }
    if (CreateIoCompletionPort((HANDLE)s, c->port, 0, 0) == NULL) {
        report_error("CreateIoCompletionPort (associating a socket)", GetLastError());
        closesocket(s);
        return INVALID_SOCKET;
    }
    return s;
}

/* snippet:begin start_connect */
/* What a BOOL-returning extension's answer means. 0: a packet will come (TRUE, done at
 * once, still queues one on a port, as ERROR_IO_PENDING does); else the error of a call
 * that failed at once and queued nothing. Which of the two a 0 was goes to the caller's
 * *done_at_once, never into the context: once the call has returned anything but an
 * error, the packet may already be dequeued and the context freed, on another thread. */
static int packet_coming(BOOL done, bool *done_at_once)
{
    if (done_at_once != NULL)
        *done_at_once = done != FALSE;
    if (done)
        return 0;
    int error = WSAGetLastError();
    return error == ERROR_IO_PENDING ? 0 : error;
}

int connector_start_connect(connector *c, SOCKET s, const struct sockaddr_in *to,
                            bool *done_at_once)
{
    connect_context *ctx = context_new(c, CONNECTOR_CONNECT, s);
    if (ctx == NULL)
        return ERROR_NOT_ENOUGH_MEMORY;
    DWORD sent = 0; /* no data to send with the connect */
    int error = packet_coming(c->connect_ex(s, (const struct sockaddr *)to, sizeof *to, NULL,
                                            0, &sent, &ctx->overlapped),
                              done_at_once);
    if (error != 0)
        context_free(c, ctx); /* failed at once: no packet will ever come for it */
    return error;
}
/* snippet:end start_connect */

/* snippet:begin start_disconnect */
int connector_start_disconnect(connector *c, SOCKET s, bool *done_at_once)
{
    connect_context *ctx = context_new(c, CONNECTOR_DISCONNECT, s);
    if (ctx == NULL)
        return ERROR_NOT_ENOUGH_MEMORY;
    /* TF_REUSE_SOCKET: when the packet comes, s may go to ConnectEx (or AcceptEx) again,
     * instead of being closed and replaced by a new socket. */
    int error = packet_coming(c->disconnect_ex(s, &ctx->overlapped, TF_REUSE_SOCKET, 0),
                              done_at_once);
    if (error != 0)
        context_free(c, ctx); /* failed at once: no packet, ours to free */
    return error;
}
/* snippet:end start_disconnect */

/* After a ConnectEx succeeds the socket is connected, yet until this option is set it is
 * in the default state of a connected socket: getpeername, getsockname, shutdown and the
 * options set before the connect do not work on it (Microsoft's ConnectEx page). */
static DWORD update_connect_context(SOCKET s)
{
    if (setsockopt(s, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, NULL, 0) != 0)
        return (DWORD)WSAGetLastError();
    return 0;
}

bool connector_wait(connector *c, DWORD timeout_ms, connector_result *result)
{
    DWORD bytes = 0;
    ULONG_PTR key = 0;
    OVERLAPPED *overlapped = NULL;
    BOOL ok = GetQueuedCompletionStatus(c->port, &bytes, &key, &overlapped, timeout_ms);
    if (overlapped == NULL)
        return false; /* no packet: the wait timed out (or the port failed) */
    /* The error a packet carries is a Win32 code (ERROR_CONNECTION_REFUSED), not the
     * Winsock one a call that fails at once sets (WSAECONNREFUSED). */
    DWORD error = ok ? 0 : GetLastError();
    connect_context *ctx = CONTAINING_RECORD(overlapped, connect_context, overlapped);
    result->operation = ctx->operation;
    result->socket = ctx->socket;
    if (error == 0 && ctx->operation == CONNECTOR_CONNECT)
        error = update_connect_context(ctx->socket);
    result->error = error;
    context_free(c, ctx); /* its packet is dequeued: the kernel is done with it */
    return true;
}

bool connector_refused(DWORD error)
{
    return error == WSAECONNREFUSED || error == ERROR_CONNECTION_REFUSED;
}

LONG connector_live_contexts(connector *c)
{
    return InterlockedCompareExchange(&c->live_contexts, 0, 0);
}

void connector_destroy(connector *c)
{
    CloseHandle(c->port);
    free(c);
}
