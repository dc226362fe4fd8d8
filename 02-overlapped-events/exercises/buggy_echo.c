/* Exercise 02.2: find the bug. This echo of one connection receives with an overlapped
 * WSARecv and waits for the receive's event, like step02-server, but some bytes are echoed
 * twice. The checker (test_02_2_echo_once.c) sends bytes and counts what comes back. */
#include "buggy_echo.h"

#include <stdlib.h>
#include <string.h>

#include "tutorial/net.h"

enum { BUFFER_SIZE = 4096 };

typedef struct session {
    SOCKET socket;
    WSAOVERLAPPED overlapped; /* hEvent: the receive's event (manual reset) */
    char buffer[BUFFER_SIZE];
} session;

static bool echo_back(session *c, DWORD bytes)
{
    return net_send_all(c->socket, c->buffer, bytes); /* a blocking send: enough here */
}

/* Starts the next receive; bytes that are there already are echoed at once. */
static bool post_receive(session *c)
{
    WSABUF whole = {(ULONG)sizeof c->buffer, c->buffer};
    DWORD flags = 0;
    WSAEVENT event = c->overlapped.hEvent;
    memset(&c->overlapped, 0, sizeof c->overlapped);
    c->overlapped.hEvent = event;
    if (WSARecv(c->socket, &whole, 1, NULL, &flags, &c->overlapped, NULL) == 0) {
        DWORD bytes = 0;
        WSAGetOverlappedResult(c->socket, &c->overlapped, &bytes, FALSE, &flags);
        return echo_back(c, bytes);
    }
    return WSAGetLastError() == WSA_IO_PENDING;
}

/* Waits for the receive's event and takes its result: the byte count, 0 at the end. */
static bool wait_for_receive(session *c, DWORD *bytes)
{
    DWORD flags = 0;
    if (WSAWaitForMultipleEvents(1, &c->overlapped.hEvent, FALSE, WSA_INFINITE, FALSE) !=
        WSA_WAIT_EVENT_0)
        return false;
    BOOL ok = WSAGetOverlappedResult(c->socket, &c->overlapped, bytes, FALSE, &flags);
    WSAResetEvent(c->overlapped.hEvent);
    return ok != FALSE;
}

bool echo_session(SOCKET s)
{
    session *c = calloc(1, sizeof *c);
    if (c == NULL)
        return false;
    c->socket = s;
    c->overlapped.hEvent = WSACreateEvent();
    bool ok = c->overlapped.hEvent != WSA_INVALID_EVENT;
    while (ok) {
        DWORD bytes = 0;
        ok = post_receive(c) && wait_for_receive(c, &bytes);
        if (ok && bytes == 0)
            break; /* the peer closed its side: everything is echoed */
        ok = ok && echo_back(c, bytes);
    }
    if (c->overlapped.hEvent != WSA_INVALID_EVENT)
        WSACloseEvent(c->overlapped.hEvent);
    free(c);
    return ok;
}
