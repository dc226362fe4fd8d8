#include "libevent_accept.h"

#include "case_kit.h"
#include "tutorial/net.h"

/* A session: one connection after its accept, with a receive running. */
typedef struct lev_session {
    OVERLAPPED overlapped;
    SOCKET socket;
    char buffer[LEV_DATA];
} lev_session;

enum { KEY_LISTENER = 1, KEY_SESSION = 2 };

/* snippet:begin post_accept */
static bool post_accept(lev_listener *listener, lev_slot *slot)
{
    ZeroMemory(&slot->overlapped, sizeof slot->overlapped);
    slot->accepted = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
    if (slot->accepted == INVALID_SOCKET)
        return false;
#ifdef WITH_FIX
    DWORD receive_length = 0; /* complete at the connect; read the first bytes after */
#else
    DWORD receive_length = LEV_DATA; /* complete only with the client's first bytes */
#endif
    DWORD received = 0;
    if (listener->accept_ex(listener->socket, slot->accepted, slot->buffer, receive_length,
                            LEV_ADDRESS, LEV_ADDRESS, &received, &slot->overlapped) ||
        WSAGetLastError() == ERROR_IO_PENDING) {
        listener->posted++;
        return true; /* the packet comes either way */
    }
    closesocket(slot->accepted);
    return false;
}
/* snippet:end post_accept */

static void session_receive(lev_listener *listener, lev_session *session)
{
    WSABUF chunk = {sizeof session->buffer, session->buffer};
    DWORD flags = 0;
    ZeroMemory(&session->overlapped, sizeof session->overlapped);
    if (kit_wsarecv(session->socket, &chunk, &flags, &session->overlapped) == 0 ||
        WSAGetLastError() == WSA_IO_PENDING)
        return;
    closesocket(session->socket); /* failed at once: no packet, end the session here */
    kit_free(session);
    listener->sessions--;
}

lev_listener *lev_listen(void)
{
    lev_listener *listener = kit_alloc(sizeof *listener);
    if (listener == NULL)
        return NULL;
    GUID accept_ex = WSAID_ACCEPTEX;
    DWORD size = 0;
    listener->socket = net_listen_loopback(0, &listener->port_number);
    listener->port = kit_port((HANDLE)listener->socket, KEY_LISTENER);
    if (listener->socket == INVALID_SOCKET || listener->port == NULL ||
        WSAIoctl(listener->socket, SIO_GET_EXTENSION_FUNCTION_POINTER, &accept_ex,
                 sizeof accept_ex, &listener->accept_ex, sizeof listener->accept_ex, &size,
                 NULL, NULL) != 0) {
        lev_close(listener);
        return NULL;
    }
    for (int i = 0; i < LEV_SLOTS; i++)
        if (!post_accept(listener, &listener->slots[i])) {
            lev_close(listener);
            return NULL;
        }
    return listener;
}

static void accept_done(lev_listener *listener, lev_slot *slot, DWORD bytes, DWORD error)
{
    listener->posted--;
    if (error != 0) {
        /* The client left before the accept completed: a probe's reset is reported
         * here (ERROR_NETNAME_DELETED) when the accept was waiting for its first bytes. */
        listener->accept_errors++;
        closesocket(slot->accepted);
        post_accept(listener, slot);
        return;
    }
    lev_session *session = kit_alloc(sizeof *session);
    if (bytes > 0)
        listener->requests++; /* the first bytes came with the accept */
    if (session == NULL || CreateIoCompletionPort((HANDLE)slot->accepted, listener->port,
                                                  KEY_SESSION, 0) == NULL) {
        kit_free(session);
        closesocket(slot->accepted);
    } else {
        session->socket = slot->accepted;
        listener->sessions++;
        session_receive(listener, session);
    }
    post_accept(listener, slot);
}

static void session_done(lev_listener *listener, lev_session *session, DWORD bytes,
                         DWORD error)
{
    if (error == 0 && bytes > 0) {
        listener->requests++;
        session_receive(listener, session);
        return;
    }
    closesocket(session->socket); /* the client left (0 bytes) or reset (an error) */
    kit_free(session);
    listener->sessions--;
}

bool lev_dispatch(lev_listener *listener, DWORD timeout_ms)
{
    OVERLAPPED *done = NULL;
    DWORD bytes = 0;
    ULONG_PTR key = 0;
    BOOL ok = GetQueuedCompletionStatus(listener->port, &bytes, &key, &done, timeout_ms);
    if (done == NULL)
        return false;
    DWORD error = ok ? 0 : GetLastError();
    if (key == KEY_LISTENER)
        accept_done(listener, CONTAINING_RECORD(done, lev_slot, overlapped), bytes, error);
    else
        session_done(listener, CONTAINING_RECORD(done, lev_session, overlapped), bytes, error);
    return true;
}

void lev_close(lev_listener *listener)
{
    if (listener->socket != INVALID_SOCKET)
        closesocket(listener->socket); /* the pending accepts end, aborted */
    while (listener->posted > 0) {
        OVERLAPPED *done = NULL;
        DWORD bytes = 0;
        ULONG_PTR key = 0;
        GetQueuedCompletionStatus(listener->port, &bytes, &key, &done, 1000);
        if (done == NULL)
            return; /* an accept still in the kernel's hands: keep its memory (a leak) */
        if (key == KEY_LISTENER) {
            closesocket(CONTAINING_RECORD(done, lev_slot, overlapped)->accepted);
            listener->posted--;
        }
    }
    if (listener->port != NULL)
        CloseHandle(listener->port);
    kit_free(listener);
}
