/* A server on libevent's IOCP backend, as the report of libevent/libevent#664 describes
 * it, reduced: a listener keeps a few AcceptEx calls pending, each on its own accept
 * socket. The reporter had given AcceptEx a receive length, so that an accept completes
 * with the client's first bytes. Each accepted connection gets a session, which receives
 * until its client leaves. */
#ifndef LIBEVENT_ACCEPT_H
#define LIBEVENT_ACCEPT_H

#include <winsock2.h>
#include <mswsock.h>
#include <windows.h>

#include <stdbool.h>

enum { LEV_SLOTS = 2, LEV_ADDRESS = sizeof(struct sockaddr_in) + 16, LEV_DATA = 64 };

typedef struct lev_slot {
    OVERLAPPED overlapped; /* first: a packet's OVERLAPPED pointer is the slot */
    SOCKET accepted;
    char buffer[LEV_DATA + 2 * LEV_ADDRESS];
} lev_slot;

typedef struct lev_listener {
    SOCKET socket;
    unsigned short port_number;
    HANDLE port;
    LPFN_ACCEPTEX accept_ex;
    lev_slot slots[LEV_SLOTS];
    long posted;        /* accepts pending */
    long requests;      /* first bytes seen from a client: a request served */
    long accept_errors; /* accepts that completed with an error */
    long sessions;      /* connections accepted and not yet gone */
} lev_listener;

/* A listener on 127.0.0.1 (any free port) with every slot's AcceptEx pending. */
lev_listener *lev_listen(void);

/* One packet within timeout_ms, handled: an accept (a new session, or an error counted
 * and the slot posted again) or a session's receive. False when none came. */
bool lev_dispatch(lev_listener *listener, DWORD timeout_ms);

/* Closes the listener; its pending accepts end, and their packets are collected. */
void lev_close(lev_listener *listener);

#endif
