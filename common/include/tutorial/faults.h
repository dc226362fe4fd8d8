/* The import layer: how the tests (and a server's --faults flag) reach into a program from
 * outside its own code. A Windows program calls a DLL's function through its import
 * address table, one pointer per function; the layer points those entries at stand-ins,
 * which decide (by the fault plan, tutorial/fault_plan.h) what each call answers and
 * usually call the real function. It is the technique of Application Verifier and
 * Microsoft's Detours: the code under test stays exactly the code an engineer ships, and
 * the adversary sits between it and Windows.
 *
 * What the stand-ins cover, with the plan's name for each:
 *   accept (AcceptEx, which a program gets from WSAIoctl, and accept), receive (WSARecv),
 *   send (WSASend), their packets (accept-done, receive-done, send-done, as
 *   GetQueuedCompletionStatus(Ex) hands them out), dequeue (GetQueuedCompletionStatus(Ex)
 *   itself), post (PostQueuedCompletionStatus), cancel (CancelIoEx), close (closesocket),
 *   update-context (setsockopt with SO_UPDATE_ACCEPT_CONTEXT), socket (WSASocketW), port
 *   and attach (CreateIoCompletionPort), alloc (malloc, calloc, realloc), connect (ConnectEx,
 *   which a program gets from WSAIoctl as it gets AcceptEx).
 * Only the program's own image is changed: calls Windows makes inside its DLLs are not.
 *
 * WINDOWS' RESETS UNDER WINE. Wine 8 answers two things about a reset connection the way
 * Windows does not, and the incident of steps 06 and 07 lives in exactly those two:
 * - a WSARecv started after the peer's reset reads 0 bytes (an orderly end) where Windows
 *   fails it at once with WSAECONNRESET and queues no packet;
 * - a pending AcceptEx whose client resets quickly completes with ERROR_UNEXP_NET_ERR (59),
 *   where Windows has completed it at the handshake, before the reset.
 * With the reset semantics on (and only under Wine), the layer answers as Windows does: a
 * socket's first WSARecv fails at once with WSAECONNRESET when its reset has arrived (Wine
 * shows it: WSAPoll reports POLLERR), and an accept that Wine failed with 59 completes;
 * on that socket, sends started before the first receive are taken (their packets come:
 * the reset arrived after them, the incident's timeline), and the first receive and every
 * call after it fail at once with WSAECONNRESET. */
#ifndef TUTORIAL_FAULTS_H
#define TUTORIAL_FAULTS_H

#include <winsock2.h>
#include <windows.h>

#include <stdbool.h>
#include <stddef.h>

/* What a server's main() calls, once, before it starts: takes the plan (--faults) and
 * whether Windows' reset semantics are wanted under Wine, and installs the layer only when
 * there is something for it to do: with no plan, on Windows or without the semantics, the
 * program runs on the bare imports. Returns false, with a reason in why, for a bad plan. */
bool faults_install(const char *plan, bool windows_resets, char *why, size_t why_size);

/* Installs every stand-in at once (tests): from now on fault_plan_set() changes what the
 * calls answer. Idempotent. */
void faults_hook_imports(void);

/* Turns Windows' reset semantics on or off (they only ever act under Wine). */
void faults_set_windows_resets(bool on);

/* True when the semantics above are acting: on, and the program runs under Wine. */
bool faults_windows_resets(void);

/* The semantics' own count of what they changed: receives failed at once with
 * WSAECONNRESET, and accepts that Wine failed and that completed as on Windows. */
long faults_resets_answered(void);
long faults_accepts_answered(void);

/* For the page heap (tutorial/page_heap.h). check is called with every buffer and
 * OVERLAPPED the program hands to WSARecv, WSASend and AcceptEx, and with every OVERLAPPED
 * a packet hands back, before Windows or the program touches them; it ends the process when
 * one lies in freed memory. Installs the stand-ins (without the plan). */
typedef void (*faults_memory_check)(const void *address, size_t length, const char *what,
                                    void *caller);
void faults_watch_memory(faults_memory_check check);

/* Whether memory from start (length bytes) holds the OVERLAPPED or a buffer of an operation
 * that Windows may still be writing: started on a socket tied to a completion port, not yet
 * finished (its OVERLAPPED still says STATUS_PENDING). is_readable tells whether memory
 * outside the range may be read. The operation's OVERLAPPED and which of the two lies in
 * the range go to *overlapped and *what. */
bool faults_in_flight(const void *start, size_t length, bool (*is_readable)(const void *),
                      const OVERLAPPED **overlapped, const char **what);

/* For the page heap's report: the code that called malloc, calloc or realloc when the call
 * came through the layer's stand-in (whose own address the allocator would see), else
 * otherwise. */
void *faults_allocation_caller(void *otherwise);

#endif
