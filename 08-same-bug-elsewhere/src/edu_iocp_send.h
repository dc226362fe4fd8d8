/* jacking75/edu_cpp_IOCP, a step-by-step IOCP tutorial (Tutorial/07/ClientInfo.h), reduced:
 * a client's messages wait in a send queue, one send in flight at a time. A message is
 * sent at once when the queue was empty; the send's packet frees the head and sends the
 * next. */
#ifndef EDU_IOCP_SEND_H
#define EDU_IOCP_SEND_H

#include <winsock2.h>
#include <windows.h>

#include <stdbool.h>

typedef struct edu_send {
    OVERLAPPED overlapped;
    struct edu_send *next;
    DWORD size;
    char bytes[256];
} edu_send;

typedef struct edu_client {
    SOCKET socket;
    CRITICAL_SECTION lock;
    edu_send *head; /* the send in flight, when there is one */
    edu_send *tail;
    long queued;
} edu_client;

/* A client on s (associated with port). */
edu_client *edu_client_new(HANDLE port, SOCKET s);

/* Queues a copy of data (at most 256 bytes) and sends it if nothing is in flight. Returns
 * true, as the original does, whatever the send did. */
bool edu_send_msg(edu_client *client, const char *data, DWORD size);

/* The worker, after the packet of a send of this client: frees the head, sends the next. */
void edu_send_completed(edu_client *client);

/* Closes the socket and frees the client (not what is still in its queue: the original
 * never empties it). */
void edu_client_close(edu_client *client);

#endif
