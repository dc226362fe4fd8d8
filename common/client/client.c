#include "client.h"

#include <stdlib.h>
#include <string.h>

#include "tutorial/net.h"

void client_buffer_free(client_buffer *buffer)
{
    free(buffer->data);
    buffer->data = NULL;
    buffer->length = 0;
}

static bool append(client_buffer *buffer, const void *data, size_t length)
{
    unsigned char *grown = realloc(buffer->data, buffer->length + length + 1);
    if (grown == NULL)
        return false;
    memcpy(grown + buffer->length, data, length);
    buffer->data = grown;
    buffer->length += length;
    buffer->data[buffer->length] = '\0'; /* text replies print as strings */
    return true;
}

typedef struct sender {
    SOCKET s;
    const void *payload;
    size_t length;
    bool ok;
} sender;

/* Sends on its own thread: an echo server stops reading when we stop reading, so one
 * thread that first sends everything and then reads would deadlock on a large payload. */
static DWORD WINAPI send_then_half_close(void *argument)
{
    sender *job = argument;
    job->ok = net_send_all(job->s, job->payload, job->length) && shutdown(job->s, SD_SEND) == 0;
    return 0;
}

static bool read_until_closed(SOCKET s, client_buffer *reply)
{
    char chunk[16384];
    for (;;) {
        int received = recv(s, chunk, sizeof chunk, 0);
        if (received == 0)
            return true;
        if (received < 0 || !append(reply, chunk, (size_t)received))
            return false;
    }
}

bool client_exchange_stream(unsigned short port, const void *payload, size_t length,
                            DWORD timeout_ms, client_buffer *reply)
{
    *reply = (client_buffer){0};
    SOCKET s = net_connect_loopback(port);
    if (s == INVALID_SOCKET)
        return false;
    net_set_recv_timeout(s, timeout_ms);

    sender job = {s, payload, length, false};
    HANDLE thread = CreateThread(NULL, 0, send_then_half_close, &job, 0, NULL);
    bool read_ok = thread != NULL && read_until_closed(s, reply);
    if (thread != NULL) {
        if (!read_ok)
            shutdown(s, SD_BOTH); /* unblocks a sender stuck on a full window */
        WaitForSingleObject(thread, INFINITE);
        CloseHandle(thread);
    }
    closesocket(s);
    return read_ok && job.ok;
}

bool client_exchange_frame(unsigned short port, const void *payload, size_t length,
                           DWORD timeout_ms, client_buffer *reply)
{
    *reply = (client_buffer){0};
    SOCKET s = net_connect_loopback(port);
    if (s == INVALID_SOCKET)
        return false;
    net_set_recv_timeout(s, timeout_ms);

    unsigned char header[4];
    net_put_frame_length(header, (unsigned long)length);
    bool ok = net_read_greeting(s) && net_send_all(s, header, sizeof header) &&
              net_send_all(s, payload, length) && net_recv_all(s, header, sizeof header);
    if (ok) {
        size_t reply_length = net_get_frame_length(header);
        unsigned char *data = malloc(reply_length + 1);
        ok = data != NULL && net_recv_all(s, data, reply_length);
        if (ok) {
            data[reply_length] = '\0';
            reply->data = data;
            reply->length = reply_length;
        } else {
            free(data);
        }
    }
    closesocket(s);
    return ok;
}
