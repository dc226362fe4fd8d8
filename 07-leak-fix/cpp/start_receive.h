/* Step 07's fix in C++ (chapter 7, "The same rule in C++"): the interface of
 * start_receive.cpp, for its test program. */
#ifndef STEP07_CPP_START_RECEIVE_H
#define STEP07_CPP_START_RECEIVE_H

#include <winsock2.h>
#include <windows.h>

/* snippet:begin context */
/* A receive's context. Its life is counted in references: the owner's (step 07's "not
 * disposed" bit) and, while a receive is in flight, the completion's ("in progress"). */
struct io_context {
    OVERLAPPED overlapped; /* first: the OVERLAPPED a packet brings back is the context */
    WSABUF buffer;
    char bytes[512];
    volatile LONG references;
};
/* snippet:end context */

io_context *context_new() noexcept;                    /* one reference, the caller's */
void context_release(io_context *context) noexcept;    /* the last reference frees it */
LONG live_contexts() noexcept;                         /* allocated and not yet freed */

/* Starts a receive into context on s, a socket tied to a completion port; the caller holds
 * a reference of its own across the call (chapter 7, "The rule the fix depends on"). Returns 0 when
 * a packet will come: its handler calls context_release once. Returns the error when the
 * receive never started: then no packet will come, and nothing is left to release but the
 * caller's own reference. */
DWORD start_receive(SOCKET s, io_context *context) noexcept;

#endif
