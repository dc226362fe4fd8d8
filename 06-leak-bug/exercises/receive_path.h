/* Exercise 06.2: step 06's receive path, copied out of src/async_socket.c so you can fix
 * the leak yourself without touching the step's own code (whose tests show the leak). */
#ifndef RECEIVE_PATH_H
#define RECEIVE_PATH_H

#include "async_socket.h"

/* Does what async_socket_receive does, on step 06's real socket objects: starts a receive
 * of length bytes into the IN context's buffer at offset. Returns 0 when the receive
 * started (a completion packet will come), or the error of an immediate failure, after
 * which the caller disposes the socket: dispose must then leave nothing behind. */
DWORD receive_path_start(async_socket *s, DWORD offset, DWORD length);

#endif
