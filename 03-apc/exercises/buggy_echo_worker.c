/* Exercise 03.2: find the bug. The echo worker below looks like step03-server's loop, but
 * a socket handed to it with echo_worker_adopt is never echoed. The checker
 * (test_03_2_adopted_client.c) hands it one and waits for the echo. */
#include "buggy_echo_worker.h"

#include <stdlib.h>
#include <string.h>

enum { BUFFER_SIZE = 4096 };

typedef struct client {
    WSAOVERLAPPED overlapped;
    SOCKET socket;
    struct echo_worker *owner;
    struct client *previous, *next;
    DWORD filled, sent;
    char buffer[BUFFER_SIZE];
} client;

/* The client list and `stopping` belong to the worker's thread. */
struct echo_worker {
    HANDLE thread;
    bool stopping;
    client *clients;
    volatile LONG live_clients;
    volatile LONG64 bytes_echoed;
};

static void CALLBACK on_received(DWORD error, DWORD bytes, WSAOVERLAPPED *overlapped,
                                 DWORD flags);
static void CALLBACK on_sent(DWORD error, DWORD bytes, WSAOVERLAPPED *overlapped, DWORD flags);

/* 0 (done at once: the routine is queued) or WSA_IO_PENDING: the routine will run. */
static bool started(int result)
{
    return result == 0 || WSAGetLastError() == WSA_IO_PENDING;
}

static bool post_receive(client *c)
{
    WSABUF whole = {(ULONG)sizeof c->buffer, c->buffer};
    DWORD flags = 0;
    memset(&c->overlapped, 0, sizeof c->overlapped);
    return started(WSARecv(c->socket, &whole, 1, NULL, &flags, &c->overlapped, on_received));
}

static bool post_send(client *c)
{
    WSABUF rest = {c->filled - c->sent, c->buffer + c->sent};
    memset(&c->overlapped, 0, sizeof c->overlapped);
    return started(WSASend(c->socket, &rest, 1, NULL, 0, &c->overlapped, on_sent));
}

/* Only for a client with no operation pending. */
static void close_client(client *c)
{
    echo_worker *w = c->owner;
    if (c->previous != NULL)
        c->previous->next = c->next;
    else
        w->clients = c->next;
    if (c->next != NULL)
        c->next->previous = c->previous;
    InterlockedDecrement(&w->live_clients);
    closesocket(c->socket);
    free(c);
}

static void CALLBACK on_received(DWORD error, DWORD bytes, WSAOVERLAPPED *overlapped,
                                 DWORD flags)
{
    (void)flags;
    client *c = CONTAINING_RECORD(overlapped, client, overlapped);
    if (error != 0 || bytes == 0 || c->owner->stopping) {
        close_client(c);
        return;
    }
    c->filled = bytes;
    c->sent = 0;
    if (!post_send(c))
        close_client(c);
}

static void CALLBACK on_sent(DWORD error, DWORD bytes, WSAOVERLAPPED *overlapped, DWORD flags)
{
    (void)flags;
    client *c = CONTAINING_RECORD(overlapped, client, overlapped);
    if (error != 0 || c->owner->stopping) {
        close_client(c);
        return;
    }
    c->sent += bytes;
    InterlockedExchangeAdd64(&c->owner->bytes_echoed, bytes);
    bool again = c->sent < c->filled ? post_send(c) : post_receive(c);
    if (!again)
        close_client(c);
}

/* Puts the client on the list and starts its first receive. */
static void start_serving(client *c)
{
    echo_worker *w = c->owner;
    c->next = w->clients;
    if (w->clients != NULL)
        w->clients->previous = c;
    w->clients = c;
    if (!post_receive(c))
        close_client(c); /* failed at once: no routine will ever run for it */
}

static void CALLBACK stop_working(ULONG_PTR argument)
{
    echo_worker *w = (echo_worker *)argument;
    w->stopping = true;
}

static DWORD WINAPI work(void *argument)
{
    echo_worker *w = argument;
    /* Alertable: the completion routines of the clients' I/O run inside this wait. */
    while (!w->stopping)
        SleepEx(INFINITE, TRUE);
    for (client *c = w->clients; c != NULL; c = c->next)
        CancelIoEx((HANDLE)c->socket, &c->overlapped);
    while (w->clients != NULL)
        SleepEx(INFINITE, TRUE);
    return 0;
}

echo_worker *echo_worker_start(void)
{
    echo_worker *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->thread = CreateThread(NULL, 0, work, w, 0, NULL);
    if (w->thread == NULL) {
        free(w);
        return NULL;
    }
    return w;
}

bool echo_worker_adopt(echo_worker *w, SOCKET s)
{
    client *c = calloc(1, sizeof *c);
    if (c == NULL) {
        closesocket(s);
        return false;
    }
    c->socket = s;
    c->owner = w;
    InterlockedIncrement(&w->live_clients);
    /* The worker's thread waits alertably, so the routines will run there. */
    start_serving(c);
    return true;
}

long echo_worker_clients(echo_worker *w)
{
    return InterlockedCompareExchange(&w->live_clients, 0, 0);
}

long long echo_worker_bytes_echoed(echo_worker *w)
{
    return InterlockedCompareExchange64(&w->bytes_echoed, 0, 0);
}

void echo_worker_stop(echo_worker *w)
{
    QueueUserAPC(stop_working, w->thread, (ULONG_PTR)w);
    WaitForSingleObject(w->thread, INFINITE);
    CloseHandle(w->thread);
    free(w);
}
