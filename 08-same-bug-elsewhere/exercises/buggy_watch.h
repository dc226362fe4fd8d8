/* Exercise 08.2 (find the bug): a watch keeps one receive running on a socket and hands
 * each packet to watch_on_packet, which starts the receive again. Closing a watch must
 * free it exactly once, and never while a packet for it may still come. The dispatcher and
 * watch_close run on one thread, as in the incident's library. Fix it in buggy_watch.c. */
#ifndef BUGGY_WATCH_H
#define BUGGY_WATCH_H

#include <winsock2.h>
#include <windows.h>

#include <stdbool.h>

typedef struct watch {
    OVERLAPPED overlapped; /* first: the OVERLAPPED* a packet hands back is the watch */
    SOCKET socket;
    bool running; /* a receive was started and its packet has not been handled yet */
    bool closing;
    long notifications;
    char buffer[64];
} watch;

/* A watch on s (associated with port), with its first receive started; NULL on failure.
 * Allocated with kit_alloc (case_kit.h). */
watch *watch_open(HANDLE port, SOCKET s);

/* What the dispatcher calls with each packet it dequeues for w. */
void watch_on_packet(watch *w, DWORD bytes, DWORD error);

/* Ends the watch: closes its socket and frees it, now or when its last packet comes. */
void watch_close(watch *w);

#endif
