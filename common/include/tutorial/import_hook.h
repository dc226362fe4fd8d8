/* Import hooks: the import layer (tutorial/faults.h), the page heap and the exercise
 * checkers watch what the code under test asks of Windows (how many packets each
 * GetQueuedCompletionStatusEx call returned, which sockets were closed, when an AcceptEx
 * was posted) by replacing one entry of their own program's import address table. Every
 * call the program's code makes to that function through its imports (the step's library,
 * linked in, calls Windows that way) then goes to the replacement, which can count, delay
 * or fail the call and usually calls the original. Hooks stack: a second hook of the same
 * function gets the first as its original. It is the technique of Microsoft's Detours in
 * its simplest form; it teaches nothing about asynchronous I/O, so it lives here. */
#ifndef TUTORIAL_IMPORT_HOOK_H
#define TUTORIAL_IMPORT_HOOK_H

#include <winsock2.h>
#include <windows.h>

#include <stdbool.h>

/* What this program's import table holds for the function named `function` (the first
 * entry of that name), or NULL when the program does not import it: the real function,
 * unless something has hooked it. */
typedef void (*tk_function)(void); /* any function: cast to and from the real type */
tk_function tk_import_target(const char *function);

/* Points every import of the function named `function` (from any DLL) in this program's
 * import table at replacement. Returns what the table held before (the real function, to
 * call from the replacement), or NULL when the program does not import that function.
 * Call it before the code under test starts threads; hooks stay until the program ends
 * (hooking the same function again with the original puts it back). */
tk_function tk_hook_import(const char *function, tk_function replacement);

/* AcceptEx is not imported: a program asks WSAIoctl for its address
 * (SIO_GET_EXTENSION_FUNCTION_POINTER with WSAID_ACCEPTEX). This hooks WSAIoctl so that the
 * program gets `replacement` instead; the real AcceptEx goes to *real as the lookup is made,
 * for the replacement to call. Returns false when the program does not import WSAIoctl.
 * One replacement per program. */
typedef BOOL(WINAPI *tk_accept_ex_function)(SOCKET, SOCKET, PVOID, DWORD, DWORD, DWORD,
                                            LPDWORD, LPOVERLAPPED);
bool tk_hook_accept_ex(tk_accept_ex_function replacement, tk_accept_ex_function *real);

#endif
