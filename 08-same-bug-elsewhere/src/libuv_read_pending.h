/* libuv's Windows TCP reads (src/win/tcp.c), reduced: one read request per stream; a
 * WSARecv that fails at once is not dropped but marked with its error and put on the
 * loop's own queue of pending requests, so that it completes, like every other request,
 * in one place. A flag, READ_PENDING, says "the request is out: do not start another". */
#ifndef LIBUV_READ_PENDING_H
#define LIBUV_READ_PENDING_H

#include <winsock2.h>
#include <windows.h>

#include <stdbool.h>

enum { UVR_READING = 1, UVR_READ_PENDING = 2 };

typedef struct uvr_stream uvr_stream;
typedef void (*uvr_read_cb)(uvr_stream *stream, long nread, DWORD error);

typedef struct uvr_request {
    OVERLAPPED overlapped;
    DWORD error;    /* set when the request failed at once */
    bool queued;    /* on the loop's own pending queue */
} uvr_request;

struct uvr_stream {
    SOCKET socket;
    HANDLE port;
    unsigned flags;
    uvr_request read_request; /* the one read request, reused */
    char buffer[64];
    uvr_read_cb read_cb;
    uvr_request *pending; /* the loop's own queue (one slot is enough for one request) */
    long inserted_twice;  /* libuv asserts here: the request queued while already queued */
    void *user;
};

void uvr_init(uvr_stream *stream, SOCKET s, HANDLE port);
void uvr_read_start(uvr_stream *stream, uvr_read_cb read_cb);
void uvr_read_stop(uvr_stream *stream);

/* One turn of the loop: the own queue first, else one packet from the port within
 * timeout_ms. False when there was nothing to process. */
bool uvr_run_once(uvr_stream *stream, DWORD timeout_ms);

#endif
