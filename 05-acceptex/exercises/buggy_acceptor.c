#include "buggy_acceptor.h"

#include <mswsock.h>
#include <stdlib.h>

#include "tutorial/errors.h"

/* Each address slot: 16 bytes more than the largest address (Microsoft's AcceptEx page). */
enum { ADDRESS_LENGTH = sizeof(struct sockaddr_in) + 16 };

typedef struct accept_context {
    OVERLAPPED overlapped; /* the kernel holds it while the AcceptEx is pending */
    SOCKET accepted;       /* made ahead for the next client                    */
    char addresses[2 * ADDRESS_LENGTH];
} accept_context;

struct acceptor {
    SOCKET listener;
    LPFN_ACCEPTEX accept_ex;
    volatile LONG pending, failed_at_once, accepted, live_contexts;
};

acceptor *acceptor_new(SOCKET listener)
{
    acceptor *a = calloc(1, sizeof *a);
    if (a == NULL)
        return NULL;
    a->listener = listener;
    GUID id = WSAID_ACCEPTEX;
    DWORD bytes = 0;
    if (WSAIoctl(listener, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof id, &a->accept_ex,
                 sizeof a->accept_ex, &bytes, NULL, NULL) != 0) {
        report_error("WSAIoctl (AcceptEx)", (DWORD)WSAGetLastError());
        free(a);
        return NULL;
    }
    return a;
}

static void context_free(acceptor *a, accept_context *ctx)
{
    if (ctx->accepted != INVALID_SOCKET)
        closesocket(ctx->accepted);
    free(ctx);
    InterlockedDecrement(&a->live_contexts);
}

bool acceptor_post(acceptor *a, SOCKET accepted)
{
    accept_context *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) {
        closesocket(accepted);
        return false;
    }
    InterlockedIncrement(&a->live_contexts);
    ctx->accepted = accepted;
    DWORD bytes = 0;
    if (a->accept_ex(a->listener, ctx->accepted, ctx->addresses, 0, ADDRESS_LENGTH,
                     ADDRESS_LENGTH, &bytes, &ctx->overlapped) == SOCKET_ERROR &&
        WSAGetLastError() != ERROR_IO_PENDING) {
        /* Failed at once: no packet will ever come for this context. */
        InterlockedIncrement(&a->failed_at_once);
        report_error("AcceptEx", (DWORD)WSAGetLastError());
        context_free(a, ctx);
        return false;
    }
    /* Pending, or done at once: either way its packet is on its way. */
    InterlockedIncrement(&a->pending);
    return true;
}

void acceptor_on_packet(acceptor *a, OVERLAPPED *overlapped, BOOL ok)
{
    accept_context *ctx = CONTAINING_RECORD(overlapped, accept_context, overlapped);
    InterlockedDecrement(&a->pending);
    if (ok)
        InterlockedIncrement(&a->accepted);
    context_free(a, ctx); /* closes the accepted socket too */
}

void acceptor_read_counters(const acceptor *a, acceptor_counters *counters)
{
    counters->pending = a->pending;
    counters->failed_at_once = a->failed_at_once;
    counters->accepted = a->accepted;
    counters->live_contexts = a->live_contexts;
}

void acceptor_free(acceptor *a)
{
    free(a);
}
