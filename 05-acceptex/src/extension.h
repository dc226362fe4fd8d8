/* Winsock's Microsoft extensions (AcceptEx, GetAcceptExSockaddrs, ConnectEx, DisconnectEx)
 * are not exported by ws2_32: the provider behind a socket hands out their addresses. The
 * server (server.c) and the connector (connect_ex.c) of step 05 both ask through this. */
#ifndef STEP05_EXTENSION_H
#define STEP05_EXTENSION_H

#include <winsock2.h>
#include <stdbool.h>
#include <stddef.h>

/* Stores the address of the extension named by id, from the provider behind s, into
 * *function (size bytes); reports the error and returns false when the provider has none. */
bool load_extension(SOCKET s, GUID id, void *function, size_t size);

#endif
