/* Socket plumbing every step needs and none of them teaches: starting Winsock, a
 * listening socket on 127.0.0.1, connecting, sending and receiving everything, and the
 * hard reset a monitoring probe does. */
#ifndef TUTORIAL_NET_H
#define TUTORIAL_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <winsock2.h>

/* WSAStartup for Winsock 2.2; reports and returns false on failure. */
bool net_startup(void);

/* A socket listening on 127.0.0.1:port (0: any free port); the port it got goes to
 * *bound_port. The socket is overlapped-capable, as socket() always makes them, and not
 * inherited by child processes. Returns
 * INVALID_SOCKET after reporting the error. */
SOCKET net_listen_loopback(unsigned short port, unsigned short *bound_port);

/* The address 127.0.0.1:port. */
struct sockaddr_in net_loopback_address(unsigned short port);

/* A blocking TCP connection to 127.0.0.1:port, or INVALID_SOCKET (WSAGetLastError). */
SOCKET net_connect_loopback(unsigned short port);

/* Sends every byte (blocking socket). Returns false on an error. */
bool net_send_all(SOCKET s, const void *data, size_t length);

/* Receives exactly length bytes (blocking socket). Returns false on an error or when the
 * peer closes first. */
bool net_recv_all(SOCKET s, void *data, size_t length);

/* Bounds every blocking recv on s to milliseconds (SO_RCVTIMEO). */
bool net_set_recv_timeout(SOCKET s, DWORD milliseconds);

/* Closes s with a reset (RST) instead of the graceful FIN: SO_LINGER {on, 0 seconds},
 * then closesocket. This is what the incident's monitoring probe did. */
void net_hard_reset(SOCKET s);

/* True when the program runs under Wine (its ntdll exports wine_get_version): for the
 * few places where the tutorial has to know that Wine's answer is not Windows'. */
bool net_under_wine(void);

/* Writes a 4-byte length in network byte order: the frame header of steps 06 and 07. */
void net_put_frame_length(unsigned char header[4], unsigned long length);
unsigned long net_get_frame_length(const unsigned char header[4]);

/* The greeting of steps 06 and 07: the first frame their server sends on every connection,
 * before it reads anything, as the incident's NetMQ engine sent its own. */
#define NET_GREETING "tutorial-echo/1"
enum { NET_GREETING_LENGTH = sizeof NET_GREETING - 1 };

/* Reads one frame from a blocking socket and checks that it is the greeting. */
bool net_read_greeting(SOCKET s);

#endif
