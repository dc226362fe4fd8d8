/* The tutorial's own client (Windows has no nc): what the client program and the tests
 * use to talk to every step's server. */
#ifndef TUTORIAL_CLIENT_H
#define TUTORIAL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <winsock2.h>

typedef struct client_buffer {
    unsigned char *data;
    size_t length;
} client_buffer;

void client_buffer_free(client_buffer *buffer);

/* Echo servers (steps 01-05): sends the whole payload while reading what comes back,
 * half-closes the connection, and reads until the server closes. Every blocking receive
 * is bounded by timeout_ms. */
bool client_exchange_stream(unsigned short port, const void *payload, size_t length,
                            DWORD timeout_ms, client_buffer *reply);

/* Framed servers (steps 06-07): reads the server's greeting (NET_GREETING), sends one
 * frame (4-byte big-endian length, then the payload) and reads one frame back. */
bool client_exchange_frame(unsigned short port, const void *payload, size_t length,
                           DWORD timeout_ms, client_buffer *reply);

#endif
