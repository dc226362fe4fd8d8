#include "libuv_read_pending.h"

#include "case_kit.h"

void uvr_init(uvr_stream *stream, SOCKET s, HANDLE port)
{
    ZeroMemory(stream, sizeof *stream);
    stream->socket = s;
    stream->port = port;
}

static void insert_pending(uvr_stream *stream, uvr_request *request)
{
    if (request->queued) { /* libuv: assert(req->next_req == NULL) fails here */
        stream->inserted_twice++;
        return;
    }
    request->queued = true;
    stream->pending = request;
}

/* snippet:begin queue_read */
static void queue_read(uvr_stream *stream)
{
    uvr_request *request = &stream->read_request;
    ZeroMemory(&request->overlapped, sizeof request->overlapped);
    request->error = 0;
    WSABUF chunk = {sizeof stream->buffer, stream->buffer};
    DWORD flags = 0;
    if (kit_wsarecv(stream->socket, &chunk, &flags, &request->overlapped) == 0
        || WSAGetLastError() == WSA_IO_PENDING) {
        stream->flags |= UVR_READ_PENDING; /* the port will deliver it */
        return;
    }
    /* Failed at once: no packet. Complete it through the loop's own queue instead. */
    request->error = (DWORD)WSAGetLastError();
    insert_pending(stream, request);
#ifdef WITH_FIX
    stream->flags |= UVR_READ_PENDING; /* it is out just the same: no second read */
#endif
}
/* snippet:end queue_read */

void uvr_read_start(uvr_stream *stream, uvr_read_cb read_cb)
{
    stream->flags |= UVR_READING;
    stream->read_cb = read_cb;
    if (!(stream->flags & UVR_READ_PENDING)) /* stopped and started again: maybe still out */
        queue_read(stream);
}

void uvr_read_stop(uvr_stream *stream)
{
    stream->flags &= ~(unsigned)UVR_READING;
}

/* snippet:begin process_read */
static void process_read(uvr_stream *stream, uvr_request *request, DWORD bytes)
{
    stream->flags &= ~(unsigned)UVR_READ_PENDING;
    if (request->error != 0) {
        stream->flags &= ~(unsigned)UVR_READING;
        stream->read_cb(stream, -1, request->error);
        return;
    }
    stream->read_cb(stream, (long)bytes, 0); /* may call read_stop and read_start */
    /* Read on while reading, unless the callback's read_start already queued a read. */
    if ((stream->flags & UVR_READING) && !(stream->flags & UVR_READ_PENDING))
        queue_read(stream);
}
/* snippet:end process_read */

bool uvr_run_once(uvr_stream *stream, DWORD timeout_ms)
{
    if (stream->pending != NULL) {
        uvr_request *request = stream->pending;
        stream->pending = NULL;
        request->queued = false;
        process_read(stream, request, 0);
        return true;
    }
    OVERLAPPED *packet;
    DWORD bytes, error;
    if (!kit_dequeue(stream->port, timeout_ms, &packet, &bytes, &error))
        return false;
    uvr_request *request = (uvr_request *)packet;
    request->error = error;
    process_read(stream, request, bytes);
    return true;
}
