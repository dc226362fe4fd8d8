/* The plumbing every case of this step shares and none of them teaches: a counted
 * allocator (so a test can see a leak as a number), a completion port, a bounded
 * dequeue, and the outcome seam for the few Winsock calls whose Windows failure Wine
 * does not produce. Each case's own file holds only the lifetime logic it is about. */
#ifndef CASE_KIT_H
#define CASE_KIT_H

#include <winsock2.h>
#include <windows.h>

#include <stdbool.h>
#include <stddef.h>

/* calloc and free that count the blocks alive: kit_live() before and after a scenario
 * says how many blocks it leaked. */
void *kit_alloc(size_t size);
void kit_free(void *block);
long kit_live(void);

/* A new completion port, with handle (a socket or a file) associated to it when handle
 * is not NULL; key is the completion key its packets carry. */
HANDLE kit_port(HANDLE handle, ULONG_PTR key);

/* One packet from port within timeout_ms. Returns true with its OVERLAPPED, byte count
 * and error (0 for a success, GetLastError() for a failed I/O); false when none came. */
bool kit_dequeue(HANDLE port, DWORD timeout_ms, OVERLAPPED **overlapped, DWORD *bytes,
                 DWORD *error);

/* WSARecv and WSASend through the fault plan (tutorial/fault_plan.h), operations
 * "receive" and "send": "fail:ERROR" fails the call at once as Windows would, without
 * making it; no rule (or any other outcome) makes the real call. */
int kit_wsarecv(SOCKET s, WSABUF *buffer, DWORD *flags, OVERLAPPED *overlapped);
int kit_wsasend(SOCKET s, WSABUF *buffer, OVERLAPPED *overlapped);

#endif
