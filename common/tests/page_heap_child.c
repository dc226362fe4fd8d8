/* A program that misuses memory on purpose, under the page heap, for test_page_heap.c:
 *   page-heap-child fine | use-after-free | overrun | receive-buffer-overrun | underrun |
 *                   align16 | double-free | thread-use-after-free | freed-buffer-to-wsarecv |
 *                   free-while-pending | packet-for-freed-overlapped */
#include <winsock2.h>
#include <windows.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tutorial/net.h"
#include "tutorial/page_heap.h"

typedef struct victim {
    char name[24];
    volatile long counter;
} victim;

static victim *make_victim(void)
{
    victim *v = malloc(sizeof *v);
    if (v == NULL)
        exit(1);
    strcpy(v->name, "a context");
    return v;
}

/* The same pointer, hidden from the compiler, which would refuse the misuse it can see. */
static victim *stale(victim *v)
{
    victim *volatile hidden = v;
    return hidden;
}

static char *stale_bytes(char *p)
{
    char *volatile hidden = p;
    return hidden;
}

/* A write the compiler must make: a store past a block's end is undefined behaviour, and
 * an optimiser (gcc -O3) may drop a plain one. */
static void touch(char *where)
{
    *(volatile char *)where = 'x';
}

static DWORD WINAPI touch_later(void *argument)
{
    victim *v = argument;
    Sleep(50);
    v->counter++; /* after main has freed it */
    return 0;
}

/* A connected loopback pair: *server tied to a new completion port, whose handle goes to
 * *port; *client is blocking. */
static void socket_pair_on_a_port(SOCKET *client, SOCKET *server, HANDLE *port)
{
    unsigned short bound = 0;
    if (!net_startup())
        exit(1);
    SOCKET listener = net_listen_loopback(0, &bound);
    *client = net_connect_loopback(bound);
    *server = accept(listener, NULL, NULL);
    closesocket(listener);
    *port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    if (*client == INVALID_SOCKET || *server == INVALID_SOCKET || *port == NULL ||
        CreateIoCompletionPort((HANDLE)*server, *port, 0, 0) == NULL)
        exit(1);
}

/* One operation's memory, as the steps keep it: the OVERLAPPED first, then the bytes. */
typedef struct context {
    OVERLAPPED overlapped;
    char buffer[64];
} context;

static int receive_into(SOCKET s, context *c)
{
    WSABUF buffer = {sizeof c->buffer, c->buffer};
    DWORD flags = 0;
    return WSARecv(s, &buffer, 1, NULL, &flags, &c->overlapped, NULL);
}

/* Winsock handed memory the program freed: under Wine the call would only fail with
 * WSAEFAULT, and the mistake read as a network error. */
static void freed_buffer_to_wsarecv(void)
{
    SOCKET client, server;
    HANDLE port;
    socket_pair_on_a_port(&client, &server, &port);
    context *c = calloc(1, sizeof *c);
    char *buffer = malloc(100);
    WSABUF freed = {100, stale_bytes(buffer)};
    free(buffer);
    DWORD flags = 0;
    int answer = WSARecv(server, &freed, 1, NULL, &flags, &c->overlapped, NULL);
    printf("WSARecv answered %d (%d)\n", answer, WSAGetLastError());
}

/* The context of a pending receive freed: Windows would write its result into freed
 * memory when the receive completes (under Wine, the process ends without a word). */
static void free_while_pending(void)
{
    SOCKET client, server;
    HANDLE port;
    socket_pair_on_a_port(&client, &server, &port);
    context *c = calloc(1, sizeof *c);
    if (receive_into(server, c) == 0 || WSAGetLastError() != WSA_IO_PENDING)
        exit(1);
    free(c);
}

/* A receive that finished at once still queues its packet; the context is freed before
 * the packet is handled, and the packet then hands back a freed OVERLAPPED. */
static void packet_for_freed_overlapped(void)
{
    SOCKET client, server;
    HANDLE port;
    socket_pair_on_a_port(&client, &server, &port);
    send(client, "hello", 5, 0);
    WSAPOLLFD poll = {server, POLLRDNORM, 0};
    WSAPoll(&poll, 1, 5000);
    context *c = calloc(1, sizeof *c);
    if (receive_into(server, c) != 0 && WSAGetLastError() != WSA_IO_PENDING)
        exit(1);
    while (!HasOverlappedIoCompleted(&c->overlapped))
        Sleep(1);
    free(c); /* too early: its packet is still on the port */
    DWORD bytes = 0;
    ULONG_PTR key = 0;
    OVERLAPPED *overlapped = NULL;
    GetQueuedCompletionStatus(port, &bytes, &key, &overlapped, 5000);
    printf("dequeued %p\n", (void *)overlapped);
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "fine";
    victim *v = make_victim();
    if (strcmp(what, "fine") == 0) {
        char *grown = realloc(malloc(10), 100000);
        void *zeroed = calloc(100, 8);
        free(grown);
        free(zeroed);
        free(v);
        printf("fine: %ld blocks from the page heap\n", page_heap_blocks());
        return page_heap_blocks() > 0 ? 0 : 1;
    }
    if (strcmp(what, "use-after-free") == 0) {
        victim *kept = stale(v);
        free(v);
        printf("%ld\n", kept->counter); /* a read of freed memory */
    } else if (strcmp(what, "overrun") == 0) {
        char *bytes = stale_bytes(malloc(16));
        touch(&bytes[16]); /* one past the end */
    } else if (strcmp(what, "receive-buffer-overrun") == 0) {
        char *bytes = stale_bytes(malloc(65540)); /* 4 + 64 KiB: steps 06-07's buffer */
        touch(&bytes[65540]); /* one past the end of a size that is no multiple of 16 */
    } else if (strcmp(what, "underrun") == 0) {
        char *bytes = stale_bytes(malloc(16)); /* TUTORIAL_PAGE_HEAP=underrun */
        touch(&bytes[-1]); /* one before the start */
    } else if (strcmp(what, "align16") == 0) {
        char *bytes = stale_bytes(malloc(10)); /* TUTORIAL_PAGE_HEAP=align16 */
        touch(&bytes[15]); /* in the padding: this layout does not see it */
        printf("aligned %d\n", (int)((uintptr_t)bytes % 16 == 0));
        return (uintptr_t)bytes % 16 == 0 ? 0 : 1;
    } else if (strcmp(what, "freed-buffer-to-wsarecv") == 0) {
        freed_buffer_to_wsarecv();
    } else if (strcmp(what, "free-while-pending") == 0) {
        free_while_pending();
    } else if (strcmp(what, "packet-for-freed-overlapped") == 0) {
        packet_for_freed_overlapped();
    } else if (strcmp(what, "double-free") == 0) {
        free(stale(v));
        free(stale(v));
    } else if (strcmp(what, "thread-use-after-free") == 0) {
        HANDLE thread = CreateThread(NULL, 0, touch_later, v, 0, NULL);
        free(v);
        WaitForSingleObject(thread, 5000);
    }
    printf("not stopped\n");
    return 0;
}
