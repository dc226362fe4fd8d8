/* WIL's folder change reader (microsoft/wil, include/wil/filesystem.h), reduced: one
 * overlapped read kept running on a handle (a socket here, a directory there); each
 * packet is handed to the callback and the read is started again, ignoring a failure to
 * start it; the destructor cancels the read, waits until it has let go of the OVERLAPPED,
 * and lets the callbacks already queued run before it frees the reader. Its packets go to
 * a port of its own (WIL's go to a thread pool's). */
#ifndef WIL_CHANGE_READER_H
#define WIL_CHANGE_READER_H

#include <winsock2.h>
#include <windows.h>

#include <stdbool.h>

typedef struct wil_reader {
    OVERLAPPED overlapped; /* first: a packet's OVERLAPPED pointer is the reader */
    SOCKET watched;
    HANDLE port;
    long notifications; /* packets with bytes the callback was given */
    char buffer[256];
} wil_reader;

/* A reader on s with its first read started; NULL if that fails. */
wil_reader *wil_reader_new(SOCKET s);

/* One packet within timeout_ms: with bytes, the callback runs and the read is started
 * again; with an error, or none, it is not. False when no packet came. */
bool wil_reader_dispatch(wil_reader *reader, DWORD timeout_ms);

/* The destructor. The original waits without a bound; this one gives up after
 * patience_ms and returns false, so that a test can see the hang and end. */
bool wil_reader_close(wil_reader *reader, DWORD patience_ms);

#endif
